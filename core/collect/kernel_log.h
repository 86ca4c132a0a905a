// The kernel log: reading it (klogctl, else /dev/kmsg; never blocking) and picking the lines
// that explain KVM's init (feat_ctl, SVM, perf's PMU, TSC calibration, kvm itself).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/collect/sources.h"

namespace kvmprobe::collect {

/// Most lines kept in Snapshot::kernel_log (the first and last half when there are more).
inline constexpr std::size_t kMaxKernelLogLines = 256;

/// Splits klogctl(SYSLOG_ACTION_READ_ALL) text into lines, dropping each "<N>" level prefix;
/// only the lines \a keep accepts (all with nullptr).
std::vector<std::string> split_syslog_text(std::string_view text,
                                           KernelLogSource::LineFilter keep = nullptr);

/// Turns one /dev/kmsg record ("6,339,5140900,-;text\n KEY=v") into "[    5.140900] text";
/// nullopt for a malformed record.
std::optional<std::string> format_kmsg_record(std::string_view record);

/// Whether a line tells something about KVM's init: feat_ctl's VMX/SGX lines, SVM and kvm
/// lines, perf's PMU verdict, TSC calibration, the hypervisor detected.
bool is_relevant_kernel_log_line(std::string_view line);

/// The relevant lines of \a lines, at most \a max (the first and the last max/2 when more);
/// \a dropped receives how many relevant lines were left out.
std::vector<std::string> select_relevant_lines(const std::vector<std::string>& lines,
                                               std::size_t max, std::size_t& dropped);

/// The real kernel log: klogctl(SYSLOG_ACTION_READ_ALL), else /dev/kmsg read non-blocking.
class SystemKernelLog final : public KernelLogSource {
 public:
  /// \a kmsg_path is the /dev/kmsg node used when klogctl is refused.
  explicit SystemKernelLog(std::string kmsg_path = "/dev/kmsg")
      : kmsg_path_(std::move(kmsg_path)) {}
  Result<std::vector<std::string>> read_matching_lines(LineFilter keep) override;

 private:
  Result<std::vector<std::string>> read_kmsg(LineFilter keep);
  std::string kmsg_path_;
};

}  // namespace kvmprobe::collect
