// SystemSources: the real implementation of every source collect() reads through.
#pragma once

#include <memory>
#include <string>

#include "core/collect/sources.h"

namespace kvmprobe::collect {

/// Owns the real sources for a file tree rooted at \a root ("/" for this host): /dev/cpu/N/cpuid
/// with the pinned cpuid instruction as fallback, /dev/cpu/N/msr, the companion driver
/// /dev/kvmprobe (msr_driver and driver_state), pinned XGETBV, the file tree, /dev/kvm, the
/// kernel log and the host. Destroying it restores the thread's CPU mask.
class SystemSources {
 public:
  explicit SystemSources(const std::string& root = "/");
  ~SystemSources();
  SystemSources(const SystemSources&) = delete;
  SystemSources& operator=(const SystemSources&) = delete;

  /// The non-owning view collect() takes.
  Sources& sources() { return sources_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Sources sources_;
};

}  // namespace kvmprobe::collect
