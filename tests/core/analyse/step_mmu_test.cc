// The mmu step (core/analyse/step_mmu.cc): physical address bits and the MMIO SPTE mask.
// Oracle: the guests' CPUID.0x80000008:EAX[7:0] (QEMU and Bochs give 40 bits) where real KVM then
// loaded, and the kernel source (arch/x86/kvm/mmu/spte.c: kvm_mmu_reset_all_pte_masks() (6.12):
// MMIO SPTEs use the reserved bits from the physical-address width up to bit 51).
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

TEST(StepMmu, RecordedGuestsWherePhysicalBitsAre40) {
  for (const char* f : {"snapshots/qemu-6.1-epyc.json", "snapshots/qemu-6.12-qemu64-svm.json", "bochs/sky612.snapshot.json"}) {
    SCOPED_TRACE(f);
    Snapshot s = load_recorded(f);
    ASSERT_EQ(s.cpus[0].cpuid_reg(0x80000008, 0, Reg::eax).value_or(0) & 0xff, 40u);
    const StepResult& m = step(analyse_with(s), "mmu");
    EXPECT_EQ(m.status, Status::ok);
    EXPECT_EQ(m.summary, "40 physical address bits; MMIO SPTEs use reserved bits 40-51");
    ASSERT_NE(evidence_of(m, "MMIO SPTE reserved bits"), nullptr);
    EXPECT_EQ(evidence_of(m, "MMIO SPTE reserved bits")->raw, "0xfff0000000000");  // bits 40..51
  }
}

}  // namespace
}  // namespace kvmprobe
