#include "core/provision/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace kvmprobe::provision {
namespace {

Error io_error(const std::string& what, int err, std::string hint = {}) {
  return make_error(ErrorKind::io, fmt::format("{}: {}", what, std::strerror(err)), std::move(hint), err);
}

/// A journal that cannot be trusted: exit 3, nothing written.
Error refused(std::string what, std::string hint = {}) {
  return make_error(ErrorKind::bad_input, std::move(what), std::move(hint));
}

std::pair<std::string, std::string> split_path(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

/// Closes a descriptor on scope exit.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

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
      return make_error(ErrorKind::bad_input, fmt::format("journal directory {} is a symlink or not a directory", dir),
                        "the journal never follows symlinks: use a real directory", err);
    return make_error(err == ENOENT ? ErrorKind::missing : ErrorKind::io,
                      fmt::format("cannot open journal directory {}: {}", dir, std::strerror(err)), {}, err);
  }
  return fd;
}

/// The directory must not be writable by group or others (not even sticky: in /tmp anyone
/// can create the name first).
std::optional<Error> check_dir(int dfd, const std::string& dir) {
  struct stat ds {};
  if (::fstat(dfd, &ds) != 0) return io_error(fmt::format("cannot stat journal directory {}", dir), errno);
  if (ds.st_mode & (S_IWGRP | S_IWOTH))
    return refused(fmt::format("journal directory {} is writable by group or others (mode {:04o})", dir,
                               ds.st_mode & 07777),
                   "keep the journal in a directory only its owner can write (default /var/lib/kvmprobe)");
  return std::nullopt;
}

/// The file must be a regular file owned by the caller, not writable by group or others, with
/// exactly one link.
std::optional<Error> check_file(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return io_error(fmt::format("cannot stat journal {}", path), errno);
  const char* hint = "remove it or choose another --journal";
  if (!S_ISREG(st.st_mode)) return refused(fmt::format("journal {} is not a regular file", path), hint);
  if (st.st_uid != ::geteuid())
    return refused(fmt::format("journal {} is owned by uid {}, not by this user (uid {})", path, st.st_uid,
                               ::geteuid()),
                   hint);
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return refused(fmt::format("journal {} is writable by group or others (mode {:04o})", path, st.st_mode & 07777),
                   "check who wrote it; the journal is created with mode 0600");
  if (st.st_nlink != 1)
    return refused(fmt::format("journal {} has {} links: a hard link could be another file", path, st.st_nlink),
                   hint);
  return std::nullopt;
}

/// The shape of one line, from its structural characters outside strings: how deep it nests
/// and (about) how many JSON values it holds.
struct LineShape {
  int depth = 0;
  std::size_t values = 0;
};

LineShape shape_of(std::string_view line) {
  LineShape s;
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : line) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      s.depth = std::max(s.depth, ++depth);
      ++s.values;
      if (s.depth > kMaxJournalDepth) return s;
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == ',' || c == ':') {
      ++s.values;
    }
  }
  return s;
}

/// Keys that, when present, must be strings (restore reads them as text).
constexpr const char* kStringKeys[] = {"run",  "event",  "command", "time", "via", "device", "msr",
                                       "mask", "outcome", "of",     "boot", "phase", "status"};

}  // namespace

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

