#include "core/collect/xgetbv_source.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "core/collect/cpuid_source.h"

namespace kvmprobe::collect {

namespace {

std::uint64_t execute_xgetbv(std::uint32_t xcr) {
  std::uint32_t lo, hi;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(xcr));
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
}

}  // namespace

Result<std::uint64_t> PinnedXgetbv::xgetbv(unsigned cpu, std::uint32_t xcr) {
  if (xcr > 1)
    return make_error(ErrorKind::internal, "XGETBV: XCR " + std::to_string(xcr) + " not supported");
  if (int err = pinner_.pin(cpu); err != 0)
    return make_error(ErrorKind::io,
                      "cannot run on CPU " + std::to_string(cpu) + ": " + std::strerror(err), {},
                      err);
  if (((execute_cpuid(1, 0).ecx >> 27) & 1u) == 0)
    return make_error(ErrorKind::missing, "CPU " + std::to_string(cpu) +
                                              ": OSXSAVE (CPUID.1:ECX[27]) clear, XGETBV unusable");
  if (xcr == 1) {
    // XCR1 (XINUSE) needs CPUID.(EAX=0xD,ECX=1):EAX[2]; leaf 0xD must exist first.
    if (execute_cpuid(0, 0).eax < 0xD || ((execute_cpuid(0xD, 1).eax >> 2) & 1u) == 0)
      return make_error(ErrorKind::missing,
                        "CPU " + std::to_string(cpu) + ": XGETBV with ECX=1 not supported");
  }
  return execute_xgetbv(xcr);
}

}  // namespace kvmprobe::collect
