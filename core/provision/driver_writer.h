// DriverMsrWriter: the companion driver's guarded write (/dev/kvmprobe, KVMPROBE_IOC_GUARDED_WRITE,
// msr-driver/include/uapi/kvmprobe.h). Only allow-listed bits: 0x3a may only gain bits 0, 1, 2,
// 17, 18, 20; VM_CR may only lose SVMDIS; nothing on a locked MSR. The driver reads, checks the
// lock, writes and reads back on the target CPU in one cross-CPU call, refuses under kernel
// lockdown, and returns EIO with the struct when the read-back differs.
//
// This is the write side only; reads for collect() live in core/collect/driver_device.h.
#pragma once

#include <memory>
#include <string>

#include "core/model/result.h"
#include "core/provision/msr_writer.h"

namespace kvmprobe::provision {

/// /dev/kvmprobe opened read-write.
class DriverMsrWriter final : public MsrWriter {
 public:
  /// Opens \a device, checks the ABI version and that GUARDED_WRITE is enabled (the module
  /// was not loaded with allow_writes=0). ErrorKind::missing names what is missing.
  static Result<std::unique_ptr<DriverMsrWriter>> open(const std::string& device = "/dev/kvmprobe");
  ~DriverMsrWriter() override;
  DriverMsrWriter(const DriverMsrWriter&) = delete;
  DriverMsrWriter& operator=(const DriverMsrWriter&) = delete;

  std::string_view backend_name() const override { return "driver"; }
  std::string device() const override { return device_; }
  /// KVMPROBE_IOC_READ_MSRS with one entry.
  MsrRead read(unsigned cpu, std::uint32_t index) override;
  /// KVMPROBE_IOC_GUARDED_WRITE; EPERM (allow-list, lock, lockdown) is WriteStatus::refused.
  WriteOutcome modify(unsigned cpu, std::uint32_t index, std::uint64_t set, std::uint64_t clear) override;

 private:
  DriverMsrWriter(int fd, std::string device) : fd_(fd), device_(std::move(device)) {}
  int fd_;
  std::string device_;
};

}  // namespace kvmprobe::provision
