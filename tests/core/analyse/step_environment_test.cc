// The environment step (core/analyse/step_environment.cc): another vendor module registered, the
// "another hypervisor holds VMX/SVM" check, fed CR4/EFER as only the
// companion driver records them (kvm-init.md §7.2): from recorded snapshots, and end to end
// from a collect() through a fake /dev/kvmprobe.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/analyse/analyse.h"
#include "core/collect/collect.h"
#include "core/collect/driver_source.h"
#include "core/collect/snapshot_json.h"
#include "core/profiles/profiles.h"
#include "tests/support/fake_driver.h"
#include "tests/support/fake_sources.h"
#include "tests/support/shared_data.h"
#include "tests/core/analyse/step_test_support.h"
#include "tests/support/snapshot_builder.h"

namespace kvmprobe {
namespace {

constexpr std::uint64_t kCr4Vmxe = 1ull << 13;
constexpr std::uint64_t kEferSvme = 1ull << 12;

using testing::run;
using testing::step;

Snapshot load(const std::string& name) {
  auto s = collect::load_snapshot_file(testing::test_data("snapshots/" + name).string());
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().detail);
  return s.ok() ? *s : Snapshot{};
}

StepResult environment(const Snapshot& s, const std::string& profile) {
  const KernelProfile* p = find_profile(profile);
  EXPECT_NE(p, nullptr) << profile;
  Report r = analyse(s, *p);
  const StepResult* step = r.find_step("environment");
  EXPECT_NE(step, nullptr);
  return step ? *step : StepResult{};
}

/// The Intel host with the CR4 a driver would record: OSXSAVE etc., VMXE on \a held CPUs.
Snapshot intel_with_cr4(std::initializer_list<std::size_t> held) {
  Snapshot s = load("intel-xeon-8180-skylake-sp-vmx.json");
  for (auto& cpu : s.cpus) cpu.cr4 = 0x3506f0;  // OSXSAVE, SMEP, PGE...; VMXE clear
  for (std::size_t i : held) *s.cpus.at(i).cr4 |= kCr4Vmxe;
  return s;
}

TEST(EnvironmentStep, Cr4VmxeClearOnEveryCpuIsFine) {
  StepResult e = environment(intel_with_cr4({}), "6.12");
  EXPECT_EQ(e.status, Status::ok) << e.summary;
}

TEST(EnvironmentStep, Cr4VmxeSetFailsTheLoadFrom612AndVmCreationBefore) {
  Snapshot s = intel_with_cr4({1});
  StepResult e612 = environment(s, "6.12");
  EXPECT_EQ(e612.status, Status::fail);
  EXPECT_EQ(e612.refusal, Refusal::other);
  EXPECT_NE(e612.summary.find("CR4.VMXE already set on CPUs 1"), std::string::npos) << e612.summary;
  EXPECT_NE(e612.remedy.find("stop the other hypervisor"), std::string::npos);
  StepResult e61 = environment(s, "6.1");
  EXPECT_EQ(e61.status, Status::warn);  // enable_virt_at_load is off: VM creation fails instead
  EXPECT_NE(e61.summary.find("creating a VM fails (EBUSY)"), std::string::npos) << e61.summary;
}

TEST(EnvironmentStep, VmxeWhileKvmIntelIsLoadedIsKvmItself) {
  Snapshot s = intel_with_cr4({0, 1});
  s.modules.push_back({"kvm_intel", {}});
  StepResult e = environment(s, "6.12");
  EXPECT_EQ(e.status, Status::ok) << e.summary;
  EXPECT_TRUE(e.kvm_log.empty());
  EXPECT_NE(e.summary.find("kvm_intel is already loaded"), std::string::npos) << e.summary;
}

TEST(EnvironmentStep, EferSvmeDoesNotConcernAnIntelHost) {
  Snapshot s = intel_with_cr4({});
  s.cpus[0].efer = kEferSvme | 0xd01;
  EXPECT_EQ(environment(s, "6.12").status, Status::ok);
}

TEST(EnvironmentStep, WithoutDriverDataNothingIsClaimed) {
  Snapshot s = load("intel-xeon-8180-skylake-sp-vmx.json");
  for (auto& cpu : s.cpus) cpu.cr4.reset();
  EXPECT_EQ(environment(s, "6.12").status, Status::ok);
}

// End to end: collect() through a fake driver whose CPU 1 has EFER.SVME set, then analyse.
TEST(EnvironmentStep, LightsUpFromACollectThroughTheDriver) {
  testing::FakeHostWorld w;
  w.cpuid.set(0x80000001, 0, 0, 0, 1u << 2, 0);  // SVM
  testing::FakeDriverKernel k;
  for (unsigned cpu : {0u, 1u}) {
    kvmprobe_cpu_state st{};
    st.valid = KVMPROBE_STATE_CR0 | KVMPROBE_STATE_CR4 | KVMPROBE_STATE_EFER;
    st.cr4 = 0x3506f0;
    st.efer = 0xd01 | (cpu == 1 ? kEferSvme : 0);
    k.state[cpu] = st;
  }
  int open_errno = 0;
  collect::DriverSource driver(testing::fake_driver_opener(k, open_errno));
  auto src = w.sources();
  src.msr_driver = &driver;
  src.driver_state = &driver;
  collect::CollectOptions opt;
  opt.backend = collect::CollectOptions::Backend::driver;
  auto snap = collect::collect(opt, src);
  ASSERT_TRUE(snap.ok()) << snap.error().detail;
  ASSERT_EQ(snap->cpus[1].efer, 0xd01u | kEferSvme);
  StepResult e = environment(*snap, "6.12");
  EXPECT_EQ(e.status, Status::fail) << e.summary;
  EXPECT_NE(e.summary.find("EFER.SVME already set on CPUs 1"), std::string::npos) << e.summary;
}

// A real PVM guest (tests/data/snapshots/README.md): kvm_pvm built in but unbound, no /dev/kvm,
// user-mode CPUID differing from the kernel's. kvm_pvm blocks nothing there.
TEST(EnvironmentStep, BuiltInKvmPvmThatDidNotBindBlocksNothing) {
  Snapshot s = load("pvm-guest-kvm-pvm-unbound.json");
  ASSERT_EQ(s.kvm.misc_registered, false);
  const KernelProfile* p = find_profile("7.3");
  ASSERT_NE(p, nullptr);
  Report r = analyse(s, *p);
  const StepResult* e = r.find_step("environment");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->status, Status::ok) << e->summary;
  EXPECT_EQ(e->summary.find("EEXIST"), std::string::npos) << e->summary;
  EXPECT_NE(e->summary.find("kvm_pvm is built in but did not bind (kvm-pvm: this kernel is itself a "
                            "kvm-pvm guest; not binding)"),
            std::string::npos)
      << e->summary;
  EXPECT_TRUE(e->kvm_log.empty());
  EXPECT_EQ(r.verdict.kvm_usable, false);
  EXPECT_EQ(r.verdict.usable_reason,
            "no /dev/kvm: kvm_pvm is built in but did not bind (kvm-pvm: this kernel is itself a "
            "kvm-pvm guest; not binding)");
  // The CPU has no SVM: that, not kvm_pvm, is why kvm_amd would not load.
  EXPECT_EQ(r.verdict.failed_step, "support");
  EXPECT_EQ(r.verdict.refusal, Refusal::no_support);
}

