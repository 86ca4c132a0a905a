// Render a Report for people (text) or for scripts (JSON). The only code that formats output.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model/report.h"

namespace kvmprobe::render {

/// How text output looks; decided once by the CLI (cli/terminal.cc).
struct TextStyle {
  bool color = false;    ///< ANSI colours
  bool legend = true;    ///< headers and the closing hint lines
  bool verbose = false;  ///< every evidence row, not only failing steps'
};

/// JSON schema name and version of `check` output.
inline constexpr const char* kCheckSchema = "kvmprobe.check/1";

/// The check report as text.
std::string report_text(const Report& r, const TextStyle& style);
/// The check report as a JSON document (schema kvmprobe.check/1).
nlohmann::json report_json(const Report& r);
/// A step as JSON (also used by commands that show one step).
nlohmann::json step_json(const StepResult& s);
/// hex() as a JSON string, or null when the value is unknown.
nlohmann::json hex_or_null(const std::optional<std::uint64_t>& v);
/// MSR indices as a JSON array of hex() strings.
nlohmann::json hex_array(const std::vector<std::uint32_t>& v);
/// "yes" / "no" / "unknown" for an optional bool.
const char* yes_no(std::optional<bool> v);
/// Wrap `text` in the ANSI colour for a status when `color`.
std::string paint(Status s, const std::string& text, bool color);

}  // namespace kvmprobe::render
