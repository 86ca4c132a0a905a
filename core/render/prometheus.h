// The node_exporter textfile format (Prometheus text exposition 0.0.4) for check, compat and
// fleet: every family with HELP and TYPE, `kvmprobe_` names with their unit, no
// high-cardinality labels. The metrics are listed in docs/prometheus.md.
#pragma once

#include <string>
#include <vector>

#include "core/analyse/host_metrics.h"
#include "core/compat/compat.h"
#include "core/compat/fleet.h"
#include "core/model/report.h"
#include "core/render/fleet.h"

namespace kvmprobe::render {

/// Everything `check --format prometheus` writes about one host.
struct CheckMetrics {
  const Report* report = nullptr;
  const HostMetrics* host = nullptr;
  std::string taken_at;  ///< the snapshot's ISO 8601 UTC time, "" when not recorded
};

/// The check report and the host's gauges.
std::string check_prometheus(const CheckMetrics& m);
/// One compat report per direction (the second, when present, is the way back: --both).
std::string compat_prometheus(const std::vector<compat::CompatReport>& reports);
/// The fleet's pools, edges, excluded hosts and unreadable files.
std::string fleet_prometheus(const compat::FleetReport& r, const std::vector<FleetInputError>& errors);

}  // namespace kvmprobe::render
