// TSC scaling as kvm_arch_hardware_setup leaves it (arch/x86/kvm/vmx/vmx.c: hardware_setup(),
// svm/svm.c: svm_hardware_setup(), x86.c: kvm_arch_hardware_setup() (6.1) /
// kvm_x86_vendor_init() (6.12)).
#include <fmt/format.h>

#include "core/analyse/step_util.h"
#include "core/analyse/steps.h"
#include "core/analyse/tsc_math.h"

namespace kvmprobe {

StepResult step_tsc_scaling(const AnalysisContext& ctx) {
  StepResult s = make_step("tsc-scaling", "TSC scaling");
  bool hw = ctx.boot && (ctx.module == VendorModule::kvm_intel ? has_or_false(*ctx.boot, cpuid::kVmx)
                                                                : has_or_false(*ctx.boot, cpuid::kSvm));
  if (ctx.module == VendorModule::none || !hw) {
    s.status = Status::skipped;
    s.summary = "not applicable: no VMX/SVM";
    return s;
  }
  TscKhzChoice khz = choose_tsc_khz(ctx.snap);
  auto [control, why] = has_tsc_control(ctx);
  TscCaps caps = tsc_caps(ctx, khz.khz);
  s.evidence.push_back({"has_tsc_control", "", control ? "1" : "0", why});
  s.evidence.push_back({"fractional bits", "", fmt::format("{}", caps.frac_bits), ""});
  s.evidence.push_back({"max ratio", "", hex(caps.max_ratio), ""});
  s.evidence.push_back({"default ratio", "", hex(caps.default_ratio),
                        caps.default_ratio ? "1.0" : "left 0 without TSC control in this version"});
  if (khz.khz)
    s.evidence.push_back({"tsc_khz", to_string(khz.source), fmt::format("{}", *khz.khz),
                          khz.exact ? "the kernel's own tsc_khz" : "estimate: not the kernel's calibrated value"});
  else
    s.evidence.push_back({"tsc_khz", "", "", "unknown"});
  if (caps.max_guest_khz)
    s.evidence.push_back({"max guest TSC kHz", "", fmt::format("{}", *caps.max_guest_khz),
                          control ? "min(0x7fffffff, scale(max ratio, tsc_khz))" : "no TSC control"});
  if (ctx.module == VendorModule::kvm_intel && !ctx.vmx.evaluated) {
    s.status = Status::unknown;
    s.summary = "unknown: VMX capability MSRs not readable";
    s.missing.push_back("IA32_VMX_PROCBASED_CTLS2 (0x48b)");
    return s;
  }
  if (!control) {
    s.summary = "no TSC scaling: guests run at the host TSC rate (catch-up mode above it)";
    return s;
  }
  if (!caps.max_guest_khz) {
    s.status = Status::unknown;
    s.summary = "TSC scaling available; max guest kHz unknown (tsc_khz unknown)";
    s.missing.push_back("host tsc_khz");
    return s;
  }
  s.summary = fmt::format("TSC scaling available; guests up to {} kHz{}", *caps.max_guest_khz,
                          khz.exact ? "" : " (tsc_khz estimated)");
  return s;
}

}  // namespace kvmprobe
