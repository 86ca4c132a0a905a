#include "core/driver/module_system.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "core/collect/driver_device.h"
#include "core/collect/kernel_log.h"
#include "core/collect/sysfs_reader.h"

namespace kvmprobe::driver {

namespace {

constexpr std::array<const char*, 4> kProgramDirs = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};

}  // namespace

struct SystemModuleSystem::Impl {
  collect::RootedSysfsReader fs{"/"};
  collect::SystemKernelLog log;
};

SystemModuleSystem::SystemModuleSystem() : impl_(std::make_unique<Impl>()) {}
SystemModuleSystem::~SystemModuleSystem() = default;

collect::SysfsReader& SystemModuleSystem::fs() { return impl_->fs; }

std::string SystemModuleSystem::kernel_release() {
  utsname u{};
  return ::uname(&u) == 0 ? u.release : "";
}

bool SystemModuleSystem::is_root() { return ::geteuid() == 0; }

Result<NodeInfo> SystemModuleSystem::stat(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return make_error(ErrorKind::missing, path + ": " + std::strerror(errno), {}, errno);
  return NodeInfo{S_ISCHR(st.st_mode), static_cast<unsigned>(st.st_mode & 07777), st.st_uid,
                  st.st_gid};
}

int SystemModuleSystem::finit_module(const std::string& path, const std::string& params) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  long rc = ::syscall(SYS_finit_module, fd, params.c_str(), 0);
  int err = rc == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

int SystemModuleSystem::delete_module(const std::string& name) {
  return ::syscall(SYS_delete_module, name.c_str(), O_NONBLOCK) == 0 ? 0 : errno;
}

std::optional<std::string> SystemModuleSystem::find_program(std::string_view name) {
  for (const char* dir : kProgramDirs) {
    std::string p = std::string(dir) + "/" + std::string(name);
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return std::nullopt;
}

Result<ProgramResult> SystemModuleSystem::run(const std::vector<std::string>& argv) {
  return run_program(argv);
}

Result<std::vector<std::string>> SystemModuleSystem::kernel_log() { return impl_->log.read_lines(); }

Result<collect::DriverInfo> SystemModuleSystem::driver_version(const std::string& path) {
  // The raw answer, without DriverDevice's ABI check: status shows whatever version it is.
  auto fd = collect::SystemDriverFd::open(path, collect::DriverAccess::read_only);
  if (!fd) return fd.error();
  kvmprobe_version v{};
  if (int err = (*fd)->ioctl(KVMPROBE_IOC_GET_VERSION, &v); err != 0)
    return make_error(ErrorKind::io, path + ": KVMPROBE_IOC_GET_VERSION: " + std::strerror(err),
                      {}, err);
  return collect::DriverInfo{v.abi_version, v.caps, v.max_msrs, v.nr_cpu_ids};
}

}  // namespace kvmprobe::driver
