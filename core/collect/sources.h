// The narrow interfaces collect() reads the host through (style.md §2 rule 4).
//
// Each interface answers one kind of question about the host. The real implementations live
// next to this file (cpuid_source.h, msr_source.h, driver_source.h, sysfs_reader.h, kvm_device.h,
// xgetbv_source.h, kernel_log.h, host_system.h); tests use the fakes in
// tests/support/fake_sources.h and fake_driver.h. None of them throws, prints, or turns a
// failed read into 0: failures come back as an Error or a ReadStatus.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/model/result.h"
#include "core/model/snapshot.h"

namespace kvmprobe::collect {

/// CPUID as executed on one logical CPU.
class CpuidSource {
 public:
  virtual ~CpuidSource() = default;
  /// CPUID(\a leaf, \a subleaf) on logical CPU \a cpu.
  virtual Result<CpuidLeaf> cpuid(unsigned cpu, std::uint32_t leaf, std::uint32_t subleaf) = 0;
  /// Moves any remarks about how leaves were read (e.g. a fallback taken) into \a out.
  virtual void drain_notes(std::vector<std::string>& out) { (void)out; }
  /// Whose view CPU \a cpu's leaves were read from (after they were read).
  virtual CpuidView view(unsigned cpu) const {
    (void)cpu;
    return CpuidView::unknown;
  }
  /// Moves out the leaves read from the kernel's view of CPU \a cpu where the cpuid instruction,
  /// run pinned on that CPU, returned other values (the instruction's values).
  virtual std::vector<CpuidLeaf> take_differences(unsigned cpu) {
    (void)cpu;
    return {};
  }
  /// Called when collect() has read every CPU: undo per-CPU state (a pinned CPU mask).
  virtual void finish() {}
};

/// RDMSR on one logical CPU. A read never fails silently: the MsrRead says how it ended.
class MsrSource {
 public:
  virtual ~MsrSource() = default;
  /// The backend name recorded in Snapshot::msr_backend ("msr", "driver").
  virtual std::string_view backend_name() const = 0;
  /// 0 when CPU \a cpu can be read through this backend, else the errno of opening it. A
  /// failure is not remembered: after `modprobe msr` the next probe() tries again.
  virtual int probe(unsigned cpu) = 0;
  /// Reads MSR \a index on CPU \a cpu.
  virtual MsrRead read(unsigned cpu, std::uint32_t index) = 0;
  /// Reads every MSR of \a indices on CPU \a cpu, in order; one MsrRead per index.
  virtual std::vector<MsrRead> read_many(unsigned cpu, std::span<const std::uint32_t> indices) {
    std::vector<MsrRead> out;
    out.reserve(indices.size());
    for (std::uint32_t index : indices) out.push_back(read(cpu, index));
    return out;
  }
  /// Called when collect() has read every CPU: undo per-CPU state (a pinned CPU mask).
  virtual void finish() {}
};

/// Small text files and directory listings (/sys, /proc, /etc/modprobe.d ...). Paths are host
/// paths ("/sys/devices/system/cpu/online"); an implementation may map them under another root.
class SysfsReader {
 public:
  /// Default size limit for one file.
  static constexpr std::size_t kSmallFile = 64 * 1024;
  virtual ~SysfsReader() = default;
  /// The file's contents (at most \a max_bytes; longer files are an error, not truncated).
  virtual Result<std::string> read_file(std::string_view path,
                                        std::size_t max_bytes = kSmallFile) = 0;
  /// The names in a directory, sorted, without "." and "..".
  virtual Result<std::vector<std::string>> list_dir(std::string_view path) = 0;
  /// Whether the path exists (following symlinks).
  virtual bool exists(std::string_view path) = 0;
};

/// The questions kvmprobe asks the running KVM through /dev/kvm.
class KvmDevice {
 public:
  virtual ~KvmDevice() = default;
  /// Opens /dev/kvm read-write: 0 on success, else the errno (ENOENT: no device node).
  virtual int open() = 0;
  /// KVM_GET_API_VERSION (12 on every kernel since 2.6.22).
  virtual Result<int> api_version() = 0;
  /// KVM_GET_MSR_INDEX_LIST, in KVM's order.
  virtual Result<std::vector<std::uint32_t>> msr_index_list() = 0;
  /// KVM_GET_MSR_FEATURE_INDEX_LIST, in KVM's order.
  virtual Result<std::vector<std::uint32_t>> feature_msr_index_list() = 0;
  /// KVM_CHECK_EXTENSION(\a cap) on the system fd.
  virtual Result<std::int64_t> check_extension(long cap) = 0;
  /// KVM_GET_TSC_KHZ on a vCPU of a throw-away VM (both closed again before returning).
  virtual Result<std::uint64_t> vcpu_tsc_khz() = 0;
  /// EDX:EAX of leaf 0xD.0 of KVM_GET_SUPPORTED_CPUID; 0 when KVM lists no leaf 0xD. With no
  /// XSAVE state supported KVM still lists 0xD.0, with EAX = EDX = 0 and no subleaves
  /// (arch/x86/kvm/cpuid.c: __do_cpuid_func() case 0xd (6.1, 6.12)).
  virtual Result<std::uint64_t> supported_xcr0() = 0;
  /// Closes the device (no-op when not open).
  virtual void close() = 0;
};

/// XGETBV on one logical CPU.
class XgetbvSource {
 public:
  virtual ~XgetbvSource() = default;
  /// XGETBV(\a xcr) on CPU \a cpu. The caller checks OSXSAVE first: without it the
  /// instruction raises #UD (real implementations check again and return an Error).
  virtual Result<std::uint64_t> xgetbv(unsigned cpu, std::uint32_t xcr) = 0;
  /// Called when collect() has read every CPU: undo per-CPU state (a pinned CPU mask).
  virtual void finish() {}
};

/// The kernel's message buffer (dmesg).
class KernelLogSource {
 public:
  /// Which lines to keep (nullptr: every line).
  using LineFilter = bool (*)(std::string_view line);
  virtual ~KernelLogSource() = default;
  /// The lines still in the buffer that \a keep accepts, oldest first, as
  /// "[    1.234567] text" (no "<6>" level). Filtering here, not after, spares a string per
  /// line the caller would throw away.
  virtual Result<std::vector<std::string>> read_matching_lines(LineFilter keep) = 0;
  /// Every line still in the buffer.
  Result<std::vector<std::string>> read_lines() { return read_matching_lines(nullptr); }
};

/// Facts about the running system and the one process collect() may start.
class HostSystem {
 public:
  virtual ~HostSystem() = default;
  /// uname -r; empty when unknown.
  virtual std::string kernel_release() = 0;
  /// uname -v ("#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 ..."); empty when unknown.
  virtual std::string kernel_version() = 0;
  /// The node name; empty when unknown.
  virtual std::string hostname() = 0;
  /// Whether the effective user id is 0.
  virtual bool is_root() = 0;
  /// The current time as ISO 8601 UTC ("2026-11-28T13:05:00Z").
  virtual std::string utc_now_iso() = 0;
  /// Runs `modprobe NAME` without a shell; its exit status, or an Error if it could not run.
  /// \a output receives the first line it printed (stderr), if any.
  virtual Result<int> modprobe(std::string_view module, std::string& output) = 0;
};

/// What the companion driver said about itself (KVMPROBE_IOC_GET_VERSION).
struct DriverInfo {
  std::uint32_t abi_version = 0;  ///< equals KVMPROBE_ABI_VERSION once open() succeeded
  std::uint64_t caps = 0;         ///< KVMPROBE_CAP_* bits
  std::uint32_t max_msrs = 0;     ///< largest READ_MSRS batch
  std::uint32_t nr_cpu_ids = 0;   ///< CPU numbers are below this
};

/// One CPU's registers that only the companion driver can read (KVMPROBE_IOC_CPU_STATE).
/// Each is absent when the driver did not read it (XCR0 without CR4.OSXSAVE) or it faulted.
struct CpuControlRegs {
  std::optional<std::uint64_t> cr0, cr4, efer;
  std::optional<std::uint64_t> xcr0;  ///< read by the driver only when CR4.OSXSAVE is set
  /// IA32_FEATURE_CONTROL (Intel, Centaur, Zhaoxin) or VM_CR (AMD, Hygon) as the driver read
  /// it on that CPU; absent for other vendors.
  std::optional<MsrRead> feature_msr;
};

/// CPU state and kernel values through the companion driver (/dev/kvmprobe).
class DriverStateSource {
 public:
  virtual ~DriverStateSource() = default;
  /// Opens the driver and checks its ABI version. The Error says why it cannot be used
  /// (ErrorKind::missing; err ENOENT: not loaded, EACCES/EPERM: not permitted, EPROTO:
  /// another ABI version), with a hint naming what to do. A failure is not remembered.
  virtual Result<DriverInfo> open() = 0;
  /// CR0, CR4, EFER, XCR0 and the VMX/SVM control MSR of CPU \a cpu.
  virtual Result<CpuControlRegs> cpu_state(unsigned cpu) = 0;
  /// The kernel's own tsc_khz.
  virtual Result<std::uint64_t> kernel_tsc_khz() = 0;
};

/// Everything collect() reads through. Non-owning; every pointer must outlive the call.
/// msr_driver and driver_state may be null (no companion driver); the others must not.
/// collect() uses msr_driver only after driver_state->open() succeeded, when both are set.
/// collect() uses kvm and kernel_log from a second thread (see collect.h).
struct Sources {
  CpuidSource* cpuid = nullptr;
  MsrSource* msr_dev = nullptr;               ///< /dev/cpu/N/msr
  MsrSource* msr_driver = nullptr;            ///< /dev/kvmprobe READ_MSRS (a DriverSource)
  DriverStateSource* driver_state = nullptr;  ///< /dev/kvmprobe CPU_STATE/TSC (the same one)
  XgetbvSource* xgetbv = nullptr;
  SysfsReader* fs = nullptr;
  KvmDevice* kvm = nullptr;
  KernelLogSource* kernel_log = nullptr;
  HostSystem* host = nullptr;
};

}  // namespace kvmprobe::collect
