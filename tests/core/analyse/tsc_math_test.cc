// KVM's TSC arithmetic (kvm-init.md §5.2, §5.3).
#include "core/analyse/tsc_math.h"

#include <gtest/gtest.h>

#include "core/profiles/profiles.h"

namespace kvmprobe {
namespace {

TscCaps caps(bool control, unsigned frac, std::uint64_t max) {
  TscCaps c;
  c.has_control = control;
  c.frac_bits = frac;
  c.max_ratio = max;
  c.default_ratio = 1ull << frac;
  return c;
}

TEST(TscMath, ScaleUsesA128BitProduct) {
  EXPECT_EQ(scale_tsc(0xffffffffffffffffull, 3000000, 48), 65536ull * 3000000 - 1);
  EXPECT_EQ(scale_tsc(0x000000ffffffffffull, 3000000, 32), 767999999ull);
  EXPECT_EQ(scale_tsc(1ull << 48, 2596145, 48), 2596145ull);
}

TEST(TscMath, GuestWithinTolerance) {
  const KernelProfile& p = *find_profile("6.1");
  auto a = guest_tsc(caps(false, 32, 0xffffffffff), p, 2000000, 2000400, 250);
  EXPECT_EQ(a.kind, GuestTscAnswer::Kind::within_tolerance);
  EXPECT_EQ(a.lo_khz, 1999500u);
  EXPECT_EQ(a.hi_khz, 2000500u);
}

TEST(TscMath, NoControlAboveIsCatchupBelowIsRefused) {
  const KernelProfile& p = *find_profile("6.1");
  EXPECT_EQ(guest_tsc(caps(false, 32, 0xffffffffff), p, 2000000, 2500000, 250).kind,
            GuestTscAnswer::Kind::catchup);
  EXPECT_EQ(guest_tsc(caps(false, 32, 0xffffffffff), p, 2000000, 1500000, 250).kind,
            GuestTscAnswer::Kind::impossible);
}

TEST(TscMath, ScaledRatioOnAmd) {
  const KernelProfile& p = *find_profile("6.12");
  TscCaps c = caps(true, 32, 0xffffffffff);
  c.max_guest_khz = 511999999;  // tsc_khz 2000000
  auto a = guest_tsc(c, p, 2000000, 1000000, 250);
  ASSERT_EQ(a.kind, GuestTscAnswer::Kind::scaled);
  EXPECT_EQ(a.ratio, 1ull << 31);  // 0.5 in 32 fractional bits
  EXPECT_EQ(guest_tsc(c, p, 2000000, 600000000, 250).kind, GuestTscAnswer::Kind::impossible);
}

}  // namespace
}  // namespace kvmprobe
