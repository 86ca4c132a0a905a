// `kvmprobe tsc`: the TSC scaling report as text or JSON (kvmprobe.tsc/1).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/analyse/tsc_report.h"

namespace kvmprobe::render {

/// JSON schema name and version of `tsc --json`.
inline constexpr const char* kTscSchema = "kvmprobe.tsc/1";

/// tsc_khz, has_tsc_control, ratios, max guest kHz, and the answer for the asked guest rate.
std::string tsc_text(const TscReport& r);
/// The document of schema kvmprobe.tsc/1 (docs/schema/tsc.schema.json).
nlohmann::json tsc_json(const TscReport& r);
/// "within_tolerance", "scaled", "catchup" or "impossible".
const char* to_string(GuestTscAnswer::Kind k);

}  // namespace kvmprobe::render
