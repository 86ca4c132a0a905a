// The support step (core/analyse/step_support.cc): VMX/SVM in CPUID on every CPU, with each
// kernel's own refusal lines. Oracles: recorded QEMU guests (-cpu EPYC vs EPYC,-svm) and the
// kernel source at /work/ksrc, cited per case.
#include <gtest/gtest.h>

#include "tests/core/analyse/step_test_support.h"
#include "tests/support/snapshot_builder.h"

namespace kvmprobe {
namespace {

using testing::analyse_with;
using testing::evidence_of;
using testing::load_recorded;
using testing::step_of;

TEST(StepSupport, RecordedEpycGuestHasSvmOnEveryCpu) {
  for (const char* g : {"5.10", "6.1", "6.12", "7.2"}) {
    SCOPED_TRACE(g);
    Report r = analyse_with(load_recorded(std::string("snapshots/qemu-") + g + "-epyc.json"));
    const StepResult& s = step_of(r, "support");
    EXPECT_EQ(s.status, Status::ok);
    EXPECT_EQ(s.summary, "SVM present on all 2 CPUs (AMD)");
    const Evidence* e = evidence_of(s, "CPUID.0x80000001:ECX[2] SVM");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->where, "2 of 2 CPUs");
    EXPECT_TRUE(s.kvm_log.empty());
  }
}

// -cpu EPYC,-svm: CPUID.80000001h:ECX[2] is clear in the recorded guest. 6.1 logs through
// has_svm() (arch/x86/kvm/svm/svm.c, message from arch/x86/include/asm/virtext.h: cpu_has_svm())
// then kvm_arch_init() (arch/x86/kvm/x86.c: "kvm: no hardware support for '%s'") (6.1); 6.12
// through kvm_is_svm_supported() (arch/x86/kvm/svm/svm.c: "SVM not supported by CPU %d", pr_fmt
// "kvm_amd: ") (6.12).
TEST(StepSupport, RecordedGuestWithoutSvmFailsWithEachKernelsLines) {
  Snapshot s61 = load_recorded("snapshots/qemu-6.1-epyc-nosvm.json");
  ASSERT_EQ(s61.cpus[0].cpuid_bit(0x80000001, 0, Reg::ecx, 2), false);
  Report r61 = analyse_with(s61);
  const StepResult& st61 = step_of(r61, "support");
  EXPECT_EQ(st61.status, Status::fail);
  EXPECT_EQ(st61.refusal, Refusal::no_support);
  EXPECT_EQ(st61.summary, "CPU has no SVM (CPUID.0x80000001:ECX[2] clear)");
  EXPECT_EQ(st61.kvm_log,
            (std::vector<std::string>{"has_svm: svm not available", "kvm: no hardware support for 'kvm_amd'"}));
  EXPECT_FALSE(st61.remedy.empty());
  Report r612 = analyse_with(load_recorded("snapshots/qemu-6.12-epyc-nosvm.json"));
  EXPECT_EQ(step_of(r612, "support").kvm_log, std::vector<std::string>{"kvm_amd: SVM not supported by CPU 0"});
  EXPECT_EQ(r612.verdict.refusal, Refusal::no_support);
  EXPECT_EQ(r612.verdict.failed_step, "support");
}

// -cpu Skylake-Server-v4 under TCG: no VMX, so kvm_intel's kvm_is_vmx_supported() refuses
// ("VMX not supported by CPU %d", arch/x86/kvm/vmx/vmx.c (6.12)).
TEST(StepSupport, RecordedSkylakeGuestWithoutVmxUnderTcg) {
  Snapshot s = load_recorded("snapshots/qemu-6.12-skylake-server-v4.json");
  ASSERT_EQ(s.cpus[0].cpuid_bit(1, 0, Reg::ecx, 5), false);
  Report r = analyse_with(s);
  EXPECT_EQ(r.verdict.vendor_module, "kvm_intel");
  EXPECT_EQ(step_of(r, "support").summary, "CPU has no VMX (CPUID.1:ECX[5] clear)");
  EXPECT_EQ(step_of(r, "support").kvm_log, std::vector<std::string>{"kvm_intel: VMX not supported by CPU 0"});
}

TEST(StepSupport, NoVmxNoSvmIsNoSupport) {
  Snapshot s = testing::SnapshotBuilder().vendor("AuthenticAMD", 0xd, 0x8000001f).leaf(1, 0, 0, 0, 0, 0).leaf(0x80000001, 0, 0, 0, 0, 0).build();
  Report r = analyse_with(s, "6.12");
  EXPECT_EQ(r.verdict.refusal, Refusal::no_support);
  EXPECT_EQ(step_of(r, "support").kvm_log, std::vector<std::string>{"kvm_amd: SVM not supported by CPU 0"});
  Report r61 = analyse_with(s, "6.1");
  EXPECT_EQ(step_of(r61, "support").kvm_log,
            (std::vector<std::string>{"has_svm: svm not available", "kvm: no hardware support for 'kvm_amd'"}));
}

// From 4.20 cpu_has_svm() accepts Hygon beside AMD (arch/x86/include/asm/virtext.h:
// cpu_has_svm() (6.1): "not amd or hygon"); 4.19 still says "not amd".
TEST(StepSupport, HygonIsRefusedBy419Only) {
  Snapshot s = testing::SnapshotBuilder().vendor("HygonGenuine", 0xd, 0x8000001f).leaf(1, 0, 0, 0, 0, 1u | 1u << 24).build();
  s.cpus[0].cpuid.push_back({0x80000001, 0, 0, 0, 1u << 2, 1u << 20});
  s.cpus[0].msrs.push_back({0xc0010114, ReadStatus::value, 0, 0});
  EXPECT_EQ(analyse_with(s, "4.19").verdict.refusal, Refusal::no_support);
  EXPECT_EQ(step_of(analyse_with(s, "4.19"), "support").kvm_log.front(), "has_svm: not amd");
  for (const char* v : {"5.10", "6.1"}) {
    Report r = analyse_with(s, v);
    EXPECT_EQ(step_of(r, "support").status, Status::ok) << v << ": " << step_of(r, "support").summary;
    EXPECT_EQ(r.verdict.would_load, std::optional<bool>(true)) << v << ": " << r.verdict.reason;
  }
}

}  // namespace
}  // namespace kvmprobe
