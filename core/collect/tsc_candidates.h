// Every TSC frequency collect() can find, best first, with only the kernel's own value (through
// KVM or the companion driver) marked exact (KVM works from tsc_khz: arch/x86/kvm/x86.c:
// kvm_timer_init(), kvm_x86_vendor_init() (6.1, 6.12)).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/model/snapshot.h"

namespace kvmprobe::collect {

/// "2596.145" (MHz, as the kernel and /proc/cpuinfo print it) → 2596145 kHz; nullopt if malformed.
std::optional<std::uint64_t> parse_mhz_to_khz(std::string_view mhz);

/// What the TSC candidates are built from; every member may be absent.
struct TscInputs {
  std::optional<std::uint64_t> kvm_vcpu_khz;  ///< KVM_GET_TSC_KHZ on a new vCPU
  /// Whether the boot CPU has a constant TSC (Linux flag constant_tsc, else CPUID
  /// 0x80000007:EDX[8]). A new vCPU gets KVM's max_tsc_khz, which is tsc_khz with a constant
  /// TSC, and otherwise the loading CPU's cpufreq maximum when it has a policy (arch/x86/kvm/x86.c:
  /// kvm_timer_init() (6.1, 6.12)).
  std::optional<bool> constant_tsc;
  /// Whether any cpufreq policy exists (/sys/devices/system/cpu/cpufreq/policy*).
  std::optional<bool> cpufreq_policies;
  std::optional<std::uint64_t> driver_khz;  ///< the companion driver's tsc_khz
  std::optional<std::string> sysfs_khz;     ///< /sys/devices/system/cpu/cpu0/tsc_freq_khz text
  std::vector<std::string> log_lines;       ///< the kernel log (any lines; tsc: ones are used)
  const CpuRecord* boot_cpu = nullptr;      ///< CPUID 0x15, 0x16 and hypervisor leaves
  std::string cpuinfo_mhz;                  ///< /proc/cpuinfo "cpu MHz" of CPU 0
};

/// The candidates, best first: KVM vCPU, driver, sysfs, kernel log (refined calibration, then
/// "Detected ... MHz TSC", then "... MHz processor"), hypervisor timing leaf 0x40000010
/// (VMware, KVM; the value Linux guests take as tsc_khz), CPUID 0x15 (only with a crystal
/// frequency in ECX), CPUID 0x16 base frequency, /proc/cpuinfo cpu MHz.
std::vector<TscCandidate> tsc_candidates(const TscInputs& in);

}  // namespace kvmprobe::collect
