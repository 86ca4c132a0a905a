// Large synthetic snapshots for tests and benchmarks: a recorded host's first CPU replicated N
// times, each copy with its own APIC ID where the CPUID leaves carry one, as on a real
// many-CPU host (identical CPUs that differ only in their topology leaves).
#pragma once

#include <cstdint>

#include "core/model/snapshot.h"

namespace kvmprobe::testing {

/// \a base with its CPU list replaced by \a n copies of its first CPU, numbered 0..n-1, with
/// APIC ID i in CPUID 0x1 EBX[31:24] (low 8 bits), 0xB/0x1F EDX (x2APIC ID) and 0x8000001E EAX
/// (extended APIC ID). online_cpus becomes 0..n-1.
inline Snapshot replicate_cpus(const Snapshot& base, unsigned n) {
  Snapshot s = base;
  s.cpus.clear();
  s.online_cpus.clear();
  if (base.cpus.empty()) return s;
  s.cpus.reserve(n);
  for (unsigned i = 0; i < n; ++i) {
    CpuRecord c = base.cpus.front();
    c.cpu = i;
    for (CpuidLeaf& l : c.cpuid) {
      if (l.leaf == 0x1) l.ebx = (l.ebx & 0x00ffffffu) | ((i & 0xffu) << 24);
      if (l.leaf == 0xb || l.leaf == 0x1f) l.edx = i;
      if (l.leaf == 0x8000001e) l.eax = i;
    }
    s.cpus.push_back(std::move(c));
    s.online_cpus.push_back(i);
  }
  return s;
}

}  // namespace kvmprobe::testing
