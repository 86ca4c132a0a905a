// The svm-config step (core/analyse/step_svm_config.cc): svm_hardware_setup()'s choices and log
// lines. Oracle: each recorded QEMU guest's own kernel log after `modprobe kvm_amd`
// (qemu-<series>-<cpu>-kvm.json), predicted from the snapshot taken before it.
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

TEST(StepSvmConfig, PredictedLogLinesAreWhatEachGuestsKvmAmdLogged) {
  int compared = 0;
  for (const char* g : {"5.10-epyc", "6.1-epyc", "6.12-epyc", "7.2-epyc", "5.10-qemu64-svm", "6.1-qemu64-svm",
                        "6.12-qemu64-svm", "7.2-qemu64-svm"}) {
    SCOPED_TRACE(g);
    Snapshot after = load(std::string("qemu-") + g + "-kvm.json");
    std::vector<std::string> logged = log_lines_with(after, {"Nested Virtualization", "Nested Paging", "PMU virtualization"});
    ASSERT_FALSE(logged.empty());
    const StepResult& s = step(analyse_with(load(std::string("qemu-") + g + ".json")), "svm-config");
    EXPECT_EQ(s.status, Status::ok);
    EXPECT_EQ(s.kvm_log, logged);
    // -cpu EPYC has NPT (CPUID 0x8000000A EDX[0]), qemu64,+svm does not: "Nested Paging %sabled".
    bool npt = std::string(g).find("epyc") != std::string::npos;
    EXPECT_EQ(s.summary, npt ? "nested paging; NPT, nested" : "shadow paging (no NPT); nested");
    ++compared;
  }
  EXPECT_EQ(compared, 8);
}

}  // namespace
}  // namespace kvmprobe
