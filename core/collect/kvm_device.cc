#include "core/collect/kvm_device.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace kvmprobe::collect {

namespace {

// <linux/kvm.h> declares kvm_msr_list and kvm_cpuid2 with __DECLARE_FLEX_ARRAY, which in C++
// (Debian 12's linux-libc-dev 6.1) wraps the array in a struct holding an empty struct: one
// byte that moves the array and changes the size encoded in the ioctl number, so the kernel
// answers EINVAL. The fixed headers and request numbers are therefore spelled out here
// (Documentation/virt/kvm/api.rst, 4.3 KVM_GET_MSR_INDEX_LIST, 4.46 KVM_GET_SUPPORTED_CPUID).
struct MsrListHeader {
  std::uint32_t nmsrs;
};
struct Cpuid2Header {
  std::uint32_t nent;
  std::uint32_t padding;
};
static_assert(sizeof(MsrListHeader) == 4 && sizeof(Cpuid2Header) == 8);
static_assert(sizeof(kvm_cpuid_entry2) == 40);
constexpr unsigned long kGetMsrIndexList = _IOWR(KVMIO, 0x02, MsrListHeader);
constexpr unsigned long kGetMsrFeatureIndexList = _IOWR(KVMIO, 0x0a, MsrListHeader);
constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, Cpuid2Header);

Error ioctl_error(const char* name, int err) {
  return make_error(ErrorKind::io, std::string(name) + ": " + std::strerror(err), {}, err);
}

Error not_open() { return make_error(ErrorKind::missing, "/dev/kvm is not open"); }

/// ioctl() retried on EINTR; returns the result, errno left set on -1.
long xioctl(int fd, unsigned long request, unsigned long arg) {
  long rc;
  do {
    rc = ::ioctl(fd, request, arg);
  } while (rc < 0 && errno == EINTR);
  return rc;
}

/// Closes an fd when it goes out of scope.
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

int DevKvmDevice::open() {
  if (fd_ >= 0) return 0;
  fd_ = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
  return fd_ >= 0 ? 0 : errno;
}

void DevKvmDevice::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<int> DevKvmDevice::api_version() {
  if (fd_ < 0) return not_open();
  long rc = xioctl(fd_, KVM_GET_API_VERSION, 0);
  if (rc < 0) return ioctl_error("KVM_GET_API_VERSION", errno);
  return static_cast<int>(rc);
}

Result<std::vector<std::uint32_t>> DevKvmDevice::msr_list(unsigned long request, const char* name) {
  if (fd_ < 0) return not_open();
  // api.rst: with too small an nmsrs KVM writes the needed count back and fails with E2BIG.
  MsrListHeader probe{0};
  long rc = xioctl(fd_, request, reinterpret_cast<unsigned long>(&probe));
  if (rc == 0) return std::vector<std::uint32_t>{};
  if (errno != E2BIG) return ioctl_error(name, errno);
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::uint32_t n = probe.nmsrs;
    if (n > 65536)
      return make_error(ErrorKind::io,
                        std::string(name) + ": implausible count " + std::to_string(n));
    std::vector<std::uint32_t> buf(1 + n);
    buf[0] = n;
    rc = xioctl(fd_, request, reinterpret_cast<unsigned long>(buf.data()));
    if (rc == 0) return std::vector<std::uint32_t>(buf.begin() + 1, buf.begin() + 1 + buf[0]);
    if (errno != E2BIG) return ioctl_error(name, errno);
    probe.nmsrs = buf[0];
  }
  return ioctl_error(name, E2BIG);
}

Result<std::vector<std::uint32_t>> DevKvmDevice::msr_index_list() {
  return msr_list(kGetMsrIndexList, "KVM_GET_MSR_INDEX_LIST");
}

Result<std::vector<std::uint32_t>> DevKvmDevice::feature_msr_index_list() {
  return msr_list(kGetMsrFeatureIndexList, "KVM_GET_MSR_FEATURE_INDEX_LIST");
}

Result<std::int64_t> DevKvmDevice::check_extension(long cap) {
  if (fd_ < 0) return not_open();
  long rc = xioctl(fd_, KVM_CHECK_EXTENSION, static_cast<unsigned long>(cap));
  if (rc < 0) return ioctl_error("KVM_CHECK_EXTENSION", errno);
  return static_cast<std::int64_t>(rc);
}

Result<std::uint64_t> DevKvmDevice::vcpu_tsc_khz() {
  if (fd_ < 0) return not_open();
  FdGuard vm{static_cast<int>(xioctl(fd_, KVM_CREATE_VM, 0))};
  if (vm.fd < 0) return ioctl_error("KVM_CREATE_VM", errno);
  FdGuard vcpu{static_cast<int>(xioctl(vm.fd, KVM_CREATE_VCPU, 0))};
  if (vcpu.fd < 0) return ioctl_error("KVM_CREATE_VCPU", errno);
  long rc = xioctl(vcpu.fd, KVM_GET_TSC_KHZ, 0);
  if (rc < 0) return ioctl_error("KVM_GET_TSC_KHZ", errno);
  if (rc == 0)
    return make_error(ErrorKind::io, "KVM_GET_TSC_KHZ returned 0 (TSC frequency unknown)");
  return static_cast<std::uint64_t>(rc);
}

Result<std::uint64_t> DevKvmDevice::supported_xcr0() {
  if (fd_ < 0) return not_open();
  // KVM fails with E2BIG without saying how many entries it needs, so grow until it fits.
  for (std::uint32_t nent = 128; nent <= 8192; nent *= 2) {
    // Header then nent entries; uint64_t storage keeps the entries aligned.
    std::vector<std::uint64_t> buf((sizeof(Cpuid2Header) + nent * sizeof(kvm_cpuid_entry2)) / 8);
    auto* header = reinterpret_cast<Cpuid2Header*>(buf.data());
    auto* entries = reinterpret_cast<kvm_cpuid_entry2*>(header + 1);
    header->nent = nent;
    long rc = xioctl(fd_, kGetSupportedCpuid, reinterpret_cast<unsigned long>(buf.data()));
    if (rc < 0 && errno == E2BIG) continue;
    if (rc < 0) return ioctl_error("KVM_GET_SUPPORTED_CPUID", errno);
    for (std::uint32_t i = 0; i < header->nent && i < nent; ++i) {
      const kvm_cpuid_entry2& e = entries[i];
      if (e.function == 0xD && e.index == 0)
        return (static_cast<std::uint64_t>(e.edx) << 32) | e.eax;
    }
    return std::uint64_t{0};
  }
  return ioctl_error("KVM_GET_SUPPORTED_CPUID", E2BIG);
}

}  // namespace kvmprobe::collect
