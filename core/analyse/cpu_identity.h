// CPU identification for the report (vendor, family/model/stepping, codename) through libcpuid,
// fed from the snapshot's own CPUID leaves, so it works the same for a recorded host.
#pragma once

#include <string>

#include "core/model/snapshot.h"

namespace kvmprobe {

/// Who the CPU is.
struct CpuIdentity {
  std::string vendor;     ///< "GenuineIntel"
  std::string brand;      ///< brand string
  std::string codename;   ///< libcpuid's codename ("Skylake (Core i7)"), "" when it has none
  unsigned family = 0, model = 0, stepping = 0;  ///< Linux display values
  std::string note;       ///< why libcpuid was not asked or failed, "" when it answered
};

/// Identify the CPU from its recorded leaves. libcpuid's cpu_identify runs on a raw-data struct
/// built from the snapshot (it never executes CPUID here); Centaur/Zhaoxin parts are identified
/// without it (libcpuid 0.6.2 can divide by zero on them).
CpuIdentity identify_cpu(const CpuRecord& cpu);

}  // namespace kvmprobe
