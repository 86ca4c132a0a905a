// The bios-lock step (core/analyse/step_bios_lock.cc): IA32_FEATURE_CONTROL / VM_CR on every CPU.
// Oracles: the Bochs guests where real kvm_intel loaded or refused (tests/data/bochs, their
// load_log), and the kernel source at /work/ksrc for the lines of versions not recorded.
#include <gtest/gtest.h>

#include "tests/core/analyse/step_test_support.h"
#include "tests/support/snapshot_builder.h"

namespace kvmprobe {
namespace {

using namespace testing;  // tests/core/analyse/step_test_support.h

// skyoff612: firmware left 0x3A locked with VMX off; the guest's kvm_intel refused, logging
// "VMX not enabled (by BIOS) in MSR_IA32_FEAT_CTL on CPU 0" (recorded load_log; the line is
// arch/x86/kvm/vmx/vmx.c: kvm_is_vmx_supported() (6.12)).
TEST(StepBiosLock, RecordedBochsVmxOffIsWhatRealKvmIntelRefused) {
  auto answers = testing::bochs_kvm_answers("skyoff612");
  ASSERT_EQ(testing::first_answer(answers, "modprobe_loaded"), "false");
  Report r = analyse_with(load_recorded("bochs/skyoff612.snapshot.json"));
  const StepResult& s = step(r, "bios-lock");
  EXPECT_EQ(s.status, Status::fail);
  EXPECT_EQ(s.refusal, Refusal::disabled_by_firmware);
  EXPECT_EQ(r.verdict.would_load, std::optional<bool>(false));
  ASSERT_FALSE(s.kvm_log.empty());
  EXPECT_EQ(s.kvm_log.back(), testing::first_answer(answers, "load_log"));
  const Evidence* e = evidence_of(s, "IA32_FEATURE_CONTROL (0x3a)", "cpu0");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->raw, "0x1");
  EXPECT_NE(s.remedy.find("locked"), std::string::npos) << s.remedy;
}

// sky612: the Bochs BIOS locked 0x3A with VMX on, and the guest's kvm_intel loaded.
TEST(StepBiosLock, RecordedBochsLockedWithVmxOnIsWhatRealKvmIntelLoaded) {
  ASSERT_EQ(testing::first_answer(testing::bochs_kvm_answers("sky612"), "modprobe_loaded"), "true");
  Report r = analyse_with(load_recorded("bochs/sky612.snapshot.json"));
  const StepResult& s = step(r, "bios-lock");
  EXPECT_EQ(s.status, Status::ok);
  EXPECT_EQ(s.summary, "locked with VMX enabled on every CPU");
  const Evidence* e = evidence_of(s, "IA32_FEATURE_CONTROL (0x3a)", "cpu0");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->raw, "0x5");
  EXPECT_EQ(e->meaning, "locked, VMX outside SMX on, VMX inside SMX off");
}

// A QEMU EPYC guest: VM_CR reads 0 (SVMDIS clear, unlocked) and kvm_amd loaded there
// (qemu-6.12-epyc-kvm.json has /dev/kvm answering).
TEST(StepBiosLock, RecordedEpycGuestVmCrClear) {
  ASSERT_EQ(load("qemu-6.12-epyc-kvm.json").kvm.api_version, 12);
  const StepResult& s = step(analyse_with(load("qemu-6.12-epyc.json")), "bios-lock");
  EXPECT_EQ(s.status, Status::ok);
  EXPECT_EQ(s.summary, "VM_CR.SVMDIS clear on every CPU");
  const Evidence* e = evidence_of(s, "VM_CR (0xc0010114)", "cpu1");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->raw, "0x0");
  EXPECT_EQ(e->meaning, "SVMDIS clear, unlocked");
}

// 6.1: arch/x86/kvm/x86.c: kvm_arch_init() (6.1) "kvm: support for '%s' disabled by bios";
// 6.12: arch/x86/kernel/cpu/amd.c: init_amd() (6.12) "SVM disabled (by BIOS) in MSR_VM_CR" clears
// SVM, then arch/x86/kvm/svm/svm.c: kvm_is_svm_supported() (6.12) "SVM not supported by CPU %d".
TEST(StepBiosLock, SvmDisabledAndLockedIsFirmwareWithEachVersionsLogLine) {
  Snapshot s = load("amd-epyc-7742-svm-disabled-locked.json");
  struct Case {
    const char* profile;
    std::vector<std::string> log;
  } cases[] = {
      {"4.19", {"kvm: disabled by bios"}},
      {"5.10", {"kvm: disabled by bios"}},
      {"6.1", {"kvm: support for 'kvm_amd' disabled by bios"}},
      {"6.6", {"kvm_amd: SVM disabled (by BIOS) in MSR_VM_CR on CPU 0"}},
      {"6.8", {"SVM disabled (by BIOS) in MSR_VM_CR", "kvm_amd: SVM not supported by CPU 0"}},
      {"6.12", {"SVM disabled (by BIOS) in MSR_VM_CR", "kvm_amd: SVM not supported by CPU 0"}},
  };
  for (const auto& c : cases) {
    Report r = run(s, c.profile);
    EXPECT_EQ(r.verdict.would_load, std::optional<bool>(false)) << c.profile;
    EXPECT_EQ(r.verdict.refusal, Refusal::disabled_by_firmware) << c.profile;
    EXPECT_EQ(r.verdict.failed_step, "bios-lock") << c.profile;
    EXPECT_EQ(step(r, "bios-lock").kvm_log, c.log) << c.profile;
    EXPECT_NE(step(r, "bios-lock").remedy.find("locked"), std::string::npos) << c.profile;
  }
}

