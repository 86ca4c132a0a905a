// Generated fleets for benchmarking `kvmprobe fleet` (synthetic: not real hosts, never test
// data). Writes N snapshots of a recorded EPYC 7713 host (tests/data/snapshots/amd-epyc-7713-svm.json)
// with its first CPU replicated to CPUS CPUs, in the compact format 2, as DIR/host-NNNNN.json.
// Variety so that grouping has work to do: the TSC kHz spreads within kvm.tsc_tolerance_ppm
// (2,000,000 + 0..400 kHz: some pairs apart, some not) and every 4th host runs kernel 6.12
// instead of 6.1.
//
//   build/bench/kvmprobe_fleet_gen DIR N [CPUS]      (CPUS defaults to 64)
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/collect/snapshot_json.h"
#include "tests/support/synthetic_snapshot.h"

int main(int argc, char** argv) {
  using namespace kvmprobe;
  if (argc < 3) {
    fmt::print(stderr, "usage: {} DIR N [CPUS]\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const unsigned n = static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10));
  const unsigned cpus = argc > 3 ? static_cast<unsigned>(std::strtoul(argv[3], nullptr, 10)) : 64;
  auto base = collect::load_snapshot_file(std::string(KVMPROBE_SOURCE_DIR) +
                                          "/tests/data/migration/6.1-epyc.snapshot.json");
  if (!base) {
    fmt::print(stderr, "fleet_gen: {}\n", base.error().detail);
    return 1;
  }
  std::filesystem::create_directories(dir);
  Snapshot host = testing::replicate_cpus(*base, cpus);
  const std::string k61 = host.kernel_release, v61 = host.kernel_version;
  for (unsigned i = 0; i < n; ++i) {
    host.hostname = fmt::format("host-{:05}", i);
    host.kernel_release = i % 4 == 3 ? "6.12.118+deb12-amd64" : k61;
    host.kernel_version = i % 4 == 3 ? "#1 SMP PREEMPT_DYNAMIC Debian 6.12.118-1~deb12u1" : v61;
    for (auto& t : host.tsc) t.khz = 2000000 + (i * 37) % 401;
    auto err = collect::write_snapshot_file(host, (dir / fmt::format("host-{:05}.json", i)).string());
    if (err) {
      fmt::print(stderr, "fleet_gen: {}\n", err->detail);
      return 1;
    }
  }
  return 0;
}
