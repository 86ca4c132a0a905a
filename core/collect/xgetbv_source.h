// PinnedXgetbv: XGETBV executed on a chosen CPU by pinning the calling thread to it.
#pragma once

#include <cstdint>

#include "core/collect/cpu_pinning.h"
#include "core/collect/sources.h"

namespace kvmprobe::collect {

/// XGETBV on a pinned thread. Before executing it checks, on that CPU, CPUID.1:ECX[27]
/// (OSXSAVE; without it XGETBV raises #UD, i.e. SIGILL) and for XCR 1 CPUID.(0xD,1):EAX[2].
class PinnedXgetbv final : public XgetbvSource {
 public:
  explicit PinnedXgetbv(CpuPinner& pinner) : pinner_(pinner) {}
  Result<std::uint64_t> xgetbv(unsigned cpu, std::uint32_t xcr) override;
  void finish() override { pinner_.restore(); }

 private:
  CpuPinner& pinner_;
};

}  // namespace kvmprobe::collect
