// The exit code of each outcome of the commands that write MSRs (enable-vmx, provision,
// restore). Header-only so the fault-injection tests check the mapping itself.
#pragma once

#include "cli/exit_codes.h"
#include "core/provision/apply.h"
#include "core/provision/plan.h"
#include "core/provision/restore.h"

namespace kvmprobe::cli {

/// The exit code of a plan that is not applied (0 for nothing_to_do and apply).
inline ExitCode plan_exit(provision::PlanVerdict v) {
  using provision::PlanVerdict;
  switch (v) {
    case PlanVerdict::nothing_to_do:
    case PlanVerdict::apply: return ExitCode::ok;
    case PlanVerdict::no_support: return ExitCode::no_support;
    case PlanVerdict::locked_off: return ExitCode::firmware_disabled;
    case PlanVerdict::cannot_tell: return ExitCode::cannot_tell;
  }
  return ExitCode::cannot_tell;
}

/// The exit code of an apply outcome.
inline ExitCode apply_exit(provision::ApplyOutcome o) {
  using provision::ApplyOutcome;
  switch (o) {
    case ApplyOutcome::applied:
    case ApplyOutcome::nothing_to_do: return ExitCode::ok;
    case ApplyOutcome::aborted: return ExitCode::failed;
    case ApplyOutcome::not_permitted: return ExitCode::not_permitted;
    case ApplyOutcome::rolled_back: return ExitCode::not_applied;
    case ApplyOutcome::partial: return ExitCode::partial;
  }
  return ExitCode::partial;
}

/// The exit code of a restore outcome.
inline ExitCode restore_exit(provision::RestoreOutcome o) {
  using provision::RestoreOutcome;
  switch (o) {
    case RestoreOutcome::nothing_to_do:
    case RestoreOutcome::planned:
    case RestoreOutcome::restored: return ExitCode::ok;
    case RestoreOutcome::not_permitted: return ExitCode::not_permitted;
    case RestoreOutcome::partial: return ExitCode::partial;
  }
  return ExitCode::partial;
}

}  // namespace kvmprobe::cli
