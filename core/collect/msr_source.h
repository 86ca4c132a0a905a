// DevMsrSource: RDMSR through /dev/cpu/N/msr (arch/x86/kernel/msr.c, the `msr` module).
//
// The companion driver (/dev/kvmprobe) is the other MsrSource, DriverSource (driver_source.h),
// which reads a whole batch in one ioctl; collect() prefers it when it opens.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/collect/cpu_pinning.h"
#include "core/collect/sources.h"

namespace kvmprobe::collect {

/// How a failed pread of /dev/cpu/N/msr is recorded: EIO means the CPU raised #GP (msr.c uses
/// rdmsr_safe_on_cpu), EACCES/EPERM that the caller may not read, anything else (ENOENT, ENXIO:
/// no node or CPU offline) that there is no access path.
ReadStatus msr_status_from_read_errno(int err);

/// How a failed open of /dev/cpu/N/msr is recorded: EACCES/EPERM (msr_open needs
/// CAP_SYS_RAWIO) → denied; anything else (ENOENT, ENXIO, EIO = CPU without MSRs) → unavailable.
ReadStatus msr_status_from_open_errno(int err);

/// /dev/cpu/N/msr: pread of 8 bytes at offset `index`. Each CPU's node is opened once. With a
/// pinner, read_many() first moves the thread onto the CPU it reads, so msr.c's
/// rdmsr_safe_on_cpu() runs locally instead of sending an IPI per MSR.
class DevMsrSource final : public MsrSource {
 public:
  /// \a dev_dir is the directory holding N/msr ("/dev/cpu"); \a pinner may be null.
  explicit DevMsrSource(std::string dev_dir = "/dev/cpu", CpuPinner* pinner = nullptr);
  ~DevMsrSource() override;
  DevMsrSource(const DevMsrSource&) = delete;
  DevMsrSource& operator=(const DevMsrSource&) = delete;

  std::string_view backend_name() const override { return "msr"; }
  int probe(unsigned cpu) override;
  MsrRead read(unsigned cpu, std::uint32_t index) override;
  std::vector<MsrRead> read_many(unsigned cpu, std::span<const std::uint32_t> indices) override;
  void finish() override {
    if (pinner_) pinner_->restore();
  }
  /// Closes every node.
  void reset();

 private:
  struct Node {
    int fd = -1;
    int err = -1;  ///< -1 not tried yet, 0 open, else errno of the last failed open
  };
  MsrRead read_fd(int fd, std::uint32_t index);
  std::string dev_dir_;
  CpuPinner* pinner_;
  std::vector<Node> nodes_;
};

}  // namespace kvmprobe::collect
