// The generic step (core/analyse/step_generic.cc): FPU/FXSR and PAT[0]. Oracle: the kernel
// source, arch/x86/kvm/x86.c: kvm_x86_vendor_init() (6.12) / kvm_arch_init() (6.1), which refuses
// with "host PAT[0] is not WB" (6.1: "kvm: host PAT[0] is not WB") and -EIO; and the recorded
// guests, whose PAT is the kernel's default (PA0 = WB) and where KVM loaded.
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

TEST(StepGeneric, RecordedGuestPatIsWb) {
  ASSERT_EQ(load("qemu-6.12-epyc-kvm.json").kvm.api_version, 12);
  const StepResult& g = step(analyse_with(load("qemu-6.12-epyc.json")), "generic");
  EXPECT_EQ(g.status, Status::ok);
  EXPECT_EQ(g.summary, "FPU/FXSR present, PAT[0] is WB");
  ASSERT_NE(evidence_of(g, "IA32_PAT (0x277)", "cpu0"), nullptr);
  EXPECT_EQ(evidence_of(g, "IA32_PAT (0x277)", "cpu0")->raw, "0x407050600070106");
  EXPECT_EQ(evidence_of(g, "IA32_PAT (0x277)", "cpu0")->meaning, "PA0 = 6 (WB)");
}

// arch/x86/kvm/x86.c: kvm_arch_init() (6.1) and kvm_x86_vendor_init() (6.12): "host PAT[0] is not
// WB" under pr_fmt "kvm: " (6.12: KBUILD_MODNAME), -EIO.
TEST(StepGeneric, PatZeroNotWbRefusesWithEachKernelsLine) {
  Snapshot s = load("qemu-6.12-epyc.json");
  for (CpuRecord& c : s.cpus)
    for (MsrRead& m : c.msrs)
      if (m.index == 0x277) m.value = 0x0407050600070100;  // PA0 = UC
  const StepResult& g612 = step(run(s, "6.12"), "generic");
  EXPECT_EQ(g612.status, Status::fail);
  EXPECT_EQ(g612.kvm_log, std::vector<std::string>{"kvm: host PAT[0] is not WB"});
  const StepResult& g61 = step(run(s, "6.1"), "generic");
  EXPECT_EQ(g61.status, Status::fail);
  EXPECT_EQ(g61.kvm_log, std::vector<std::string>{"kvm: host PAT[0] is not WB"});
}

}  // namespace
}  // namespace kvmprobe
