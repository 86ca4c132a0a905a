// Where the shared real-hardware data lives (../shared/data beside the project), for tests
// that read it. Such tests call GTEST_SKIP() with the reason when it is absent.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace kvmprobe::testing {

/// The shared data directory, or an empty path when it does not exist.
inline std::filesystem::path shared_data_dir() {
  const char* env = std::getenv("KVMPROBE_SHARED_DATA");
  std::filesystem::path p = env && *env ? env : KVMPROBE_DEFAULT_SHARED_DATA;
  std::error_code ec;
  return std::filesystem::is_directory(p, ec) ? std::filesystem::canonical(p) : std::filesystem::path{};
}

/// A file under tests/data in the source tree.
inline std::filesystem::path test_data(const std::string& rel) {
  return std::filesystem::path(KVMPROBE_SOURCE_DIR) / "tests" / "data" / rel;
}

}  // namespace kvmprobe::testing
