// Render a CompatReport (kvmprobe compat) as text or JSON (schema kvmprobe.compat/1).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/compat/compat.h"
#include "core/compat/kernel_diff.h"
#include "core/render/render.h"

namespace kvmprobe::render {

/// JSON schema name and version of `compat` output.
inline constexpr const char* kCompatSchema = "kvmprobe.compat/1";

/// One direction as text.
std::string compat_text(const compat::CompatReport& r, const TextStyle& style);
/// One direction as a JSON document; `exit_code` is the code the CLI exits with for it.
nlohmann::json compat_json(const compat::CompatReport& r, int exit_code);
/// Both directions (--both): {"schema", "directions": [src→dst, dst→src]}.
nlohmann::json compat_both_json(const std::vector<nlohmann::json>& directions);

/// JSON schema name and version of `check --diff-kernel` output.
inline constexpr const char* kKernelDiffSchema = "kvmprobe.kernel-diff/1";

/// What changes when the host boots another kernel, as text.
std::string kernel_diff_text(const compat::KernelDiff& d, const TextStyle& style);
/// The same as a JSON document; the two compat directions carry their own exit codes.
nlohmann::json kernel_diff_json(const compat::KernelDiff& d, int exit_code, int old_to_new_code, int new_to_old_code);

}  // namespace kvmprobe::render
