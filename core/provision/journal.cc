#include "core/provision/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace kvmprobe::provision {
namespace {

/// Largest journal restore will read.
constexpr std::size_t kMaxJournal = 16u << 20;

Error io_error(const std::string& what, int err, std::string hint = {}) {
  return make_error(ErrorKind::io, fmt::format("{}: {}", what, std::strerror(err)), std::move(hint), err);
}

std::pair<std::string, std::string> split_path(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

/// Opens the directory without following a symlink in its last component, creating it 0700.
Result<int> open_dir(const std::string& dir, bool create) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT && create) {
    auto [parent, name] = split_path(dir);
    if (parent != dir) {
      auto pfd = open_dir(parent, true);
      if (!pfd) return pfd.error();
      int r = ::mkdirat(*pfd, name.c_str(), 0700);
      int err = errno;
      ::close(*pfd);
      if (r < 0 && err != EEXIST) return io_error(fmt::format("cannot create {}", dir), err);
    }
    fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd < 0) {
    int err = errno;
    if (err == ELOOP || err == ENOTDIR)
      return make_error(ErrorKind::io, fmt::format("journal directory {} is a symlink or not a directory", dir),
                        "the journal never follows symlinks: use a real directory", err);
    return make_error(err == ENOENT ? ErrorKind::missing : ErrorKind::io,
                      fmt::format("cannot open journal directory {}: {}", dir, std::strerror(err)), {}, err);
  }
  return fd;
}

}  // namespace

std::string journal_hex(std::uint64_t v) { return fmt::format("{:#x}", v); }

std::optional<std::uint64_t> parse_journal_hex(const nlohmann::json& j) {
  if (!j.is_string()) return std::nullopt;
  const std::string& s = j.get_ref<const std::string&>();
  if (s.size() < 3 || s.size() > 18 || s[0] != '0' || s[1] != 'x') return std::nullopt;
  std::uint64_t v = 0;
  for (std::size_t i = 2; i < s.size(); ++i) {
    char c = s[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return std::nullopt;
    v = v << 4 | static_cast<std::uint64_t>(d);
  }
  return v;
}

Result<std::unique_ptr<FileJournal>> FileJournal::open(const std::string& path) {
  if (path.empty() || path.back() == '/')
    return make_error(ErrorKind::usage, fmt::format("journal path '{}' names no file", path));
  auto [dir, name] = split_path(path);
  auto dfd = open_dir(dir, true);
  if (!dfd) return dfd.error();
  struct stat ds {};
  if (::fstat(*dfd, &ds) == 0 && (ds.st_mode & (S_IWGRP | S_IWOTH)) && !(ds.st_mode & S_ISVTX)) {
    ::close(*dfd);
    return make_error(ErrorKind::io, fmt::format("journal directory {} is writable by others", dir),
                      "use a directory only root can write (default /var/lib/kvmprobe)");
  }
  int fd = ::openat(*dfd, name.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  int err = errno;
  if (fd >= 0) ::fsync(*dfd);  // the directory entry of a new file is durable too
  ::close(*dfd);
  if (fd < 0) {
    if (err == ELOOP)
      return make_error(ErrorKind::io, fmt::format("journal {} is a symlink: refusing to follow it", path),
                        "remove the symlink or choose another --journal", err);
    return io_error(fmt::format("cannot open journal {}", path), err);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid()) {
    ::close(fd);
    return make_error(ErrorKind::io, fmt::format("journal {} is not a regular file owned by this user", path),
                      "remove it or choose another --journal");
  }
  if ((st.st_mode & 07777) != 0600 && ::fchmod(fd, 0600) != 0) {
    int e = errno;
    ::close(fd);
    return io_error(fmt::format("cannot make journal {} mode 0600", path), e);
  }
  return std::unique_ptr<FileJournal>(new FileJournal(fd, path));
}

FileJournal::~FileJournal() { ::close(fd_); }

std::optional<Error> FileJournal::append(const nlohmann::json& record) {
  std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  // One write() per line on an O_APPEND file: lines of concurrent runs never interleave.
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return io_error(fmt::format("cannot append to journal {}", path_), n < 0 ? errno : EIO);
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd_) != 0) return io_error(fmt::format("cannot fsync journal {}", path_), errno);
  return std::nullopt;
}

Result<JournalContents> read_journal(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT)
      return make_error(ErrorKind::missing, fmt::format("no journal at {}", path),
                        "nothing was ever written through it (or pass --journal PATH)", err);
    if (err == ELOOP)
      return make_error(ErrorKind::io, fmt::format("journal {} is a symlink: refusing to follow it", path), {}, err);
    return io_error(fmt::format("cannot read journal {}", path), err);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || static_cast<std::size_t>(st.st_size) > kMaxJournal) {
    ::close(fd);
    return make_error(ErrorKind::bad_input, fmt::format("journal {} is not a regular file of at most 16 MiB", path));
  }
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return io_error(fmt::format("cannot read journal {}", path), err);
    }
    if (n == 0 || text.size() + static_cast<std::size_t>(n) > kMaxJournal) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  JournalContents out;
  std::size_t start = 0;
  for (unsigned line_no = 1; start < text.size(); ++line_no) {
    std::size_t end = text.find('\n', start);
    std::string line = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    start = end == std::string::npos ? text.size() : end + 1;
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      out.problems.push_back(fmt::format("line {}: not JSON{}", line_no, end == std::string::npos ? " (torn last write?)" : ""));
      continue;
    }
    if (j.value("schema", "") != kJournalSchema) {
      out.problems.push_back(fmt::format("line {}: not a {} record", line_no, kJournalSchema));
      continue;
    }
    out.records.push_back(std::move(j));
  }
  return out;
}

}  // namespace kvmprobe::provision
