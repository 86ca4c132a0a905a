// The msr-lists step (core/analyse/step_msr_lists.cc): the summary of kvm_init_msr_lists().
// Oracle: the lengths of KVM_GET_MSR_INDEX_LIST and the feature list real KVM returned in the
// QEMU guests (-kvm.json) and Bochs guests (<run>.kvm.txt msr_index_count, feature_msr_count).
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

TEST(StepMsrLists, SummaryCountsAreWhatEachGuestsKvmReturned) {
  for (const char* g : {"5.10-epyc", "6.1-epyc", "6.12-epyc", "7.2-epyc", "6.1-qemu64-svm", "6.12-qemu64-svm"}) {
    SCOPED_TRACE(g);
    Snapshot after = load(std::string("qemu-") + g + "-kvm.json");
    ASSERT_TRUE(after.kvm.msr_index_list && after.kvm.feature_msr_list);
    const StepResult& s = step(analyse_with(load(std::string("qemu-") + g + ".json")), "msr-lists");
    EXPECT_EQ(s.status, Status::ok);
    EXPECT_EQ(s.summary.rfind(fmt::format("KVM_GET_MSR_INDEX_LIST {} (", after.kvm.msr_index_list->size()), 0), 0u)
        << s.summary;
    EXPECT_NE(s.summary.find(fmt::format("feature list {} (", after.kvm.feature_msr_list->size())), std::string::npos)
        << s.summary;
  }
  for (const char* b : {"sky612", "snb61", "penryn612"}) {
    SCOPED_TRACE(b);
    auto answers = testing::bochs_kvm_answers(b);
    const StepResult& s = step(analyse_with(load_recorded(std::string("bochs/") + b + ".snapshot.json")), "msr-lists");
    EXPECT_EQ(s.summary.rfind("KVM_GET_MSR_INDEX_LIST " + testing::first_answer(answers, "msr_index_count") + " (", 0), 0u)
        << s.summary;
    EXPECT_NE(s.summary.find("feature list " + testing::first_answer(answers, "feature_msr_count") + " ("),
              std::string::npos)
        << s.summary;
  }
}

}  // namespace
}  // namespace kvmprobe
