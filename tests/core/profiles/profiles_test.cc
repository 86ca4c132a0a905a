// Choosing the kernel profile for a release (Debian releases hide the stable patch level).
#include "core/profiles/profiles.h"
#include "core/profiles/boot_behaviour.h"

#include <gtest/gtest.h>

namespace kvmprobe {
namespace {

std::string chosen(const std::string& release, const std::string& version = {}) {
  auto c = choose_profile(release, version);
  return c.ok() ? c->profile->id : "error: " + c.error().detail;
}

TEST(Profiles, ChoosesBySeriesAndPatchLevel) {
  EXPECT_EQ(chosen("6.1.0-56-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-10-01)"), "6.1");
  EXPECT_EQ(chosen("6.1.0"), "6.1.0");
  EXPECT_EQ(chosen("6.1.0-56-amd64"), "6.1");  // ABI release without uname -v: newest of the series
  EXPECT_EQ(chosen("6.12.117+deb12-amd64"), "6.12");
  EXPECT_EQ(chosen("5.10.0-30-amd64", "#1 SMP Debian 5.10.218-1"), "5.10");
  EXPECT_EQ(chosen("5.10.7"), "5.10.7");
  EXPECT_EQ(chosen("4.19.0-27-amd64"), "4.19");
  EXPECT_EQ(chosen("6.8.0-31-generic"), "6.8");
  EXPECT_EQ(chosen("6.18.44-fc-v509"), "7.3");
  EXPECT_EQ(chosen("7.3"), "7.3");
}

// A kernel newer than the newest profile (sid moving on) gets the newest profile, and the note
// says that it is newer, not merely "not modelled".
TEST(Profiles, NewerThanTheNewestProfileIsSaid) {
  auto c = choose_profile("7.4.1+deb14-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 7.4.1-1 (2027-03-01)");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->profile->id, "7.3");
  EXPECT_NE(c->note.find("7.4 is newer than every modelled KVM (newest: 7.3)"), std::string::npos) << c->note;
  auto sid = choose_profile("7.2.13+deb14-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 7.2.13-1 (2026-10-28)");
  ASSERT_TRUE(sid.ok());
  EXPECT_EQ(sid->profile->id, "7.3");
  EXPECT_NE(sid->note.find("7.2 itself is not modelled"), std::string::npos) << sid->note;
  EXPECT_EQ(sid->note.find("newer than"), std::string::npos) << sid->note;
  auto same = choose_profile("7.3.9");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->note.find("newer than"), std::string::npos) << same->note;
}

TEST(Profiles, RejectsGarbageAndAncientKernels) {
  EXPECT_EQ(chosen("banana").rfind("error: ", 0), 0u);
  EXPECT_EQ(chosen("3.10.0-1160.el7").rfind("error: ", 0), 0u);
}

TEST(Profiles, EveryProfileHasStepsMessagesAndMsrLists) {
  for (const auto& p : all_profiles()) {
    EXPECT_EQ(p.step_order.size(), 11u) << p.id;
    EXPECT_FALSE(p.msg.already_loaded.empty()) << p.id;
    EXPECT_FALSE(p.msg.vmx_no_support.empty()) << p.id;
    EXPECT_NE(p.msr_lists, nullptr) << p.id;
  }
}

// The NX check (svm_hardware_setup() / vmx.c hardware_setup(), 6.1) is decided by
// nx_required; its log lines must exist exactly where it applies, or a failing step would log
// nothing (or a check that never runs would carry a message).
TEST(Profiles, NxMessagesExistExactlyWhereNxIsRequired) {
  for (const auto& p : all_profiles()) {
    EXPECT_EQ(!p.msg.vmx_nx_missing.empty(), p.nx_required) << p.id;
    EXPECT_EQ(!p.msg.svm_nx_missing.empty(), p.nx_required) << p.id;
  }
}

TEST(BootBehaviour, TheRunningKernelsReleaseDecidesWhatItDidAtBoot) {
  EXPECT_FALSE(boot_behaviour("").known);
  EXPECT_FALSE(boot_behaviour("not-a-kernel").known);
  auto b55 = boot_behaviour("5.5.19");
  EXPECT_TRUE(b55.known);
  EXPECT_FALSE(b55.programs_feat_ctl);
  auto b56 = boot_behaviour("5.6.0-1-amd64");  // inside the 4.19 profile's range, feat_ctl.c already there
  EXPECT_TRUE(b56.programs_feat_ctl);
  EXPECT_FALSE(b56.clears_svm_on_svmdis);
  EXPECT_STREQ(chosen("5.6.0-1-amd64").c_str(), "4.19");
  auto b612 = boot_behaviour("6.12.57+deb13-amd64");
  EXPECT_TRUE(b612.programs_feat_ctl);
  EXPECT_TRUE(b612.clears_svm_on_svmdis);
  EXPECT_FALSE(boot_behaviour("6.7.12").clears_svm_on_svmdis);
}

}  // namespace
}  // namespace kvmprobe