TEST(StepBiosLock, UnlockedSvmDisableNamesEnableVmxAsTheRemedy) {
  Snapshot s = load("amd-epyc-7742-svm-disabled-locked.json");
  for (auto& cpu : s.cpus)
    for (auto& m : cpu.msrs)
      if (m.index == 0xc0010114) m.value = 0x10;  // SVMDIS, unlocked
  Report r = run(s, "6.1");
  EXPECT_EQ(r.verdict.refusal, Refusal::disabled_by_firmware);
  EXPECT_NE(step(r, "bios-lock").remedy.find("enable-vmx"), std::string::npos);
}

// arch/x86/kernel/cpu/feat_ctl.c: init_ia32_feat_ctl() (6.1) "VMX (outside TXT) disabled by BIOS",
// then arch/x86/kvm/x86.c: kvm_arch_init() (6.1) "kvm: support for '%s' disabled by bios".
TEST(StepBiosLock, IntelLockedWithVmxOffIsFirmwareDisabled) {
  Snapshot s = load("intel-core-i7-8700k-vmx-locked-off.json");
  Report r = run(s, "6.1");
  EXPECT_EQ(r.verdict.vendor_module, "kvm_intel");
  EXPECT_EQ(r.verdict.refusal, Refusal::disabled_by_firmware);
  EXPECT_EQ(step(r, "bios-lock").kvm_log,
            (std::vector<std::string>{"x86/cpu: VMX (outside TXT) disabled by BIOS",
                                      "kvm: support for 'kvm_intel' disabled by bios"}));
  Report r66 = run(s, "6.6");
  EXPECT_EQ(step(r66, "bios-lock").kvm_log.back(),
            "kvm_intel: VMX not enabled (by BIOS) in MSR_IA32_FEAT_CTL on CPU 0");
  Report r419 = run(s, "4.19");
  EXPECT_EQ(step(r419, "bios-lock").kvm_log, std::vector<std::string>{"kvm: disabled by bios"});
}

// IA32_FEATURE_CONTROL locked with VMX off on CPU 1 only: feat_ctl.c clears X86_FEATURE_VMX there
// (arch/x86/kernel/cpu/feat_ctl.c: init_ia32_feat_ctl(), pr_err_once) and so in boot_cpu_data,
// the AND over all CPUs (arch/x86/kernel/cpu/common.c: identify_cpu()). 6.1: vmx_disabled_by_bios()
// reads boot_cpu_has() and logs "support for 'kvm_intel' disabled by bios" (arch/x86/kvm/vmx/vmx.c,
// x86.c: kvm_x86_vendor_init() (6.1)); its per-CPU "VMX is disabled on CPU %d" is never reached.
// 6.12: the loading CPU passes kvm_is_vmx_supported(); CPU 0 then fails the CR4 reserved-bit
// comparison in kvm_x86_check_processor_compatibility(): -EIO, no KVM line (x86.c (6.12)).
TEST(StepBiosLock, VmxOffOnAnotherCpuOnlyIsDisabledByBiosIn61AndSilentIn612) {
  Snapshot s = load("intel-xeon-8180-skylake-sp-vmx.json");
  ASSERT_EQ(s.cpus.size(), 2u);
  for (auto& m : s.cpus[1].msrs)
    if (m.index == 0x3a) m.value = 0x1;  // locked, VMX off outside and inside SMX
  Report r61 = run(s, "6.1");
  EXPECT_EQ(r61.verdict.refusal, Refusal::disabled_by_firmware);
  EXPECT_EQ(step(r61, "bios-lock").kvm_log,
            (std::vector<std::string>{"x86/cpu: VMX (outside TXT) disabled by BIOS",
                                      "kvm: support for 'kvm_intel' disabled by bios"}));
  Report r612 = run(s, "6.12");
  EXPECT_EQ(r612.verdict.refusal, Refusal::disabled_by_firmware);
  EXPECT_EQ(step(r612, "bios-lock").kvm_log,
            std::vector<std::string>{"x86/cpu: VMX (outside TXT) disabled by BIOS"});
  EXPECT_EQ(step(r612, "bios-lock").summary,
            "VMX disabled by firmware on CPUs 1 (IA32_FEATURE_CONTROL locked with VMX off); the per-CPU "
            "compatibility check fails with EIO (no log line)");
}

// A VM_CR read that faults (Bochs 2.7 implements no VM_CR: tests/bochs/README.md) is not
// "cannot tell": the kernel's plain rdmsrl() has its #GP fixed up and reads 0, so SVMDIS counts
// as clear (arch/x86/kvm/svm/svm.c: is_disabled() (6.1); arch/x86/kernel/cpu/amd.c: init_amd()
// (6.12)). Unreadable (not root, no msr module) stays unknown.
TEST(StepBiosLock, FaultingVmCrReadsAsZeroInTheKernel) {
  Snapshot s = load("amd-epyc-7713-svm.json");
  for (auto& cpu : s.cpus)
    for (auto& m : cpu.msrs)
      if (m.index == 0xc0010114) m = {0xc0010114, ReadStatus::fault, 0, 5};
  for (const char* v : {"6.1", "6.12"}) {
    SCOPED_TRACE(v);
    Report r = run(s, v);
    EXPECT_EQ(step(r, "bios-lock").status, Status::ok) << step(r, "bios-lock").summary;
    EXPECT_NE(r.verdict.refusal, Refusal::cannot_tell) << r.verdict.reason;
  }
  for (auto& cpu : s.cpus)
    for (auto& m : cpu.msrs)
      if (m.index == 0xc0010114) m.status = ReadStatus::unavailable;
  EXPECT_EQ(step(run(s, "6.1"), "bios-lock").status, Status::unknown);
}

}  // namespace
}  // namespace kvmprobe
