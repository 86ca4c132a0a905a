// DevKvmDevice: the questions kvmprobe asks the running KVM through /dev/kvm (ioctls of
// Documentation/virt/kvm/api.rst).
#pragma once

#include <string>

#include "core/collect/sources.h"

namespace kvmprobe::collect {

/// /dev/kvm, opened read-write once; every answer is an ioctl on that fd (or, for the TSC, on
/// a vCPU of a VM created and destroyed inside vcpu_tsc_khz()).
class DevKvmDevice final : public KvmDevice {
 public:
  /// \a path is the device node ("/dev/kvm").
  explicit DevKvmDevice(std::string path = "/dev/kvm") : path_(std::move(path)) {}
  ~DevKvmDevice() override { close(); }
  DevKvmDevice(const DevKvmDevice&) = delete;
  DevKvmDevice& operator=(const DevKvmDevice&) = delete;

  int open() override;
  Result<int> api_version() override;
  Result<std::vector<std::uint32_t>> msr_index_list() override;
  Result<std::vector<std::uint32_t>> feature_msr_index_list() override;
  Result<std::int64_t> check_extension(long cap) override;
  Result<std::uint64_t> vcpu_tsc_khz() override;
  Result<std::uint64_t> supported_xcr0() override;
  void close() override;

 private:
  Result<std::vector<std::uint32_t>> msr_list(unsigned long request, const char* name);
  std::string path_;
  int fd_ = -1;
};

}  // namespace kvmprobe::collect
