// Text and JSON for enable-vmx, provision and restore: plans, apply results, restore results
// and expectations. Like render.h, it formats and never decides.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/provision/apply.h"
#include "core/provision/expectations.h"
#include "core/provision/plan.h"
#include "core/provision/restore.h"
#include "core/render/render.h"

namespace kvmprobe::render {

/// Schemas of the command documents.
inline constexpr const char* kEnableVmxSchema = "kvmprobe.enable-vmx/1";
inline constexpr const char* kProvisionSchema = "kvmprobe.provision/1";
inline constexpr const char* kRestoreSchema = "kvmprobe.restore/1";

/// The plan: one row per run of CPUs in the same state, then the summary, notes and warnings.
std::string plan_text(const provision::Plan& plan, const TextStyle& style);
nlohmann::json plan_json(const provision::Plan& plan);

/// What apply() did: writes grouped per phase and status, the outcome, CPUs not where they should be.
std::string apply_text(const provision::ApplyResult& result, const TextStyle& style);
nlohmann::json apply_json(const provision::ApplyResult& result);

/// What restore() did, per CPU.
std::string restore_text(const provision::RestoreResult& result, const TextStyle& style);
nlohmann::json restore_json(const provision::RestoreResult& result);

/// One line per expectation.
std::string expectations_text(const std::vector<provision::ExpectationResult>& results, const TextStyle& style);
nlohmann::json expectations_json(const std::vector<provision::ExpectationResult>& results);

}  // namespace kvmprobe::render
