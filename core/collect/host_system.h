// SystemHost: uname, hostname, euid, clock, and running `modprobe` (posix_spawn, no shell).
#pragma once

#include <string>
#include <vector>

#include "core/collect/sources.h"

namespace kvmprobe::collect {

/// The running system.
class SystemHost final : public HostSystem {
 public:
  std::string kernel_release() override;
  std::string kernel_version() override;
  std::string hostname() override;
  bool is_root() override;
  std::string utc_now_iso() override;
  /// Runs the first of /sbin, /usr/sbin, /bin, /usr/bin modprobe that exists, with stdout
  /// discarded and stderr captured; gives up (SIGKILL to that child) after 10 s.
  Result<int> modprobe(std::string_view module, std::string& output) override;
};

}  // namespace kvmprobe::collect
