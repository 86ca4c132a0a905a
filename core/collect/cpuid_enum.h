// Which CPUID leaves and subleaves collect() records for one CPU, and the bounds that make
// every subleaf loop terminate even on hostile or buggy CPUID implementations.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/collect/sources.h"

namespace kvmprobe::collect {

/// Highest basic leaf enumerated (CPUs today stop below 0x30).
inline constexpr std::uint32_t kMaxBasicLeaf = 0xFF;
/// Highest extended leaf enumerated.
inline constexpr std::uint32_t kMaxExtendedLeaf = 0x800000FF;
/// Highest hypervisor leaf enumerated (0x40000100+ holds a second hypervisor's leaves).
inline constexpr std::uint32_t kMaxHypervisorLeaf = 0x400000FF;
/// Most subleaves read for one leaf.
inline constexpr std::uint32_t kMaxSubleaves = 64;

/// Reads every leaf that matters on CPU \a cpu, sorted by (leaf, subleaf):
/// - basic leaves 0..max (max from leaf 0, bounded by kMaxBasicLeaf), subleaf 0 each, except
///   0x4 and 0x1B (until the type field is 0), 0x7/0x14/0x17/0x18/0x1D/0x1E/0x20/0x24 (subleaves
///   up to subleaf 0's EAX), 0xB/0x1F (until the level type is 0), 0xD (0, 1 and every state
///   component named by 0xD.0 EDX:EAX or 0xD.1 EDX:ECX), 0xF/0x10 (the resource bitmaps of
///   subleaf 0), 0x12 (0, 1, then EPC sections until type 0), 0x23 (subleaf bitmap in EAX);
/// - hypervisor leaves 0x40000000..max only when CPUID.1:ECX[31] is set;
/// - extended leaves 0x80000000..max, with subleaves for 0x8000001D (until type 0),
///   0x80000020 (bitmap in EBX) and 0x80000026 (until level type 0).
/// Loops that hit a bound, and a read that fails, add a line to \a notes; a failed read stops
/// the enumeration (the leaves read so far are returned). An Error only when leaf 0 fails.
Result<std::vector<CpuidLeaf>> enumerate_cpuid(CpuidSource& source, unsigned cpu,
                                               std::vector<std::string>& notes);

}  // namespace kvmprobe::collect
