// CPUID leaf 0xA (Intel architectural performance monitoring), decoded in one place for
// everything that asks about Intel's counters: perf's PMU init (pmu.cc, what KVM starts
// from) and whether the hardware implements a counter MSR at all (msr_rules.cc, KVM's host
// RDMSR filter). The two questions have different answers on purpose; each rule is a
// function here, next to the decoder.
#pragma once

#include <cstdint>
#include <optional>

#include "core/model/msr_profile.h"
#include "core/model/snapshot.h"

namespace kvmprobe {

/// The fields of CPUID.0AH (Intel SDM vol. 2, CPUID, leaf 0AH).
struct PerfmonLeaf {
  unsigned version = 0;           ///< EAX[7:0]
  unsigned gp = 0;                ///< EAX[15:8]: general-purpose counters per logical CPU
  unsigned gp_width = 0;          ///< EAX[23:16]
  unsigned mask_len = 0;          ///< EAX[31:24]: length of the EBX event mask
  unsigned fixed_contiguous = 0;  ///< EDX[4:0]: contiguous fixed counters (version > 1)
  std::uint32_t fixed_bitmap = 0; ///< ECX: fixed-counter bitmap (version ≥ 5)
};

/// Leaf 0xA of `cpu`: its fields; all zero when the CPU's maximum basic leaf is below 0xA
/// (no architectural perfmon); nullopt when the leaf was not recorded.
std::optional<PerfmonLeaf> perfmon_leaf(const CpuRecord& cpu);

/// Whether the hardware implements fixed counter `n` (IA32_FIXED_CTRn, 0x309 + n), so a host
/// RDMSR of it succeeds. SDM vol. 3 "Fixed-function performance counters": version ≥ 5:
/// ECX[n] or n < EDX[4:0]; versions 2–4: n < EDX[4:0], except that bare metal with an early
/// version 2 reporting fewer than 3 has the 3 counters perf's quirk assumes.
bool hw_fixed_counter(const PerfmonLeaf& leaf, unsigned n, bool hypervisor);

/// The number of fixed counters perf's intel_pmu_init() exports (what KVM then caps):
/// arch/x86/events/intel/core.c: intel_pmu_init(): versions 2–4: max(EDX[4:0], 3 on bare
/// metal); version ≥ 5: fls(ECX) (6.1) or hweight64(ECX) (6.12, fixed_cntr_mask64) per
/// `rule`; version 1: none.
unsigned perf_fixed_counters(const PerfmonLeaf& leaf, bool hypervisor, PerfFixedCount rule);

}  // namespace kvmprobe
