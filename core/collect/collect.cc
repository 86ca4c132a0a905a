#include "core/collect/collect.h"

#include <linux/kvm.h>
#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>

#include "core/collect/cpu_list.h"
#include "core/model/format.h"
#include "core/collect/cpuid_enum.h"
#include "core/collect/cpuinfo.h"
#include "core/collect/kernel_log.h"
#include "core/collect/modules.h"
#include "core/collect/msr_probe_list.h"
#include "core/collect/perf_pmu.h"
#include "core/collect/system_sources.h"
#include "core/collect/tsc_candidates.h"

#ifndef KVMPROBE_VERSION
#define KVMPROBE_VERSION "unknown"
#endif

namespace kvmprobe::collect {

namespace {

constexpr std::size_t kMaxCpuinfoBytes = 16u << 20;  // ~1.5 KiB per CPU; room for 8192 CPUs

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string cpu_prefix(unsigned cpu) { return "cpu " + std::to_string(cpu) + ": "; }

/// Runs a task on a second thread, or right away when no thread can be created (pthread_create
/// reports that as a value; std::thread would throw). join() waits for it.
class Overlapped {
 public:
  explicit Overlapped(std::function<void()> task) : task_(std::move(task)) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    started_ = pthread_create(&thread_, &attr, &Overlapped::run, this) == 0;
    pthread_attr_destroy(&attr);
    if (!started_) task_();
  }
  ~Overlapped() { join(); }
  Overlapped(const Overlapped&) = delete;
  Overlapped& operator=(const Overlapped&) = delete;
  void join() {
    if (started_) pthread_join(thread_, nullptr);
    started_ = false;
  }

