// Shared by the libFuzzer targets: the input as text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kvmprobe::fuzz {

inline std::string_view text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace kvmprobe::fuzz
