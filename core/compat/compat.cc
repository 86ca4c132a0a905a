#include "core/compat/compat.h"

#include <fmt/format.h>

namespace kvmprobe::compat {

const char* to_string(CompatVerdict v) {
  switch (v) {
    case CompatVerdict::compatible: return "compatible";
    case CompatVerdict::conditional: return "conditional";
    case CompatVerdict::incompatible: return "incompatible";
    case CompatVerdict::unknown: return "unknown";
  }
  return "unknown";
}

CompatReport compat(const SideFacts& src, const SideFacts& dst) {
  CompatReport r;
  r.src_label = src.label;
  r.dst_label = dst.label;
  r.src_profile = src.profile_id;
  r.dst_profile = dst.profile_id;
  r.src_kernel = src.kernel;
  r.dst_kernel = dst.kernel;
  r.msrs = msr_moves(src, dst);
  r.steps.push_back(step_vendor(src, dst));
  r.steps.push_back(step_msrs(src, dst, r.msrs));
  r.steps.push_back(step_xcr0(src, dst));
  r.steps.push_back(step_tsc(src, dst));
  r.steps.push_back(step_cpuid(src, dst));
  if (src.hypervisor != "kvm_pvm" && src.would_load == false) {
    // No guest runs on the source: the state checks have nothing to move.
    for (std::size_t i = 1; i < r.steps.size(); ++i) {
      r.steps[i].status = Status::skipped;
      r.steps[i].refusal = Refusal::none;
      r.steps[i].summary = "skipped: KVM would not load on the source";
    }
  }

  if (r.find_step("cpuid")->status == Status::warn) r.cpuid_lost = cpuid_lost(src, dst);

  // Worst first: a rejection decides even when something else is unknown.
  const StepResult* failed = nullptr;
  const StepResult* unknown = nullptr;
  const StepResult* warned = nullptr;
  for (const auto& s : r.steps) {
    if (s.status == Status::fail && !failed) failed = &s;
    if (s.status == Status::unknown && !unknown) unknown = &s;
    if (s.status == Status::warn && !warned) warned = &s;
  }
  if (failed) {
    r.verdict = CompatVerdict::incompatible;
    r.reason = fmt::format("{}: {}", failed->title, failed->summary);
  } else if (unknown) {
    r.verdict = CompatVerdict::unknown;
    r.reason = fmt::format("cannot tell: {}: {}", unknown->title, unknown->summary);
  } else if (warned) {
    r.verdict = CompatVerdict::conditional;
    r.reason = fmt::format("moves with a loss or condition: {}: {}", warned->title, warned->summary);
  } else {
    r.verdict = CompatVerdict::compatible;
    r.reason = "the destination's KVM takes the whole vCPU state";
  }
  return r;
}

CompatReport compat(const CompatSide& src, const CompatSide& dst) {
  return compat(side_facts(src), side_facts(dst));
}

}  // namespace kvmprobe::compat
