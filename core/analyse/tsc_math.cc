#include "core/analyse/tsc_math.h"

#include <fmt/format.h>

#include <algorithm>

namespace kvmprobe {
namespace {

constexpr std::uint64_t kVmxMaxRatio = 0xffffffffffffffffull;  // KVM_VMX_TSC_MULTIPLIER_MAX
constexpr unsigned kVmxFracBits = 48;
constexpr std::uint64_t kSvmMaxRatio = 0x000000ffffffffffull;  // SVM_TSC_RATIO_MAX
constexpr unsigned kSvmFracBits = 32;

int rank(TscSource s) { return static_cast<int>(s); }

}  // namespace

const char* to_string(TscSource s) {
  switch (s) {
    case TscSource::kvm_vcpu: return "KVM_GET_TSC_KHZ";
    case TscSource::driver: return "kvmprobe driver (kernel tsc_khz)";
    case TscSource::sysfs: return "sysfs tsc_freq_khz";
    case TscSource::kernel_log: return "kernel log";
    case TscSource::cpuid_15h: return "CPUID 0x15";
    case TscSource::cpuid_16h: return "CPUID 0x16";
    case TscSource::cpuinfo_mhz: return "/proc/cpuinfo cpu MHz";
    case TscSource::hypervisor_leaf: return "hypervisor leaf 0x40000010";
  }
  return "unknown";
}

std::uint64_t scale_tsc(std::uint64_t ratio, std::uint64_t tsc, unsigned frac_bits) {
  unsigned __int128 p = static_cast<unsigned __int128>(tsc) * ratio;
  return static_cast<std::uint64_t>(p >> frac_bits);
}

TscKhzChoice choose_tsc_khz(const Snapshot& snap) {
  TscKhzChoice c;
  const TscCandidate* best = nullptr;
  for (const auto& t : snap.tsc)
    if (t.khz && (!best || rank(t.source) < rank(best->source))) best = &t;
  if (best) {
    c.khz = best->khz;
    c.source = best->source;
    c.exact = best->exact;
    c.detail = best->detail;
  }
  return c;
}

std::pair<bool, std::string> has_tsc_control(const AnalysisContext& ctx) {
  if (ctx.module == VendorModule::kvm_intel) {
    if (!ctx.vmx.evaluated) return {false, "VMX capability MSRs unknown"};
    return {ctx.vmx.tsc_scaling, ctx.vmx.tsc_scaling ? "secondary control TSC_SCALING (bit 25) allowed"
                                                     : "secondary control TSC_SCALING (bit 25) not allowed"};
  }
  if (ctx.module == VendorModule::kvm_amd && ctx.boot) {
    bool hw = has_or_false(*ctx.boot, cpuid::kTscRateMsr);
    if (!hw) return {false, "CPUID.0x8000000A:EDX[4] TSCRATEMSR clear"};
    if (ctx.profile.amd_tsc_scaling_param && !ctx.params.flag("kvm_amd.tsc_scaling", true))
      return {false, "kvm_amd.tsc_scaling=0"};
    return {true, "CPUID.0x8000000A:EDX[4] TSCRATEMSR set"};
  }
  return {false, "no vendor module"};
}

TscCaps tsc_caps(const AnalysisContext& ctx, std::optional<std::uint64_t> tsc_khz) {
  TscCaps c;
  c.has_control = has_tsc_control(ctx).first;
  bool amd = ctx.module == VendorModule::kvm_amd;
  if (c.has_control || ctx.profile.tsc_params_always) {
    c.frac_bits = amd ? kSvmFracBits : kVmxFracBits;
    c.max_ratio = amd ? kSvmMaxRatio : kVmxMaxRatio;
    c.default_ratio = 1ull << c.frac_bits;
  }
  if (!c.has_control)
    c.max_guest_khz = 0;
  else if (tsc_khz)
    c.max_guest_khz = std::min<std::uint64_t>(0x7fffffff, scale_tsc(c.max_ratio, *tsc_khz, c.frac_bits));
  return c;
}

GuestTscAnswer guest_tsc(const TscCaps& caps, const KernelProfile& profile, std::uint64_t host_khz,
                         std::uint64_t user_khz, std::uint64_t ppm) {
  GuestTscAnswer a;
  a.lo_khz = host_khz * (1000000 - ppm) / 1000000;
  a.hi_khz = host_khz * (1000000 + ppm) / 1000000;
  if (user_khz == 0) {
    a.explanation = "0 kHz means the host rate";
    a.kind = GuestTscAnswer::Kind::within_tolerance;
    return a;
  }
  bool bound = caps.has_control || profile.set_tsc_khz_bound_unconditional;
  if (bound && caps.max_guest_khz && user_khz >= *caps.max_guest_khz) {
    a.explanation = fmt::format("KVM_SET_TSC_KHZ fails with EINVAL: {} kHz ≥ kvm_max_guest_tsc_khz {}", user_khz,
                                *caps.max_guest_khz);
    return a;
  }
  if (user_khz >= a.lo_khz && user_khz <= a.hi_khz) {
    a.kind = GuestTscAnswer::Kind::within_tolerance;
    a.ratio = caps.default_ratio;
    a.explanation = fmt::format("within ±{} ppm of the host's {} kHz [{}, {}]: no scaling needed", ppm, host_khz,
                                a.lo_khz, a.hi_khz);
    return a;
  }
  if (!caps.has_control) {
    if (user_khz > host_khz) {
      a.kind = GuestTscAnswer::Kind::catchup;
      a.explanation = "no TSC scaling: KVM runs the guest TSC in catch-up mode (it jumps forward at exits)";
    } else {
      a.explanation = "no TSC scaling and the rate is below the host's: KVM refuses "
                      "(\"user requested TSC rate below hardware speed\")";
    }
    return a;
  }
  unsigned __int128 r = (static_cast<unsigned __int128>(user_khz) << caps.frac_bits) / host_khz;
  if (r == 0 || r >= caps.max_ratio) {
    a.explanation = fmt::format("ratio out of range: \"Invalid TSC scaling ratio - virtual-tsc-khz={}\"", user_khz);
    return a;
  }
  a.kind = GuestTscAnswer::Kind::scaled;
  a.ratio = static_cast<std::uint64_t>(r);
  a.explanation = fmt::format("scaled by hardware: ratio {:#x} ({} fractional bits)", a.ratio, caps.frac_bits);
  return a;
}

}  // namespace kvmprobe
