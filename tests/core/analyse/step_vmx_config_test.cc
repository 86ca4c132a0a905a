// The vmx-config step (core/analyse/step_vmx_config.cc): setup_vmcs_config()'s required and
// optional controls from the VMX capability MSRs. Oracles: Bochs guests where real kvm_intel
// loaded (tests/data/bochs), the kernel source for which control each version requires.
#include <gtest/gtest.h>

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

// Each Bochs CPU whose kvm_intel really loaded: the step passes; its EPT claim matches the
// guest kernel's own "vmx flags" (recorded cpuinfo line).
TEST(StepVmxConfig, RecordedBochsGuestsWhereKvmIntelLoadedPass) {
  for (const char* run_name : {"sky61", "sky612", "snb61", "snb612", "penryn61", "penryn612"}) {
    SCOPED_TRACE(run_name);
    auto answers = testing::bochs_kvm_answers(run_name);
    ASSERT_EQ(testing::first_answer(answers, "modprobe_loaded"), "true");
    std::string vmx_flags;
    for (auto [it, end] = answers.equal_range("cpuinfo"); it != end; ++it)
      if (it->second.rfind("vmx flags", 0) == 0) vmx_flags = it->second + " ";
    Report r = analyse_with(load_recorded(std::string("bochs/") + run_name + ".snapshot.json"));
    const StepResult& s = step(r, "vmx-config");
    EXPECT_EQ(s.status, Status::ok) << s.summary;
    bool ept = vmx_flags.find(" ept ") != std::string::npos;
    EXPECT_EQ(s.summary, ept ? "all required controls present; EPT" : "all required controls present; shadow paging (no EPT)")
        << vmx_flags;
    EXPECT_TRUE(s.kvm_log.empty());
  }
}

TEST(StepVmxConfig, SkylakeSpWithRealVmxMsrsPassesOnEveryProfile) {
  Snapshot s = load("intel-xeon-8180-skylake-sp-vmx.json");
  for (const char* p : {"4.19", "5.10", "5.15", "6.1", "6.6", "6.12", "7.3"}) {
    const StepResult& st = step(run(s, p), "vmx-config");
    EXPECT_EQ(st.status, Status::ok) << p << ": " << st.summary;
    const Evidence* e = evidence_of(st, "IA32_VMX_BASIC (0x480)", "cpu0");
    ASSERT_NE(e, nullptr) << p;
    EXPECT_EQ(e->raw, "0xda040000000004") << p;  // MSR_VALUES.tsv, Xeon Platinum 8160
  }
}

TEST(StepVmxConfig, MissingRequiredControlFailsWithEio) {
  Snapshot s = load("intel-xeon-8180-skylake-sp-vmx.json");
  for (auto& cpu : s.cpus)
    for (auto& m : cpu.msrs)
      if (m.index == 0x482) m.value &= ~(1ull << (32 + 2));  // INTR_WINDOW_EXITING not allowed
  EXPECT_EQ(step(run(s, "6.1"), "vmx-config").status, Status::fail);   // required from 6.1
  EXPECT_EQ(step(run(s, "5.15"), "vmx-config").status, Status::ok);    // not requested before
}

}  // namespace
}  // namespace kvmprobe
