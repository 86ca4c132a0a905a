#include "core/collect/cpu_pinning.h"

#include <cerrno>

namespace kvmprobe::collect {

namespace {
// Large enough for any x86 machine Linux supports (CONFIG_NR_CPUS max is 8192).
constexpr int kMaxCpus = 8192;
}  // namespace

CpuPinner::~CpuPinner() {
  restore();
  if (saved_) CPU_FREE(saved_);
}

int CpuPinner::pin(unsigned cpu) {
  if (pinned_ && *pinned_ == cpu) return 0;
  if (cpu >= static_cast<unsigned>(kMaxCpus)) return EINVAL;
  if (!saved_) {
    cpu_set_t* mask = CPU_ALLOC(kMaxCpus);
    if (!mask) return ENOMEM;
    std::size_t size = CPU_ALLOC_SIZE(kMaxCpus);
    CPU_ZERO_S(size, mask);
    if (sched_getaffinity(0, size, mask) != 0) {
      int err = errno;
      CPU_FREE(mask);
      return err;
    }
    saved_ = mask;
    size_ = size;
  }
  cpu_set_t* one = CPU_ALLOC(kMaxCpus);
  if (!one) return ENOMEM;
  CPU_ZERO_S(size_, one);
  CPU_SET_S(cpu, size_, one);
  // sched_setaffinity() migrates the calling thread before it returns when its current CPU is
  // no longer allowed, so the next instruction already runs on `cpu`.
  int rc = sched_setaffinity(0, size_, one);
  int err = rc == 0 ? 0 : errno;
  CPU_FREE(one);
  if (err == 0) pinned_ = cpu;
  return err;
}

int CpuPinner::restore() {
  if (!saved_ || !pinned_) return 0;
  pinned_.reset();
  return sched_setaffinity(0, size_, saved_) == 0 ? 0 : errno;
}

}  // namespace kvmprobe::collect
