// CPUID leaf 0xA decoded once (core/analyse/perfmon_leaf.h), and the two rules that read it:
// whether the hardware has a fixed counter, and how many perf exports. Expected values come
// from the kernel source named in perfmon_leaf.h (intel_pmu_init() of 6.1 and 6.12) and the
// SDM's fixed-counter enumeration, worked out by hand below.
#include "core/analyse/perfmon_leaf.h"

#include <gtest/gtest.h>

#include "core/analyse/analyse.h"
#include "core/analyse/msr_rules.h"
#include "core/analyse/pmu.h"
#include "tests/core/analyse/msr_test_hosts.h"

namespace kvmprobe {
namespace {

using testing::intel_host;
using testing::profile;
using testing::SnapshotBuilder;

// Version 5, 8 GP counters of 48 bits, event mask length 7; fixed counters 0 and 2 in the
// ECX bitmap (0b101), EDX[4:0] = 1 contiguous.
constexpr std::uint32_t kV5Eax = 0x07300805, kGapBitmap = 0x5, kGapEdx = 0x601;

TEST(PerfmonLeaf, DecodesEveryField) {
  SnapshotBuilder b = intel_host();
  b.leaf(0xa, 0, kV5Eax, 0, kGapBitmap, kGapEdx);
  Snapshot s = b.build();
  auto leaf = perfmon_leaf(*s.boot_cpu());
  ASSERT_TRUE(leaf);
  EXPECT_EQ(leaf->version, 5u);
  EXPECT_EQ(leaf->gp, 8u);
  EXPECT_EQ(leaf->gp_width, 48u);
  EXPECT_EQ(leaf->mask_len, 7u);
  EXPECT_EQ(leaf->fixed_contiguous, 1u);
  EXPECT_EQ(leaf->fixed_bitmap, 0x5u);
}

TEST(PerfmonLeaf, BelowTheMaximumBasicLeafIsAllZeroAndUnrecordedIsUnknown) {
  SnapshotBuilder low;
  low.vendor("GenuineIntel", 0x9, 0x80000008);
  Snapshot s = low.build();
  auto leaf = perfmon_leaf(*s.boot_cpu());
  ASSERT_TRUE(leaf);
  EXPECT_EQ(leaf->version, 0u);
  SnapshotBuilder missing;
  missing.vendor("GenuineIntel", 0x1b, 0x80000008);  // leaf 0xA in range but not recorded
  Snapshot m = missing.build();
  EXPECT_FALSE(perfmon_leaf(*m.boot_cpu()));
}

TEST(PerfmonLeaf, HardwareFixedCountersFollowTheBitmapOrTheContiguousCount) {
  PerfmonLeaf v5{.version = 5, .gp = 8, .fixed_contiguous = 1, .fixed_bitmap = kGapBitmap};
  EXPECT_TRUE(hw_fixed_counter(v5, 0, false));
  EXPECT_FALSE(hw_fixed_counter(v5, 1, false));
  EXPECT_TRUE(hw_fixed_counter(v5, 2, false));
  EXPECT_FALSE(hw_fixed_counter(v5, 3, false));
  PerfmonLeaf early_v2{.version = 2, .gp = 2, .fixed_contiguous = 0};
  EXPECT_TRUE(hw_fixed_counter(early_v2, 2, false));  // bare metal: the 3 counters perf assumes
  EXPECT_FALSE(hw_fixed_counter(early_v2, 3, false));
  EXPECT_FALSE(hw_fixed_counter(early_v2, 0, true));  // a hypervisor's EDX is taken as it is
  PerfmonLeaf v1{.version = 1, .gp = 2, .fixed_contiguous = 3};
  EXPECT_FALSE(hw_fixed_counter(v1, 0, false));
}

TEST(PerfmonLeaf, PerfCountsAGappedBitmapByItsHighestBitIn61AndBitsIn612) {
  PerfmonLeaf v5{.version = 5, .gp = 8, .fixed_contiguous = 1, .fixed_bitmap = kGapBitmap};
  EXPECT_EQ(perf_fixed_counters(v5, false, PerfFixedCount::highest_bit), 3u);  // fls(0b101)
  EXPECT_EQ(perf_fixed_counters(v5, false, PerfFixedCount::popcount), 2u);     // hweight64(0b101)
  PerfmonLeaf v4{.version = 4, .gp = 4, .fixed_contiguous = 2};
  EXPECT_EQ(perf_fixed_counters(v4, false, PerfFixedCount::popcount), 3u);
  EXPECT_EQ(perf_fixed_counters(v4, true, PerfFixedCount::popcount), 2u);
}

TEST(PerfmonLeaf, KvmFixedCountFollowsTheKernelsPerfRule) {
  SnapshotBuilder b = intel_host();
  b.leaf(0xa, 0, kV5Eax, 0, kGapBitmap, kGapEdx);
  Snapshot s = b.build();
  auto fixed = [&](const char* id) {
    EffectiveParams p = resolve_params(s, profile(id), {});
    return kvm_pmu(s, profile(id), p).fixed;
  };
  EXPECT_EQ(fixed("6.1"), 3u);   // min(fls = 3, KVM's cap 3)
  EXPECT_EQ(fixed("6.12"), 2u);  // min(popcount = 2, 3)
}

TEST(PerfmonLeaf, HostRdmsrModelSkipsTheMissingFixedCounterOfAGappedBitmap) {
  SnapshotBuilder b = intel_host();
  b.leaf(0xa, 0, kV5Eax, 0, kGapBitmap, kGapEdx);
  Snapshot s = b.build();
  Analyzer a(s, profile("6.1"));
  EXPECT_EQ(vendor_implements_msr(a.ctx(), 0x309).keep, Tri::yes);
  EXPECT_EQ(vendor_implements_msr(a.ctx(), 0x30a).keep, Tri::no);
  EXPECT_EQ(vendor_implements_msr(a.ctx(), 0x30b).keep, Tri::yes);
  EXPECT_EQ(vendor_implements_msr(a.ctx(), 0x30c).keep, Tri::no);
}

}  // namespace
}  // namespace kvmprobe
