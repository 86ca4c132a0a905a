// The support step (core/analyse/step_support.cc): VMX/SVM in CPUID on every CPU, with each
// kernel's own refusal lines. Oracles: recorded QEMU guests (-cpu EPYC vs EPYC,-svm) and the
// kernel source at /work/ksrc, cited per case.
#include <gtest/gtest.h>

#include "tests/core/analyse/step_test_support.h"
#include "tests/support/snapshot_builder.h"

namespace kvmprobe {
namespace {

using namespace testing;  // tests/core/analyse/step_test_support.h

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

/// \a s with CPUID bit \a bit of leaf \a leaf, register ECX, cleared on CPU index \a i.
Snapshot without_ecx_bit(Snapshot s, std::size_t i, std::uint32_t leaf, unsigned bit) {
  for (CpuidLeaf& l : s.cpus.at(i).cpuid)
    if (l.leaf == leaf && l.subleaf == 0) l.ecx &= ~(1u << bit);
  return s;
}

// The boot (loading) CPU has VMX, CPU 1 does not. At boot identify_cpu() ANDs every CPU's flags
// into boot_cpu_data (arch/x86/kernel/cpu/common.c (6.1, 6.12)). 6.1: cpu_has_kvm_support()
// reads the loading CPU's CPUID and passes, vmx_disabled_by_bios() reads boot_cpu_has() and
// fails: "kvm: support for '%s' disabled by bios", -EOPNOTSUPP (arch/x86/kvm/x86.c:
// kvm_x86_vendor_init(), vmx/vmx.c (6.1)). 6.12: kvm_is_vmx_supported() on the loading CPU
// passes; kvm_x86_check_processor_compatibility() on CPU 0 first compares its CR4 reserved bits
// (VMXE allowed) with boot_cpu_data's (VMXE reserved) and returns -EIO before any vendor check
// prints (arch/x86/kvm/x86.c, x86.h: __cr4_reserved_bits() (6.12)). The module loads in neither.
TEST(StepSupport, VmxMissingOnAnotherCpuIsDisabledByBiosIn61AndSilentEioIn612) {
  Snapshot s = without_ecx_bit(load("intel-xeon-8180-skylake-sp-vmx.json"), 1, 1, 5);
  ASSERT_EQ(s.cpus.size(), 2u);
  Report r61 = analyse_with(s, "6.1");
  const StepResult st61 = step_of(r61, "support");
  EXPECT_EQ(st61.status, Status::fail);
  EXPECT_EQ(st61.refusal, Refusal::other);
  EXPECT_EQ(st61.kvm_log, std::vector<std::string>{"kvm: support for 'kvm_intel' disabled by bios"});
  EXPECT_EQ(st61.summary, "VMX missing on CPUs 1: KVM tests the features common to all CPUs and says "
                          "'disabled by bios'");
  EXPECT_EQ(r61.verdict.failed_step, "support");
  for (const char* v : {"6.6", "6.12"}) {
    Report r = analyse_with(s, v);
    const StepResult st = step_of(r, "support");
    EXPECT_EQ(st.status, Status::fail) << v;
    EXPECT_TRUE(st.kvm_log.empty()) << v << ": " << fmt::format("{}", fmt::join(st.kvm_log, " | "));
    EXPECT_EQ(st.summary, "VMX missing on CPUs 1: CPU 0's CR4 reserved bits differ from those common to all "
                          "CPUs, the per-CPU compatibility check fails with EIO (no log line)") << v;
    EXPECT_EQ(r.verdict.would_load, std::optional<bool>(false)) << v;
  }
  // The loading CPU itself without VMX: its own check names it, in both.
  Snapshot boot_lacks = without_ecx_bit(load("intel-xeon-8180-skylake-sp-vmx.json"), 0, 1, 5);
  EXPECT_EQ(step_of(analyse_with(boot_lacks, "6.1"), "support").kvm_log,
            std::vector<std::string>{"kvm: no hardware support for 'kvm_intel'"});
  EXPECT_EQ(step_of(analyse_with(boot_lacks, "6.12"), "support").kvm_log,
            std::vector<std::string>{"kvm_intel: VMX not supported by CPU 0"});
}

// The boot CPU has SVM, CPU 1 does not. 6.1: cpu_has_svm() reads boot_cpu_has(X86_FEATURE_SVM),
// the AND (arch/x86/include/asm/virtext.h (6.1)), so the lines are those of no SVM at all.
// 6.12: svm_init() checks the loading CPU; CR4's reserved bits do not depend on SVM, so
// svm_check_processor_compat() runs on each CPU in order and names CPU 1: "SVM not supported by
// CPU %d", -EIO (arch/x86/kvm/svm/svm.c: __kvm_is_svm_supported(), x86.c:
// kvm_x86_vendor_init() (6.12)).
TEST(StepSupport, SvmMissingOnAnotherCpuNamesThatCpuFrom66) {
  Snapshot s = without_ecx_bit(load("amd-epyc-7713-svm.json"), 1, 0x80000001, 2);
  ASSERT_GE(s.cpus.size(), 2u);
  const StepResult st61 = step_of(analyse_with(s, "6.1"), "support");
  EXPECT_EQ(st61.status, Status::fail);
  EXPECT_EQ(st61.kvm_log,
            (std::vector<std::string>{"has_svm: svm not available", "kvm: no hardware support for 'kvm_amd'"}));
  const StepResult st612 = step_of(analyse_with(s, "6.12"), "support");
  EXPECT_EQ(st612.status, Status::fail);
  EXPECT_EQ(st612.kvm_log, std::vector<std::string>{"kvm_amd: SVM not supported by CPU 1"});
  EXPECT_EQ(st612.summary, "SVM missing on CPUs 1");
}

}  // namespace
}  // namespace kvmprobe
