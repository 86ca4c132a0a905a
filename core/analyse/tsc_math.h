// KVM's TSC-scaling arithmetic: capabilities, max guest kHz, per-vCPU rates (arch/x86/kvm/x86.c:
// kvm_x86_vendor_init() / kvm_arch_hardware_setup(), kvm_set_tsc_khz(), set_tsc_khz() (6.1, 6.12)).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/analyse/context.h"

namespace kvmprobe {

/// The host TSC frequency chosen from the snapshot's candidates.
struct TscKhzChoice {
  std::optional<std::uint64_t> khz;
  TscSource source = TscSource::cpuinfo_mhz;
  bool exact = false;
  std::string detail;
};

/// KVM's TSC-scaling capabilities as hardware_setup leaves them.
struct TscCaps {
  bool has_control = false;            ///< kvm_caps.has_tsc_control
  unsigned frac_bits = 0;              ///< 48 (VMX) / 32 (SVM); 0 when unset (≤5.15 without control)
  std::uint64_t max_ratio = 0;
  std::uint64_t default_ratio = 0;
  std::optional<std::uint64_t> max_guest_khz;  ///< nullopt when tsc_khz unknown; 0 without control
};

/// What KVM_SET_TSC_KHZ would do for one requested rate.
struct GuestTscAnswer {
  enum class Kind { within_tolerance, scaled, catchup, impossible } kind = Kind::impossible;
  std::uint64_t ratio = 0;            ///< for scaled: the ratio KVM programs
  std::uint64_t lo_khz = 0, hi_khz = 0;  ///< the tolerance window
  std::string explanation;            ///< one line
};

/// ⌊tsc × ratio / 2^frac⌋ with a 128-bit product (__scale_tsc).
std::uint64_t scale_tsc(std::uint64_t ratio, std::uint64_t tsc, unsigned frac_bits);
/// The best TSC frequency among the snapshot's candidates (exact sources first).
TscKhzChoice choose_tsc_khz(const Snapshot& snap);
const char* to_string(TscSource s);
/// Whether the vendor module would have TSC control, with the reason.
std::pair<bool, std::string> has_tsc_control(const AnalysisContext& ctx);
/// The capabilities for the module, profile and host tsc_khz.
TscCaps tsc_caps(const AnalysisContext& ctx, std::optional<std::uint64_t> tsc_khz);
/// KVM_SET_TSC_KHZ(user_khz) on this host (x86.c: kvm_set_tsc_khz(); bound check
/// user_tsc_khz >= max_guest_tsc_khz in kvm_arch_vcpu_ioctl() KVM_SET_TSC_KHZ (6.1, 6.12)).
GuestTscAnswer guest_tsc(const TscCaps& caps, const KernelProfile& profile, std::uint64_t host_khz,
                         std::uint64_t user_khz, std::uint64_t ppm);

}  // namespace kvmprobe