// The other kind of the same machine: kvm_pvm bound, /dev/kvm through it. Then it is registered
// and kvm_amd would fail with EEXIST, with the version's exact line.
TEST(EnvironmentStep, KvmPvmThatBoundIsRegisteredAndBlocksTheVendorModule) {
  Snapshot s = load("pvm-guest-kvm-pvm-unbound.json");
  s.kvm.misc_registered = true;
  s.kvm.present = s.kvm.openable = true;
  s.kvm.open_error = 0;
  s.kvm.api_version = 12;
  StepResult e = environment(s, "7.3");
  EXPECT_EQ(e.status, Status::fail);
  EXPECT_EQ(e.refusal, Refusal::other);
  EXPECT_NE(e.summary.find("kvm_pvm is loaded: kvm_amd would fail with EEXIST"), std::string::npos) << e.summary;
  // (support fails first on this SVM-less CPU, so the step's log line is "not reached")
  EXPECT_TRUE(std::any_of(e.evidence.begin(), e.evidence.end(), [](const Evidence& ev) {
    return ev.where == "kvm_pvm" && ev.meaning == "another KVM vendor module is registered";
  }));
  Report r = analyse(s, *find_profile("7.3"));
  EXPECT_EQ(r.verdict.kvm_usable, true);
  EXPECT_EQ(r.verdict.usable_reason, "/dev/kvm answers through kvm_pvm (KVM API 12)");
}

// Loadable modules are registered whenever present (a failed init unloads them); snapshots
// older than the misc-device field keep the old reading.
TEST(EnvironmentStep, ALoadedModuleOrAnUnrecordedMiscDeviceCountsAsRegistered) {
  Snapshot s = load("pvm-guest-kvm-pvm-unbound.json");
  for (LoadedModule& m : s.modules) m.builtin = false;
  EXPECT_EQ(vendor_module_state(s, "kvm_pvm"), ModuleState::registered);
  s = load("pvm-guest-kvm-pvm-unbound.json");
  s.kvm.misc_registered.reset();
  EXPECT_EQ(vendor_module_state(s, "kvm_pvm"), ModuleState::registered);
  EXPECT_EQ(vendor_module_state(s, "kvm_intel"), ModuleState::absent);
  s.modules.erase(std::remove_if(s.modules.begin(), s.modules.end(),
                                 [](const LoadedModule& m) { return m.name == "kvm_pvm"; }),
                  s.modules.end());
  s.kvm.misc_registered = false;
  Report r = analyse(s, *find_profile("7.3"));
  EXPECT_EQ(r.verdict.usable_reason, "no /dev/kvm: kvm is built in but no vendor module registered");
}

