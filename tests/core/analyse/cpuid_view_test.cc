// The environment step's "CPUID instruction vs kernel" row: every leaf where user-mode CPUID
// differed from /dev/cpu/N/cpuid, once, in leaf order, over all CPUs that differed.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/analyse/analyse.h"
#include "core/collect/snapshot_json.h"
#include "core/profiles/profiles.h"
#include "tests/support/shared_data.h"

namespace kvmprobe {
namespace {

TEST(CpuidView, LeavesThatDifferAreListedOnceInOrder) {
  // The recorded PVM guest whose user-mode CPUID differs from the kernel's (tests/data).
  auto loaded = collect::load_snapshot_file(testing::test_data("snapshots/pvm-guest-kvm-pvm-unbound.json").string());
  ASSERT_TRUE(loaded.ok()) << loaded.error().detail;
  Snapshot s = *loaded;
  ASSERT_EQ(s.cpus.size(), 2u);
  // Leaves that share digits (0x1 / 0x14 / 0x4.1 / 0x4.10), repeated across CPUs, out of order.
  s.cpus[0].cpuid_instruction_differs = {{0x14, 0}, {0x4, 10}, {0x1, 0}};
  s.cpus[1].cpuid_instruction_differs = {{0x1, 0}, {0x4, 1}, {0x14, 0}, {0x40000000, 0}, {0x4, 10}};
  Report r = analyse(s, *find_profile("6.1"));
  const StepResult* e = r.find_step("environment");
  ASSERT_NE(e, nullptr);
  auto row = std::find_if(e->evidence.begin(), e->evidence.end(),
                          [](const Evidence& ev) { return ev.what == "CPUID instruction vs kernel"; });
  ASSERT_NE(row, e->evidence.end());
  EXPECT_EQ(row->raw, "0x1, 0x4.1, 0x4.10, 0x14, 0x40000000");
  EXPECT_EQ(row->where, "CPUs 0-1");
  EXPECT_NE(e->summary.find("user-mode CPUID differs from the kernel's on leaves 0x1, 0x4.1, 0x4.10, 0x14, "
                            "0x40000000 (the kernel's were used)"),
            std::string::npos)
      << e->summary;
}

}  // namespace
}  // namespace kvmprobe
