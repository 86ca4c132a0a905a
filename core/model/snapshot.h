// Snapshot: everything KVM's init would look at on one host, as plain data.
//
// The collect layer fills it from hardware (or a recorded file); the analyse layer reads it and
// never touches hardware. A Snapshot round-trips through JSON (core/collect/snapshot_json.h),
// format documented in docs/snapshot-format.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kvmprobe {

/// Current snapshot file format version; bump on any incompatible change.
inline constexpr int kSnapshotFormat = 2;

/// How one register read ended. A failed read is never turned into a value of 0.
enum class ReadStatus {
  value,        ///< read succeeded; `value` holds the register
  fault,        ///< the CPU raised #GP (EIO from /dev/cpu/N/msr, fault flag from the driver)
  denied,       ///< the caller may not read it (EACCES/EPERM)
  unavailable,  ///< no access path (no msr device, not collected, imported without MSRs)
};

/// One MSR read on one CPU.
struct MsrRead {
  std::uint32_t index = 0;
  ReadStatus status = ReadStatus::unavailable;
  std::uint64_t value = 0;  ///< meaningful only when status == value
  int error = 0;            ///< errno of the failed read, 0 otherwise

  bool ok() const { return status == ReadStatus::value; }
  bool operator==(const MsrRead&) const = default;
};

/// One CPUID leaf/subleaf as executed on one CPU.
struct CpuidLeaf {
  std::uint32_t leaf = 0;
  std::uint32_t subleaf = 0;
  std::uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
  bool operator==(const CpuidLeaf&) const = default;
};

/// Which register of a CPUID leaf.
enum class Reg { eax, ebx, ecx, edx };

/// Whose view of CPUID a CPU's leaves are.
enum class CpuidView {
  unknown,      ///< not recorded (imports, older snapshots)
  kernel,       ///< /dev/cpu/N/cpuid: CPUID executed by the kernel on that CPU, what KVM sees
  instruction,  ///< the cpuid instruction run by kvmprobe pinned to that CPU (user mode); some
                ///< hypervisors answer user mode differently (seen under PVM)
};

/// Everything recorded for one logical CPU.
struct CpuRecord {
  unsigned cpu = 0;                  ///< logical CPU number (Linux numbering)
  std::vector<CpuidLeaf> cpuid;      ///< sorted by (leaf, subleaf)
  CpuidView cpuid_view = CpuidView::unknown;  ///< where `cpuid` came from
  /// With the kernel's view: the leaves where the instruction, run pinned on this CPU, returned
  /// other values (the instruction's values, sorted). Empty when both agree or it was not run.
  std::vector<CpuidLeaf> cpuid_instruction_differs;
  std::vector<MsrRead> msrs;         ///< sorted by index
  std::optional<std::uint64_t> xcr0; ///< XGETBV(0) on this CPU; absent without OSXSAVE
  std::optional<std::uint64_t> cr0;  ///< only through the companion driver
  std::optional<std::uint64_t> cr4;  ///< only through the companion driver
  std::optional<std::uint64_t> efer; ///< only through the companion driver
  /// Linux feature flags of this CPU from /proc/cpuinfo ("flags" line), absent when not read.
  std::optional<std::vector<std::string>> linux_flags;

  /// The leaf, or nullptr when it was not recorded.
  const CpuidLeaf* find_cpuid(std::uint32_t leaf, std::uint32_t subleaf = 0) const;
  /// The MSR read, or nullptr when it was not attempted.
  const MsrRead* find_msr(std::uint32_t index) const;
  /// One register of a leaf; nullopt when the leaf was not recorded.
  std::optional<std::uint32_t> cpuid_reg(std::uint32_t leaf, std::uint32_t subleaf, Reg reg) const;
  /// One bit of a leaf; nullopt when the leaf was not recorded.
  std::optional<bool> cpuid_bit(std::uint32_t leaf, std::uint32_t subleaf, Reg reg, unsigned bit) const;
  /// Whether Linux lists the flag for this CPU; nullopt when flags were not read.
  std::optional<bool> has_linux_flag(const std::string& flag) const;
  bool operator==(const CpuRecord&) const = default;
};

/// Where a TSC frequency came from, best first.
enum class TscSource {
  kvm_vcpu,        ///< KVM_GET_TSC_KHZ on a throw-away vCPU: the kernel's own tsc_khz
  driver,          ///< the companion driver read the kernel's tsc_khz
  sysfs,           ///< /sys/devices/system/cpu/cpu0/tsc_freq_khz (some kernels)
  kernel_log,      ///< "tsc: Refined TSC clocksource calibration" / "Detected ... MHz" in the kernel log
  cpuid_15h,       ///< CPUID 0x15 crystal ratio (nominal, not the calibrated value)
  cpuid_16h,       ///< CPUID 0x16 base frequency (nominal)
  cpuinfo_mhz,     ///< /proc/cpuinfo "cpu MHz" (current frequency, a guess)
  hypervisor_leaf, ///< CPUID 0x40000010 (VMware/KVM style timing leaf)
};

