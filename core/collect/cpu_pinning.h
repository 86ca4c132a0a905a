// CpuPinner: run the calling thread on one chosen CPU, and put its old CPU mask back afterwards.
//
// Used by the paths that must execute an instruction on a given CPU from user space (the cpuid
// fallback and XGETBV). One pinner is shared by every such source so the original mask is saved
// once and restored once.
#pragma once

#include <sched.h>

#include <cstddef>
#include <optional>

namespace kvmprobe::collect {

/// Pins the calling thread to one CPU at a time; restores the saved mask on destruction.
class CpuPinner {
 public:
  CpuPinner() = default;
  ~CpuPinner();
  CpuPinner(const CpuPinner&) = delete;
  CpuPinner& operator=(const CpuPinner&) = delete;

  /// Moves the calling thread onto CPU \a cpu (no-op if already pinned there): 0 or an errno.
  int pin(unsigned cpu);
  /// Restores the mask saved by the first pin(); 0 or an errno. Safe to call twice.
  int restore();
  /// The CPU currently pinned to, if any.
  std::optional<unsigned> pinned() const { return pinned_; }

 private:
  cpu_set_t* saved_ = nullptr;  ///< the mask before the first pin(), CPU_ALLOC'd
  std::size_t size_ = 0;        ///< CPU_ALLOC_SIZE of saved_
  std::optional<unsigned> pinned_;
};

}  // namespace kvmprobe::collect
