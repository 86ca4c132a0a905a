// DriverSource: collect()'s reads through the companion driver, /dev/kvmprobe (issue 4).
//
// Unlike /dev/cpu/N/msr (one pread and one IPI per MSR per CPU), READ_MSRS reads a batch of
// up to 256 MSRs on one CPU in one ioctl and one cross-CPU call, so read_many() costs
// ceil(n / 256) ioctls per CPU whatever n is. CPU_STATE adds what user space cannot read at
// all (CR0, CR4, EFER), and TSC the kernel's own tsc_khz.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/collect/driver_device.h"
#include "core/collect/sources.h"

namespace kvmprobe::collect {

/// How a driver call's errno is recorded for every MSR it would have read: EACCES/EPERM →
/// denied, anything else (ENXIO: CPU offline, EFAULT, ENOMEM) → unavailable.
ReadStatus driver_status_from_errno(int err);

/// The companion driver as an MsrSource (READ_MSRS) and a DriverStateSource (CPU_STATE, TSC).
/// The device is opened on the first open() or probe(), read-only, and kept open.
class DriverSource final : public MsrSource, public DriverStateSource {
 public:
  /// How the device is opened; the default opens \a path with DriverDevice::open().
  using Opener = std::function<Result<DriverDevice>()>;
  /// Reads through \a path ("/dev/kvmprobe").
  explicit DriverSource(std::string path = kDriverDevicePath);
  /// Reads through whatever \a opener opens (tests: a fake kernel).
  explicit DriverSource(Opener opener);

  // DriverStateSource
  Result<DriverInfo> open() override;
  Result<CpuControlRegs> cpu_state(unsigned cpu) override;
  Result<std::uint64_t> kernel_tsc_khz() override;

  // MsrSource
  std::string_view backend_name() const override { return "driver"; }
  /// 0 when the device is open and \a cpu below its nr_cpu_ids; else the open's errno (EPROTO:
  /// another ABI version) or ENXIO.
  int probe(unsigned cpu) override;
  MsrRead read(unsigned cpu, std::uint32_t index) override;
  /// One READ_MSRS ioctl per batch of max_batch() indices (one for every list collect() reads).
  std::vector<MsrRead> read_many(unsigned cpu, std::span<const std::uint32_t> indices) override;

 private:
  Opener opener_;
  std::optional<DriverDevice> dev_;
};

}  // namespace kvmprobe::collect
