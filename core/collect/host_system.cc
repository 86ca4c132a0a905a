#include "core/collect/host_system.h"

#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "core/sys/run_program.h"

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
  std::string name(module);
  auto r = sys::run_program({exe, name}, kModprobeTimeoutMs);
  if (!r) return r.error();
  output = r->output.substr(0, r->output.find('\n'));  // the first line says why
  return r->exit_status;
}

}  // namespace kvmprobe::collect
