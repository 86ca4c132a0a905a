// Where the shared real-hardware data lives (../shared/data beside the project), for tests
// that read it. Such tests call GTEST_SKIP() with the reason when it is absent.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace kvmprobe::testing {

/// The shared data directory, or an empty path when it does not exist.
inline std::filesystem::path shared_data_dir() {
  const char* env = std::getenv("KVMPROBE_SHARED_DATA");
  std::filesystem::path p = env && *env ? env : KVMPROBE_DEFAULT_SHARED_DATA;
  std::error_code ec;
  return std::filesystem::is_directory(p, ec) ? std::filesystem::canonical(p) : std::filesystem::path{};
}

/// Whether the suite runs in CI (CI=true, as .ci/run sets it): there every tool
/// scripts/install-deps.sh installs must be present, so its absence fails instead of skipping.
inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

/// A file under tests/data in the source tree.
inline std::filesystem::path test_data(const std::string& rel) {
  return std::filesystem::path(KVMPROBE_SOURCE_DIR) / "tests" / "data" / rel;
}

/// A whole file's bytes (empty when it cannot be read).
inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace kvmprobe::testing

/// Skip the test when a tool that scripts/install-deps.sh installs is missing, saying which
/// package has it; under CI=true fail instead (CI installed it, so its absence is a defect).
#define KVMPROBE_REQUIRE_TOOL(tool, package)                                                       \
  do {                                                                                           \
    if (std::system("command -v " tool " >/dev/null 2>&1") != 0) {                               \
      if (::kvmprobe::testing::in_ci()) FAIL() << tool " (Debian package " package ") is missing"; \
      GTEST_SKIP() << tool " (Debian package " package ") is not installed";                     \
    }                                                                                            \
  } while (0)
