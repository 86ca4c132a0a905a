// The small text formats every layer shares: hex values, joined lists, Linux CPU lists.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace kvmprobe {

/// A register or MSR value as "0x..." lower-case, no padding ("0x0" for zero).
inline std::string hex(std::uint64_t v) { return fmt::format("{:#x}", v); }
/// hex(), or "unknown" when the value was not read.
inline std::string hex_or_unknown(const std::optional<std::uint64_t>& v) { return v ? hex(*v) : "unknown"; }

/// The elements of \a range, formatted by fmt, with \a sep between them ("" when empty).
template <typename Range>
std::string join(const Range& range, std::string_view sep) {
  return fmt::format("{}", fmt::join(range, sep));
}

/// Sorted CPU numbers in Linux's compact CPU list form ("0-3,8,10-11"), as in
/// /sys/devices/system/cpu/online; "" for none.
std::string cpu_list(const std::vector<unsigned>& cpus);

}  // namespace kvmprobe
