#include "core/collect/driver_device.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace kvmprobe::collect {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

Result<std::unique_ptr<SystemDriverFd>> SystemDriverFd::open(const std::string& path,
                                                            DriverAccess access) {
  int flags = (access == DriverAccess::read_write ? O_RDWR : O_RDONLY) | O_CLOEXEC;
  int fd;
  do {
    fd = ::open(path.c_str(), flags);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return driver_open_error(path, errno);
  return std::unique_ptr<SystemDriverFd>(new SystemDriverFd(fd));
}

SystemDriverFd::~SystemDriverFd() { ::close(fd_); }

int SystemDriverFd::ioctl(unsigned long request, void* arg) {
  int rc;
  do {
    rc = ::ioctl(fd_, request, arg);
  } while (rc < 0 && errno == EINTR);
  return rc < 0 ? errno : 0;
}

Error driver_open_error(const std::string& path, int err) {
  switch (err) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
      return make_error(ErrorKind::missing,
                        "the kvmprobe driver is not loaded (" + path + ": " + errno_text(err) + ")",
                        "load it as root with 'kvmprobe driver load', or use --backend msr", err);
    case EACCES:
    case EPERM:
      return make_error(ErrorKind::missing,
                        "cannot open " + path + ": " + errno_text(err) +
                            " (the kvmprobe driver is for root only: CAP_SYS_RAWIO)",
                        "run kvmprobe as root", err);
    default:
      return make_error(ErrorKind::io, "cannot open " + path + ": " + errno_text(err), {}, err);
  }
}

Result<DriverDevice> DriverDevice::open(const std::string& path, DriverAccess access) {
  auto fd = SystemDriverFd::open(path, access);
  if (!fd) return fd.error();
  return attach(std::move(fd).value(), path);
}

Result<DriverDevice> DriverDevice::attach(std::unique_ptr<DriverFd> fd, std::string path) {
  kvmprobe_version v{};
  if (int err = fd->ioctl(KVMPROBE_IOC_GET_VERSION, &v); err != 0) {
    // ENOTTY: the node answers but is not this driver (or one too old to know the command).
    if (err == ENOTTY)
      return make_error(ErrorKind::missing, path + " does not answer KVMPROBE_IOC_GET_VERSION",
                        "is it the kvmprobe driver? 'kvmprobe driver status' says more", err);
    if (err == EPERM || err == EACCES) return driver_open_error(path, err);
    return make_error(ErrorKind::io,
                      path + ": KVMPROBE_IOC_GET_VERSION: " + errno_text(err), {}, err);
  }
  if (v.abi_version != KVMPROBE_ABI_VERSION)
    return make_error(ErrorKind::missing,
                      path + " speaks driver ABI version " + std::to_string(v.abi_version) +
                          ", this kvmprobe speaks " + std::to_string(KVMPROBE_ABI_VERSION),
                      "load the kvmprobe.ko built from this kvmprobe's source "
                      "('kvmprobe driver unload', then 'kvmprobe driver load')",
                      EPROTO);
  return DriverDevice(std::move(fd), std::move(path), v);
}

std::size_t DriverDevice::max_batch() const {
  std::size_t m = version_.max_msrs;
  return std::clamp<std::size_t>(m, 1, KVMPROBE_MAX_MSRS);
}

Error DriverDevice::call_error(const char* name, unsigned cpu, int err) const {
  return make_error(ErrorKind::io,
                    path_ + ": " + name + " on CPU " + std::to_string(cpu) + ": " + errno_text(err),
                    {}, err);
}

Result<std::uint32_t> DriverDevice::read_msrs(unsigned cpu, std::span<kvmprobe_msr_entry> entries) {
  if (entries.empty() || entries.size() > max_batch())
    return make_error(ErrorKind::internal,
                      "READ_MSRS batch of " + std::to_string(entries.size()) + " entries", {},
                      EINVAL);
  kvmprobe_read_msrs req{};
  req.cpu = cpu;
  req.nmsrs = static_cast<__u32>(entries.size());
  req.entries = reinterpret_cast<std::uintptr_t>(entries.data());
  if (int err = fd_->ioctl(KVMPROBE_IOC_READ_MSRS, &req); err != 0)
    return call_error("READ_MSRS", cpu, err);
  return req.nfaulted;
}

Result<kvmprobe_cpu_state> DriverDevice::cpu_state(unsigned cpu) {
  kvmprobe_cpu_state st{};
  st.cpu = cpu;
  if (int err = fd_->ioctl(KVMPROBE_IOC_CPU_STATE, &st); err != 0)
    return call_error("CPU_STATE", cpu, err);
  return st;
}

Result<kvmprobe_tsc> DriverDevice::tsc() {
  kvmprobe_tsc t{};
  if (int err = fd_->ioctl(KVMPROBE_IOC_TSC, &t); err != 0)
    return make_error(ErrorKind::io, path_ + ": TSC: " + errno_text(err), {}, err);
  return t;
}

}  // namespace kvmprobe::collect
