// The PMU capability KVM starts from (perf's: arch/x86/events/core.c:
// perf_get_x86_pmu_capability() (6.1, 6.12)) and what KVM's PMU init makes
// of it: the effective kvm.enable_pmu and the counter counts the MSR-list filters use.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "core/analyse/params.h"
#include "core/model/kernel_profile.h"
#include "core/model/msr_profile.h"
#include "core/model/snapshot.h"

namespace kvmprobe {

/// What perf exports to KVM (perf_get_x86_pmu_capability): all zero unless perf registered a
/// hardware PMU at boot; otherwise derived from CPUID as perf's vendor init does.
struct PmuCaps {
  bool perf_hw_pmu_known = false;  ///< whether perf registered a hardware PMU is known
  bool perf_hw_pmu = false;        ///< it did (meaningful when perf_hw_pmu_known)
  bool counts_known = false;       ///< version/gp/fixed below are known
  unsigned version = 0;            ///< perf's PMU version (Intel CPUID 0xA:EAX[7:0]; AMD 2 with PerfMonV2)
  unsigned gp = 0;                 ///< general-purpose counters
  unsigned fixed = 0;              ///< fixed counters (Intel)
  bool hybrid = false;             ///< CPUID.7.0:EDX[15] HYBRID_CPU
  bool perfctr_core = false;       ///< AMD CPUID 0x80000001:ECX[23]
  bool perfmon_v2 = false;         ///< AMD CPUID 0x80000022:EAX[0]
  std::string source;              ///< how the counts were obtained, one line
};

/// perf's PMU capability on the snapshot's boot CPU; `fixed_rule` is the kernel's way of
/// counting Intel fixed counters (PmuProfile::perf_fixed).
PmuCaps perf_pmu_caps(const Snapshot& snap, PerfFixedCount fixed_rule);

/// KVM's PMU state after its PMU init (kvm_pmu_cap and the AMD adjustments of svm_set_cpu_caps).
struct KvmPmu {
  std::optional<bool> enable_pmu;  ///< effective kvm.enable_pmu; nullopt = cannot be told
  std::string reason;              ///< why, one line
  std::string param_origin;        ///< where the requested kvm.enable_pmu came from, "" when no such parameter
  bool counts_known = false;       ///< gp/fixed/perfmon_v2 below are known
  unsigned version = 0, gp = 0, fixed = 0;  ///< kvm_pmu_cap (all 0 when enable_pmu is off)
  bool perfmon_v2 = false;         ///< KVM cap PERFMON_V2
  PmuCaps perf;                    ///< what perf exported
};

/// KVM's PMU init as the profile's kernel does it (arch/x86/kvm/pmu.h: kvm_init_pmu_capability()
/// (6.1, 6.12)).
KvmPmu kvm_pmu(const Snapshot& snap, const KernelProfile& profile, const EffectiveParams& params);

/// The value kvm.enable_pmu ends up with, and why: forced off when perf has no hardware PMU
/// (snapshot.perf.hw_pmu == no), on hybrid CPUs (6.1.192+), for Intel perf version 0 or GP
/// count 0; nullopt with the reason when that cannot be told. Kernels without the parameter
/// (before 6.1) report true: their vPMU simply follows perf's counts.
std::pair<std::optional<bool>, std::string> effective_enable_pmu(const Snapshot& snap,
                                                                 const KernelProfile& profile,
                                                                 const EffectiveParams& params);

}  // namespace kvmprobe
