// The TSC step of compat. Oracle: real KVM 6.12 refused a 2,000,000 kHz source TSC on a
// 2,100,000 kHz destination without TSC scaling ("kvm: user requested TSC rate below hardware
// speed", issue 8's oracle run); the rest follows x86.c: kvm_set_tsc_khz() / set_tsc_khz()
// (6.12): within kvm.tsc_tolerance_ppm no scaling, faster rate without scaling = catch-up.
#include <gtest/gtest.h>

#include "core/compat/compat.h"
#include "tests/core/compat/compat_fixtures.h"

namespace kvmprobe::compat {
namespace {

using testing::recorded;
using testing::side_of;

Snapshot with_tsc(Snapshot s, std::uint64_t khz) {
  for (auto& c : s.tsc) c.khz = khz;
  return s;
}

StepResult tsc_step(std::uint64_t src_khz, std::uint64_t dst_khz) {
  Snapshot a = with_tsc(recorded("qemu-6.12-epyc-kvm.json"), src_khz);
  Snapshot b = with_tsc(recorded("qemu-6.12-epyc-kvm.json"), dst_khz);
  return step_tsc(side_facts(side_of(a, "src")), side_facts(side_of(b, "dst")));
}

TEST(CompatTsc, SameFrequencyIsFine) {
  StepResult s = tsc_step(2000000, 2000000);
  EXPECT_EQ(s.status, Status::ok) << s.summary;
}

TEST(CompatTsc, WithinTheTolerancePpmIsFine) {
  StepResult s = tsc_step(2000000, 2000400);  // 200 ppm < 250
  EXPECT_EQ(s.status, Status::ok) << s.summary;
}

TEST(CompatTsc, SlowerSourceOnFasterHostWithoutScalingIsRefused) {
  StepResult s = tsc_step(2000000, 2100000);
  EXPECT_EQ(s.status, Status::fail) << s.summary;
  ASSERT_EQ(s.kvm_log.size(), 1u);
  EXPECT_EQ(s.kvm_log[0], "kvm: user requested TSC rate below hardware speed");
}

TEST(CompatTsc, FasterSourceOnSlowerHostWithoutScalingIsCatchUpOnly) {
  StepResult s = tsc_step(2100000, 2000000);
  EXPECT_EQ(s.status, Status::warn) << s.summary;
  EXPECT_NE(s.summary.find("invtsc"), std::string::npos);
}

TEST(CompatTsc, UnknownFrequencyIsCannotTell) {
  Snapshot a = recorded("qemu-6.12-epyc-kvm.json");
  Snapshot b = a;
  b.tsc.clear();
  StepResult s = step_tsc(side_facts(side_of(a, "src")), side_facts(side_of(b, "dst")));
  EXPECT_EQ(s.status, Status::unknown);
  EXPECT_FALSE(s.missing.empty());
}

}  // namespace
}  // namespace kvmprobe::compat
