// compat and check --diff-kernel share how sides are obtained and how verdicts become exit codes.
#pragma once

#include <string>

#include "cli/exit_codes.h"
#include "cli/global_options.h"

namespace kvmprobe::cli {

/// kvmprobe check --diff-kernel NEW: this host (or --from) on its kernel against kernel NEW.
ExitCode run_diff_kernel(const GlobalOptions& g, const std::string& new_kernel);

}  // namespace kvmprobe::cli
