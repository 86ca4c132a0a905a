// The libcpuid raw-dump importer (kvmprobe import --libcpuid).
#include "core/collect/import_dump.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)kvmprobe::collect::import_libcpuid(kvmprobe::fuzz::text(data, size));
  return 0;
}
