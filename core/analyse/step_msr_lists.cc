#include "core/analyse/steps.h"

#include <fmt/format.h>

#include "core/analyse/msr_lists.h"

namespace kvmprobe {
namespace {

std::string counts_text(const MsrListCounts& c) {
  std::string s = fmt::format("{} of {} kept", c.kept, c.candidates);
  if (c.unknown) s += fmt::format(", {} unknown", c.unknown);
  return s;
}

}  // namespace

StepResult step_msr_lists(const AnalysisContext& ctx) {
  StepResult s;
  s.id = "msr-lists";
  s.title = "KVM MSR lists";
  MsrListsResult r = compute_msr_lists(ctx);
  if (!r.evaluated) {
    s.status = Status::skipped;
    s.summary = r.not_evaluated;
    return s;
  }
  s.evidence.push_back({"msrs_to_save", "cpu" + std::to_string(ctx.boot->cpu), "", counts_text(r.save)});
  s.evidence.push_back({"emulated_msrs", r.vendor_module + " has_emulated_msr", "", counts_text(r.emulated)});
  s.evidence.push_back({"msr_based_features", r.vendor_module, "", counts_text(r.feature)});
  s.evidence.push_back({"kvm.enable_pmu (effective)", r.pmu.param_origin,
                        r.pmu.enable_pmu ? (*r.pmu.enable_pmu ? "Y" : "N") : "?", r.pmu.reason});
  for (const auto& p : r.params) s.evidence.push_back({p.name, p.origin, p.value, "parameter used"});

  std::string lists = fmt::format("KVM_GET_MSR_INDEX_LIST {} ({} save + {} emulated), feature list {}",
                                  r.index_list.size(), r.save.kept, r.emulated.kept, r.feature_list.size());
  unsigned dropped = r.save.dropped + r.emulated.dropped + r.feature.dropped;
  if (r.complete) {
    s.status = Status::ok;
    s.summary = fmt::format("{} ({} candidates dropped)", lists, dropped);
    return s;
  }
  unsigned unknown = r.save.unknown + r.emulated.unknown + r.feature.unknown;
  s.status = Status::unknown;
  s.summary = fmt::format("{} known so far; {} candidate(s) undecided", lists, unknown);
  s.missing = r.missing;
  bool rdmsr_missing = false;
  for (const auto& e : r.entries) rdmsr_missing |= e.reason_code == MsrReason::rdmsr_unknown;
  if (rdmsr_missing)
    s.remedy = "record the host MSRs as root (the msr module's /dev/cpu/0/msr or the kvmprobe driver)";
  return s;
}

}  // namespace kvmprobe
