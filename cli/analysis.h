// Shared by the commands that analyse a host: obtain snapshot + profile, run analyse().
#pragma once

#include "cli/global_options.h"
#include "core/model/report.h"

namespace kvmprobe::cli {

/// Everything analyse() needs, obtained from the options.
struct Inputs {
  Snapshot snap;
  ProfileChoice profile;
  std::map<std::string, std::string> overrides;
};

/// Snapshot (collected or --from), profile (--kernel or the snapshot's), --param overrides.
Result<Inputs> obtain_inputs(const GlobalOptions& g);

/// Collect (or load --from), choose the profile, analyse.
Result<Report> run_analysis(const GlobalOptions& g);
/// Exit code of a check report: 0 when KVM is usable here or the vendor module would load.
ExitCode check_exit(const Report& r);

}  // namespace kvmprobe::cli
