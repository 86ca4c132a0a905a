// The step list as text, shared by every report made of KVM-style steps (check, compat).
#pragma once

#include <string>
#include <vector>

#include "core/model/report.h"
#include "core/render/render.h"

namespace kvmprobe::render {

/// Whether a skipped step shows its evidence: check's skipped steps have none worth showing,
/// compat's keep the facts they gathered before being skipped.
enum class SkippedDetail { hidden, shown };

/// One line per step (status, id, summary), then for non-ok steps (all with -v) the evidence,
/// missing facts and log lines, and the remedy of every non-ok step.
std::string steps_text(const std::vector<StepResult>& steps, const TextStyle& st, SkippedDetail skipped);

}  // namespace kvmprobe::render
