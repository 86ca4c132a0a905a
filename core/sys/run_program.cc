#include "core/sys/run_program.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

extern char** environ;

namespace kvmprobe::sys {

namespace {

constexpr std::size_t kMaxErrors = 4096;

/// Closes a descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

Error sys_error(const std::string& what, int err) {
  return make_error(ErrorKind::io, what + ": " + std::strerror(err), {}, err);
}

/// Both ends of a pipe (or of a socket pair for stdin), close-on-exec.
bool make_pair(bool socket, int fds[2]) {
  return socket ? ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0 : ::pipe2(fds, O_CLOEXEC) == 0;
}

}  // namespace

Result<ProgramResult> run_program(const std::vector<std::string>& argv, const ProgramIo& io) {
  if (argv.empty()) return make_error(ErrorKind::internal, "run_program: no program");
  int in[2] = {-1, -1}, out[2], err[2] = {-1, -1};
  if (!io.input.empty() && !make_pair(true, in)) return sys_error("socketpair", errno);
  Fd in_parent(in[0]), in_child(in[1]);
  if (!make_pair(false, out)) return sys_error("pipe", errno);
  Fd out_parent(out[0]), out_child(out[1]);
  if (io.separate_stderr && !make_pair(false, err)) return sys_error("pipe", errno);
  Fd err_parent(err[0]), err_child(err[1]);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (in_child.get() >= 0)
    posix_spawn_file_actions_adddup2(&fa, in_child.get(), 0);
  else
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_child.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, io.separate_stderr ? err_child.get() : out_child.get(), 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = io.search_path ? ::posix_spawnp(&pid, argv[0].c_str(), &fa, nullptr, args.data(), environ)
                          : ::posix_spawn(&pid, argv[0].c_str(), &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  in_child.reset();
  out_child.reset();
  err_child.reset();
  if (rc != 0) return make_error(ErrorKind::io, "cannot run " + argv[0] + ": " + std::strerror(rc), {}, rc);
  for (const Fd* f : {&in_parent, &out_parent, &err_parent})
    if (f->get() >= 0) ::fcntl(f->get(), F_SETFL, ::fcntl(f->get(), F_GETFL) | O_NONBLOCK);

  ProgramResult result;
  std::size_t sent = 0;
  bool timed_out = false;
  int poll_errno = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(io.timeout_ms, 0));
  while (out_parent.get() >= 0 || err_parent.get() >= 0) {
    int wait_ms = -1;
    if (io.timeout_ms >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(left.count());
    }
    // A closed descriptor (-1) is ignored by poll().
    pollfd fds[3] = {{in_parent.get(), POLLOUT, 0}, {out_parent.get(), POLLIN, 0}, {err_parent.get(), POLLIN, 0}};
    int pr = ::poll(fds, 3, wait_ms);
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) {
      poll_errno = errno;
      break;
    }
    if (pr == 0) continue;  // the deadline check above ends the loop
    if (in_parent.get() >= 0 && (fds[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
      std::size_t chunk = std::min<std::size_t>(io.input.size() - sent, 1 << 16);
      ssize_t n = ::send(in_parent.get(), io.input.data() + sent, chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) sent += static_cast<std::size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || sent == io.input.size()) in_parent.reset();
    }
    for (int i : {1, 2}) {
      Fd& f = i == 1 ? out_parent : err_parent;
      if (f.get() < 0 || !(fds[i].revents & (POLLIN | POLLERR | POLLHUP))) continue;
      char buf[1 << 16];
      ssize_t n = ::read(f.get(), buf, sizeof buf);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) {
        f.reset();
        continue;
      }
      std::string& to = i == 1 ? result.output : result.errors;
      std::size_t cap = i == 1 ? io.max_output : kMaxErrors;
      if (to.size() + static_cast<std::size_t>(n) > cap) {
        if (i == 1) result.output_over = true;
        to.append(buf, cap - std::min(cap, to.size()));
      } else {
        to.append(buf, static_cast<std::size_t>(n));
      }
    }
    if (result.output_over && io.kill_when_over) break;
  }
  // Kill before closing our ends: a child still writing would otherwise die of SIGPIPE first
  // (seen under load: exit 141 instead of 137).
  if (timed_out || poll_errno || (result.output_over && io.kill_when_over)) ::kill(pid, SIGKILL);
  in_parent.reset();
  out_parent.reset();
  err_parent.reset();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    return make_error(ErrorKind::io, argv[0] + " did not finish within " + std::to_string(io.timeout_ms / 1000) + " s",
                      {}, ETIMEDOUT);
  if (poll_errno) return sys_error("poll", poll_errno);
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace kvmprobe::sys
