// The timer step (core/analyse/step_timer.cc): constant / nonstop TSC. Oracle: the guest kernel's
// own cpuinfo flags (constant_tsc, nonstop_tsc) recorded in the Bochs guests (<run>.kvm.txt), and
// the QEMU guests' CPUID (TCG's EPYC has no invariant TSC; the 6.1 guest logged "Marking TSC
// unstable").
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
using testing::log_lines_with;
using testing::run;
using testing::step;

TEST(StepTimer, FollowsTheGuestKernelsOwnTscFlags) {
  for (const char* b : {"sky612", "snb612", "penryn612"}) {
    SCOPED_TRACE(b);
    std::string flags;
    auto answers = testing::bochs_kvm_answers(b);
    for (auto [it, end] = answers.equal_range("cpuinfo"); it != end; ++it)
      if (it->second.rfind("flags", 0) == 0) flags = it->second + " ";
    bool constant = flags.find(" constant_tsc ") != std::string::npos;
    bool nonstop = flags.find(" nonstop_tsc ") != std::string::npos;
    const StepResult& s = step(analyse_with(load_recorded(std::string("bochs/") + b + ".snapshot.json")), "timer");
    ASSERT_TRUE(constant) << "every Bochs model here has constant_tsc";
    EXPECT_EQ(s.status, Status::ok);
    EXPECT_EQ(s.summary, nonstop ? "constant, non-stop TSC: one frequency for every CPU"
                                 : "constant TSC (may stop in deep C-states)");
  }
}

TEST(StepTimer, QemuEpycWithoutInvariantTscWarnsWithTheMigrationRemedy) {
  Snapshot s = load("qemu-6.1-epyc-kvm.json");
  EXPECT_FALSE(log_lines_with(s, {"Marking TSC unstable"}).empty());
  const StepResult& t = step(analyse_with(load("qemu-6.1-epyc.json")), "timer");
  EXPECT_EQ(t.status, Status::warn);
  EXPECT_EQ(t.summary.rfind("no constant TSC: KVM tracks each CPU's frequency through cpufreq", 0), 0u) << t.summary;
  EXPECT_EQ(t.remedy, "prefer hosts with an invariant TSC for live migration");
  ASSERT_NE(evidence_of(t, "CPUID.0x80000007:EDX[8] invariant TSC"), nullptr);
  EXPECT_EQ(evidence_of(t, "CPUID.0x80000007:EDX[8] invariant TSC")->meaning, "clear");
}

}  // namespace
}  // namespace kvmprobe