 private:
  static void* run(void* self) {
    static_cast<Overlapped*>(self)->task_();
    return nullptr;
  }
  std::function<void()> task_;
  pthread_t thread_{};
  bool started_ = false;
};

bool no_node(int err) { return err == ENOENT || err == ENXIO || err == ENODEV; }

/// `modprobe msr` when it can work: root, a kernel with modules, modules installed for it.
void load_msr_module(Sources& src, Snapshot& s) {
  if (!s.is_root) {
    s.notes.push_back("msr: /dev/cpu/0/msr missing and not root, msr module not loaded");
    return;
  }
  if (!src.fs->exists("/proc/modules")) {
    s.notes.push_back(
        "msr: kernel has no loadable-module support (/proc/modules missing); "
        "modprobe msr not attempted");
    return;
  }
  if (!s.kernel_release.empty() && !src.fs->exists("/lib/modules/" + s.kernel_release)) {
    s.notes.push_back("msr: /lib/modules/" + s.kernel_release +
                      " missing; modprobe msr not attempted");
    return;
  }
  std::string output;
  auto rc = src.host->modprobe("msr", output);
  if (!rc)
    s.notes.push_back("msr: modprobe msr could not run: " + rc.error().detail);
  else if (*rc != 0)
    s.notes.push_back("msr: modprobe msr failed (exit " + std::to_string(*rc) + ")" +
                      (output.empty() ? "" : ": " + output));
  else
    s.notes.push_back("msr: loaded the msr module (modprobe msr)");
}

/// The companion driver when the backend may use it and it opens; null otherwise. With
/// Backend::driver a driver that cannot be used is the Error (its hint names what to do); with
/// automatic it is a note and collect() goes on without it.
Result<DriverStateSource*> open_driver(const CollectOptions& opt, Sources& src, Snapshot& s) {
  using Backend = CollectOptions::Backend;
  if (opt.backend != Backend::automatic && opt.backend != Backend::driver) return nullptr;
  if (!src.driver_state) {
    if (opt.backend == Backend::driver && !src.msr_driver)
      return make_error(ErrorKind::missing, "this kvmprobe has no companion-driver backend",
                        "use --backend msr");
    return nullptr;  // a bare msr_driver (tests) is probed in choose_msr_backend()
  }
  auto info = src.driver_state->open();
  if (info) return src.driver_state;
  if (opt.backend == Backend::driver) return info.error();
  s.notes.push_back("driver: " + info.error().detail + "; not used");
  return nullptr;
}

/// The MSR backend to read through, or null (with the reason in notes). \a driver is what
/// open_driver() opened. \a err receives the errno that made the chosen path unusable (0
/// when the option said none).
MsrSource* choose_msr_backend(const CollectOptions& opt, Sources& src, DriverStateSource* driver,
                              Snapshot& s, int& err) {
  using Backend = CollectOptions::Backend;
  unsigned boot = s.online_cpus.front();
  err = 0;
  if (opt.backend == Backend::none) {
    s.notes.push_back("msr: MSRs not read (backend none)");
    return nullptr;
  }
  if (opt.backend == Backend::automatic || opt.backend == Backend::driver) {
    // Without a DriverStateSource (a test wiring) the MsrSource alone decides.
    if (src.msr_driver && (driver || !src.driver_state)) {
      int e = src.msr_driver->probe(boot);
      if (e == 0) return src.msr_driver;
      s.notes.push_back(std::string("msr: companion driver unusable: ") + std::strerror(e));
      if (opt.backend == Backend::driver) err = e;
    }
    if (opt.backend == Backend::driver) return nullptr;
  }
  err = src.msr_dev->probe(boot);
  if (err != 0 && no_node(err) && opt.load_msr_module) {
    load_msr_module(src, s);
    err = src.msr_dev->probe(boot);
  }
  if (err == 0) return src.msr_dev;
  s.notes.push_back("msr: /dev/cpu/" + std::to_string(boot) + "/msr: " + std::strerror(err) +
                    "; MSRs not read");
  return nullptr;
}

/// Keeps \a read in \a msrs (sorted by index) unless that MSR was read already.
void add_msr_if_missing(std::vector<MsrRead>& msrs, const MsrRead& read) {
  auto at = std::lower_bound(msrs.begin(), msrs.end(), read.index,
                             [](const MsrRead& m, std::uint32_t i) { return m.index < i; });
  if (at == msrs.end() || at->index != read.index) msrs.insert(at, read);
}

/// The driver's CPU_STATE of one CPU into its record: CR0, CR4, EFER, XCR0 (so XGETBV need
/// not run there) and the VMX/SVM control MSR when the MSR reads did not include it.
void record_driver_state(DriverStateSource& driver, CpuRecord& r, Snapshot& s) {
  auto st = driver.cpu_state(r.cpu);
  if (!st) {
    s.notes.push_back(cpu_prefix(r.cpu) + "driver CPU state: " + st.error().detail);
    return;
  }
  r.cr0 = st->cr0;
  r.cr4 = st->cr4;
  r.efer = st->efer;
  if (st->xcr0) r.xcr0 = st->xcr0;
  if (st->feature_msr) add_msr_if_missing(r.msrs, *st->feature_msr);
}

/// The MSRs of one CPU: the long probe list on the boot CPU, the short set elsewhere. Without a
/// backend the short set is recorded as unreadable, with the errno that made it so.
std::vector<MsrRead> read_msrs(MsrSource* backend, int backend_err, unsigned cpu, bool boot) {
  if (backend)
    return boot ? backend->read_many(cpu, boot_cpu_msr_probe_list())
                : backend->read_many(cpu, per_cpu_msr_list());
  ReadStatus status =
      backend_err == EACCES || backend_err == EPERM ? ReadStatus::denied : ReadStatus::unavailable;
  std::vector<MsrRead> out;
  for (std::uint32_t index : per_cpu_msr_list())
    out.push_back(MsrRead{index, status, 0, backend_err});
  return out;
}

/// Everything per CPU, one CPU at a time (so a pinned thread moves once per CPU): CPUID, the
/// driver's control registers, XCR0 (from the driver, else XGETBV where OSXSAVE says it
/// works), MSRs, Linux flags.
void collect_cpus(const CollectOptions& opt, Sources& src, DriverStateSource* driver,
                  const std::map<unsigned, CpuinfoEntry>* cpuinfo, Snapshot& s) {
  int backend_err = 0;
  MsrSource* backend = choose_msr_backend(opt, src, driver, s, backend_err);
  s.msr_backend = backend ? std::string(backend->backend_name()) : "none";
  std::vector<unsigned> no_flags;
  for (unsigned cpu : s.online_cpus) {
    CpuRecord r;
    r.cpu = cpu;
    auto leaves = enumerate_cpuid(*src.cpuid, cpu, s.notes);
    if (leaves) {
      r.cpuid = std::move(*leaves);
      r.cpuid_view = src.cpuid->view(cpu);
      // Only leaves that were recorded (enumeration also probes leaves it does not keep).
      for (CpuidLeaf& l : src.cpuid->take_differences(cpu))
        if (r.find_cpuid(l.leaf, l.subleaf)) r.cpuid_instruction_differs.push_back(l);
    } else {
      s.notes.push_back(cpu_prefix(cpu) + "CPUID unreadable: " + leaves.error().detail);
    }
    r.msrs = read_msrs(backend, backend_err, cpu, cpu == s.online_cpus.front());
    if (driver) record_driver_state(*driver, r, s);
    // XGETBV raises #UD unless CR4.OSXSAVE, which CPUID.1:ECX[27] mirrors (SDM vol. 2, XGETBV).
    // The driver has read XCR0 on that CPU already whenever CR4.OSXSAVE is set.
    auto osxsave = r.cpuid_bit(1, 0, Reg::ecx, 27);
    if (osxsave && *osxsave && !r.xcr0) {
      if (auto xcr0 = src.xgetbv->xgetbv(cpu, 0))
        r.xcr0 = *xcr0;
      else
        s.notes.push_back(cpu_prefix(cpu) + "XCR0 unreadable: " + xcr0.error().detail);
    } else if (!osxsave && !r.cpuid.empty()) {
      s.notes.push_back(cpu_prefix(cpu) + "XCR0 not read: CPUID leaf 1 missing");
    }
    if (cpuinfo) {
      auto it = cpuinfo->find(cpu);
      if (it != cpuinfo->end() && it->second.flags)
        r.linux_flags = it->second.flags;
      else
        no_flags.push_back(cpu);
    }
    s.cpus.push_back(std::move(r));
  }
  if (!no_flags.empty())
    s.notes.push_back("/proc/cpuinfo has no flags for CPU " + cpu_list(no_flags));
  src.cpuid->finish();
  src.xgetbv->finish();
  if (backend) backend->finish();
  src.cpuid->drain_notes(s.notes);
}

/// /dev/kvm: present, openable (\a e: what kvm.open() returned), and KVM's own answers.
void collect_kvm(KvmDevice& kvm, int e, KvmDeviceInfo& out) {
  out.present = e != ENOENT && e != ENOTDIR;
  out.openable = e == 0;
  out.open_error = e;
  if (e != 0) return;
  std::vector<std::string> errors;
  auto keep = [&](auto result, auto& field) {
    if (result)
      field = std::move(*result);
    else
      errors.push_back(result.error().detail);
  };
  keep(kvm.api_version(), out.api_version);
  keep(kvm.msr_index_list(), out.msr_index_list);
  keep(kvm.feature_msr_index_list(), out.feature_msr_list);
  keep(kvm.check_extension(KVM_CAP_TSC_CONTROL), out.cap_tsc_control);
  keep(kvm.vcpu_tsc_khz(), out.vcpu_tsc_khz);
  keep(kvm.supported_xcr0(), out.supported_xcr0);
  kvm.close();
  out.error = join(errors, "; ");
}

/// Whether the boot CPU's TSC is constant: Linux's flag if read, else CPUID 0x80000007:EDX[8].
std::optional<bool> constant_tsc(const CpuRecord& boot) {
  if (auto f = boot.has_linux_flag("constant_tsc")) return f;
  return boot.cpuid_bit(0x80000007, 0, Reg::edx, 8);
}

void collect_tsc(Sources& src, DriverStateSource* driver,
                 const std::map<unsigned, CpuinfoEntry>* cpuinfo,
                 std::vector<std::string> log_lines, Snapshot& s) {
  TscInputs in;
  const CpuRecord* boot = s.boot_cpu();
  in.kvm_vcpu_khz = s.kvm.vcpu_tsc_khz;
  if (boot) in.constant_tsc = constant_tsc(*boot);
  if (in.constant_tsc == false) {
    auto names = src.fs->list_dir("/sys/devices/system/cpu/cpufreq");
    if (names)
      in.cpufreq_policies = std::any_of(names->begin(), names->end(), [](const std::string& n) {
        return n.rfind("policy", 0) == 0;
      });
    else if (names.error().err == ENOENT)
      in.cpufreq_policies = false;  // no cpufreq at all
  }
  if (driver) {
    if (auto khz = driver->kernel_tsc_khz())
      in.driver_khz = *khz;
    else
      s.notes.push_back("driver tsc_khz: " + khz.error().detail);
  }
  std::string sysfs =
      "/sys/devices/system/cpu/cpu" + std::to_string(s.online_cpus.front()) + "/tsc_freq_khz";
  if (auto text = src.fs->read_file(sysfs, 64)) in.sysfs_khz = *text;
  in.log_lines = std::move(log_lines);
  in.boot_cpu = boot;
  if (cpuinfo)
    if (auto it = cpuinfo->find(s.online_cpus.front()); it != cpuinfo->end())
      in.cpuinfo_mhz = it->second.mhz;
  s.tsc = tsc_candidates(in);
  if (s.tsc.empty()) s.notes.push_back("tsc: no TSC frequency found");
}

/// Who took the snapshot, where and when.
void record_host(HostSystem& host, Snapshot& s) {
  s.origin = "live";
  s.tool_version = KVMPROBE_VERSION;
  s.taken_at = host.utc_now_iso();
  s.hostname = host.hostname();
  s.kernel_release = host.kernel_release();
  s.kernel_version = host.kernel_version();
  s.is_root = host.is_root();
}

/// /proc/cmdline into the snapshot; /proc/cpuinfo parsed (nullopt, with a note, when unreadable).
std::optional<std::map<unsigned, CpuinfoEntry>> read_proc(SysfsReader& fs, Snapshot& s) {
  if (auto cmdline = fs.read_file("/proc/cmdline"))
    s.kernel_cmdline = trim(*cmdline);
  else
    s.notes.push_back("kernel command line unreadable: " + cmdline.error().detail);
  auto text = fs.read_file("/proc/cpuinfo", kMaxCpuinfoBytes);
  if (text) return parse_cpuinfo(*text);
  s.notes.push_back("/proc/cpuinfo unreadable: " + text.error().detail);
  return std::nullopt;
}

/// The relevant lines of the kernel log into the snapshot; returns every line read (the perf and
/// TSC detection read them all).
std::vector<std::string> record_kernel_log(Result<std::vector<std::string>> log_read, Snapshot& s) {
  if (!log_read) {
    s.notes.push_back(log_read.error().detail);
    return {};
  }
  s.kernel_log_read = true;
  std::vector<std::string> log_lines = std::move(log_read).value();
  std::size_t dropped = 0;
  s.kernel_log = select_relevant_lines(log_lines, kMaxKernelLogLines, dropped);
  if (dropped)
    s.notes.push_back("kernel log: " + std::to_string(dropped) + " relevant lines left out (kept the first and last " +
                      std::to_string(kMaxKernelLogLines / 2) + ")");
  return log_lines;
}

}  // namespace

