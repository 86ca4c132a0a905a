#include "core/analyse/xcr0_report.h"

#include "core/analyse/cpu_facts.h"
#include "core/analyse/steps.h"
#include "core/analyse/xcr0.h"

namespace kvmprobe {

Xcr0Report xcr0_report(const AnalysisContext& ctx) {
  Xcr0Report r;
  r.profile_id = ctx.profile.id;
  if (ctx.boot) r.xsave = has(*ctx.boot, cpuid::kXsave);
  bool no_xcr0 = r.xsave == false || (ctx.boot && kernel_dropped_xsave(*ctx.boot));
  if (!no_xcr0) r.host_xcr0 = ctx.host_xcr0;
  if (ctx.host_xcr0) r.host_xcr0_features = xfeature_names(*ctx.host_xcr0);
  r.kvm_supported_xcr0_mask = ctx.profile.supported_xcr0_mask;
  r.supported_xcr0 = ctx.supported_xcr0;
  if (ctx.supported_xcr0) r.supported_xcr0_features = xfeature_names(*ctx.supported_xcr0);
  r.step = step_xcr0(ctx);
  return r;
}

}  // namespace kvmprobe
