#include "core/collect/sysfs_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace kvmprobe::collect {

std::string rooted_path(std::string_view root, std::string_view path) {
  while (!root.empty() && root.back() == '/') root.remove_suffix(1);
  std::string out(root);
  if (!path.empty() && path.front() != '/') out += '/';
  out += path;
  return out;
}

Result<std::string> RootedSysfsReader::read_file(std::string_view path, std::size_t max_bytes) {
  std::string full = rooted_path(root_, path);
  int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return make_error(err == ENOENT ? ErrorKind::missing : ErrorKind::io,
                      "cannot open " + std::string(path) + ": " + std::strerror(err), {}, err);
  }
  // sysfs and procfs files report size 0, so read in chunks until EOF. A sysfs attribute is
  // produced whole by its show() (at most a page), so there a short read already is the end;
  // seq_file-based procfs files (/proc/cpuinfo) may return less before the end.
  const bool sysfs = path.rfind("/sys/", 0) == 0;
  std::string data;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return make_error(ErrorKind::io,
                        "cannot read " + std::string(path) + ": " + std::strerror(err), {}, err);
    }
    if (n == 0) break;
    if (data.size() + static_cast<std::size_t>(n) > max_bytes) {
      ::close(fd);
      return make_error(ErrorKind::io,
                        std::string(path) + ": larger than " + std::to_string(max_bytes) + " bytes",
                        {}, EFBIG);
    }
    data.append(buf, static_cast<std::size_t>(n));
    if (sysfs && static_cast<std::size_t>(n) < sizeof buf) break;
  }
  ::close(fd);
  return data;
}

Result<std::vector<std::string>> RootedSysfsReader::list_dir(std::string_view path) {
  std::string full = rooted_path(root_, path);
  DIR* dir = ::opendir(full.c_str());
  if (!dir) {
    int err = errno;
    return make_error(err == ENOENT ? ErrorKind::missing : ErrorKind::io,
                      "cannot list " + std::string(path) + ": " + std::strerror(err), {}, err);
  }
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(dir)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    names.emplace_back(e->d_name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

bool RootedSysfsReader::exists(std::string_view path) {
  struct stat st;
  return ::stat(rooted_path(root_, path).c_str(), &st) == 0;
}

}  // namespace kvmprobe::collect
