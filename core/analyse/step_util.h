// Small helpers the step files share.
#pragma once

#include <string>
#include <vector>

#include "core/analyse/context.h"
#include "core/analyse/cpu_facts.h"
#include "core/model/format.h"
#include "core/model/report.h"

namespace kvmprobe {

/// A new step result.
inline StepResult make_step(const char* id, const char* title) {
  StepResult s;
  s.id = id;
  s.title = title;
  s.status = Status::ok;
  return s;
}

/// Mark a step failed with a refusal class and a one-line summary.
inline void fail(StepResult& s, Refusal why, std::string summary) {
  s.status = Status::fail;
  s.refusal = why;
  s.summary = std::move(summary);
}

/// A step that only applies with VMX or SVM: true, and \a s skipped ("not applicable: no
/// \a what"), when the boot CPU lacks \a bit.
inline bool skipped_without(const AnalysisContext& ctx, const CpuidBit& bit, const char* what, StepResult& s) {
  if (ctx.boot && has_or_false(*ctx.boot, bit)) return false;
  s.status = Status::skipped;
  s.summary = std::string("not applicable: no ") + what;
  return true;
}

}  // namespace kvmprobe
