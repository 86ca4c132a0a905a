// Small helpers the step files share.
#pragma once

#include <string>
#include <vector>

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

}  // namespace kvmprobe
