#include "core/collect/kernel_log.h"

#include <fcntl.h>
#include <sys/klog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>

namespace kvmprobe::collect {

namespace {

constexpr int kSyslogActionReadAll = 3;          // SYSLOG_ACTION_READ_ALL
constexpr int kSyslogActionSizeBuffer = 10;      // SYSLOG_ACTION_SIZE_BUFFER
constexpr std::size_t kMaxLogBytes = 4u << 20;   // read at most the newest 4 MiB
constexpr std::size_t kMaxKmsgRecords = 100000;  // bound for the /dev/kmsg loop

// Substrings that mark a relevant line: the pr_err/pr_info texts of arch/x86/kernel/cpu/
// feat_ctl.c, arch/x86/kvm/{x86.c,vmx/vmx.c,svm/svm.c}, arch/x86/events/core.c and
// arch/x86/kernel/tsc.c (6.1, 6.12).
constexpr std::array<std::string_view, 14> kPatterns = {"x86/cpu: VMX",
                                                        "x86/cpu: SGX",
                                                        "SVM",
                                                        "has_svm",
                                                        "kvm",
                                                        "KVM",
                                                        "Performance Events",
                                                        "Failed to access perfctr",
                                                        "tsc:",
                                                        "TSC",
                                                        "Hypervisor detected",
                                                        "VMXON",
                                                        "x86/fpu: Enabled",
                                                        "feat_ctl"};

}  // namespace

std::vector<std::string> split_syslog_text(std::string_view text, KernelLogSource::LineFilter keep) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (line.size() >= 3 && line.front() == '<') {
      std::size_t close = line.find('>');
      if (close != std::string_view::npos && close <= 4) line.remove_prefix(close + 1);
    }
    if (!line.empty() && (!keep || keep(line))) lines.emplace_back(line);
  }
  return lines;
}

std::optional<std::string> format_kmsg_record(std::string_view record) {
  // Documentation/ABI/testing/dev-kmsg: "prio,seq,usec,flags[,...];text\n" then " KEY=value" lines.
  std::size_t semi = record.find(';');
  if (semi == std::string_view::npos) return std::nullopt;
  std::string_view header = record.substr(0, semi);
  std::string_view text = record.substr(semi + 1);
  text = text.substr(0, text.find('\n'));
  std::size_t c1 = header.find(',');
  std::size_t c2 = c1 == std::string_view::npos ? c1 : header.find(',', c1 + 1);
  if (c2 == std::string_view::npos) return std::nullopt;
  std::size_t c3 = header.find(',', c2 + 1);
  std::string_view usec_text =
      header.substr(c2 + 1, c3 == std::string_view::npos ? c3 : c3 - c2 - 1);
  unsigned long long usec = 0;
  auto [p, ec] = std::from_chars(usec_text.data(), usec_text.data() + usec_text.size(), usec);
  if (ec != std::errc{} || p != usec_text.data() + usec_text.size()) return std::nullopt;
  char stamp[40];
  std::snprintf(stamp, sizeof stamp, "[%5llu.%06llu] ", usec / 1000000, usec % 1000000);
  return std::string(stamp) + std::string(text);
}

bool is_relevant_kernel_log_line(std::string_view line) {
  for (std::string_view p : kPatterns)
    if (line.find(p) != std::string_view::npos) return true;
  return false;
}

std::vector<std::string> select_relevant_lines(const std::vector<std::string>& lines,
                                               std::size_t max, std::size_t& dropped) {
  std::vector<std::string> relevant;
  for (const std::string& l : lines)
    if (is_relevant_kernel_log_line(l)) relevant.push_back(l);
  dropped = 0;
  if (relevant.size() <= max) return relevant;
  // Keep the boot lines (feat_ctl, perf, tsc) and the newest ones (module loads).
  std::size_t head = max / 2, tail = max - head;
  dropped = relevant.size() - max;
  std::vector<std::string> out(relevant.begin(), relevant.begin() + static_cast<long>(head));
  out.insert(out.end(), relevant.end() - static_cast<long>(tail), relevant.end());
  return out;
}

Result<std::vector<std::string>> SystemKernelLog::read_matching_lines(LineFilter keep) {
  int size = ::klogctl(kSyslogActionSizeBuffer, nullptr, 0);
  if (size > 0) {
    std::size_t want = std::min<std::size_t>(static_cast<std::size_t>(size), kMaxLogBytes);
    // Not zero-filled: the buffer is log_buf_len (128 KiB or more) but the log is often a
    // fraction of it, and every page touched is a page fault (~15 us in a PVM guest).
    std::unique_ptr<char[]> buf(new char[want]);
    int n = ::klogctl(kSyslogActionReadAll, buf.get(), static_cast<int>(want));
    if (n >= 0) return split_syslog_text(std::string_view(buf.get(), static_cast<std::size_t>(n)), keep);
  }
  // klogctl needs CAP_SYSLOG under dmesg_restrict (or is blocked by seccomp); try /dev/kmsg.
  int klog_err = errno;
  auto kmsg = read_kmsg(keep);
  if (kmsg.ok()) return kmsg;
  return make_error(ErrorKind::io,
                    std::string("kernel log unreadable: klogctl: ") + std::strerror(klog_err) +
                        "; " + kmsg.error().detail,
                    "run as root to read the kernel log", kmsg.error().err);
}

Result<std::vector<std::string>> SystemKernelLog::read_kmsg(LineFilter keep) {
  int fd = ::open(kmsg_path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return make_error(ErrorKind::io, kmsg_path_ + ": " + std::strerror(err), {}, err);
  }
  std::vector<std::string> lines;
  char buf[8192];
  for (std::size_t i = 0; i < kMaxKmsgRecords; ++i) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EPIPE)) continue;  // EPIPE: record overwritten
    if (n < 0 && errno == EAGAIN) break;                        // end of the buffer
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return make_error(ErrorKind::io, kmsg_path_ + ": " + std::strerror(err), {}, err);
    }
    if (n == 0) break;
    auto line = format_kmsg_record(std::string_view(buf, static_cast<std::size_t>(n)));
    if (line && (!keep || keep(*line))) lines.push_back(std::move(*line));
  }
  ::close(fd);
  return lines;
}

}  // namespace kvmprobe::collect
