// A fake /dev/kvmprobe: a DriverFd that answers the ioctls of msr-driver/include/uapi/kvmprobe.h
// from tables, with the driver's argument checks, and counts the calls, so DriverDevice and
// DriverSource are tested without the module.
#pragma once

#include <cerrno>
#include <cstdint>
#include <map>
#include <memory>
#include <utility>

#include "core/collect/driver_device.h"

namespace kvmprobe::testing {

/// The driver's state, shared by every FakeDriverFd made from it (the test keeps it).
struct FakeDriverKernel {
  std::uint32_t abi_version = KVMPROBE_ABI_VERSION;
  std::uint64_t caps = KVMPROBE_CAP_READ_MSRS | KVMPROBE_CAP_CPU_STATE | KVMPROBE_CAP_TSC;
  std::uint32_t max_msrs = KVMPROBE_MAX_MSRS;
  std::uint32_t nr_cpu_ids = 2;
  std::map<std::pair<unsigned, std::uint32_t>, std::uint64_t> msrs;  ///< unset ones #GP
  std::map<unsigned, kvmprobe_cpu_state> state;  ///< cpu_state answer per CPU (cpu filled in)
  std::uint32_t tsc_khz = 2000000, cpu_khz = 2000000;
  int fail_errno = 0;  ///< every ioctl but GET_VERSION fails with this when nonzero
  std::map<unsigned long, int> calls;  ///< ioctl count per request number
  int total_calls = 0;

  int read_msrs(kvmprobe_read_msrs& r) {
    if (r.flags || r.reserved[0] || r.reserved[1] || r.nmsrs == 0 || r.nmsrs > max_msrs)
      return EINVAL;
    if (r.cpu >= nr_cpu_ids) return ENXIO;
    auto* e = reinterpret_cast<kvmprobe_msr_entry*>(static_cast<std::uintptr_t>(r.entries));
    r.nfaulted = 0;
    for (std::uint32_t i = 0; i < r.nmsrs; ++i) {
      auto it = msrs.find({r.cpu, e[i].index});
      e[i].status = it == msrs.end() ? KVMPROBE_MSR_FAULT : KVMPROBE_MSR_OK;
      e[i].value = it == msrs.end() ? 0 : it->second;
      r.nfaulted += it == msrs.end();
    }
    return 0;
  }

  int ioctl(unsigned long request, void* arg) {
    ++calls[request];
    ++total_calls;
    if (request == KVMPROBE_IOC_GET_VERSION) {
      auto& v = *static_cast<kvmprobe_version*>(arg);
      v = kvmprobe_version{};
      v.abi_version = abi_version;
      v.max_msrs = max_msrs;
      v.caps = caps;
      v.nr_cpu_ids = nr_cpu_ids;
      return 0;
    }
    if (fail_errno) return fail_errno;
    switch (request) {
      case KVMPROBE_IOC_READ_MSRS: return read_msrs(*static_cast<kvmprobe_read_msrs*>(arg));
      case KVMPROBE_IOC_CPU_STATE: {
        auto& st = *static_cast<kvmprobe_cpu_state*>(arg);
        if (st.flags) return EINVAL;
        if (st.cpu >= nr_cpu_ids) return ENXIO;
        unsigned cpu = st.cpu;
        st = state.count(cpu) ? state[cpu] : kvmprobe_cpu_state{};
        st.cpu = cpu;
        return 0;
      }
      case KVMPROBE_IOC_TSC: {
        auto& t = *static_cast<kvmprobe_tsc*>(arg);
        t = kvmprobe_tsc{};
        t.tsc_khz = tsc_khz;
        t.cpu_khz = cpu_khz;
        return 0;
      }
      default: return ENOTTY;
    }
  }
};

/// One open file of the fake driver.
class FakeDriverFd final : public collect::DriverFd {
 public:
  explicit FakeDriverFd(FakeDriverKernel& k) : k_(k) {}
  int ioctl(unsigned long request, void* arg) override { return k_.ioctl(request, arg); }

 private:
  FakeDriverKernel& k_;
};

/// An opener for collect::DriverSource that attaches to \a k, or fails with \a open_errno.
inline auto fake_driver_opener(FakeDriverKernel& k, const int& open_errno) {
  return [&k, &open_errno]() -> Result<collect::DriverDevice> {
    if (open_errno) return collect::driver_open_error("/dev/kvmprobe", open_errno);
    return collect::DriverDevice::attach(std::make_unique<FakeDriverFd>(k), "/dev/kvmprobe");
  };
}

}  // namespace kvmprobe::testing
