// fleet(): group hosts into migration pools (guests move both ways inside a pool), one-way
// edges between pools, each pool's common baseline, and the single reason a host stands
// outside the largest pool of its kind. Hosts are grouped by a canonical fingerprint of what
// compat() looks at (TSC aside), so the work is linear in hosts; compat() runs only between
// the groups' representatives.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/compat/compat.h"
#include "core/compat/guest_cpu.h"

namespace kvmprobe::compat {

/// One host of the fleet.
struct FleetHost {
  std::string label;   ///< the file it came from
  SideFacts facts;
};

/// Hosts between which guests move both ways, and what they have in common.
struct FleetPool {
  std::vector<std::size_t> hosts;                 ///< indexes into FleetReport::hosts
  std::string hypervisor;                         ///< "kvm_amd", ...
  std::vector<std::string> profiles;              ///< kernel profiles in the pool
  std::vector<std::uint32_t> save_list;           ///< MSRs every host's KVM lists (first host's order)
  std::optional<std::uint64_t> xcr0, xss;         ///< supported by every host (nullopt: one unknown)
  std::optional<std::uint64_t> tsc_min_khz, tsc_max_khz;
  bool tsc_scaling_all = false;                   ///< every host has TSC scaling
  /// CPUID features every host's KVM supports (QEMU names, sorted; nullopt: one host unknown).
  std::optional<std::vector<std::string>> cpuid_features;
  /// The guest CPU definition of cpuid_features (nullopt with it).
  std::optional<GuestCpu> guest_cpu;
};

/// Guests move from pool `from` to pool `to` but not back.
struct FleetEdge {
  std::size_t from = 0, to = 0;
  CompatVerdict verdict = CompatVerdict::compatible;  ///< compatible or conditional one way
  std::string back_reason;                            ///< why not the other way
};

/// A pool kept apart from the largest pool of its hypervisor, with the one reason.
struct FleetSplit {
  std::size_t pool = 0, largest = 0;
  std::string reason;
};

/// A host that cannot run guests at all (its KVM module would not load).
struct FleetExcluded {
  std::size_t host = 0;
  std::string reason;
};

/// Everything fleet() decides.
struct FleetReport {
  std::vector<FleetHost> hosts;
  std::vector<FleetExcluded> excluded;  ///< in no pool
  std::vector<FleetPool> pools;    ///< largest first
  std::vector<FleetEdge> edges;
  std::vector<FleetSplit> splits;
};

/// Group `hosts` into pools.
FleetReport fleet(std::vector<FleetHost> hosts);

/// The canonical fingerprint of a host for grouping (everything compat() compares but TSC).
std::string fleet_fingerprint(const SideFacts& f);

}  // namespace kvmprobe::compat
