// Linux CPU list syntax ("0-3,8,10-11"), as in /sys/devices/system/cpu/online; the formatter
// is cpu_list() in core/model/format.h.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvmprobe::collect {

/// Largest CPU number accepted; guards against hostile or corrupt lists.
inline constexpr unsigned kMaxCpuNumber = 65535;

/// Parses a CPU list ("0-3,8,10-11", trailing newline allowed) into sorted, unique CPU
/// numbers. An empty list gives an empty vector; malformed text (or a number above
/// kMaxCpuNumber, or a descending range) gives nullopt.
std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view text);

}  // namespace kvmprobe::collect
