// libcpuid identification from recorded leaves, over every shared CPUID dump.
#include "core/analyse/cpu_identity.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/collect/import_dump.h"
#include "core/collect/snapshot_json.h"
#include "tests/support/shared_data.h"

namespace kvmprobe {
namespace {

TEST(CpuIdentity, SkylakeSpFixtureHasCodenameAndModel) {
  auto s = collect::load_snapshot_file(testing::test_data("snapshots/intel-xeon-8180-skylake-sp-vmx.json").string());
  ASSERT_TRUE(s.ok());
  CpuIdentity id = identify_cpu(s->cpus.front());
  EXPECT_EQ(id.vendor, "GenuineIntel");
  EXPECT_EQ(id.family, 6u);
  EXPECT_EQ(id.model, 0x55u);
  EXPECT_NE(id.codename.find("Skylake"), std::string::npos) << id.codename << " " << id.note;
}

TEST(CpuIdentity, EveryLibcpuidDumpIdentifiesWithoutCrashing) {
  auto dir = testing::shared_data_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/data not present";
  unsigned files = 0, named = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir / "libcpuid-tests")) {
    if (!e.is_regular_file() || e.path().extension() != ".test") continue;
    auto s = collect::import_dump_file(e.path().string());
    ASSERT_TRUE(s.ok()) << e.path();
    CpuIdentity id = identify_cpu(s->cpus.front());
    ++files;
    named += !id.codename.empty();
    EXPECT_FALSE(id.vendor.empty()) << e.path();
  }
  EXPECT_GT(files, 400u);
  EXPECT_GT(named, files * 3 / 4) << "libcpuid names most real CPUs";
}

}  // namespace
}  // namespace kvmprobe

namespace kvmprobe {
namespace {

TEST(CpuIdentity, ImplausibleBestMatchIsDropped) {
  // A family-0x1A AMD EPYC: libcpuid 0.6.2 would call it an Athlon X2.
  CpuRecord cpu;
  cpu.cpuid = {{0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65},
               {1, 0, 0x00b00f21, 0, 0, 0x178bfbff},
               {0x80000000, 0, 0x80000004, 0, 0, 0},
               {0x80000002, 0, 0x20444d41, 0x43595045, 0x20, 0},
               {0x80000003, 0, 0, 0, 0, 0},
               {0x80000004, 0, 0, 0, 0, 0}};
  CpuIdentity id = identify_cpu(cpu);
  EXPECT_EQ(id.family, 0x1au);
  EXPECT_EQ(id.codename, "");
}

}  // namespace
}  // namespace kvmprobe
