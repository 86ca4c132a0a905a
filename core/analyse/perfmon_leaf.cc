#include "core/analyse/perfmon_leaf.h"

#include <algorithm>
#include <bit>

#include "core/analyse/cpu_facts.h"

namespace kvmprobe {

std::optional<PerfmonLeaf> perfmon_leaf(const CpuRecord& cpu) {
  if (cpu.find_cpuid(0) && max_basic_leaf(cpu) < 0xa) return PerfmonLeaf{};
  const CpuidLeaf* a = cpu.find_cpuid(0xa);
  if (!a) return std::nullopt;
  PerfmonLeaf p;
  p.version = a->eax & 0xff;
  p.gp = (a->eax >> 8) & 0xff;
  p.gp_width = (a->eax >> 16) & 0xff;
  p.mask_len = a->eax >> 24;
  p.fixed_contiguous = a->edx & 0x1f;
  p.fixed_bitmap = a->ecx;
  return p;
}

namespace {
// arch/x86/events/intel/core.c: intel_pmu_init() (6.1, 6.12): "Quirk: v2 perfmon does not
// report fixed-purpose events, so assume at least 3 events, when not running in a hypervisor".
unsigned quirk_fixed(const PerfmonLeaf& leaf, bool hypervisor) {
  return std::max(leaf.fixed_contiguous, hypervisor ? 0u : 3u);
}
}  // namespace

bool hw_fixed_counter(const PerfmonLeaf& leaf, unsigned n, bool hypervisor) {
  if (leaf.version >= 5) return (n < 32 && ((leaf.fixed_bitmap >> n) & 1)) || n < leaf.fixed_contiguous;
  if (leaf.version >= 2) return n < quirk_fixed(leaf, hypervisor);
  return false;
}

unsigned perf_fixed_counters(const PerfmonLeaf& leaf, bool hypervisor, PerfFixedCount rule) {
  if (leaf.version >= 5)
    return rule == PerfFixedCount::popcount ? static_cast<unsigned>(std::popcount(leaf.fixed_bitmap))
                                            : static_cast<unsigned>(std::bit_width(leaf.fixed_bitmap));
  if (leaf.version >= 2) return quirk_fixed(leaf, hypervisor);
  return 0;
}

}  // namespace kvmprobe
