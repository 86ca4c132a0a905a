#include "core/compat/side.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/analyse/analyse.h"
#include "core/analyse/msr_lists.h"
#include "core/analyse/supported_cpuid.h"
#include "core/analyse/xcr0.h"

namespace kvmprobe::compat {
namespace {

/// Standard-format XSAVE area size for `mask` from the host's CPUID 0xD subleaves (the legacy
/// area and header are 576 bytes; each component i ≥ 2 sits at 0xD.i EBX with size 0xD.i EAX).
std::optional<std::uint32_t> xsave_size(const CpuRecord& cpu, std::uint64_t mask) {
  std::uint32_t size = 576;
  for (unsigned i = 2; i < 64; ++i) {
    if (!((mask >> i) & 1)) continue;
    auto sz = cpu.cpuid_reg(0xd, i, Reg::eax);
    auto off = cpu.cpuid_reg(0xd, i, Reg::ebx);
    if (!sz || !off) return std::nullopt;
    size = std::max(size, *off + *sz);
  }
  return size;
}

void fill_index_list(SideFacts& f, const CompatSide& side, const AnalysisContext& ctx) {
  const KvmDeviceInfo& kvm = side.snap->kvm;
  bool module_loaded = !f.hypervisor.empty() && side.snap->find_module(f.hypervisor) != nullptr;
  if (side.own_kernel && kvm.msr_index_list && module_loaded) {
    f.index_list = *kvm.msr_index_list;
    if (kvm.feature_msr_list) f.feature_list = *kvm.feature_msr_list;
    f.index_list_known = true;
    f.index_list_source = fmt::format("recorded KVM_GET_MSR_INDEX_LIST ({}, {})", f.hypervisor,
                                      f.kernel.empty() ? "kernel unknown" : f.kernel);
    return;
  }
  MsrListsResult r = compute_msr_lists(ctx);
  if (!r.evaluated) {
    f.index_list_missing = r.not_evaluated;
    return;
  }
  f.index_list_known = true;
  f.index_list = r.index_list;
  f.feature_list = r.feature_list;
  f.index_list_source = fmt::format("modelled KVM_GET_MSR_INDEX_LIST (profile {}, {})", r.profile_id, r.vendor_module);
  for (const auto& e : r.entries)
    if (e.fate == MsrFate::unknown && e.list != MsrList::feature) f.undecided.push_back(e.index);
  if (!r.missing.empty()) f.index_list_missing = r.missing.front();
}

}  // namespace

bool listed(const SideFacts& f, std::uint32_t index) {
  return std::find(f.index_list.begin(), f.index_list.end(), index) != f.index_list.end();
}

bool undecided(const SideFacts& f, std::uint32_t index) {
  return std::find(f.undecided.begin(), f.undecided.end(), index) != f.undecided.end();
}

SideFacts side_facts(const CompatSide& side) {
  const Snapshot& snap = *side.snap;
  Analyzer a(snap, *side.profile, side.overrides);
  const AnalysisContext& ctx = a.ctx();
  Report rep = a.report();

  SideFacts f;
  f.label = side.label;
  f.profile = side.profile;
  f.profile_id = side.profile->id;
  f.kernel = snap.kernel_release;
  f.module = ctx.module;
  f.hypervisor = module_name(ctx.module);
  // kvm_pvm (PVM, no VMX/SVM needed) serves /dev/kvm where it is loaded instead of a vendor
  // module, but only where it bound: built in and declined ("this kernel is itself a kvm-pvm
  // guest; not binding") it leaves no /dev/kvm and no kvm misc device, and guests cannot run.
  bool pvm_serves = snap.kvm.present || snap.kvm.misc_registered.value_or(false);
  if (snap.find_module("kvm_pvm") && !snap.find_module("kvm_intel") && !snap.find_module("kvm_amd") && pvm_serves)
    f.hypervisor = "kvm_pvm";
  f.would_load = rep.verdict.would_load;
  f.load_reason = rep.verdict.reason;
  for (const auto& st : rep.steps) f.kvm_log.insert(f.kvm_log.end(), st.kvm_log.begin(), st.kvm_log.end());
  f.report = rep;
  if (f.hypervisor == "kvm_intel") f.nested = ctx.params.flag("kvm_intel.nested");
  if (f.hypervisor == "kvm_amd") f.nested = ctx.params.flag("kvm_amd.nested");
  f.msr_set = msr_set_profile(side.profile->id.c_str());
  f.nested_vmx = nested_vmx(ctx);

  fill_index_list(f, side, ctx);

  // XCR0: the recorded KVM_GET_SUPPORTED_CPUID 0xD answer when it is this kernel's, else modelled.
  if (side.own_kernel && snap.kvm.supported_xcr0) {
    f.supported_xcr0 = snap.kvm.supported_xcr0;
    f.xcr0_source = "recorded KVM_GET_SUPPORTED_CPUID 0xD.0";
  } else if (ctx.supported_xcr0) {
    f.supported_xcr0 = ctx.supported_xcr0;
    f.xcr0_source = fmt::format("modelled: host XCR0 & KVM_SUPPORTED_XCR0 of {}", side.profile->id);
  }
  if (ctx.boot) {
    if (side.profile->supported_xss_mask == 0) {
      f.supported_xss = 0;  // kvm_caps.supported_xss stays 0 in this version
    } else if (const MsrRead* xss = ctx.boot->find_msr(0xda0); xss && xss->ok()) {
      std::uint64_t s = xss->value & side.profile->supported_xss_mask;
      f.supported_xss = s == side.profile->supported_xss_mask ? s : 0;  // 7.3: both CET bits or none
    }
    if (f.supported_xcr0) f.xsave_size = xsave_size(*ctx.boot, *f.supported_xcr0);
    f.invtsc = ctx.boot->cpuid_bit(0x80000007, 0, Reg::edx, 8);
    f.host_msrs = ctx.boot->msrs;
    for (const MsrRead& m : ctx.boot->msrs)
      if (m.index >= 0x480 && m.index <= 0x492) f.vmx_caps.push_back(m);
  }

  // CPUID: no snapshot records KVM_GET_SUPPORTED_CPUID, so it is always the model's answer.
  SupportedCpuid cpuid = compute_supported_cpuid(ctx);
  if (cpuid.evaluated) {
    f.cpuid_features = cpuid.feature_names();
    f.cpuid_source = fmt::format("modelled KVM_GET_SUPPORTED_CPUID (profile {}, {})", side.profile->id, f.hypervisor);
    f.cpuid_unknown = cpuid.unknown;
  } else {
    f.cpuid_missing = cpuid.not_evaluated;
  }

  TscKhzChoice khz = choose_tsc_khz(snap);
  f.tsc_khz = khz.khz;
  if (khz.khz) f.tsc_source = fmt::format("{}{}", to_string(khz.source), khz.exact ? "" : " (not exact)");
  f.tsc = tsc_caps(ctx, khz.khz);
  f.tsc_control_reason = has_tsc_control(ctx).second;
  f.tsc_tolerance_ppm = static_cast<std::uint64_t>(ctx.params.number("kvm.tsc_tolerance_ppm", 250));
  return f;
}

}  // namespace kvmprobe::compat