Result<Snapshot> collect(const CollectOptions& opt, Sources& src) {
  if (!src.cpuid || !src.msr_dev || !src.xgetbv || !src.fs || !src.kvm || !src.kernel_log ||
      !src.host)
    return make_error(ErrorKind::internal, "collect: a required source is missing");
  Snapshot s;
  record_host(*src.host, s);

  auto online = src.fs->read_file("/sys/devices/system/cpu/online");
  if (!online)
    return make_error(ErrorKind::io, "cannot read the online CPUs: " + online.error().detail,
                      "is /sys mounted?", online.error().err);
  auto cpus = parse_cpu_list(*online);
  if (!cpus || cpus->empty())
    return make_error(ErrorKind::io,
                      "malformed /sys/devices/system/cpu/online: \"" + trim(*online) + "\"");
  s.online_cpus = std::move(*cpus);
  auto driver = open_driver(opt, src, s);
  if (!driver) return driver.error();

  // KVM's answers need a throw-away VM whose creation and teardown take about as long as the
  // CPUID of two CPUs in a guest (~0.7 ms each in a 2-vCPU guest); with the kernel log they
  // touch nothing else collect() uses, so a second thread reads them meanwhile. It starts
  // before any CPU pinning, so it keeps the caller's CPU mask. Without an open /dev/kvm there
  // is nothing slow to overlap, and the thread itself (its stack, TLS and malloc arena: ~30
  // fresh pages, each a page fault) would cost more than it saves, so the log is read here.
  KvmDeviceInfo kvm_info;
  Result<std::vector<std::string>> log_read = std::vector<std::string>{};
  int kvm_open = src.kvm->open();
  auto kvm_and_log = [&] {
    collect_kvm(*src.kvm, kvm_open, kvm_info);
    // Only the relevant lines become strings: perf's PMU verdict and the TSC calibration
    // lines read below are among them ("Performance Events", "tsc:").
    log_read = src.kernel_log->read_matching_lines(&is_relevant_kernel_log_line);
  };
  std::optional<Overlapped> background;
  if (kvm_open == 0)
    background.emplace(kvm_and_log);
  else
    kvm_and_log();

  auto cpuinfo = read_proc(*src.fs, s);
  const auto* info = cpuinfo ? &*cpuinfo : nullptr;

  collect_cpus(opt, src, *driver, info, s);
  collect_loaded_modules(*src.fs, s);
  collect_configured_params(*src.fs, s);
  if (background) background->join();
  s.kvm = std::move(kvm_info);
  s.kvm.misc_registered = src.fs->exists("/sys/class/misc/kvm");
  std::vector<std::string> log_lines = record_kernel_log(std::move(log_read), s);
  s.perf = detect_perf_pmu(*src.fs, log_lines);
  collect_tsc(src, *driver, info, std::move(log_lines), s);
  return s;
}

Result<Snapshot> collect(const CollectOptions& options) {
  SystemSources sys(options.root);
  return collect(options, sys.sources());
}

}  // namespace kvmprobe::collect
