// Format detection and import (kvmprobe import --dump): whichever importer the text selects.
#include "core/collect/import_dump.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)kvmprobe::collect::import_dump_auto(kvmprobe::fuzz::text(data, size));
  return 0;
}
