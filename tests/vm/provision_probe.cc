// provision_probe: a guest-only test program, linked with kvmprobe_core, that calls the write
// layer enable-vmx uses directly, on an allow-listed bit (IA32_FEATURE_CONTROL bit 2, VMX outside
// SMX). QEMU's TCG accepts that write and drops it, so every path must say "did not take effect".
// It is not installed and not a kvmprobe subcommand: users get no general write command.
//
//   provision_probe backend             which write path open_writers() picks (driver, msr)
//   provision_probe write driver|msr    modify(cpu, 0x3a, set bit 2) on every online CPU
//   provision_probe apply driver|msr J  the two-phase engine on every online CPU, journal J
//   provision_probe hold SECONDS        hold the run lock (as a writing run does) for SECONDS
//   provision_probe kill N J            the same engine via msr, killed (SIGKILL) by the kernel
//                                       when it starts its write number N+1: a run cut off
//                                       between (or inside) its phases, for restore to undo
//
// Prints one "KEY value..." line per fact; exits 0 when every CPU's write was reported as not
// taking effect (write) / the run was rolled back with exit code 14 (apply), 1 otherwise.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "cli/write_exit.h"
#include "core/collect/cpu_list.h"
#include "core/provision/apply.h"
#include "core/provision/journal.h"
#include "core/provision/restore.h"
#include "core/provision/run_lock.h"
#include "core/provision/writers.h"

using namespace kvmprobe;
using namespace kvmprobe::provision;

namespace {

std::vector<unsigned> online_cpus() {
  std::ifstream f("/sys/devices/system/cpu/online");
  std::stringstream ss;
  ss << f.rdbuf();
  return collect::parse_cpu_list(ss.str()).value_or(std::vector<unsigned>{0});
}

int usage() {
  std::fprintf(stderr, "usage: provision_probe backend | write driver|msr | apply driver|msr JOURNAL | kill N JOURNAL | hold SECONDS\n");
  return 2;
}

/// Passes every call to \a inner, and SIGKILLs the process when write number \a limit + 1 starts.
class KillingWriter final : public MsrWriter {
 public:
  KillingWriter(MsrWriter& inner, unsigned limit) : inner_(inner), limit_(limit) {}
  std::string_view backend_name() const override { return inner_.backend_name(); }
  std::string device() const override { return inner_.device(); }
  MsrRead read(unsigned cpu, std::uint32_t index) override { return inner_.read(cpu, index); }
  WriteOutcome modify(unsigned cpu, std::uint32_t index, std::uint64_t set, std::uint64_t clear) override {
    if (writes_++ == limit_) ::kill(::getpid(), SIGKILL);
    return inner_.modify(cpu, index, set, clear);
  }

 private:
  MsrWriter& inner_;
  unsigned limit_;
  unsigned writes_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string cmd = argv[1];
  auto cpus = online_cpus();
  if (cmd == "backend") {
    auto w = open_writers(WriteBackend::automatic, cpus.front());
    if (!w) {
      std::printf("backend none %s\n", w.error().detail.c_str());
      return 1;
    }
    std::printf("backend %s fallback %s\n", std::string(w->primary->backend_name()).c_str(),
                w->fallback ? std::string(w->fallback->backend_name()).c_str() : "none");
    return 0;
  }
  if (argc < 3) return usage();
  if (cmd == "hold") {
    auto lock = RunLock::acquire();
    if (!lock) {
      std::printf("error %s\n", lock.error().detail.c_str());
      return 1;
    }
    std::printf("holding %s\n", kDefaultRunLock);
    std::fflush(stdout);
    ::sleep(static_cast<unsigned>(std::atoi(argv[2])));
    return 0;
  }
  std::string which = cmd == "kill" ? std::string("msr") : std::string(argv[2]);
  auto w = open_writers(which == "driver" ? WriteBackend::driver : WriteBackend::msr, cpus.front());
  if (!w) {
    std::printf("error %s\n", w.error().detail.c_str());
    return 1;
  }
  MsrWriter& writer = *w->primary;
  if (cmd == "write") {
    bool all = true;
    for (unsigned c : cpus) {
      WriteOutcome o = writer.modify(c, kFeatureControl, 0x4, 0);
      std::printf("write cpu%u via %s: %s (old %#llx, wrote %#llx, read back %#llx)\n", c,
                  std::string(writer.backend_name()).c_str(), to_string(o.status),
                  static_cast<unsigned long long>(o.old_value.value_or(0)), static_cast<unsigned long long>(o.written),
                  static_cast<unsigned long long>(o.readback.value_or(~0ull)));
      all &= o.status == WriteStatus::mismatch;
    }
    return all ? 0 : 1;
  }
  if ((cmd == "apply" || cmd == "kill") && argc == 4) {
    ApplyRequest req;
    if (auto boot = current_boot_id()) req.boot_id = *boot;
    req.msr = kFeatureControl;
    req.enable_set = 0x4;
    req.lock_set = 0x1;
    req.command = "provision_probe";
    req.run_id = "probe-" + which;
    req.time = "guest";
    for (unsigned c : cpus) {
      MsrRead r = writer.read(c, kFeatureControl);
      if (!r.ok()) {
        std::printf("error cannot read 0x3a on cpu%u\n", c);
        return 1;
      }
      req.cpus.push_back({c, r.value, r.value | 0x4, r.value | 0x5});
    }
    auto journal = FileJournal::open(argv[3]);
    if (!journal) {
      std::printf("error %s\n", journal.error().detail.c_str());
      return 1;
    }
    if (cmd == "kill") {
      KillingWriter killing(writer, static_cast<unsigned>(std::atoi(argv[2])));
      ApplyResult res = apply(req, killing, **journal, nullptr);
      std::printf("not killed: outcome %s\n", to_string(res.outcome));
      return 1;
    }
    ApplyResult res = apply(req, writer, **journal, w->fallback.get());
    int code = static_cast<int>(cli::apply_exit(res.outcome));
    std::printf("apply via %s: outcome %s exit %d\n", std::string(writer.backend_name()).c_str(),
                to_string(res.outcome), code);
    std::printf("summary %s\n", res.summary.c_str());
    return res.outcome == ApplyOutcome::rolled_back && code == 14 ? 0 : 1;
  }
  return usage();
}
