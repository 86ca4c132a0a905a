// The consistency step (core/analyse/step_consistency.cc): the per-CPU compatibility checks.
// Oracle: the kernel source (arch/x86/kvm/vmx/vmx.c: vmx_check_processor_compat() (6.12):
// "Inconsistent VMCS config on CPU %d"), and the recorded guests of one and two CPUs.
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

TEST(StepConsistency, RecordedGuestsAgreeAcrossTheirCpus) {
  const StepResult& two = step(analyse_with(load("qemu-6.12-epyc.json")), "consistency");
  EXPECT_EQ(two.status, Status::ok);
  EXPECT_EQ(two.summary, "all 2 CPUs agree on the features KVM compares");
  const StepResult& one = step(analyse_with(load_recorded("bochs/sky612.snapshot.json")), "consistency");
  EXPECT_EQ(one.status, Status::ok);
  EXPECT_EQ(one.summary, "one CPU: nothing to compare");
}

TEST(StepConsistency, CpusThatDisagreeFailTheConsistencyCheck) {
  Snapshot s = load("intel-xeon-8180-skylake-sp-vmx.json");
  ASSERT_GE(s.cpus.size(), 2u);
  for (auto& m : s.cpus[1].msrs)
    if (m.index == 0x48b) m.value &= ~(1ull << (32 + 25));  // TSC scaling missing on CPU 1
  Report r = run(s, "6.6");
  EXPECT_EQ(step(r, "consistency").status, Status::fail);
  EXPECT_EQ(step(r, "consistency").kvm_log,
            std::vector<std::string>{"kvm_intel: Inconsistent VMCS config on CPU 1"});
  EXPECT_EQ(r.verdict.refusal, Refusal::other);
}

}  // namespace
}  // namespace kvmprobe