Result<std::unique_ptr<FileJournal>> FileJournal::open(const std::string& path, Rotate rotate) {
  if (path.empty() || path.back() == '/')
    return make_error(ErrorKind::usage, fmt::format("journal path '{}' names no file", path));
  auto [dir, name] = split_path(path);
  auto dfd_or = open_dir(dir, true);
  if (!dfd_or) return dfd_or.error();
  Fd dfd(*dfd_or);
  if (auto e = check_dir(dfd.fd, dir)) return *e;
  for (int attempt = 0;; ++attempt) {
    Fd fd(::openat(dfd.fd, name.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600));
    if (fd.fd < 0) {
      int err = errno;
      if (err == ELOOP)
        return make_error(ErrorKind::bad_input, fmt::format("journal {} is a symlink: refusing to follow it", path),
                          "remove the symlink or choose another --journal", err);
      return io_error(fmt::format("cannot open journal {}", path), err);
    }
    if (auto e = check_file(fd.fd, path)) return *e;
    struct stat st {};
    ::fstat(fd.fd, &st);
    if (rotate == Rotate::when_large && attempt == 0 && static_cast<std::size_t>(st.st_size) >= kRotateJournalBytes) {
      // PATH -> PATH.1 (replacing the previous one); the next open creates a new PATH. The
      // caller holds the run lock, so no other run appends meanwhile.
      if (::renameat(dfd.fd, name.c_str(), dfd.fd, (name + ".1").c_str()) != 0)
        return io_error(fmt::format("cannot rotate journal {} to {}.1", path, path), errno);
      continue;
    }
    ::fsync(dfd.fd);  // the directory entry of a new (or rotated) file is durable too
    return std::unique_ptr<FileJournal>(new FileJournal(fd.release(), path));
  }
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
  if (path.empty() || path.back() == '/')
    return make_error(ErrorKind::usage, fmt::format("journal path '{}' names no file", path));
  auto [dir, name] = split_path(path);
  auto dfd_or = open_dir(dir, false);
  if (!dfd_or) {
    if (dfd_or.error().kind == ErrorKind::missing)
      return make_error(ErrorKind::missing, fmt::format("no journal at {}", path),
                        "nothing was ever written through it (or pass --journal PATH)", ENOENT);
    return dfd_or.error();
  }
  Fd dfd(*dfd_or);
  // O_NONBLOCK: a FIFO planted under the name must not hang the open.
  Fd fd(::openat(dfd.fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (fd.fd < 0) {
    int err = errno;
    if (err == ENOENT)
      return make_error(ErrorKind::missing, fmt::format("no journal at {}", path),
                        "nothing was ever written through it (or pass --journal PATH)", err);
    if (err == ELOOP)
      return make_error(ErrorKind::bad_input, fmt::format("journal {} is a symlink: refusing to follow it", path), {},
                        err);
    return io_error(fmt::format("cannot read journal {}", path), err);
  }
  if (auto e = check_dir(dfd.fd, dir)) return *e;
  if (auto e = check_file(fd.fd, path)) return *e;
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0 || static_cast<std::size_t>(st.st_size) > kMaxJournalBytes)
    return refused(fmt::format("journal {} is larger than 16 MiB", path),
                   "kvmprobe rotates its journal at 1 MiB: this one was not written by it alone");
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error(fmt::format("cannot read journal {}", path), errno);
    if (n == 0) break;
    if (text.size() + static_cast<std::size_t>(n) > kMaxJournalBytes)
      return refused(fmt::format("journal {} is larger than 16 MiB", path));
    text.append(buf, static_cast<std::size_t>(n));
  }
  return parse_journal(text, path);
}

Result<JournalContents> parse_journal(std::string_view text, const std::string& path) {
  if (text.size() > kMaxJournalBytes) return refused(fmt::format("journal {} is larger than 16 MiB", path));
  // Calls fn(line, line_number, is_last) for every non-empty line; stops at the first error.
  auto each_line = [&](auto&& fn) -> std::optional<Error> {
    std::size_t start = 0;
    for (unsigned line_no = 1; start < text.size(); ++line_no) {
      std::size_t end = text.find('\n', start);
      std::string_view line = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
      start = end == std::string_view::npos ? text.size() : end + 1;
      if (line.empty()) continue;
      if (auto e = fn(line, line_no, end == std::string_view::npos)) return e;
    }
    return std::nullopt;
  };
  auto bad = [&](unsigned line_no, const std::string& what) {
    return refused(fmt::format("journal {} line {}: {}", path, line_no, what),
                   "the journal was not written by kvmprobe alone: check who wrote it");
  };
  // First the shape of every line, before anything is parsed: parsed values cost ~20 times
  // their text, and the budget keeps any journal under ~100 MiB.
  std::size_t values = 0;
  auto shape_error = each_line([&](std::string_view line, unsigned line_no, bool) -> std::optional<Error> {
    if (line.size() > kMaxJournalLineBytes) return bad(line_no, "longer than 1 MiB");
    LineShape shape = shape_of(line);
    if (shape.depth > kMaxJournalDepth)
      return bad(line_no, fmt::format("nested deeper than {} levels", kMaxJournalDepth));
    if ((values += shape.values) > kMaxJournalValues)
      return refused(fmt::format("journal {} holds more than {} JSON values", path, kMaxJournalValues),
                     "kvmprobe rotates its journal at 1 MiB: this one was not written by it alone");
    return std::nullopt;
  });
  if (shape_error) return *shape_error;
  JournalContents out;
  auto line_error = each_line([&](std::string_view line, unsigned line_no, bool last) -> std::optional<Error> {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      out.problems.push_back(fmt::format("line {}: not JSON{}", line_no, last ? " (torn last write?)" : ""));
      return std::nullopt;
    }
    auto schema = j.find("schema");
    if (schema != j.end() && !schema->is_string()) return bad(line_no, "\"schema\" is not a string");
    if (schema == j.end() || *schema != kJournalSchema) {
      out.problems.push_back(fmt::format("line {}: not a {} record", line_no, kJournalSchema));
      return std::nullopt;
    }
    for (const char* key : kStringKeys) {
      auto v = j.find(key);
      if (v != j.end() && !v->is_string()) return bad(line_no, fmt::format("\"{}\" is not a string", key));
    }
    out.records.push_back(std::move(j));
    return std::nullopt;
  });
  if (line_error) return *line_error;
  return out;
}

}  // namespace kvmprobe::provision
