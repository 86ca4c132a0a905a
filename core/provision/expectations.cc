#include "core/provision/expectations.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/analyse/analyse.h"
#include "core/analyse/msr_lists.h"
#include "core/analyse/tsc_math.h"
#include "core/analyse/xcr0.h"

namespace kvmprobe::provision {

const char* to_string(ExpectStatus s) {
  switch (s) {
    case ExpectStatus::met: return "met";
    case ExpectStatus::unmet: return "unmet";
    case ExpectStatus::unknown: return "unknown";
  }
  return "unknown";
}

namespace {

std::string join_names(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

ExpectationResult xcr0_check(const char* id, const Xcr0Want& w, std::optional<std::uint64_t> have, const char* what) {
  ExpectationResult r{id, join_names(w.names), have ? fmt::format("{:#x} ({})", *have, xfeature_names(*have)) : "unknown"};
  if (!have) {
    r.detail = fmt::format("{} unknown", what);
    return r;
  }
  std::uint64_t lacking = w.mask & ~*have;
  r.status = lacking ? ExpectStatus::unmet : ExpectStatus::met;
  r.detail = lacking ? fmt::format("{} lacks {}", what, xfeature_names(lacking)) : fmt::format("{} has them", what);
  return r;
}

/// vendor_module_loads: the analysis' verdict.
ExpectationResult module_loads_check(const Report& report, bool want) {
  const Verdict& v = report.verdict;
  ExpectationResult r{"vendor_module_loads", want ? "true" : "false",
                      v.would_load ? (*v.would_load ? "true" : "false") : "unknown"};
  r.status = !v.would_load ? ExpectStatus::unknown
                           : *v.would_load == want ? ExpectStatus::met : ExpectStatus::unmet;
  r.detail = v.vendor_module.empty() ? v.reason : fmt::format("{}: {}", v.vendor_module, v.reason);
  return r;
}

/// tsc_scaling: whether KVM would have TSC scaling (KVM_CAP_TSC_CONTROL).
ExpectationResult tsc_scaling_check(const Report& report, const AnalysisContext& ctx, bool want) {
  ExpectationResult r{"tsc_scaling", want ? "true" : "false", "unknown"};
  const StepResult* s = report.find_step(std::string(to_string(StepId::tsc_scaling)));
  if (ctx.module == VendorModule::none) {
    r.detail = "no vendor module applies to this CPU";
  } else if (ctx.module == VendorModule::kvm_intel && !ctx.vmx.evaluated) {
    r.detail = "VMX capability MSRs not readable";
  } else {
    auto [control, why] = has_tsc_control(ctx);
    r.got = control ? "true" : "false";
    r.status = control == want ? ExpectStatus::met : ExpectStatus::unmet;
    r.detail = s && !s->summary.empty() ? s->summary : why;
  }
  return r;
}

/// save_list_includes: every index on the predicted KVM_GET_MSR_INDEX_LIST.
ExpectationResult save_list_check(const AnalysisContext& ctx, const std::vector<std::uint32_t>& want) {
  ExpectationResult r{"save_list_includes", "", ""};
  for (auto i : want) r.want += fmt::format("{}{:#x}", r.want.empty() ? "" : " ", i);
  MsrListsResult lists = compute_msr_lists(ctx);
  if (!lists.evaluated) {
    r.got = "unknown";
    r.detail = lists.not_evaluated;
    return r;
  }
  std::vector<std::string> absent, undecided;
  for (auto i : want) {
    if (std::find(lists.index_list.begin(), lists.index_list.end(), i) != lists.index_list.end()) continue;
    bool unknown = std::any_of(lists.entries.begin(), lists.entries.end(), [&](const MsrEntry& e) {
      return e.index == i && e.list != MsrList::feature && e.fate == MsrFate::unknown;
    });
    (unknown ? undecided : absent).push_back(fmt::format("{:#x}", i));
  }
  r.got = fmt::format("{} MSRs", lists.index_list.size());
  r.status = !absent.empty() ? ExpectStatus::unmet : !undecided.empty() ? ExpectStatus::unknown : ExpectStatus::met;
  r.detail = !absent.empty() ? fmt::format("KVM {} would not list {}", lists.profile_id, join_names(absent))
             : !undecided.empty() ? fmt::format("undecided: {} ({})", join_names(undecided),
                                                lists.missing.empty() ? "evidence missing" : lists.missing.front())
                                  : fmt::format("KVM {} would list all of them", lists.profile_id);
  return r;
}

}  // namespace

std::vector<ExpectationResult> check_expectations(const Snapshot& snap, const KernelProfile& profile,
                                                  const Expectations& expect) {
  std::vector<ExpectationResult> out;
  if (expect.empty()) return out;
  Analyzer a(snap, profile);
  Report report = a.report();
  const AnalysisContext& ctx = a.ctx();
  if (expect.vendor_module_loads) out.push_back(module_loads_check(report, *expect.vendor_module_loads));
  if (expect.tsc_scaling) out.push_back(tsc_scaling_check(report, ctx, *expect.tsc_scaling));
  if (expect.host_xcr0_includes)
    out.push_back(xcr0_check("host_xcr0_includes", *expect.host_xcr0_includes, ctx.host_xcr0, "the host's XCR0"));
  if (expect.kvm_xcr0_includes)
    out.push_back(xcr0_check("kvm_xcr0_includes", *expect.kvm_xcr0_includes, ctx.supported_xcr0,
                             "KVM's supported XCR0"));
  if (!expect.save_list_includes.empty()) out.push_back(save_list_check(ctx, expect.save_list_includes));
  return out;
}

}  // namespace kvmprobe::provision
