#include "core/collect/perf_pmu.h"

#include <gtest/gtest.h>

#include "tests/support/fake_sources.h"

namespace kvmprobe::collect {
namespace {

using testing::FakeTree;

const std::string kVirtLine =
    "[    0.252412] Performance Events: PMU not available due to virtualization, using software "
    "events only.";

TEST(CollectPerfPmu, CorePmuMeansYesWithItsName) {
  FakeTree tree;
  tree.write("/sys/bus/event_source/devices/cpu/caps/pmu_name", "skylake\n");
  tree.mkdir("/sys/bus/event_source/devices/software");
  RootedSysfsReader fs(tree.root());
  PerfPmuInfo p = detect_perf_pmu(fs, {});
  EXPECT_EQ(p.hw_pmu, Tri::yes);
  EXPECT_EQ(p.pmu_name, "skylake");
  EXPECT_EQ(p.evidence, "/sys/bus/event_source/devices/cpu");
}

TEST(CollectPerfPmu, HybridCorePmuCountsAsYes) {
  FakeTree tree;
  tree.mkdir("/sys/bus/event_source/devices/cpu_atom");
  tree.write("/sys/bus/event_source/devices/cpu_core/caps/pmu_name", "alderlake_hybrid\n");
  RootedSysfsReader fs(tree.root());
  PerfPmuInfo p = detect_perf_pmu(fs, {});
  EXPECT_EQ(p.hw_pmu, Tri::yes);
  EXPECT_EQ(p.pmu_name, "alderlake_hybrid");
}

TEST(CollectPerfPmu, NoCorePmuMeansNoAndQuotesTheBootLine) {
  FakeTree tree;
  for (const char* d : {"software", "tracepoint", "breakpoint", "msr", "uprobe"})
    tree.mkdir(std::string("/sys/bus/event_source/devices/") + d);
  RootedSysfsReader fs(tree.root());
  PerfPmuInfo p = detect_perf_pmu(fs, {"[    0.1] other", kVirtLine});
  EXPECT_EQ(p.hw_pmu, Tri::no);
  EXPECT_TRUE(p.pmu_name.empty());
  EXPECT_NE(p.evidence.find("/sys/bus/event_source/devices"), std::string::npos);
  EXPECT_NE(p.evidence.find("PMU not available due to virtualization"), std::string::npos);
}

TEST(CollectPerfPmu, UnreadableSysfsFallsBackToTheLogOrUnknown) {
  FakeTree tree;
  RootedSysfsReader fs(tree.root());
  EXPECT_EQ(detect_perf_pmu(fs, {}).hw_pmu, Tri::unknown);
  PerfPmuInfo p = detect_perf_pmu(
      fs,
      {"[    0.3] Performance Events: Broken PMU hardware detected, using software events only."});
  EXPECT_EQ(p.hw_pmu, Tri::no);
  EXPECT_NE(p.evidence.find("Broken PMU hardware"), std::string::npos);
}

}  // namespace
}  // namespace kvmprobe::collect
