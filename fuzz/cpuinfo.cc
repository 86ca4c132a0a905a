// The /proc/cpuinfo parser.
#include "core/collect/cpuinfo.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)kvmprobe::collect::parse_cpuinfo(kvmprobe::fuzz::text(data, size));
  return 0;
}
