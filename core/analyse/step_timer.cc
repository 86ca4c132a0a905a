// Timer setup (kvm_timer_init): a constant TSC means one frequency for all CPUs; otherwise KVM
// follows cpufreq per CPU and vCPUs see max_tsc_khz from cpufreq (arch/x86/kvm/x86.c:
// kvm_timer_init() (6.1, 6.12)).
#include <fmt/format.h>

#include "core/analyse/step_util.h"
#include "core/analyse/steps.h"

namespace kvmprobe {

StepResult step_timer(const AnalysisContext& ctx) {
  StepResult s = make_step("timer", "TSC stability");
  if (!ctx.boot) {
    s.status = Status::unknown;
    s.summary = "no CPU recorded";
    return s;
  }
  const CpuRecord& cpu = *ctx.boot;
  auto constant = cpu.has_linux_flag("constant_tsc");
  auto nonstop = cpu.has_linux_flag("nonstop_tsc");
  bool invariant = has_or_false(cpu, cpuid::kInvariantTsc);
  s.evidence.push_back({cpuid::kInvariantTsc.name, "cpu0", "", invariant ? "set" : "clear"});
  if (constant) s.evidence.push_back({"Linux constant_tsc", "cpu0", "", *constant ? "set" : "clear"});
  if (nonstop) s.evidence.push_back({"Linux nonstop_tsc", "cpu0", "", *nonstop ? "set" : "clear"});
  bool is_constant = constant.value_or(invariant);
  if (is_constant) {
    s.summary = nonstop.value_or(invariant) ? "constant, non-stop TSC: one frequency for every CPU"
                                            : "constant TSC (may stop in deep C-states)";
    return s;
  }
  s.status = Status::warn;
  s.summary = "no constant TSC: KVM tracks each CPU's frequency through cpufreq; guest time may drift";
  s.remedy = "prefer hosts with an invariant TSC for live migration";
  return s;
}

}  // namespace kvmprobe
