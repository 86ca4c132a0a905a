// kvm_init_msr_list (4.19–6.1) / kvm_init_msr_lists (6.6+) as a pure function of the snapshot
// (arch/x86/kvm/x86.c (6.1, 6.12)): msrs_to_save candidates need a successful host RDMSR on the
// loading CPU and then their filter; 6.6+ probe msrs_to_save_pmu[] only when enable_pmu is on;
// emulated candidates ask the vendor module; feature MSRs ask KVM's feature-MSR read. The ioctl
// answers are the kept save entries followed by the kept emulated entries, in array order.
#include "core/analyse/msr_lists.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>

#include "core/profiles/msr_lists.h"

namespace kvmprobe {
namespace {

unsigned column(const MsrListProfile& lists, MsrList list) {
  switch (list) {
    case MsrList::save: return lists.save_col;
    case MsrList::emulated: return lists.emulated_col;
    case MsrList::feature: return lists.feature_col;
  }
  return 0;
}

std::span<const MsrRow> rows(const MsrListProfile& lists, MsrList list) {
  switch (list) {
    case MsrList::save: return lists.save_rows;
    case MsrList::emulated: return lists.emulated_rows;
    case MsrList::feature: return lists.feature_rows;
  }
  return {};
}

MsrEntry make_entry(MsrList list, unsigned position, const MsrRow& row, const RuleOutcome& o) {
  MsrEntry e;
  e.list = list;
  e.position = position;
  e.index = row.index;
  e.name = row.name;
  e.rule = rule_code(row.rule);
  e.fate = o.keep == Tri::yes ? MsrFate::kept : o.keep == Tri::no ? MsrFate::dropped : MsrFate::unknown;
  e.reason_code = o.keep == Tri::yes ? MsrReason::none : o.code;
  e.reason = o.keep == Tri::yes ? std::string{} : o.reason;
  return e;
}

// One msrs_to_save candidate: PMU-array skip (6.6+), host RDMSR, then the filter.
MsrEntry save_entry(const MsrRuleInputs& in, const MsrListsOptions& opt, unsigned position, const MsrRow& row) {
  bool pmu_array = in.lists.pmu_array_from && position >= in.lists.pmu_array_from;
  if (pmu_array && in.lists.pmu.pmu_array_skippable && in.pmu.enable_pmu != true) {
    RuleOutcome o = in.pmu.enable_pmu
                        ? RuleOutcome{Tri::no, MsrReason::pmu_disabled, "PMU array skipped: enable_pmu off (" + in.pmu.reason + ")"}
                        : RuleOutcome{Tri::unknown, MsrReason::fact_unknown, "PMU array probed only with enable_pmu, which is unknown (" + in.pmu.reason + ")"};
    MsrEntry e = make_entry(MsrList::save, position, row, o);
    e.pmu_array = true;
    return e;
  }
  RuleOutcome rd = host_rdmsr(in.ctx, row.index);
  bool assumed = false;
  if (rd.keep == Tri::unknown && opt.unrecorded_rdmsr == UnrecordedRdmsr::vendor_implements) {
    rd = vendor_implements_msr(in.ctx, row.index);
    assumed = true;
  }
  RuleOutcome filter = evaluate_rule(row.rule, row.index, in);
  RuleOutcome o;
  if (rd.keep == Tri::no) o = rd;                 // KVM's order: the RDMSR comes first
  else if (filter.keep == Tri::no) o = filter;    // decided whatever the RDMSR would do
  else if (rd.keep == Tri::unknown) o = rd;
  else o = filter;
  MsrEntry e = make_entry(MsrList::save, position, row, o);
  e.pmu_array = pmu_array;
  e.assumed = assumed;
  return e;
}

void count(MsrListCounts& c, MsrFate f) {
  ++c.candidates;
  (f == MsrFate::kept ? c.kept : f == MsrFate::dropped ? c.dropped : c.unknown)++;
}

void record_param(MsrListsResult& r, const AnalysisContext& ctx, const std::string& name) {
  const ParamValue* v = ctx.params.find(name);
  if (v) r.params.push_back({name, v->value, v->origin});
}

// One line per cause of "unknown", the RDMSRs grouped.
void summarize_missing(MsrListsResult& r, unsigned cpu) {
  std::vector<std::string> rdmsr;
  std::map<std::string, std::vector<std::string>> other;
  for (const auto& e : r.entries) {
    if (e.fate != MsrFate::unknown) continue;
    std::string idx = fmt::format("{:#x}", e.index);
    if (e.reason_code == MsrReason::rdmsr_unknown) rdmsr.push_back(idx);
    else other[e.reason].push_back(idx);
  }
  if (!rdmsr.empty())
    r.missing.push_back(fmt::format("host RDMSR on CPU {} not recorded for {} candidate(s): {}", cpu, rdmsr.size(),
                                    fmt::join(rdmsr, " ")));
  for (const auto& [why, idx] : other)
    r.missing.push_back(fmt::format("{} ({} candidate(s): {})", why, idx.size(), fmt::join(idx, " ")));
}

}  // namespace

const MsrListCounts& MsrListsResult::counts(MsrList list) const {
  return list == MsrList::save ? save : list == MsrList::emulated ? emulated : feature;
}

std::vector<const MsrRow*> msr_candidates(const MsrListProfile& lists, MsrList list) {
  unsigned col = column(lists, list);
  std::vector<const MsrRow*> out;
  for (const MsrRow& r : rows(lists, list))
    if (r.pos[col]) out.push_back(&r);
  std::sort(out.begin(), out.end(), [col](const MsrRow* a, const MsrRow* b) { return a->pos[col] < b->pos[col]; });
  return out;
}

MsrListsResult compute_msr_lists(const AnalysisContext& ctx, const MsrListsOptions& opt) {
  MsrListsResult r;
  r.profile_id = ctx.profile.id;
  r.vendor_module = module_name(ctx.module);
  if (!ctx.profile.msr_lists) {
    r.not_evaluated = fmt::format("the MSR lists of kernel profile {} are not modelled", ctx.profile.id);
    return r;
  }
  if (ctx.module == VendorModule::none) {
    r.not_evaluated = "no KVM vendor module applies to this CPU, so KVM builds no MSR lists";
    return r;
  }
  if (!ctx.boot) {
    r.not_evaluated = "the snapshot has no CPU";
    return r;
  }
  const MsrListProfile& lists = *ctx.profile.msr_lists;
  MsrRuleInputs in{ctx, lists, kvm_pmu(ctx.snap, ctx.profile, ctx.params)};
  r.evaluated = true;
  r.pmu = in.pmu;

  unsigned scol = lists.save_col;
  for (const MsrRow* row : msr_candidates(lists, MsrList::save)) r.entries.push_back(save_entry(in, opt, row->pos[scol], *row));
  for (MsrList list : {MsrList::emulated, MsrList::feature}) {
    unsigned col = column(lists, list);
    for (const MsrRow* row : msr_candidates(lists, list))
      r.entries.push_back(make_entry(list, row->pos[col], *row, evaluate_rule(row->rule, row->index, in)));
  }

  for (const auto& e : r.entries) {
    MsrListCounts& c = e.list == MsrList::save ? r.save : e.list == MsrList::emulated ? r.emulated : r.feature;
    count(c, e.fate);
  }
  for (MsrList list : {MsrList::save, MsrList::emulated, MsrList::feature})
    for (const auto& e : r.entries)
      if (e.list == list && e.fate == MsrFate::kept)
        (list == MsrList::feature ? r.feature_list : r.index_list).push_back(e.index);
  r.complete = r.save.unknown + r.emulated.unknown + r.feature.unknown == 0;
  summarize_missing(r, ctx.boot->cpu);

  r.assumptions.push_back("x86-64 kernel built with CONFIG_KVM_HYPERV=y and CONFIG_KVM_SMM=y (Debian's configuration)");
  if (opt.unrecorded_rdmsr == UnrecordedRdmsr::vendor_implements)
    r.assumptions.push_back("host RDMSRs that were not recorded are assumed to succeed iff CPUID says the vendor implements the MSR");
  for (const char* p : {"kvm.enable_pmu", "kvm_intel.nested", "kvm_intel.pt_mode", "kvm_intel.ept",
                        "kvm_intel.unrestricted_guest", "kvm_intel.emulate_invalid_guest_state", "kvm_intel.cet"}) {
    bool intel_param = std::string(p).rfind("kvm_intel.", 0) == 0;
    if (!intel_param || ctx.module == VendorModule::kvm_intel) record_param(r, ctx, p);
  }
  // Report the value KVM ends up with: it forces enable_pmu off without a usable perf PMU.
  for (auto& p : r.params)
    if (p.name == "kvm.enable_pmu" && r.pmu.enable_pmu.has_value()) {
      std::string effective = *r.pmu.enable_pmu ? "Y" : "N";
      if (effective != p.value) {
        p.origin = fmt::format("{} requested {} ({}); {}", effective == "N" ? "forced off:" : "effective:",
                               p.value, p.origin, r.pmu.reason);
        p.value = effective;
      }
    }
  return r;
}

const char* msr_name(std::uint32_t index) {
  // Emulated and feature names first: 0xce is PLATFORM_INFO, not 5.x's PERFCTR0+13.
  for (MsrList list : {MsrList::emulated, MsrList::feature, MsrList::save})
    for (const MsrRow& r : msr_table(list))
      if (r.index == index) return r.name;
  for (const MsrRow& r : msr_other_names())
    if (r.index == index) return r.name;
  return nullptr;
}

const char* to_string(MsrList list) {
  switch (list) {
    case MsrList::save: return "save";
    case MsrList::emulated: return "emulated";
    case MsrList::feature: return "feature";
  }
  return "?";
}

const char* to_string(MsrFate fate) {
  switch (fate) {
    case MsrFate::kept: return "kept";
    case MsrFate::dropped: return "dropped";
    case MsrFate::unknown: return "unknown";
  }
  return "?";
}

}  // namespace kvmprobe
