// The XCR0 step of compat: the recorded KVM_GET_SUPPORTED_CPUID 0xD answer (0x7 in the QEMU
// EPYC guests) on each side, and XSAVE features one side supports and the other does not.
#include <gtest/gtest.h>

#include "core/compat/compat.h"
#include "tests/core/compat/compat_fixtures.h"

namespace kvmprobe::compat {
namespace {

using testing::recorded;
using testing::side_of;

TEST(CompatXcr0, RecordedSupportedXcr0OnBothSidesMatches) {
  Snapshot a = recorded("qemu-6.1-epyc-kvm.json"), b = recorded("qemu-6.12-epyc-kvm.json");
  SideFacts src = side_facts(side_of(a, "6.1")), dst = side_facts(side_of(b, "6.12"));
  ASSERT_EQ(src.supported_xcr0, 0x7u);
  EXPECT_EQ(src.xcr0_source, "recorded KVM_GET_SUPPORTED_CPUID 0xD.0");
  StepResult s = step_xcr0(src, dst);
  EXPECT_EQ(s.status, Status::ok) << s.summary;
}

TEST(CompatXcr0, AFeatureTheDestinationLacksIsRejected) {
  Snapshot a = recorded("qemu-6.12-epyc-kvm.json"), b = a;
  a.kvm.supported_xcr0 = 0x207;  // x87 | SSE | AVX | PKRU
  StepResult s = step_xcr0(side_facts(side_of(a, "src")), side_facts(side_of(b, "dst")));
  EXPECT_EQ(s.status, Status::fail);
  EXPECT_NE(s.summary.find("0x200"), std::string::npos) << s.summary;
  EXPECT_NE(s.summary.find("PKRU"), std::string::npos) << s.summary;
}

TEST(CompatXcr0, AnotherKernelIsModelledFromTheHostXcr0) {
  Snapshot a = recorded("qemu-6.1-epyc-kvm.json");
  SideFacts f = side_facts(side_of(a, "6.1 as 6.12", "6.12"));
  EXPECT_EQ(f.supported_xcr0, 0x7u) << "host XCR0 0x7 & 6.12's KVM_SUPPORTED_XCR0";
  EXPECT_NE(f.xcr0_source.find("modelled"), std::string::npos);
}

TEST(CompatXcr0, UnknownHostXcr0IsCannotTell) {
  Snapshot a = recorded("qemu-6.12-epyc-kvm.json"), b = recorded("amd-epyc-7713-svm.json");
  StepResult s = step_xcr0(side_facts(side_of(a, "src")), side_facts(side_of(b, "dst", "6.12")));
  EXPECT_EQ(s.status, Status::unknown) << s.summary;
}

}  // namespace
}  // namespace kvmprobe::compat
