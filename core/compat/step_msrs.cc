// MSR state: every MSR of the source's KVM_GET_MSR_INDEX_LIST, with the value the source's KVM
// gives a fresh vCPU, against the destination's list and its KVM_SET_MSRS (host-initiated).
// The per-version rules are data (core/profiles/msr_set.cc).
#include <fmt/format.h>

#include <algorithm>

#include "core/analyse/msr_lists.h"
#include "core/analyse/step_util.h"
#include "core/compat/compat.h"
#include "core/model/format.h"

namespace kvmprobe::compat {
namespace {

bool on_svm(const SideFacts& f) { return f.module == VendorModule::kvm_amd; }

/// KVM_GET_MSRS on a fresh vCPU of this side; nullopt with `why` when it cannot be told.
std::optional<std::uint64_t> fresh_value(const SideFacts& f, std::uint32_t index, std::string& why) {
  if (f.module == VendorModule::kvm_intel && index >= 0x480 && index <= 0x491)
    return nested_vcpu_value(f.nested_vmx, index, f.cpuid_features, why);
  if (!f.msr_set) {
    why = fmt::format("fresh-vCPU values of KVM {} are not modelled", f.profile_id);
    return std::nullopt;
  }
  const MsrSetRow* row = find_msr_set_row(*f.msr_set, index);
  if (!row) return 0;
  switch (row->fresh) {
    case MsrFreshKind::zero: return 0;
    case MsrFreshKind::constant: return on_svm(f) ? row->svm_value : row->vmx_value;
    case MsrFreshKind::counting:
      why = "a counter running since vCPU creation";
      return std::nullopt;
    case MsrFreshKind::host_derived:
      why = "derived from the host at module load";
      return std::nullopt;
    case MsrFreshKind::host_derived_vmx:
      if (on_svm(f)) return row->svm_value;
      why = "derived from the host at module load";
      return std::nullopt;
    case MsrFreshKind::tsc_hz:
      if (f.tsc_khz) return *f.tsc_khz * 1000;
      why = "the TSC frequency is unknown";
      return std::nullopt;
    case MsrFreshKind::tsc_ratio:
      if (f.tsc.default_ratio) return f.tsc.default_ratio;
      why = "KVM's default TSC ratio is unknown";
      return std::nullopt;
  }
  return std::nullopt;
}

MsrSetRule dst_rule(const SideFacts& dst, std::uint32_t index) {
  const MsrSetRow* row = find_msr_set_row(*dst.msr_set, index);
  if (!row) return MsrSetRule::listed;
  return on_svm(dst) ? row->svm : row->vmx;
}


/// The destination's answer for one MSR whose state is listed/unlisted there.
void decide(CompatMsr& m, const SideFacts& src, const SideFacts& dst, const std::string& value_why) {
  if (!dst.msr_set) {
    m.reason = fmt::format("KVM_SET_MSRS of KVM {} is not modelled", dst.profile_id);
    return;
  }
  const char* state = m.dst_listed ? "listed" : "not listed (its state is dropped: the guest sees a reset value)";
  switch (dst_rule(dst, m.index)) {
    case MsrSetRule::any:
      m.dst_accepts = true;
      m.reason = fmt::format("{}; the destination's handler takes the value", state);
      return;
    case MsrSetRule::listed:
      m.dst_accepts = m.dst_listed;
      m.reason = m.dst_listed ? "listed; accepted"
                              : "not listed and no handler takes it: KVM_SET_MSRS fails, the restore aborts";
      return;
    case MsrSetRule::subset: {
      std::string dwhy;
      auto d = fresh_value(dst, m.index, dwhy);
      if (!m.src_value || !d) {
        m.reason = fmt::format("{}; the value must be a subset of the destination's ({})", state,
                               !m.src_value ? value_why : dwhy);
        return;
      }
      std::uint64_t extra = *m.src_value & ~*d;
      m.dst_accepts = extra == 0;
      m.reason = extra ? fmt::format("bits {} are not supported by the destination ({}): KVM_SET_MSRS fails",
                                     hex(extra), hex(*d))
                       : fmt::format("{}; a subset of the destination's {}", state, hex(*d));
      return;
    }
    case MsrSetRule::host_msr: {
      auto it = std::find_if(dst.host_msrs.begin(), dst.host_msrs.end(),
                             [&](const MsrRead& r) { return r.index == m.index; });
      if (it != dst.host_msrs.end() && it->status == ReadStatus::value) {
        m.dst_accepts = true;
        m.reason = fmt::format("{}; the destination host reads it, so KVM keeps it as a user-return MSR", state);
      } else if (it != dst.host_msrs.end() && it->status == ReadStatus::fault) {
        m.dst_accepts = false;
        m.reason = "the destination host's RDMSR faults: KVM does not support it, KVM_SET_MSRS fails";
      } else if (m.dst_listed) {
        m.dst_accepts = true;
        m.reason = "listed; accepted";
      } else {
        m.reason = fmt::format("{}; whether the destination host can read it is not recorded", state);
      }
      return;
    }
    case MsrSetRule::vmx_caps: {
      // vmx_set_msr(): host-initiated only, and only with nested_vmx_allowed() (nested=1 and VMX
      // in the vCPU's CPUID); then vmx_set_vmx_msr() against the destination's vmcs_config.nested
      // (arch/x86/kvm/vmx/vmx.c: vmx_set_msr(), nested.c: vmx_set_vmx_msr() (6.1, 6.12)).
      if (!dst.nested) {
        m.dst_accepts = false;
        m.reason = "the destination's kvm_intel.nested=0: vmx_set_msr() refuses every VMX capability MSR";
        return;
      }
      if (m.src_value && dst.nested_vmx.evaluated) {
        NestedRestore r = nested_vmx_restore(dst.nested_vmx, m.index, *m.src_value);
        m.dst_accepts = r.accepted;
        m.reason = r.accepted ? fmt::format("{}; {}", state, r.reason) : r.reason + ": KVM_SET_MSRS fails";
        return;
      }
      if (src.profile_id == dst.profile_id && !src.vmx_caps.empty() && src.vmx_caps.size() == dst.vmx_caps.size() &&
          std::equal(src.vmx_caps.begin(), src.vmx_caps.end(), dst.vmx_caps.begin(),
                     [](const MsrRead& a, const MsrRead& b) {
                       return a.index == b.index && a.status == b.status && (!a.ok() || a.value == b.value);
                     })) {
        m.dst_accepts = true;
        m.reason = "same kernel and same host VMX capability MSRs: KVM derives the same nested value";
        return;
      }
      m.reason = fmt::format("nested VMX capability: vmx_set_vmx_msr() needs the value to be a subset of the "
                             "destination's; unknown: {}",
                             !m.src_value ? "source value: " + value_why
                                          : "destination: " + dst.nested_vmx.missing);
      return;
    }
  }
}

std::string named(const std::vector<const CompatMsr*>& v) {
  std::string out;
  for (size_t i = 0; i < v.size() && i < 12; ++i)
    out += fmt::format("{}{:#x}{}", i ? ", " : "", v[i]->index, v[i]->name.empty() ? "" : " " + v[i]->name);
  if (v.size() > 12) out += fmt::format(" and {} more", v.size() - 12);
  return out;
}

}  // namespace

std::vector<CompatMsr> msr_moves(const SideFacts& src, const SideFacts& dst) {
  std::vector<CompatMsr> out;
  if (!src.index_list_known) return out;
  for (std::uint32_t index : src.index_list) {
    CompatMsr m;
    m.index = index;
    const char* n = msr_name(index);
    m.name = n ? n : "";
    std::string why;
    m.src_value = fresh_value(src, index, why);
    if (!dst.index_list_known || undecided(dst, index)) {
      m.reason = dst.index_list_known ? "the destination's list is undecided for it: " + dst.index_list_missing
                                      : "the destination's list is unknown: " + dst.index_list_missing;
    } else {
      m.dst_listed = listed(dst, index);
      decide(m, src, dst, why);
    }
    if (!m.src_value && m.dst_accepts == true && !why.empty()) m.reason += fmt::format(" (source value: {})", why);
    out.push_back(std::move(m));
  }
  return out;
}

StepResult step_msrs(const SideFacts& src, const SideFacts& dst, const std::vector<CompatMsr>& msrs) {
  StepResult s = make_step("msrs", "MSR state (KVM_GET_MSR_INDEX_LIST, KVM_SET_MSRS)");
  s.evidence.push_back({"source list", src.label, fmt::format("{} MSRs", src.index_list.size()), src.index_list_source});
  s.evidence.push_back({"destination list", dst.label, fmt::format("{} MSRs", dst.index_list.size()),
                        dst.index_list_source});
  if (!src.index_list_known || !src.undecided.empty()) {
    s.status = Status::unknown;
    s.refusal = Refusal::cannot_tell;
    s.summary = fmt::format("the source's KVM_GET_MSR_INDEX_LIST is {}: {}",
                            src.index_list_known ? "incomplete" : "unknown", src.index_list_missing);
    s.missing.push_back(s.summary);
    s.remedy = "record the source as root with /dev/kvm present (kvmprobe snapshot)";
    return s;
  }
  std::vector<const CompatMsr*> rejected, unknown, dropped;
  for (const auto& m : msrs) {
    if (m.dst_accepts == false) rejected.push_back(&m);
    else if (!m.dst_accepts) unknown.push_back(&m);
    else if (!m.dst_listed) dropped.push_back(&m);
  }
  s.evidence.push_back({"rejected by the destination", "", std::to_string(rejected.size()), named(rejected)});
  s.evidence.push_back({"state dropped (not listed, accepted)", "", std::to_string(dropped.size()), named(dropped)});
  if (!unknown.empty())
    s.evidence.push_back({"cannot tell", "", std::to_string(unknown.size()), named(unknown)});
  if (!rejected.empty()) {
    fail(s, Refusal::other,
         fmt::format("the destination's KVM_SET_MSRS rejects {} of {} MSRs: {}", rejected.size(), msrs.size(),
                     named(rejected)));
    s.remedy = "keep these MSRs out of the moved state: give guests a CPU model without the features that own "
               "them (e.g. pmu=off for PMU counters), or run a destination kernel that lists them";
    if (std::any_of(rejected.begin(), rejected.end(), [](const CompatMsr* m) { return m->index >= 0x480 && m->index <= 0x491; }))
      s.remedy += "; for the VMX capability MSRs: give nested guests only the VMX features both hosts' KVM offer "
                  "(QEMU names them vmx-*, e.g. -cpu ...,-vmx-rdrand-exit), or start them without vmx";
    return s;
  }
  if (!unknown.empty()) {
    s.status = Status::unknown;
    s.refusal = Refusal::cannot_tell;
    s.summary = fmt::format("cannot tell whether the destination takes {} MSRs: {}", unknown.size(), named(unknown));
    for (const auto* m : unknown) s.missing.push_back(fmt::format("{:#x}: {}", m->index, m->reason));
    return s;
  }
  if (!dropped.empty()) {
    s.status = Status::warn;
    s.summary = fmt::format("{} of {} MSRs move, {} lose their state (not listed by the destination): {}",
                            msrs.size() - dropped.size(), msrs.size(), dropped.size(), named(dropped));
    s.remedy = "guests that rely on these MSRs see reset values after the move";
    return s;
  }
  s.summary = fmt::format("all {} MSRs are listed and accepted by the destination", msrs.size());
  return s;
}

}  // namespace kvmprobe::compat