/// One way the TSC frequency was determined.
struct TscCandidate {
  TscSource source = TscSource::cpuinfo_mhz;
  std::uint64_t khz = 0;
  bool exact = false;     ///< equal to the kernel's tsc_khz by construction
  std::string detail;     ///< e.g. the log line it was read from
  bool operator==(const TscCandidate&) const = default;
};

/// Three-valued answer for facts that may not be knowable.
enum class Tri { no, yes, unknown };

/// What perf registered at boot (KVM derives its PMU capability from it:
/// arch/x86/kvm/pmu.h: kvm_init_pmu_capability() (6.1, 6.12)).
struct PerfPmuInfo {
  Tri hw_pmu = Tri::unknown;  ///< did perf register a hardware PMU driver
  std::string pmu_name;       ///< /sys/bus/event_source/devices/cpu*/caps/pmu_name, if any
  std::string evidence;       ///< how hw_pmu was decided (path or log line)
  bool operator==(const PerfPmuInfo&) const = default;
};

/// A loaded kernel module of interest, with its parameters.
struct LoadedModule {
  std::string name;
  std::map<std::string, std::string> params;  ///< /sys/module/NAME/parameters/*
  bool operator==(const LoadedModule&) const = default;
  /// Built into the kernel: /sys/module/NAME has no `initstate` (kernel/module/sysfs.c creates
  /// it only for loadable modules). A built-in vendor module may have declined to bind.
  bool builtin = false;
};

/// Answers of the running KVM through /dev/kvm.
struct KvmDeviceInfo {
  bool present = false;          ///< /dev/kvm exists
  bool openable = false;         ///< this caller could open it read-write
  /// /sys/class/misc/kvm exists: kvm_init() registered KVM's misc device, which happens only
  /// after a vendor module's hardware setup succeeded (virt/kvm/kvm_main.c: kvm_init()).
  /// nullopt: not recorded (older snapshots, imports).
  std::optional<bool> misc_registered;
  int open_error = 0;            ///< errno of the failed open
  std::optional<int> api_version;
  std::optional<std::vector<std::uint32_t>> msr_index_list;      ///< KVM_GET_MSR_INDEX_LIST
  std::optional<std::vector<std::uint32_t>> feature_msr_list;    ///< KVM_GET_MSR_FEATURE_INDEX_LIST
  std::optional<std::int64_t> cap_tsc_control;                   ///< KVM_CHECK_EXTENSION(KVM_CAP_TSC_CONTROL)
  std::optional<std::uint64_t> vcpu_tsc_khz;                     ///< KVM_GET_TSC_KHZ on a fresh vCPU
  std::optional<std::uint64_t> supported_xcr0;                   ///< KVM_GET_SUPPORTED_CPUID 0xD.0 EDX:EAX
  std::string error;             ///< what failed while asking, if anything
  bool operator==(const KvmDeviceInfo&) const = default;
};

/// Everything KVM's init would look at on one host.
struct Snapshot {
  int format = kSnapshotFormat;
  std::string origin;             ///< "live", "libcpuid-import", ...
  std::string tool_version;       ///< kvmprobe version that recorded it
  std::string taken_at;           ///< ISO 8601 UTC
  std::string hostname;
  std::string kernel_release;     ///< uname -r; empty when unknown
  std::string kernel_version;     ///< uname -v ("#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 ..."), for the stable patch level
  std::string kernel_cmdline;     ///< /proc/cmdline
  std::string msr_backend;        ///< "driver", "msr" or "none"
  bool is_root = false;           ///< the collector ran with euid 0
  std::vector<unsigned> online_cpus;  ///< /sys/devices/system/cpu/online
  std::vector<CpuRecord> cpus;        ///< one per online CPU, same order
  std::vector<TscCandidate> tsc;      ///< every TSC frequency found, best first
  PerfPmuInfo perf;
  std::vector<LoadedModule> modules;         ///< loaded kvm*, and other hypervisors' modules
  std::map<std::string, std::string> configured_params;  ///< "kvm_amd.nested" -> "0", from cmdline and modprobe.d
  std::map<std::string, std::string> param_origins;      ///< "kvm_amd.nested" -> "/etc/modprobe.d/x.conf"
  KvmDeviceInfo kvm;
  std::vector<std::string> kernel_log;  ///< boot log lines relevant to KVM (feat_ctl, SVM, PMU, TSC)
  bool kernel_log_read = false;         ///< whether the kernel log could be read at all
  std::vector<std::string> notes;       ///< collection problems, one line each

  const CpuRecord* boot_cpu() const { return cpus.empty() ? nullptr : &cpus.front(); }
  const LoadedModule* find_module(const std::string& name) const;
  /// Member by member, `format` included (the version of the file it was read from).
  bool operator==(const Snapshot&) const = default;
};

}  // namespace kvmprobe
