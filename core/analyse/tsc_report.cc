#include "core/analyse/tsc_report.h"

namespace kvmprobe {

TscReport tsc_report(const AnalysisContext& ctx, std::uint64_t guest_khz) {
  TscReport r;
  r.profile_id = ctx.profile.id;
  r.vendor_module = module_name(ctx.module);
  r.khz = choose_tsc_khz(ctx.snap);
  auto [control, why] = has_tsc_control(ctx);
  // kvm_intel decides has_tsc_control from the negotiated secondary controls.
  if (!(ctx.module == VendorModule::kvm_intel && !ctx.vmx.evaluated)) r.has_tsc_control = control;
  r.has_tsc_control_reason = why;
  r.caps = tsc_caps(ctx, r.khz.khz);
  r.tolerance_ppm = static_cast<std::uint64_t>(ctx.params.number("kvm.tsc_tolerance_ppm", 250));
  if (guest_khz) {
    r.guest_khz = guest_khz;
    if (r.khz.khz) r.answer = guest_tsc(r.caps, ctx.profile, *r.khz.khz, guest_khz, r.tolerance_ppm);
  }
  return r;
}

}  // namespace kvmprobe
