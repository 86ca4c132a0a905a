// The snapshot reader (kvmprobe --from FILE): parse_snapshot() on any text.
#include "core/collect/snapshot_json.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto snap = kvmprobe::collect::parse_snapshot(kvmprobe::fuzz::text(data, size));
  if (snap) (void)kvmprobe::collect::snapshot_to_text(*snap);  // what was read can be written back
  return 0;
}
