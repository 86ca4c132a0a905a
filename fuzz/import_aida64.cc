// The AIDA64 / InstLatX64 dump importer (kvmprobe import --aida64).
#include "core/collect/import_dump.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)kvmprobe::collect::import_aida64(kvmprobe::fuzz::text(data, size));
  return 0;
}
