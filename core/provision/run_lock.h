// The run lock: one run that writes MSRs (enable-vmx, provision, restore) at a time.
//
// Two runs at once would read-modify-write the same MSRs and interleave their journal runs;
// each run takes an exclusive flock(2) on one lock file for its whole duration and a second
// run is refused at once (never waits) with the holder's pid. The kernel drops the lock when
// the process ends, even on kill -9, so a crashed run never leaves a stale lock.
#pragma once

#include <string>

#include "core/model/result.h"

namespace kvmprobe::provision {

/// The lock file every writing run takes (its directory is created 0700 when missing).
inline constexpr const char* kDefaultRunLock = "/run/kvmprobe/run.lock";

/// An exclusive lock held until destroyed.
class RunLock {
 public:
  /// Takes the lock on \a path without waiting. ErrorKind::io with "another kvmprobe run
  /// (pid N) is writing MSRs" when it is held; the file must be a regular file owned by the
  /// caller in a directory only its owner can write (never a symlink).
  static Result<RunLock> acquire(const std::string& path = kDefaultRunLock);
  RunLock(RunLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  RunLock& operator=(RunLock&&) = delete;
  RunLock(const RunLock&) = delete;
  ~RunLock();

 private:
  explicit RunLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace kvmprobe::provision
