// Fakes for every source collect() reads through (core/collect/sources.h), plus a temporary
// file tree for the SysfsReader, so collect tests run without root, MSRs or /dev/kvm.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/collect/sources.h"
#include "core/collect/sysfs_reader.h"

namespace kvmprobe::testing {

/// A CPUID table. Leaves set with set() apply to every CPU, set_on() overrides one CPU;
/// anything not set reads as zeros (as reserved leaves do on hardware).
class FakeCpuidSource : public collect::CpuidSource {
 public:
  void set(std::uint32_t leaf, std::uint32_t sub, std::uint32_t a, std::uint32_t b, std::uint32_t c,
           std::uint32_t d) {
    all_[{leaf, sub}] = CpuidLeaf{leaf, sub, a, b, c, d};
  }
  void set_on(unsigned cpu, std::uint32_t leaf, std::uint32_t sub, std::uint32_t a, std::uint32_t b,
              std::uint32_t c, std::uint32_t d) {
    per_cpu_[{cpu, leaf, sub}] = CpuidLeaf{leaf, sub, a, b, c, d};
  }
  /// Every read on \a cpu fails.
  void fail_cpu(unsigned cpu) { failing_cpus_.insert(cpu); }
  /// Reads of this leaf fail (on every CPU).
  void fail_leaf(std::uint32_t leaf) { failing_leaves_.insert(leaf); }

  Result<CpuidLeaf> cpuid(unsigned cpu, std::uint32_t leaf, std::uint32_t sub) override {
    ++calls;
    if (failing_cpus_.count(cpu) || failing_leaves_.count(leaf))
      return make_error(ErrorKind::io, "fake cpuid failure", {}, EIO);
    if (auto it = per_cpu_.find({cpu, leaf, sub}); it != per_cpu_.end()) return it->second;
    if (auto it = all_.find({leaf, sub}); it != all_.end()) return it->second;
    return CpuidLeaf{leaf, sub, 0, 0, 0, 0};
  }
  void drain_notes(std::vector<std::string>& out) override {
    out.insert(out.end(), notes.begin(), notes.end());
    notes.clear();
  }
  void finish() override { ++finished; }

  int calls = 0;
  int finished = 0;
  std::vector<std::string> notes;

 private:
  std::map<std::pair<std::uint32_t, std::uint32_t>, CpuidLeaf> all_;
  std::map<std::tuple<unsigned, std::uint32_t, std::uint32_t>, CpuidLeaf> per_cpu_;
  std::set<unsigned> failing_cpus_;
  std::set<std::uint32_t> failing_leaves_;
};

/// An MSR map. Unset MSRs raise #GP (fault, EIO), as unimplemented MSRs do on hardware.
class FakeMsrSource : public collect::MsrSource {
 public:
  explicit FakeMsrSource(std::string name = "msr") : name_(std::move(name)) {}
  void set(unsigned cpu, std::uint32_t index, std::uint64_t value) {
    regs_[{cpu, index}] = MsrRead{index, ReadStatus::value, value, 0};
  }
  void deny(unsigned cpu, std::uint32_t index) {
    regs_[{cpu, index}] = MsrRead{index, ReadStatus::denied, 0, EACCES};
  }
  void fault(unsigned cpu, std::uint32_t index) {
    regs_[{cpu, index}] = MsrRead{index, ReadStatus::fault, 0, EIO};
  }

  std::string_view backend_name() const override { return name_; }
  int probe(unsigned cpu) override {
    ++probes;
    return cpu < probe_error_by_cpu.size() ? probe_error_by_cpu[cpu] : probe_error;
  }
  MsrRead read(unsigned cpu, std::uint32_t index) override {
    ++reads;
    if (int err = probe(cpu); err != 0)
      return MsrRead{index, err == EACCES ? ReadStatus::denied : ReadStatus::unavailable, 0, err};
    if (auto it = regs_.find({cpu, index}); it != regs_.end()) return it->second;
    return MsrRead{index, ReadStatus::fault, 0, EIO};
  }

  int probe_error = 0;                  ///< errno probe() returns (0: usable)
  std::vector<int> probe_error_by_cpu;  ///< per-CPU override of probe_error
  int probes = 0;
  int reads = 0;

 private:
  std::string name_;
  std::map<std::pair<unsigned, std::uint32_t>, MsrRead> regs_;
};

/// A file tree in a fresh temporary directory, removed again on destruction.
class FakeTree {
 public:
  FakeTree() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kvmprobe-tree-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) std::abort();
    root_ = tmpl;
  }
  ~FakeTree() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  FakeTree(const FakeTree&) = delete;
  FakeTree& operator=(const FakeTree&) = delete;

  /// Writes \a content to the host path \a path ("/sys/...") under the root.
  void write(const std::string& path, const std::string& content) {
    std::filesystem::path p = collect::rooted_path(root_.string(), path);
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
  }
  /// Creates the directory \a path under the root.
  void mkdir(const std::string& path) {
    std::filesystem::create_directories(collect::rooted_path(root_.string(), path));
  }
  std::string root() const { return root_.string(); }
  /// The host path \a path under the root, as a real path.
  std::string real(const std::string& path) const {
    return collect::rooted_path(root_.string(), path);
  }

 private:
  std::filesystem::path root_;
};

