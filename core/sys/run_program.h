// run_program(): start a program without a shell, feed it input, collect what it prints, with a
// deadline. `kvmprobe driver` (modprobe, dkms), collect (modprobe msr) and the xz decompression
// of recorded hosts and dumps (collect/whole_file.cc) use it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/model/result.h"

namespace kvmprobe::sys {

/// How a program ended.
struct ProgramResult {
  int exit_status = 0;        ///< its exit status (128 + n when killed by signal n)
  std::string output;         ///< stdout (and stderr unless ProgramIo::separate_stderr)
  std::string errors;         ///< stderr with ProgramIo::separate_stderr, at most 4 KiB
  bool output_over = false;   ///< it printed more than ProgramIo::max_output
};

/// What run_program() gives the child and takes from it.
struct ProgramIo {
  /// Written to the child's stdin, which is then closed; when empty, stdin is /dev/null. stdin
  /// is a socket, so a child that exits without reading all of it costs us EPIPE, not SIGPIPE.
  std::string_view input;
  bool separate_stderr = false;          ///< stderr into ProgramResult::errors, not output
  std::size_t max_output = 64 * 1024;    ///< output kept at most; the rest is dropped ...
  bool kill_when_over = false;           ///< ... or the child is killed at once (output_over set)
  bool search_path = false;              ///< argv[0] may be a bare name found through PATH
  int timeout_ms = 30000;                ///< then SIGKILL and an Error (ETIMEDOUT); < 0: none
};

/// Runs \a argv with \a io. Errors: the program cannot be started (ErrorKind::io, err = the
/// errno of posix_spawn, e.g. ENOENT), the deadline passed (ETIMEDOUT), a pipe failed.
Result<ProgramResult> run_program(const std::vector<std::string>& argv, const ProgramIo& io);

/// Runs \a argv (argv[0] a full path) with stdin /dev/null and stdout+stderr captured together
/// (at most 64 KiB). After \a timeout_ms the child gets SIGKILL and the result is an Error.
inline Result<ProgramResult> run_program(const std::vector<std::string>& argv, int timeout_ms = 30000) {
  ProgramIo io;
  io.timeout_ms = timeout_ms;
  return run_program(argv, io);
}

}  // namespace kvmprobe::sys
