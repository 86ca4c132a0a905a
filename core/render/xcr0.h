// `kvmprobe xcr0`: host XCR0 and KVM's supported XCR0 as text or JSON (kvmprobe.xcr0/1).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/analyse/xcr0_report.h"

namespace kvmprobe::render {

/// JSON schema name and version of `xcr0 --json`.
inline constexpr const char* kXcr0Schema = "kvmprobe.xcr0/1";

/// The xcr0 step's summary and its evidence rows.
std::string xcr0_text(const Xcr0Report& r);
/// The document of schema kvmprobe.xcr0/1 (docs/schema/xcr0.schema.json).
nlohmann::json xcr0_json(const Xcr0Report& r);

}  // namespace kvmprobe::render
