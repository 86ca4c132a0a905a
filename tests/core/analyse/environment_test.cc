// The environment step's "another hypervisor holds VMX/SVM" check, fed CR4/EFER as only the
// companion driver records them (kvm-init.md §7.2): from recorded snapshots, and end to end
// from a collect() through a fake /dev/kvmprobe.
#include <gtest/gtest.h>

#include "core/analyse/analyse.h"
#include "core/collect/collect.h"
#include "core/collect/driver_source.h"
#include "core/collect/snapshot_json.h"
#include "core/profiles/profiles.h"
#include "tests/support/fake_driver.h"
#include "tests/support/fake_sources.h"
#include "tests/support/shared_data.h"

namespace kvmprobe {
namespace {

constexpr std::uint64_t kCr4Vmxe = 1ull << 13;
constexpr std::uint64_t kEferSvme = 1ull << 12;

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
  EXPECT_NE(environment(s, "6.12").status, Status::fail);
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

}  // namespace
}  // namespace kvmprobe
