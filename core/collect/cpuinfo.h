// /proc/cpuinfo: the per-CPU Linux feature flags and "cpu MHz".
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvmprobe::collect {

/// What /proc/cpuinfo says about one logical CPU.
struct CpuinfoEntry {
  std::optional<std::vector<std::string>> flags;  ///< the "flags" line, absent if none
  std::string mhz;                                ///< the "cpu MHz" value as written, may be empty
};

/// Parses /proc/cpuinfo into processor number → entry. Blocks without a "processor" line are
/// ignored.
std::map<unsigned, CpuinfoEntry> parse_cpuinfo(std::string_view text);

}  // namespace kvmprobe::collect
