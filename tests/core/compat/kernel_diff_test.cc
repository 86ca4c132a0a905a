// check --diff-kernel: the QEMU EPYC guest recorded on 6.1 diffed against 6.12. Oracle: the
// same guest model recorded under 6.12 (tests/data/snapshots/qemu-6.12-epyc-kvm.json): what its
// real KVM lists is what the 6.1 host gains and loses.
#include "core/compat/kernel_diff.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/core/compat/compat_fixtures.h"

namespace kvmprobe::compat {
namespace {

using testing::recorded;
using testing::side_of;

std::vector<std::uint32_t> minus(const std::vector<std::uint32_t>& a, const std::vector<std::uint32_t>& b) {
  std::vector<std::uint32_t> out;
  for (auto x : a)
    if (std::find(b.begin(), b.end(), x) == b.end()) out.push_back(x);
  return out;
}

TEST(KernelDiff, SixOneToSixTwelveMatchesWhatTheSixTwelveGuestRecorded) {
  Snapshot a = recorded("qemu-6.1-epyc-kvm.json"), b = recorded("qemu-6.12-epyc-kvm.json");
  KernelDiff d = diff_kernels(side_of(a, "old"), side_of(a, "new", "6.12"));
  EXPECT_EQ(d.old_side.profile_id, "6.1");
  EXPECT_EQ(d.new_side.profile_id, "6.12");
  EXPECT_TRUE(d.new_side.undecided.empty()) << d.new_side.index_list_missing;
  EXPECT_EQ(d.save_removed, minus(*a.kvm.msr_index_list, *b.kvm.msr_index_list));
  EXPECT_EQ(d.save_added, minus(*b.kvm.msr_index_list, *a.kvm.msr_index_list));
  EXPECT_EQ(d.save_removed.size(), 30u);
  EXPECT_TRUE(d.feature_removed.empty());
  EXPECT_TRUE(d.feature_added.empty());
  auto p = std::find_if(d.params.begin(), d.params.end(), [](const ParamChange& c) {
    return c.name == "kvm.enable_virt_at_load";
  });
  ASSERT_NE(p, d.params.end());
  EXPECT_EQ(p->old_value, "");
  EXPECT_EQ(p->new_value, "Y");
  EXPECT_EQ(d.old_to_new.verdict, CompatVerdict::incompatible);
  EXPECT_EQ(d.new_to_old.verdict, CompatVerdict::incompatible);
}

TEST(KernelDiff, TheSameKernelChangesNothing) {
  Snapshot a = recorded("qemu-6.12-epyc-kvm.json");
  KernelDiff d = diff_kernels(side_of(a, "old"), side_of(a, "new", "6.12"));
  EXPECT_TRUE(d.save_removed.empty());
  EXPECT_TRUE(d.save_added.empty());
  EXPECT_TRUE(d.log_added.empty());
  EXPECT_TRUE(d.log_removed.empty());
  EXPECT_TRUE(d.params.empty());
  EXPECT_EQ(d.old_to_new.verdict, CompatVerdict::compatible) << d.old_to_new.reason;
  EXPECT_EQ(d.new_to_old.verdict, CompatVerdict::compatible) << d.new_to_old.reason;
}

}  // namespace
}  // namespace kvmprobe::compat
