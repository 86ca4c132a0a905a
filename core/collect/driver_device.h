// DriverDevice: the companion driver's /dev/kvmprobe (msr-driver/), opened once and asked
// through the ioctls of its uapi header, msr-driver/include/uapi/kvmprobe.h, included here
// unchanged. That header's top comment is the reference for every command and errno.
//
// This file holds the device and the read-side calls. Commands that write (enable-vmx,
// provision) open the device with DriverAccess::read_write and issue KVMPROBE_IOC_GUARDED_WRITE
// through DriverDevice::call(), with their own struct handling:
//
//   auto dev = collect::DriverDevice::open(collect::kDriverDevicePath,
//                                          collect::DriverAccess::read_write);
//   if (!dev) return dev.error();                  // not loaded, not root, other ABI
//   if (!dev->has_cap(KVMPROBE_CAP_GUARDED_WRITE)) ...  // loaded with allow_writes=0
//   kvmprobe_guarded_write gw{};                   // reserved fields must be zero
//   gw.cpu = cpu; gw.msr = KVMPROBE_MSR_FEAT_CTL; gw.set_mask = ...;
//   int err = dev->call(KVMPROBE_IOC_GUARDED_WRITE, &gw);  // 0 or errno; on EIO gw is filled
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/model/result.h"
#include "uapi/kvmprobe.h"

namespace kvmprobe::collect {

/// Where the companion driver's misc device appears.
inline constexpr const char* kDriverDevicePath = "/dev/" KVMPROBE_DEVICE_NAME;

/// The raw ioctl seam under DriverDevice: an open /dev/kvmprobe, or a fake kernel in tests.
class DriverFd {
 public:
  virtual ~DriverFd() = default;
  /// ioctl(fd, \a request, \a arg): 0, or the errno it failed with.
  virtual int ioctl(unsigned long request, void* arg) = 0;
};

/// How to open the device. Every read works on a read-only file; GUARDED_WRITE needs a file
/// open for writing (EBADF otherwise).
enum class DriverAccess { read_only, read_write };

/// An open file descriptor of the real device (closed on destruction); EINTR is retried.
class SystemDriverFd final : public DriverFd {
 public:
  /// Opens \a path: the fd, or the errno of open(2).
  static Result<std::unique_ptr<SystemDriverFd>> open(const std::string& path, DriverAccess access);
  ~SystemDriverFd() override;
  SystemDriverFd(const SystemDriverFd&) = delete;
  SystemDriverFd& operator=(const SystemDriverFd&) = delete;
  int ioctl(unsigned long request, void* arg) override;

 private:
  explicit SystemDriverFd(int fd) : fd_(fd) {}
  int fd_;
};

/// /dev/kvmprobe, open, with its GET_VERSION answer checked against the ABI this kvmprobe was
/// built with (KVMPROBE_ABI_VERSION). Move-only.
class DriverDevice {
 public:
  /// Opens \a path and asks GET_VERSION. Errors (all with the errno in Error::err):
  /// ENOENT/ENODEV/ENXIO → ErrorKind::missing, hint `kvmprobe driver load`;
  /// EACCES/EPERM (root only, CAP_SYS_RAWIO) → ErrorKind::missing, hint "run as root";
  /// another ABI version → ErrorKind::missing with err EPROTO; anything else → ErrorKind::io.
  static Result<DriverDevice> open(const std::string& path = kDriverDevicePath,
                                   DriverAccess access = DriverAccess::read_only);
  /// The same checks on an fd opened elsewhere (tests pass a fake kernel); \a path names it
  /// in messages.
  static Result<DriverDevice> attach(std::unique_ptr<DriverFd> fd, std::string path);

  /// What GET_VERSION answered (abi_version equals KVMPROBE_ABI_VERSION).
  const kvmprobe_version& version() const { return version_; }
  /// Whether the driver announced the KVMPROBE_CAP_* bit \a cap.
  bool has_cap(std::uint64_t cap) const { return (version_.caps & cap) == cap; }
  /// Largest READ_MSRS batch: the driver's max_msrs, at most KVMPROBE_MAX_MSRS.
  std::size_t max_batch() const;

  /// KVMPROBE_IOC_READ_MSRS: one ioctl reading every entry of \a entries (1..max_batch(),
  /// index filled in) on CPU \a cpu; the driver writes status and value of each. Returns how
  /// many entries faulted.
  Result<std::uint32_t> read_msrs(unsigned cpu, std::span<kvmprobe_msr_entry> entries);
  /// KVMPROBE_IOC_CPU_STATE of CPU \a cpu.
  Result<kvmprobe_cpu_state> cpu_state(unsigned cpu);
  /// KVMPROBE_IOC_TSC: the kernel's tsc_khz and cpu_khz.
  Result<kvmprobe_tsc> tsc();
  /// Any command on the open fd (the writers' GUARDED_WRITE): 0 or the errno.
  int call(unsigned long request, void* arg) { return fd_->ioctl(request, arg); }
  /// The device path, for messages.
  const std::string& path() const { return path_; }

 private:
  DriverDevice(std::unique_ptr<DriverFd> fd, std::string path, const kvmprobe_version& v)
      : fd_(std::move(fd)), path_(std::move(path)), version_(v) {}
  Error call_error(const char* name, unsigned cpu, int err) const;
  std::unique_ptr<DriverFd> fd_;
  std::string path_;
  kvmprobe_version version_{};
};

/// The Error for a failed open(2) of the device \a path with errno \a err (see open()).
Error driver_open_error(const std::string& path, int err);

}  // namespace kvmprobe::collect
