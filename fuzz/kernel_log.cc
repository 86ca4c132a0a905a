// The kernel log readers: syslog text split into lines, /dev/kmsg records, the filter.
#include <string>
#include <vector>

#include "core/collect/kernel_log.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view t = kvmprobe::fuzz::text(data, size);
  std::vector<std::string> lines = kvmprobe::collect::split_syslog_text(t);
  (void)kvmprobe::collect::format_kmsg_record(t);
  for (const auto& l : lines) (void)kvmprobe::collect::is_relevant_kernel_log_line(l);
  std::size_t dropped = 0;
  (void)kvmprobe::collect::select_relevant_lines(lines, 64, dropped);
  return 0;
}
