// perf's PMU description and KVM's PMU init. perf: arch/x86/events/
// {core.c,intel/core.c,amd/core.c}; KVM: kvm_init_pmu_capability (pmu.h) and svm_set_cpu_caps,
// read in Debian's linux-source 6.1.192 and 6.12.117.
#include "core/analyse/pmu.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/analyse/cpu_facts.h"
#include "core/analyse/perfmon_leaf.h"
#include "core/model/msr_profile.h"

namespace kvmprobe {
namespace {

constexpr unsigned kIntelMinGp = 1, kAmdMinGp = 4, kAmdCoreGp = 6, kAmdLegacyGp = 4;

// Intel (and Centaur/Zhaoxin, whose perf drivers read the same leaf): CPUID 0xA.
void intel_counts(const CpuRecord& cpu, PerfFixedCount fixed_rule, PmuCaps& c) {
  std::optional<PerfmonLeaf> leaf = perfmon_leaf(cpu);
  if (!leaf) {
    c.source = "CPUID leaf 0xA not recorded";
    return;
  }
  c.counts_known = true;
  if (cpu.find_cpuid(0) && max_basic_leaf(cpu) < 0xa) {
    c.source = "no CPUID leaf 0xA: no architectural perfmon";
    return;
  }
  // init_intel sets ARCH_PERFMON only for version != 0 and more than one GP counter, and
  // intel_pmu_init refuses an event mask shorter than 7 (ARCH_PERFMON_EVENTS_COUNT).
  if (leaf->version == 0 || leaf->gp <= 1 || leaf->mask_len < 7) {
    c.source = fmt::format("CPUID 0xA: version {}, {} GP, event mask length {}: no architectural "
                           "perfmon driver (old P6/P4 fallbacks not modelled)", leaf->version, leaf->gp, leaf->mask_len);
    return;
  }
  c.version = leaf->version;
  c.gp = std::min(leaf->gp, 32u);  // INTEL_PMC_MAX_GENERIC
  c.fixed = perf_fixed_counters(*leaf, has_or_false(cpu, cpuid::kHypervisor), fixed_rule);
  c.source = fmt::format("CPUID 0xA: version {}, {} GP, {} fixed", c.version, c.gp, c.fixed);
}

// AMD/Hygon: amd_pmu_init / amd_core_pmu_init.
void amd_counts(const CpuRecord& cpu, PmuCaps& c) {
  auto sig = signature(cpu);
  auto core = has(cpu, cpuid::kPerfctrCore);
  if (!sig || !core) {
    c.source = "CPUID 0x1 / 0x80000001 not recorded";
    return;
  }
  c.counts_known = true;
  if (display_family(*sig) < 6) {
    c.source = "AMD family below 6: no perf PMU driver";
    return;
  }
  c.perfctr_core = *core;
  c.gp = c.perfctr_core ? kAmdCoreGp : kAmdLegacyGp;
  c.source = c.perfctr_core ? "PERFCTR_CORE: 6 GP counters" : "no PERFCTR_CORE: 4 legacy GP counters";
  auto v2 = has(cpu, cpuid::kPerfmonV2);
  c.perfmon_v2 = v2.value_or(false);
  if (c.perfctr_core && c.perfmon_v2) {  // only looked at with PERFCTR_CORE
    auto ebx = cpu.cpuid_reg(0x80000022, 0, Reg::ebx);
    if (!ebx) {
      c.counts_known = false;
      c.source = "CPUID 0x80000022 not recorded";
      return;
    }
    c.version = 2;
    c.gp = *ebx & 0xf;
    c.source = fmt::format("PerfMonV2: {} GP counters (CPUID 0x80000022:EBX[3:0])", c.gp);
  }
}

// perf's vendor init for the CPU's vendor: AMD/Hygon or Intel-like.
void vendor_counts(const CpuRecord& cpu, PerfFixedCount fixed_rule, PmuCaps& c) {
  Vendor v = cpu_vendor(cpu);
  if (v == Vendor::amd || v == Vendor::hygon)
    amd_counts(cpu, c);
  else
    intel_counts(cpu, fixed_rule, c);
}

// The counts perf's vendor init (intel_pmu_init / amd_pmu_init) puts in x86_pmu, before the
// hardware check that may then refuse to register the PMU.
PmuCaps vendor_init_counts(const Snapshot& snap, PerfFixedCount fixed_rule) {
  PmuCaps c;
  const CpuRecord* cpu = snap.boot_cpu();
  if (!cpu) {
    c.source = "no CPU recorded";
    return c;
  }
  c.hybrid = has_or_false(*cpu, cpuid::kHybrid);
  vendor_counts(*cpu, fixed_rule, c);
  return c;
}

}  // namespace

PmuCaps perf_pmu_caps(const Snapshot& snap, PerfFixedCount fixed_rule) {
  PmuCaps c;
  const CpuRecord* cpu = snap.boot_cpu();
  if (cpu) c.hybrid = has_or_false(*cpu, cpuid::kHybrid);
  if (snap.perf.hw_pmu == Tri::unknown) {
    c.source = "whether perf registered a hardware PMU is not recorded";
    if (!snap.perf.evidence.empty()) c.source += " (" + snap.perf.evidence + ")";
    return c;
  }
  c.perf_hw_pmu_known = true;
  c.perf_hw_pmu = snap.perf.hw_pmu == Tri::yes;
  if (!c.perf_hw_pmu) {
    c.counts_known = true;
    c.source = "perf registered no hardware PMU";
    if (!snap.perf.evidence.empty()) c.source += " (" + snap.perf.evidence + ")";
    return c;
  }
  if (!cpu) {
    c.source = "no CPU recorded";
    return c;
  }
  vendor_counts(*cpu, fixed_rule, c);
  return c;
}

namespace {

/// 4.19-5.15: no kvm.enable_pmu; the vPMU takes perf's counts as they are (PmuProfile::
/// failed_hw_check_keeps_counts: a PMU perf refused after its vendor init still counts).
KvmPmu pmu_follows_perf(const Snapshot& snap, const KernelProfile& profile, const PmuCaps& perf) {
  const PmuProfile& p = profile.msr_lists->pmu;
  KvmPmu k;
  k.perf = perf;
  PmuCaps src = perf;
  std::string how = perf.source;
  if (p.failed_hw_check_keeps_counts && perf.perf_hw_pmu_known && !perf.perf_hw_pmu) {
    src = vendor_init_counts(snap, p.perf_fixed);
    how = fmt::format("{}; x86_pmu keeps the vendor init's counts all the same: {}", perf.source, src.source);
  }
  k.enable_pmu = true;
  k.reason = fmt::format("kernel {} has no kvm.enable_pmu: the vPMU follows perf ({})", profile.id, how);
  k.counts_known = src.counts_known;
  k.version = src.version;
  k.gp = src.gp;
  k.fixed = src.fixed;
  k.perfmon_v2 = src.perfmon_v2;
  return k;
}

/// The counts KVM keeps once the vPMU is on: perf's, version at most 2, capped at the profile's
/// maximums; on AMD PERFCTR_CORE only with 6 counters, else the legacy 4 (svm_set_cpu_caps()).
void cap_counts(const PmuCaps& perf, const PmuProfile& p, bool amd, KvmPmu& k) {
  k.enable_pmu = true;
  k.counts_known = true;
  k.version = std::min(perf.version, 2u);
  k.gp = perf.gp;
  unsigned max_gp = amd ? p.max_gp_amd : p.max_gp_intel;
  if (max_gp) k.gp = std::min(k.gp, max_gp);
  k.fixed = p.max_fixed ? std::min(perf.fixed, p.max_fixed) : perf.fixed;
  bool perfctr_core_cap = perf.perfctr_core;
  if (amd && p.amd_core_reduce) {
    if (k.gp < kAmdCoreGp) {
      k.gp = std::min(kAmdLegacyGp, k.gp);
      perfctr_core_cap = false;
    }
    k.perfmon_v2 = perf.perfmon_v2 && k.version == 2 && perfctr_core_cap;
  } else {
    k.perfmon_v2 = perf.perfmon_v2;
  }
}

}  // namespace

// Long (61 lines) on purpose: the enable_pmu decisions in the order of arch/x86/kvm/pmu.h:
// kvm_init_pmu_capability() (6.1, 6.12), one early return each; the 4.19-5.15 path and the
// counter caps are functions of their own.
KvmPmu kvm_pmu(const Snapshot& snap, const KernelProfile& profile, const EffectiveParams& params) {
  KvmPmu k;
  if (!profile.msr_lists) {
    k.perf = perf_pmu_caps(snap, PerfFixedCount::highest_bit);
    k.reason = fmt::format("the PMU init of profile {} is not modelled", profile.id);
    return k;
  }
  const PmuProfile& p = profile.msr_lists->pmu;
  k.perf = perf_pmu_caps(snap, p.perf_fixed);
  const PmuCaps& perf = k.perf;
  if (!p.enable_pmu_param) return pmu_follows_perf(snap, profile, perf);

  const CpuRecord* cpu = snap.boot_cpu();
  Vendor vendor = cpu ? cpu_vendor(*cpu) : Vendor::unknown;
  bool amd = vendor == Vendor::amd || vendor == Vendor::hygon;
  auto off = [&](std::string why) {
    k.enable_pmu = false;
    k.reason = std::move(why);
    k.counts_known = true;
    k.version = k.gp = k.fixed = 0;
    k.perfmon_v2 = false;
    return k;
  };
  bool requested = params.flag("kvm.enable_pmu", true);
  const ParamValue* pv = params.find("kvm.enable_pmu");
  k.param_origin = pv ? pv->origin : "default";
  // A loaded kvm.ko shows the value after its PMU init (the forced value is written back).
  bool from_loaded = pv && pv->origin.rfind("loaded module", 0) == 0;
  if (!requested)
    return off(from_loaded ? "kvm.enable_pmu reads N in the loaded kvm module"
                           : fmt::format("parameter kvm.enable_pmu off ({})", k.param_origin));
  if (p.hybrid_disables && perf.hybrid)
    return off("forced off: hybrid CPU (CPUID.7.0:EDX[15] HYBRID_CPU)");
  if (!perf.perf_hw_pmu_known && !from_loaded) {
    k.reason = "cannot tell: " + perf.source;
    return k;
  }
  if (perf.perf_hw_pmu_known && !perf.perf_hw_pmu && p.gp0_disables)
    return off("forced off: " + perf.source + ", so KVM sees 0 GP counters");
  if (!perf.counts_known) {
    if (from_loaded) {
      k.enable_pmu = true;
      k.reason = "kvm.enable_pmu reads Y in the loaded kvm module; counters unknown: " + perf.source;
    } else {
      k.reason = "cannot tell: " + perf.source;
    }
    return k;
  }
  unsigned min_gp = amd ? kAmdMinGp : kIntelMinGp;
  if (p.gp0_disables && perf.gp == 0) return off("forced off: perf reports 0 GP counters (" + perf.source + ")");
  if (p.min_gp_disables && perf.gp < min_gp)
    return off(fmt::format("forced off: {} GP counters, fewer than the {} KVM requires", perf.gp, min_gp));
  if (p.intel_version0_disables && vendor == Vendor::intel && perf.version == 0)
    return off("forced off: Intel perf PMU version 0 (no architectural perfmon)");

  cap_counts(perf, p, amd, k);
  k.reason = fmt::format("on ({}{}): {} GP, {} fixed counters, version {}",
                         from_loaded ? "loaded kvm module" : k.param_origin,
                         from_loaded ? "" : "; perf has a hardware PMU", k.gp, k.fixed, k.version);
  return k;
}

std::pair<std::optional<bool>, std::string> effective_enable_pmu(const Snapshot& snap,
                                                                 const KernelProfile& profile,
                                                                 const EffectiveParams& params) {
  KvmPmu k = kvm_pmu(snap, profile, params);
  return {k.enable_pmu, k.reason};
}

}  // namespace kvmprobe
