#include "core/provision/driver_writer.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "uapi/kvmprobe.h"

namespace kvmprobe::provision {
namespace {

int ioctl_retry(int fd, unsigned long cmd, void* arg) {
  int r;
  do {
    r = ::ioctl(fd, cmd, arg);
  } while (r < 0 && errno == EINTR);
  return r < 0 ? errno : 0;
}

}  // namespace

Result<std::unique_ptr<DriverMsrWriter>> DriverMsrWriter::open(const std::string& device) {
  int fd = ::open(device.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return make_error(err == EACCES || err == EPERM ? ErrorKind::io : ErrorKind::missing,
                      fmt::format("cannot open {} read-write: {}", device, std::strerror(err)),
                      err == ENOENT ? "load the companion driver: insmod kvmprobe.ko (msr-driver/README.md)"
                                    : "run as root (the driver needs CAP_SYS_RAWIO)",
                      err);
  }
  kvmprobe_version v{};
  if (int err = ioctl_retry(fd, KVMPROBE_IOC_GET_VERSION, &v); err != 0) {
    ::close(fd);
    return make_error(ErrorKind::missing, fmt::format("{}: GET_VERSION failed: {}", device, std::strerror(err)),
                      "is /dev/kvmprobe the kvmprobe companion driver?", err);
  }
  if (v.abi_version != KVMPROBE_ABI_VERSION) {
    ::close(fd);
    return make_error(ErrorKind::missing,
                      fmt::format("{} speaks ABI {}, this kvmprobe ABI {}", device, v.abi_version, KVMPROBE_ABI_VERSION),
                      "load the kvmprobe.ko built from the same source as this kvmprobe");
  }
  if (!(v.caps & KVMPROBE_CAP_GUARDED_WRITE)) {
    ::close(fd);
    return make_error(ErrorKind::missing, fmt::format("{} was loaded with allow_writes=0: it refuses writes", device),
                      "reload it without allow_writes=0, or use /dev/cpu/N/msr (modprobe msr)", EPERM);
  }
  return std::unique_ptr<DriverMsrWriter>(new DriverMsrWriter(fd, device));
}

DriverMsrWriter::~DriverMsrWriter() { ::close(fd_); }

MsrRead DriverMsrWriter::read(unsigned cpu, std::uint32_t index) {
  kvmprobe_msr_entry e{};
  e.index = index;
  kvmprobe_read_msrs req{};
  req.cpu = cpu;
  req.nmsrs = 1;
  req.entries = reinterpret_cast<std::uintptr_t>(&e);
  if (int err = ioctl_retry(fd_, KVMPROBE_IOC_READ_MSRS, &req); err != 0)
    return MsrRead{index, err == EPERM || err == EACCES ? ReadStatus::denied : ReadStatus::unavailable, 0, err};
  if (e.status != KVMPROBE_MSR_OK) return MsrRead{index, ReadStatus::fault, 0, EIO};
  return MsrRead{index, ReadStatus::value, e.value, 0};
}

WriteOutcome DriverMsrWriter::modify(unsigned cpu, std::uint32_t index, std::uint64_t set, std::uint64_t clear) {
  kvmprobe_guarded_write w{};
  w.cpu = cpu;
  w.msr = index;
  w.set_mask = set;
  w.clear_mask = clear;
  int err = ioctl_retry(fd_, KVMPROBE_IOC_GUARDED_WRITE, &w);
  WriteOutcome o;
  o.err = err;
  if (w.status & KVMPROBE_GW_READ) o.old_value = w.old_value;
  o.written = w.written;
  if (w.status & KVMPROBE_GW_READBACK) o.readback = w.readback;
  if (err == 0) {
    o.status = (w.status & KVMPROBE_GW_UNCHANGED) ? WriteStatus::unchanged : WriteStatus::ok;
    if (o.status == WriteStatus::ok && !o.readback) o.readback = w.written;  // 0 means it matched
    return o;
  }
  if (err == EIO) {
    // The struct was copied back: status says which step failed.
    if (w.status & KVMPROBE_GW_READ_FAULT) o.status = WriteStatus::read_fault;
    else if (w.status & KVMPROBE_GW_WRITE_FAULT) o.status = WriteStatus::write_fault;
    else if (w.status & KVMPROBE_GW_READBACK_FAULT) o.status = WriteStatus::readback_fault;
    else if (w.status & KVMPROBE_GW_MISMATCH) o.status = WriteStatus::mismatch;
    else o.status = WriteStatus::error;
    o.detail = o.status == WriteStatus::mismatch
                   ? fmt::format("wrote {:#x} to {:#x} on CPU {}, read back {:#x}", w.written, index, cpu, w.readback)
                   : fmt::format("{} GUARDED_WRITE {:#x} on CPU {}: {} (status {:#x})", device_, index, cpu,
                                 to_string(o.status), w.status);
    return o;
  }
  o.status = err == EPERM || err == EACCES ? WriteStatus::refused : WriteStatus::error;
  o.old_value.reset();
  o.readback.reset();
  o.detail = fmt::format("{} GUARDED_WRITE {:#x} set {:#x} clear {:#x} on CPU {}: {}", device_, index, set, clear,
                         cpu, std::strerror(err));
  if (err == EPERM)
    o.detail += " (kernel lockdown, a bit outside the driver's allow-list, or a locked MSR)";
  return o;
}

}  // namespace kvmprobe::provision
