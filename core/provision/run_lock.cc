#include "core/provision/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace kvmprobe::provision {
namespace {

Error lock_error(const std::string& what, int err) {
  return make_error(ErrorKind::io, fmt::format("{}: {}", what, std::strerror(err)), {}, err);
}

}  // namespace

Result<RunLock> RunLock::acquire(const std::string& path) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.empty()) return make_error(ErrorKind::usage, fmt::format("lock path '{}' names no file", path));
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return lock_error(fmt::format("cannot create {}", dir), errno);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) return lock_error(fmt::format("cannot open {}", dir), errno);
  struct stat ds {};
  if (::fstat(dfd, &ds) != 0 || (ds.st_mode & (S_IWGRP | S_IWOTH)) || ds.st_uid != ::geteuid()) {
    ::close(dfd);
    return make_error(ErrorKind::io,
                      fmt::format("lock directory {} is not a directory only this user can write", dir));
  }
  int fd = ::openat(dfd, name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
  int err = errno;
  ::close(dfd);
  if (fd < 0) return lock_error(fmt::format("cannot open the run lock {}", path), err);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid()) {
    ::close(fd);
    return make_error(ErrorKind::io, fmt::format("run lock {} is not a regular file owned by this user", path));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    err = errno;
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    if (err != EWOULDBLOCK) return lock_error(fmt::format("cannot lock {}", path), err);
    std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return make_error(ErrorKind::io,
                      fmt::format("another kvmprobe run{} is writing MSRs (it holds {}): nothing was done",
                                  pid.empty() ? "" : " (pid " + pid + ")", path),
                      "wait for it to end, then run again", EWOULDBLOCK);
  }
  // Who holds it, for the message of a run refused meanwhile.
  std::string me = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, me.data(), me.size(), 0);
  return RunLock(fd);
}

RunLock::~RunLock() {
  if (fd_ < 0) return;
  (void)!::ftruncate(fd_, 0);  // no stale pid for a holder that is not kvmprobe
  ::close(fd_);
}

}  // namespace kvmprobe::provision
