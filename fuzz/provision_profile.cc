// The provision profile reader (kvmprobe provision --profile FILE).
#include "core/provision/profile.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)kvmprobe::provision::parse_profile(kvmprobe::fuzz::text(data, size), "fuzz.json");
  return 0;
}