// Whose CPUID was read is evidence, and where user mode disagreed is named leaf by leaf.
TEST(EnvironmentStep, NamesTheCpuidViewAndTheLeavesWhereUserModeDiffers) {
  Snapshot s = load("pvm-guest-kvm-pvm-unbound.json");
  ASSERT_FALSE(s.cpus.empty());
  ASSERT_EQ(s.cpus[0].cpuid_view, CpuidView::kernel);
  // The recording: the kernel sees KVM's hypervisor leaf, user mode bhyve's.
  const CpuidLeaf* kernel = s.cpus[0].find_cpuid(0x40000000);
  ASSERT_NE(kernel, nullptr);
  EXPECT_EQ(kernel->ebx, 0x4b4d564bu);  // "KVMK"
  auto user = std::find_if(s.cpus[0].cpuid_instruction_differs.begin(), s.cpus[0].cpuid_instruction_differs.end(),
                           [](const CpuidLeaf& l) { return l.leaf == 0x40000000; });
  ASSERT_NE(user, s.cpus[0].cpuid_instruction_differs.end());
  EXPECT_EQ(user->ebx, 0x76796862u);  // "bhyv"
  StepResult e = environment(s, "7.3");
  auto row = std::find_if(e.evidence.begin(), e.evidence.end(),
                          [](const Evidence& ev) { return ev.what == "CPUID instruction vs kernel"; });
  ASSERT_NE(row, e.evidence.end());
  EXPECT_NE(row->raw.find("0x40000000"), std::string::npos) << row->raw;
  EXPECT_NE(row->raw.find("0x1,"), std::string::npos) << row->raw;
  EXPECT_EQ(row->where, "CPUs 0-1");
  EXPECT_NE(e.summary.find("user-mode CPUID differs from the kernel's"), std::string::npos) << e.summary;
  // Read with the instruction only (no /dev/cpu/N/cpuid): the report says it may differ.
  for (CpuRecord& c : s.cpus) {
    c.cpuid_view = CpuidView::instruction;
    c.cpuid_instruction_differs.clear();
  }
  e = environment(s, "7.3");
  EXPECT_NE(e.summary.find("CPUID read in user mode (no /dev/cpu/N/cpuid): it may differ from the kernel's view"),
            std::string::npos)
      << e.summary;
}

TEST(EnvironmentStep, AnotherVendorModuleLoadedIsEexist) {
  Snapshot s = load("amd-epyc-7713-svm.json");
  s.modules.push_back({"kvm_intel", {}});
  Report r = run(s, "6.1");
  EXPECT_EQ(r.verdict.refusal, Refusal::other);
  EXPECT_EQ(step(r, "environment").kvm_log,
            std::vector<std::string>{"kvm: already loaded vendor module 'kvm_intel'"});
  EXPECT_EQ(step(run(s, "5.10"), "environment").kvm_log,
            std::vector<std::string>{"kvm: already loaded the other module"});
}

TEST(EnvironmentStep, OtherHypervisorHoldingSvmFailsAtLoadFrom612) {
  Snapshot s = load("amd-epyc-7713-svm.json");
  s.cpus[1].efer = 1ull << 12;  // EFER.SVME set by someone else
  EXPECT_EQ(step(run(s, "6.12"), "environment").status, Status::fail);
  EXPECT_EQ(step(run(s, "6.8"), "environment").status, Status::warn);  // VM creation fails instead
}

TEST(EnvironmentStep, KvmUsableThroughAnotherModuleIsReportedSeparately) {
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

// A recorded QEMU guest: CPUID leaf 0x40000000 names TCG, the snapshot was taken before any KVM
// module, so there is no /dev/kvm (the -kvm.json taken after modprobe has it answering).
TEST(EnvironmentStep, RecordedQemuGuestIsATcgGuestWithoutDevKvm) {
  ASSERT_EQ(testing::load("qemu-6.12-epyc-kvm.json").kvm.api_version, 12);
  StepResult e = environment(load("qemu-6.12-epyc.json"), "6.12");
  EXPECT_EQ(e.status, Status::ok);
  EXPECT_EQ(e.summary, "guest of 'TCGTCGTCGTCG': KVM here is nested");
  const Evidence* hv = testing::evidence_of(e, "hypervisor leaf 0x40000000", "cpu0");
  ASSERT_NE(hv, nullptr);
  EXPECT_EQ(hv->meaning, "running as a guest of 'TCGTCGTCGTCG'");
  ASSERT_NE(testing::evidence_of(e, "/dev/kvm"), nullptr);
  EXPECT_EQ(testing::evidence_of(e, "/dev/kvm")->meaning, "absent");
}

}  // namespace
}  // namespace kvmprobe
