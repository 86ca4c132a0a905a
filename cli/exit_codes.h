// kvmprobe's exit codes: a documented interface (man/kvmprobe.1 EXIT STATUS, README).
#pragma once

#include "core/model/report.h"
#include "core/model/result.h"

namespace kvmprobe::cli {

enum class ExitCode : int {
  ok = 0,                ///< KVM usable here or the vendor module would load; other commands: success
  failed = 1,            ///< could not complete (I/O error)
  usage = 2,             ///< usage error
  bad_input = 3,         ///< bad input file
  no_support = 10,       ///< CPU lacks VMX/SVM
  firmware_disabled = 11,///< disabled by firmware (locked)
  refused = 12,          ///< KVM would refuse for another reason
  cannot_tell = 13,      ///< evidence missing
  // Commands that change state (enable-vmx, provision, restore):
  not_applied = 14,      ///< a write failed or did not take effect; every CPU was put back (rolled back)
  partial = 15,          ///< partially applied and could not be rolled back: CPUs differ (needs attention)
  not_permitted = 16,    ///< writing refused (not root, kernel lockdown, allow_writes); nothing changed
  expectation_unmet = 17,///< provision: applied, but an expectation of the profile is not met
  mismatch = 20,         ///< msrs --compare-kvm: prediction differs from live KVM
  moves_with_losses = 21,///< compat: the guest moves only with named losses or conditions
  incompatible = 22,     ///< compat: the destination's KVM rejects the guest's state
  internal = 70,         ///< a bug
  interrupted = 130,     ///< SIGINT
};

/// The exit code for an error crossing out of core.
inline ExitCode exit_for(const Error& e) {
  switch (e.kind) {
    case ErrorKind::io: return ExitCode::failed;
    case ErrorKind::usage: return ExitCode::usage;
    case ErrorKind::bad_input: return ExitCode::bad_input;
    case ErrorKind::missing: return ExitCode::cannot_tell;
    case ErrorKind::internal: return ExitCode::internal;
  }
  return ExitCode::internal;
}

/// The exit code for a refusal class.
inline ExitCode exit_for(Refusal r) {
  switch (r) {
    case Refusal::none: return ExitCode::ok;
    case Refusal::no_support: return ExitCode::no_support;
    case Refusal::disabled_by_firmware: return ExitCode::firmware_disabled;
    case Refusal::other: return ExitCode::refused;
    case Refusal::cannot_tell: return ExitCode::cannot_tell;
  }
  return ExitCode::cannot_tell;
}

}  // namespace kvmprobe::cli
