// run_program(): start a program without a shell and collect what it prints, with a deadline.
// `kvmprobe driver` (modprobe, dkms) and collect (modprobe msr) use it.
#pragma once

#include <string>
#include <vector>

#include "core/model/result.h"

namespace kvmprobe::sys {

/// How a program ended.
struct ProgramResult {
  int exit_status = 0;  ///< its exit status (128 + n when killed by signal n)
  std::string output;   ///< stdout and stderr together, at most 64 KiB
};

/// Runs \a argv (argv[0] a full path) with stdin /dev/null and stdout+stderr captured. After
/// \a timeout_ms the child gets SIGKILL and the result is an Error (ETIMEDOUT).
Result<ProgramResult> run_program(const std::vector<std::string>& argv, int timeout_ms = 30000);

}  // namespace kvmprobe::sys
