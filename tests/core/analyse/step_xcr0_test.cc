// The xcr0 step (core/analyse/step_xcr0.cc): host XCR0 and KVM's supported XCR0. Oracle: what
// real KVM answered (KVM_GET_SUPPORTED_CPUID 0xD.0) in the QEMU guests (-kvm.json) and the
// Bochs guests (<run>.kvm.txt supported_xcr0).
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/core/analyse/step_test_support.h"
#include "tests/support/snapshot_builder.h"

namespace kvmprobe {
namespace {

using testing::analyse_with;
using testing::evidence_of;
using testing::load;
using testing::load_recorded;
using testing::run;
using testing::step;

TEST(StepXcr0, SupportedXcr0IsWhatEachGuestsKvmAnswered) {
  for (const char* g : {"5.10-epyc", "6.1-epyc", "6.12-epyc", "7.2-epyc", "6.1-qemu64-svm", "6.12-qemu64-svm"}) {
    SCOPED_TRACE(g);
    Snapshot after = load(std::string("qemu-") + g + "-kvm.json");
    ASSERT_TRUE(after.kvm.supported_xcr0.has_value());
    Report r = analyse_with(load(std::string("qemu-") + g + ".json"));
    const Evidence* e = evidence_of(step(r, "xcr0"), "supported XCR0");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->raw, fmt::format("{:#x}", *after.kvm.supported_xcr0));
    EXPECT_EQ(step(r, "xcr0").status, Status::ok);
  }
}

// sky612: Bochs's Skylake-X CPUID has XSAVE but the guest kernel ran without it (OSXSAVE clear,
// recorded host_xcr0 "none"): KVM answered supported XCR0 0x0. penryn612: x87|SSE, 0x3.
TEST(StepXcr0, BochsGuestsWithAndWithoutOsxsave) {
  auto sky = testing::bochs_kvm_answers("sky612");
  ASSERT_EQ(testing::first_answer(sky, "host_xcr0"), "none");
  const StepResult& s = step(analyse_with(load_recorded("bochs/sky612.snapshot.json")), "xcr0");
  EXPECT_EQ(s.summary, "the kernel runs without XSAVE (CPUID has it, OSXSAVE clear): no XCR0, KVM reports no XSAVE state");
  ASSERT_NE(evidence_of(s, "supported XCR0"), nullptr);
  EXPECT_EQ(evidence_of(s, "supported XCR0")->raw, testing::first_answer(sky, "supported_xcr0"));
  auto penryn = testing::bochs_kvm_answers("penryn612");
  const StepResult& p = step(analyse_with(load_recorded("bochs/penryn612.snapshot.json")), "xcr0");
  EXPECT_EQ(p.summary, "host XCR0 0x3 → KVM supports 0x3 (x87 | SSE)");
  EXPECT_EQ(testing::first_answer(penryn, "supported_xcr0"), "0x3");
  EXPECT_EQ(testing::first_answer(penryn, "host_xcr0"), "0x3");
}

}  // namespace
}  // namespace kvmprobe
