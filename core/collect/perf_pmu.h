// Whether perf registered a hardware PMU at boot. KVM takes its PMU capability from perf and
// forces enable_pmu off when there is none (arch/x86/kvm/pmu.h:
// kvm_init_pmu_capability() (6.1, 6.12)).
#pragma once

#include <string>
#include <vector>

#include "core/collect/sources.h"

namespace kvmprobe::collect {

/// Where perf's PMUs appear.
inline constexpr const char* kEventSourceDir = "/sys/bus/event_source/devices";

/// Decides PerfPmuInfo: a core PMU (`cpu`, or `cpu_core`/`cpu_atom` on hybrid parts) in
/// kEventSourceDir → yes, with pmu_name from its caps/pmu_name; the directory readable but
/// without one → no; unreadable → decided by perf's boot line in \a log_lines
/// ("PMU not available due to virtualization", "Broken PMU hardware detected") or unknown.
/// The evidence names the path and quotes the log line when there is one.
PerfPmuInfo detect_perf_pmu(SysfsReader& fs, const std::vector<std::string>& log_lines);

}  // namespace kvmprobe::collect
