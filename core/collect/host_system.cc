#include "core/collect/host_system.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

extern char** environ;

namespace kvmprobe::collect {

namespace {

constexpr int kModprobeTimeoutMs = 10000;
constexpr std::array<const char*, 4> kModprobePaths = {"/sbin/modprobe", "/usr/sbin/modprobe",
                                                       "/bin/modprobe", "/usr/bin/modprobe"};

}  // namespace

std::string SystemHost::kernel_release() {
  utsname u{};
  return ::uname(&u) == 0 ? u.release : "";
}

std::string SystemHost::kernel_version() {
  utsname u{};
  return ::uname(&u) == 0 ? u.version : "";
}

std::string SystemHost::hostname() {
  utsname u{};
  return ::uname(&u) == 0 ? u.nodename : "";
}

bool SystemHost::is_root() { return ::geteuid() == 0; }

std::string SystemHost::utc_now_iso() {
  time_t now = ::time(nullptr);
  tm t{};
  if (!::gmtime_r(&now, &t)) return "";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &t);
  return buf;
}

Result<int> SystemHost::modprobe(std::string_view module, std::string& output) {
  output.clear();
  const char* exe = nullptr;
  for (const char* p : kModprobePaths)
    if (::access(p, X_OK) == 0) {
      exe = p;
      break;
    }
  if (!exe) return make_error(ErrorKind::missing, "modprobe not found", {}, ENOENT);

  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0)
    return make_error(ErrorKind::io, std::string("pipe: ") + std::strerror(errno), {}, errno);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
  std::string name(module);
  char* argv[] = {const_cast<char*>("modprobe"), name.data(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, exe, &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    return make_error(ErrorKind::io, std::string("cannot run ") + exe + ": " + std::strerror(rc),
                      {}, rc);
  }

  // Read stderr until EOF or the deadline; keep the first line only.
  std::string err_text;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kModprobeTimeoutMs);
  bool timed_out = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{pipefd[0], POLLIN, 0};
    int pr = ::poll(&p, 1, static_cast<int>(left));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) {
      timed_out = pr == 0;
      break;
    }
    char buf[512];
    ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (err_text.size() < 4096) err_text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipefd[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  output = err_text.substr(0, err_text.find('\n'));
  if (timed_out)
    return make_error(ErrorKind::io, "modprobe " + name + " did not finish within 10 s", {},
                      ETIMEDOUT);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return make_error(ErrorKind::io, "modprobe " + name + " killed by signal " +
                                       std::to_string(WIFSIGNALED(status) ? WTERMSIG(status) : 0));
}

}  // namespace kvmprobe::collect
