// compat(): the verdict from the steps, on the recorded QEMU EPYC guests.
#include "core/compat/compat.h"

#include <gtest/gtest.h>

#include "tests/core/compat/compat_fixtures.h"

namespace kvmprobe::compat {
namespace {

using testing::recorded;
using testing::side_of;

TEST(Compat, SameHostAndKernelIsCompatible) {
  Snapshot a = recorded("qemu-6.12-epyc-kvm.json");
  CompatReport r = compat(side_of(a, "a"), side_of(a, "a"));
  EXPECT_EQ(r.verdict, CompatVerdict::compatible) << r.reason;
  ASSERT_EQ(r.steps.size(), 5u);
  EXPECT_EQ(r.steps[0].id, "vendor");
  EXPECT_EQ(r.steps[1].id, "msrs");
  EXPECT_EQ(r.steps[2].id, "xcr0");
  EXPECT_EQ(r.steps[3].id, "tsc");
  EXPECT_EQ(r.steps[4].id, "cpuid");
}

TEST(Compat, SixOneToSixTwelveIsIncompatibleBecauseOfMsrs) {
  Snapshot a = recorded("qemu-6.1-epyc-kvm.json"), b = recorded("qemu-6.12-epyc-kvm.json");
  CompatReport r = compat(side_of(a, "a"), side_of(b, "b"));
  EXPECT_EQ(r.verdict, CompatVerdict::incompatible);
  EXPECT_EQ(r.find_step("msrs")->status, Status::fail);
  EXPECT_EQ(r.src_profile, "6.1");
  EXPECT_EQ(r.dst_profile, "6.12");
}

TEST(Compat, ATscOnlyByCatchUpIsConditional) {
  Snapshot a = recorded("qemu-6.12-epyc-kvm.json"), b = a;
  for (auto& c : a.tsc) c.khz = 2100000;
  CompatReport r = compat(side_of(a, "a"), side_of(b, "b"));
  EXPECT_EQ(r.verdict, CompatVerdict::conditional) << r.reason;
}

TEST(Compat, AnUnmodelledDestinationKernelIsUnknown) {
  Snapshot a = recorded("qemu-6.12-epyc-kvm.json");
  CompatReport r = compat(side_of(a, "a"), side_of(a, "b", "5.15"));
  EXPECT_EQ(r.verdict, CompatVerdict::unknown) << r.reason;
}

}  // namespace
}  // namespace kvmprobe::compat
