#include "core/collect/whole_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/sys/run_program.h"

namespace kvmprobe::collect {
namespace {

/// "256 MiB" or "100 bytes", for size-cap messages.
std::string size_text(std::size_t bytes) {
  if (bytes >= (std::size_t{1} << 20) && bytes % (std::size_t{1} << 20) == 0)
    return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

std::string display_name(const std::string& path) {
  return path == "-" ? std::string("standard input") : path;
}

/// Closes a descriptor on scope exit.
class FdGuard {
 public:
  explicit FdGuard(int fd = -1) : fd_(fd) {}
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  ~FdGuard() { reset(); }
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

/// Writes all of \a data; returns 0 or the errno.
int write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

/// Reads \a fd to its end, at most \a max_bytes + 1 bytes (so the caller can tell "too big").
/// Returns 0 or the errno.
int read_capped(int fd, std::size_t max_bytes, std::string& out) {
  char buf[1 << 16];
  while (out.size() <= max_bytes) {
    std::size_t want = std::min(sizeof buf, max_bytes + 1 - out.size());
    ssize_t n = ::read(fd, buf, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return 0;
}

Error io_error(ErrorKind kind, std::string detail, int err) {
  return make_error(kind, std::move(detail) + ": " + std::strerror(err), {}, err);
}

/// The first line of a child's stderr, trimmed, for an error message.
std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > 200) line.resize(200);
  for (char& c : line)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return line;
}

/// The process umask, read from /proc/self/status (umask(2) can only read it by changing it,
/// which races with other threads); 022 when unknown.
mode_t current_umask() {
  FdGuard fd(::open("/proc/self/status", O_RDONLY | O_CLOEXEC));
  std::string status;
  if (fd.get() < 0 || read_capped(fd.get(), 1 << 16, status) != 0) return 022;
  auto at = status.find("\nUmask:");
  if (at == std::string::npos) return 022;
  return static_cast<mode_t>(std::strtoul(status.c_str() + at + 7, nullptr, 8)) & 0777;
}

}  // namespace

bool is_xz(std::string_view data) {
  static constexpr char kMagic[] = {'\xFD', '7', 'z', 'X', 'Z', '\0'};
  return data.size() >= sizeof kMagic && std::memcmp(data.data(), kMagic, sizeof kMagic) == 0;
}

Result<std::string> read_whole_file(const std::string& path, Decompress decompress,
                                    std::size_t max_bytes) {
  const std::string name = display_name(path);
  FdGuard owned;
  int fd = 0;
  if (path != "-") {
    owned.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (owned.get() < 0) return io_error(ErrorKind::bad_input, "cannot open " + name, errno);
    fd = owned.get();
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0) {
    if (S_ISDIR(st.st_mode))
      return make_error(ErrorKind::bad_input, name + " is a directory", {}, EISDIR);
    if (S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) > max_bytes)
      return make_error(ErrorKind::bad_input, name + " is larger than " + size_text(max_bytes));
  }
  std::string data;
  if (S_ISREG(st.st_mode) && st.st_size > 0)  // one allocation, not a doubling series
    data.reserve(static_cast<std::size_t>(st.st_size) + 1);
  if (int err = read_capped(fd, max_bytes, data)) {
    ErrorKind kind = err == EISDIR ? ErrorKind::bad_input : ErrorKind::io;
    return io_error(kind, "cannot read " + name, err);
  }
  if (data.size() > max_bytes)
    return make_error(ErrorKind::bad_input, name + " is larger than " + size_text(max_bytes));
  if (decompress == Decompress::xz && is_xz(data)) return xz_decompress(data, name, max_bytes);
  return data;
}

Result<std::string> xz_decompress(std::string_view data, const std::string& what,
                                  std::size_t max_bytes) {
  sys::ProgramIo io;
  io.input = data;
  io.separate_stderr = true;  // xz's complaint, for the error message
  io.max_output = max_bytes;
  io.kill_when_over = true;   // a decompression bomb stops at the cap
  io.search_path = true;
  io.timeout_ms = -1;         // 256 MiB of output takes what it takes
  auto r = sys::run_program({"xz", "-dc"}, io);
  if (!r && r.error().detail.rfind("cannot run ", 0) == 0)  // posix_spawnp failed: no xz
    return make_error(ErrorKind::io, "cannot run xz to decompress " + what + ": " + std::strerror(r.error().err),
                      "install xz-utils", r.error().err);
  if (!r) return make_error(ErrorKind::io, "cannot decompress " + what + ": " + r.error().detail, {}, r.error().err);
  if (r->output_over)
    return make_error(ErrorKind::bad_input, what + " decompresses to more than " + size_text(max_bytes));
  if (r->exit_status != 0) {
    std::string why = first_line(r->errors);
    return make_error(ErrorKind::bad_input, what + " is not a valid xz file" +
                                                (why.empty() ? std::string() : " (" + why + ")"));
  }
  return std::move(r->output);
}

std::optional<Error> write_whole_file(const std::string& path, std::string_view content) {
  if (path == "-") {
    if (int err = write_all(1, content)) return io_error(ErrorKind::io, "cannot write to standard output", err);
    return std::nullopt;
  }
  if (path.empty() || path.back() == '/')
    return make_error(ErrorKind::io, "cannot write '" + path + "': not a file name", {}, EISDIR);

  std::string target = path;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    // In a sticky world-writable directory (/tmp) anyone may have planted the link: following
    // it would let them choose which file gets replaced (cf. fs.protected_symlinks).
    std::filesystem::path lp(path);
    std::string link_dir = lp.has_parent_path() ? lp.parent_path().string() : std::string(".");
    struct stat ds {};
    if (::stat(link_dir.c_str(), &ds) == 0 && (ds.st_mode & S_ISVTX) && (ds.st_mode & S_IWOTH))
      return make_error(ErrorKind::io,
                        "cannot write " + path + ": it is a symlink in the world-writable directory " + link_dir +
                            ", which kvmprobe never follows",
                        "write to the link's target directly", ELOOP);
    // Replace what the link points to, not the link itself.
    if (char* real = ::realpath(path.c_str(), nullptr)) {
      target = real;
      std::free(real);
    }
  }
  mode_t mode = 0666 & ~current_umask();  // what open(O_CREAT, 0666) would have given
  if (::stat(target.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      return make_error(ErrorKind::io, "cannot write " + path + ": it is a directory", {}, EISDIR);
    if (!S_ISREG(st.st_mode)) {
      // /dev/null, a FIFO, a terminal: renaming over it would replace the node itself.
      FdGuard fd(::open(target.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY));
      if (fd.get() < 0) return io_error(ErrorKind::io, "cannot open " + path, errno);
      if (int err = write_all(fd.get(), content)) return io_error(ErrorKind::io, "cannot write " + path, err);
      return std::nullopt;
    }
    mode = st.st_mode & 07777;
  }

  std::filesystem::path p(target);
  std::string dir = p.has_parent_path() ? p.parent_path().string() : std::string(".");
  std::string tmp = dir + "/." + p.filename().string() + ".tmp.XXXXXX";
  FdGuard fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (fd.get() < 0) return io_error(ErrorKind::io, "cannot create a temporary file in " + dir, errno);
  int err = ::fchmod(fd.get(), mode) != 0 ? errno : 0;
  if (!err) err = write_all(fd.get(), content);
  if (!err && ::fsync(fd.get()) != 0) err = errno;
  if (!err && ::close(fd.release()) != 0) err = errno;
  if (!err && ::rename(tmp.c_str(), target.c_str()) != 0) err = errno;
  if (err) {
    ::unlink(tmp.c_str());
    return io_error(ErrorKind::io, "cannot write " + path, err);
  }
  // Make the rename itself durable; failure here loses nothing already written.
  FdGuard dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() >= 0) ::fsync(dfd.get());
  return std::nullopt;
}

}  // namespace kvmprobe::collect
