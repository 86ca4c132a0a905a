// RootedSysfsReader: reads host files (sysfs, procfs, modprobe.d) below a root directory, so
// tests and `--root` runs can point it at a prepared tree.
#pragma once

#include <string>

#include "core/collect/sources.h"

namespace kvmprobe::collect {

/// Joins \a root and the absolute host path \a path ("/" or "" root leaves the path as is).
std::string rooted_path(std::string_view root, std::string_view path);

/// A SysfsReader over the real file system, with every path taken relative to \a root.
class RootedSysfsReader final : public SysfsReader {
 public:
  explicit RootedSysfsReader(std::string root = "/") : root_(std::move(root)) {}
  Result<std::string> read_file(std::string_view path, std::size_t max_bytes = kSmallFile) override;
  Result<std::vector<std::string>> list_dir(std::string_view path) override;
  bool exists(std::string_view path) override;

 private:
  std::string root_;
};

}  // namespace kvmprobe::collect
