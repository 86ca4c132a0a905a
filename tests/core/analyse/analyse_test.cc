// analyse() on recorded snapshots: verdicts, refusal classes and each version's log lines.
#include "core/analyse/analyse.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/collect/snapshot_json.h"
#include "core/profiles/profiles.h"
#include "tests/support/shared_data.h"
#include "tests/support/snapshot_builder.h"

namespace kvmprobe {
namespace {

Snapshot load(const std::string& name) {
  auto s = collect::load_snapshot_file(testing::test_data("snapshots/" + name).string());
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().detail);
  return s.ok() ? *s : Snapshot{};
}

Report run(const Snapshot& s, const std::string& profile, const ParamOverrides& o = {}) {
  const KernelProfile* p = find_profile(profile);
  EXPECT_NE(p, nullptr) << profile;
  return analyse(s, *p, o);
}

const StepResult& step(const Report& r, const std::string& id) {
  const StepResult* s = r.find_step(id);
  static StepResult none;
  EXPECT_NE(s, nullptr) << id;
  return s ? *s : none;
}

TEST(Analyse, EpycWithSvmWouldLoadOnEveryProfile) {
  Snapshot s = load("amd-epyc-7713-svm.json");
  for (const auto& p : all_profiles()) {
    Report r = analyse(s, p);
    EXPECT_EQ(r.verdict.vendor_module, "kvm_amd") << p.id;
    EXPECT_EQ(r.verdict.would_load, std::optional<bool>(true)) << p.id << ": " << r.verdict.reason;
    EXPECT_EQ(step(r, "support").status, Status::ok) << p.id;
    EXPECT_EQ(step(r, "bios-lock").status, Status::ok) << p.id;
  }
}

TEST(Analyse, SvmDisabledAndLockedIsFirmwareWithEachVersionsLogLine) {
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

TEST(Analyse, UnlockedSvmDisableNamesEnableVmxAsTheRemedy) {
  Snapshot s = load("amd-epyc-7742-svm-disabled-locked.json");
  for (auto& cpu : s.cpus)
    for (auto& m : cpu.msrs)
      if (m.index == 0xc0010114) m.value = 0x10;  // SVMDIS, unlocked
  Report r = run(s, "6.1");
  EXPECT_EQ(r.verdict.refusal, Refusal::disabled_by_firmware);
  EXPECT_NE(step(r, "bios-lock").remedy.find("enable-vmx"), std::string::npos);
}

TEST(Analyse, IntelLockedWithVmxOffIsFirmwareDisabled) {
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

TEST(Analyse, SkylakeSpWithRealVmxMsrsWouldLoad) {
  Snapshot s = load("intel-xeon-8180-skylake-sp-vmx.json");
  for (const char* p : {"4.19", "5.10", "5.15", "6.1", "6.6", "6.12", "7.3"}) {
    Report r = run(s, p);
    EXPECT_EQ(step(r, "vmx-config").status, Status::ok) << p << ": " << step(r, "vmx-config").summary;
    EXPECT_EQ(r.verdict.would_load, std::optional<bool>(true)) << p << ": " << r.verdict.reason;
    EXPECT_EQ(r.verdict.reason, fmt::format("kvm_intel would load with kernel {}", p));
  }
}

TEST(Analyse, MissingRequiredControlFailsWithEio) {
  Snapshot s = load("intel-xeon-8180-skylake-sp-vmx.json");
  for (auto& cpu : s.cpus)
    for (auto& m : cpu.msrs)
      if (m.index == 0x482) m.value &= ~(1ull << (32 + 2));  // INTR_WINDOW_EXITING not allowed
  EXPECT_EQ(step(run(s, "6.1"), "vmx-config").status, Status::fail);   // required from 6.1
  EXPECT_EQ(step(run(s, "5.15"), "vmx-config").status, Status::ok);    // not requested before
}

TEST(Analyse, CpusThatDisagreeFailTheConsistencyCheck) {
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

TEST(Analyse, NoVmxNoSvmIsNoSupport) {
  Snapshot s = testing::SnapshotBuilder().vendor("AuthenticAMD", 0xd, 0x8000001f).leaf(1, 0, 0, 0, 0, 0).leaf(0x80000001, 0, 0, 0, 0, 0).build();
  Report r = run(s, "6.12");
  EXPECT_EQ(r.verdict.refusal, Refusal::no_support);
  EXPECT_EQ(step(r, "support").kvm_log, std::vector<std::string>{"kvm_amd: SVM not supported by CPU 0"});
  Report r61 = run(s, "6.1");
  EXPECT_EQ(step(r61, "support").kvm_log,
            (std::vector<std::string>{"has_svm: svm not available", "kvm: no hardware support for 'kvm_amd'"}));
}

// From 4.20 cpu_has_svm() accepts Hygon beside AMD (arch/x86/include/asm/virtext.h:
// cpu_has_svm() (6.1)); with SVM, VM_CR clear and nothing else missing it loads.
TEST(Analyse, HygonIsRefusedBy419Only) {
  Snapshot s = testing::SnapshotBuilder().vendor("HygonGenuine", 0xd, 0x8000001f).leaf(1, 0, 0, 0, 0, 1u | 1u << 24).build();
  s.cpus[0].cpuid.push_back({0x80000001, 0, 0, 0, 1u << 2, 1u << 20});
  s.cpus[0].msrs.push_back({0xc0010114, ReadStatus::value, 0, 0});
  EXPECT_EQ(run(s, "4.19").verdict.refusal, Refusal::no_support);
  EXPECT_EQ(step(run(s, "4.19"), "support").kvm_log.front(), "has_svm: not amd");
  Report r510 = run(s, "5.10");
  EXPECT_EQ(step(r510, "support").status, Status::ok) << step(r510, "support").summary;
  EXPECT_EQ(r510.verdict.would_load, std::optional<bool>(true)) << r510.verdict.reason;
  EXPECT_EQ(run(s, "6.1").verdict.would_load, std::optional<bool>(true));
}

TEST(Analyse, UnreadableMsrsAreUnknownNotZero) {
  Snapshot s = load("intel-xeon-8180-skylake-sp-vmx.json");
  for (auto& cpu : s.cpus)
    for (auto& m : cpu.msrs) m.status = ReadStatus::unavailable;
  Report r = run(s, "6.1");
  EXPECT_EQ(r.verdict.would_load, std::nullopt);
  EXPECT_EQ(r.verdict.refusal, Refusal::cannot_tell);
  EXPECT_FALSE(step(r, "bios-lock").missing.empty());
}

// A VM_CR read that faults (Bochs 2.7 implements no VM_CR: tests/bochs/README.md) is not
// "cannot tell": the kernel's plain rdmsrl() has its #GP fixed up and reads 0, so SVMDIS counts
// as clear (arch/x86/kvm/svm/svm.c: is_disabled() (6.1); arch/x86/kernel/cpu/amd.c: init_amd()
// (6.12)). Unreadable (not root, no msr module) stays unknown.
TEST(Analyse, FaultingVmCrReadsAsZeroInTheKernel) {
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

TEST(Analyse, AnotherVendorModuleLoadedIsEexist) {
  Snapshot s = load("amd-epyc-7713-svm.json");
  s.modules.push_back({"kvm_intel", {}});
  Report r = run(s, "6.1");
  EXPECT_EQ(r.verdict.refusal, Refusal::other);
  EXPECT_EQ(step(r, "environment").kvm_log,
            std::vector<std::string>{"kvm: already loaded vendor module 'kvm_intel'"});
  EXPECT_EQ(step(run(s, "5.10"), "environment").kvm_log,
            std::vector<std::string>{"kvm: already loaded the other module"});
}

TEST(Analyse, OtherHypervisorHoldingSvmFailsAtLoadFrom612) {
  Snapshot s = load("amd-epyc-7713-svm.json");
  s.cpus[1].efer = 1ull << 12;  // EFER.SVME set by someone else
  EXPECT_EQ(step(run(s, "6.12"), "environment").status, Status::fail);
  EXPECT_EQ(step(run(s, "6.8"), "environment").status, Status::warn);  // VM creation fails instead
}

TEST(Analyse, KvmUsableThroughAnotherModuleIsReportedSeparately) {
  Snapshot s = testing::SnapshotBuilder().vendor("AuthenticAMD", 0xd, 0x8000001f).build();
  s.origin = "live";
  s.modules.push_back({"kvm_pvm", {}});
  s.kvm.present = s.kvm.openable = true;
  s.kvm.api_version = 12;
  Report r = run(s, "6.12");
  EXPECT_EQ(r.verdict.would_load, std::optional<bool>(false));
  EXPECT_EQ(r.verdict.kvm_usable, std::optional<bool>(true));
  EXPECT_NE(r.verdict.usable_reason.find("kvm_pvm"), std::string::npos);
}

}  // namespace
}  // namespace kvmprobe
