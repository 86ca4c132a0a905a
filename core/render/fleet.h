// Render a FleetReport (kvmprobe fleet) as text or JSON (schema kvmprobe.fleet/1).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/compat/fleet.h"
#include "core/render/render.h"

namespace kvmprobe::render {

/// JSON schema name and version of `fleet` output.
inline constexpr const char* kFleetSchema = "kvmprobe.fleet/1";

/// A file fleet could not read, with the one-line reason.
struct FleetInputError {
  std::string path, message;
};

/// Pools, baselines, edges and splits as text; `baseline_only` prints only the baselines.
std::string fleet_text(const compat::FleetReport& r, bool baseline_only, const TextStyle& style);
/// The same as one JSON document.
nlohmann::json fleet_json(const compat::FleetReport& r, const std::vector<FleetInputError>& errors, bool baseline_only);

}  // namespace kvmprobe::render