/// /dev/kvm with canned answers.
class FakeKvmDevice : public collect::KvmDevice {
 public:
  int open_error = 0;
  Result<int> api = 12;
  Result<std::vector<std::uint32_t>> msrs = std::vector<std::uint32_t>{0x174, 0x175, 0x10};
  Result<std::vector<std::uint32_t>> features = std::vector<std::uint32_t>{0x8b, 0x10a};
  Result<std::int64_t> tsc_control = std::int64_t{0};
  Result<std::uint64_t> tsc_khz = std::uint64_t{2596152};
  Result<std::uint64_t> xcr0 = std::uint64_t{0xe7};
  int opens = 0, closes = 0;
  long last_cap = -1;

  int open() override {
    ++opens;
    return open_error;
  }
  Result<int> api_version() override { return api; }
  Result<std::vector<std::uint32_t>> msr_index_list() override { return msrs; }
  Result<std::vector<std::uint32_t>> feature_msr_index_list() override { return features; }
  Result<std::int64_t> check_extension(long cap) override {
    last_cap = cap;
    return tsc_control;
  }
  Result<std::uint64_t> vcpu_tsc_khz() override { return tsc_khz; }
  Result<std::uint64_t> supported_xcr0() override { return xcr0; }
  void close() override { ++closes; }
};

/// XGETBV answers per CPU; records which CPUs were asked.
class FakeXgetbv : public collect::XgetbvSource {
 public:
  std::map<unsigned, std::uint64_t> xcr0;
  std::vector<unsigned> asked;
  int finished = 0;
  Result<std::uint64_t> xgetbv(unsigned cpu, std::uint32_t xcr) override {
    asked.push_back(cpu);
    auto it = xcr0.find(cpu);
    if (xcr != 0 || it == xcr0.end()) return make_error(ErrorKind::io, "fake xgetbv failure");
    return it->second;
  }
  void finish() override { ++finished; }
};

/// Kernel log lines, or a failure.
class FakeKernelLog : public collect::KernelLogSource {
 public:
  std::vector<std::string> lines;
  bool fail = false;
  Result<std::vector<std::string>> read_matching_lines(LineFilter keep) override {
    if (fail) return make_error(ErrorKind::io, "kernel log unreadable: fake", {}, EPERM);
    std::vector<std::string> out;
    for (const std::string& l : lines)
      if (!keep || keep(l)) out.push_back(l);
    return out;
  }
};

/// The host: canned facts and a scripted modprobe.
class FakeHost : public collect::HostSystem {
 public:
  std::string release = "6.1.0-test-amd64";
  bool root = true;
  /// Called for modprobe; default: exit status 1 with a FATAL line.
  std::function<Result<int>(std::string_view)> on_modprobe = [](std::string_view) {
    return Result<int>(1);
  };
  std::vector<std::string> modprobed;

  std::string kernel_release() override { return release; }
  std::string kernel_version() override {
    return "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-01-01)";
  }
  std::string hostname() override { return "fakehost"; }
  bool is_root() override { return root; }
  std::string utc_now_iso() override { return "2026-11-28T12:00:00Z"; }
  Result<int> modprobe(std::string_view module, std::string& output) override {
    modprobed.emplace_back(module);
    auto rc = on_modprobe(module);
    output = rc && *rc != 0 ? "modprobe: FATAL: Module msr not found" : "";
    return rc;
  }
};

/// Every fake wired together: a 2-CPU AMD-like host with /sys, /proc and /dev/kvm answers.
struct FakeHostWorld {
  FakeCpuidSource cpuid;
  FakeMsrSource msr;
  FakeXgetbv xgetbv;
  FakeTree tree;
  collect::RootedSysfsReader fs{tree.root()};
  FakeKvmDevice kvm;
  FakeKernelLog log;
  FakeHost host;

  FakeHostWorld() {
    tree.write("/sys/devices/system/cpu/online", "0-1\n");
    tree.write("/proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/vda1 quiet\n");
    tree.write("/proc/cpuinfo",
               "processor\t: 0\ncpu MHz\t\t: 2596.098\nflags\t\t: fpu sse constant_tsc\n\n"
               "processor\t: 1\ncpu MHz\t\t: 2596.098\nflags\t\t: fpu sse constant_tsc\n\n");
    tree.write("/proc/modules", "");
    tree.mkdir("/lib/modules/6.1.0-test-amd64");
    tree.write("/sys/bus/event_source/devices/software/type", "1\n");
    cpuid.set(0, 0, 0xD, 0x68747541, 0x444d4163, 0x69746e65);    // AuthenticAMD, max basic 0xD
    cpuid.set(1, 0, 0x00A00F11, 0, (1u << 27) | (1u << 26), 0);  // XSAVE + OSXSAVE
    cpuid.set(0xD, 0, 0x7, 0, 0, 0);
    cpuid.set(0x80000000, 0, 0x80000008, 0, 0, 0);
    cpuid.set(0x80000007, 0, 0, 0, 0, 1u << 8);
    xgetbv.xcr0 = {{0, 0x7}, {1, 0x7}};
    msr.probe_error = ENOENT;
  }

  collect::Sources sources() {
    collect::Sources s;
    s.cpuid = &cpuid;
    s.msr_dev = &msr;
    s.xgetbv = &xgetbv;
    s.fs = &fs;
    s.kvm = &kvm;
    s.kernel_log = &log;
    s.host = &host;
    return s;
  }
};

/// Writes \a size bytes at byte offset \a offset of a (sparse) file, as the msr and cpuid device
/// nodes lay out their registers; false when it cannot.
inline bool pwrite_at(const std::string& path, off_t offset, const void* data, std::size_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0600);
  if (fd < 0) return false;
  bool ok = ::pwrite(fd, data, size, offset) == static_cast<ssize_t>(size);
  ::close(fd);
  return ok;
}

}  // namespace kvmprobe::testing
