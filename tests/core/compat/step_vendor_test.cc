// The vendor-module step of compat: kvm_intel ↔ kvm_amd never, and nested on → off.
#include <gtest/gtest.h>

#include "core/compat/compat.h"
#include "tests/core/compat/compat_fixtures.h"

namespace kvmprobe::compat {
namespace {

using testing::recorded;
using testing::side_of;

TEST(CompatVendor, SameModuleOnBothHostsIsFine) {
  Snapshot a = recorded("qemu-6.1-epyc-kvm.json"), b = recorded("qemu-6.12-epyc-kvm.json");
  StepResult s = step_vendor(side_facts(side_of(a, "a")), side_facts(side_of(b, "b")));
  EXPECT_EQ(s.status, Status::ok) << s.summary;
  EXPECT_NE(s.summary.find("kvm_amd"), std::string::npos);
}

TEST(CompatVendor, AmdToIntelNeverMoves) {
  Snapshot a = recorded("qemu-6.12-epyc-kvm.json"), b = recorded("intel-xeon-8180-skylake-sp-vmx.json");
  StepResult s = step_vendor(side_facts(side_of(a, "amd")), side_facts(side_of(b, "intel", "6.12")));
  EXPECT_EQ(s.status, Status::fail);
  EXPECT_NE(s.summary.find("kvm_amd → kvm_intel"), std::string::npos) << s.summary;
}

TEST(CompatVendor, ADestinationWhoseModuleWouldNotLoadIsRejected) {
  Snapshot a = recorded("amd-epyc-7713-svm.json"), b = recorded("amd-epyc-7742-svm-disabled-locked.json");
  StepResult s = step_vendor(side_facts(side_of(a, "ok", "6.12")), side_facts(side_of(b, "locked", "6.12")));
  EXPECT_EQ(s.status, Status::fail) << s.summary;
  EXPECT_NE(s.summary.find("would not load"), std::string::npos) << s.summary;
}

TEST(CompatVendor, NestedOnAtTheSourceAndOffAtTheDestinationIsAConditionalMove) {
  Snapshot a = recorded("qemu-6.12-epyc-kvm.json");
  SideFacts src = side_facts(side_of(a, "src"));
  SideFacts dst = side_facts(side_of(a, "dst", {}, {{"kvm_amd.nested", "0"}}));
  ASSERT_TRUE(src.nested);
  StepResult s = step_vendor(src, dst);
  EXPECT_EQ(s.status, Status::warn) << s.summary;
  EXPECT_NE(s.remedy.find("svm"), std::string::npos);
}

}  // namespace
}  // namespace kvmprobe::compat
