// The tsc-scaling step (core/analyse/step_tsc_scaling.cc): has_tsc_control and the ratio limits.
// Oracle: KVM_CHECK_EXTENSION(KVM_CAP_TSC_CONTROL) as real KVM answered it in the QEMU guests
// (-kvm.json cap_tsc_control) and the Bochs guests (<run>.kvm.txt cap_tsc_control).
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

TEST(StepTscScaling, HasTscControlIsWhatEachGuestsKvmAnswered) {
  for (const char* g : {"5.10-epyc", "6.1-epyc", "6.12-epyc", "7.2-epyc", "6.12-qemu64-svm"}) {
    SCOPED_TRACE(g);
    Snapshot after = load(std::string("qemu-") + g + "-kvm.json");
    ASSERT_TRUE(after.kvm.cap_tsc_control.has_value());
    const StepResult& s = step(analyse_with(load(std::string("qemu-") + g + ".json")), "tsc-scaling");
    ASSERT_NE(evidence_of(s, "has_tsc_control"), nullptr);
    EXPECT_EQ(evidence_of(s, "has_tsc_control")->raw, std::to_string(*after.kvm.cap_tsc_control > 0));
    EXPECT_EQ(evidence_of(s, "has_tsc_control")->meaning, "CPUID.0x8000000A:EDX[4] TSCRATEMSR clear");
    EXPECT_EQ(s.summary, "no TSC scaling: guests run at the host TSC rate (catch-up mode above it)");
  }
  for (const char* b : {"sky612", "sky61", "snb612", "penryn612"}) {
    SCOPED_TRACE(b);
    std::string cap = testing::first_answer(testing::bochs_kvm_answers(b), "cap_tsc_control");
    const StepResult& s = step(analyse_with(load_recorded(std::string("bochs/") + b + ".snapshot.json")), "tsc-scaling");
    ASSERT_NE(evidence_of(s, "has_tsc_control"), nullptr);
    EXPECT_EQ(evidence_of(s, "has_tsc_control")->raw, cap);
  }
  // Skylake-X in Bochs has the TSC_SCALING secondary control (recorded "vmx flags ... tsc_scaling").
  const StepResult& sky = step(analyse_with(load_recorded("bochs/sky612.snapshot.json")), "tsc-scaling");
  EXPECT_EQ(sky.summary, "TSC scaling available; guests up to 2147483647 kHz");
  EXPECT_EQ(evidence_of(sky, "fractional bits")->raw, "48");  // VMX: 48 (arch/x86/kvm/vmx/vmx.c (6.12))
}

}  // namespace
}  // namespace kvmprobe
