// Shared by the commands that write MSRs (enable-vmx, provision, restore): refusing non-root
// callers, planning from a snapshot, confirming, opening the write path and the journal,
// applying, and the exit code of each outcome.
#pragma once

#include <optional>
#include <string>

#include "cli/global_options.h"
#include "cli/options.h"
#include "cli/write_exit.h"
#include "core/provision/apply.h"
#include "core/provision/journal.h"
#include "core/provision/plan.h"
#include "core/provision/writers.h"

namespace kvmprobe::cli {

/// A plan and what it was made from.
struct Planned {
  Snapshot snap;
  ProfileChoice profile;
  provision::Plan plan;
};

/// Error (exit 16) unless the caller is root; \a what names the command.
std::optional<Error> require_root(const char* what);

/// report_error() with the exit code \a code instead of the one of e.kind.
ExitCode report_error_code(const GlobalOptions& g, const Error& e, ExitCode code);

/// Collect (or --from, only with --dry-run), choose the kernel profile, plan \a want.
Result<Planned> plan_for(const GlobalOptions& g, const WriteOptions& w, const provision::DesiredState& want,
                         const provision::PlanOptions& options);

/// --backend as a write path; usage error for "none".
Result<provision::WriteBackend> write_backend(const GlobalOptions& g);

/// Asks on the terminal unless --yes; usage error when stdin is not a terminal.
std::optional<Error> confirm(const WriteOptions& w, const provision::Plan& plan);

/// A unique run id ("20261128T130500Z-1234") and the current time as ISO 8601 UTC.
std::pair<std::string, std::string> run_id_and_time();

/// Applies \a plan: opens the write path and the journal, then provision::apply().
Result<provision::ApplyResult> apply_plan(const GlobalOptions& g, const WriteOptions& w, const provision::Plan& plan,
                                          const char* command, std::string& run_id);

/// Prints \a text unless --quiet or JSON; under --quiet a failing \a code prints \a why on stderr.
void print_text(const GlobalOptions& g, const std::string& text, ExitCode code, const std::string& why,
                const std::string& hint = {});

}  // namespace kvmprobe::cli
