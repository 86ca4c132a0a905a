// Choosing the kernel profile for a release (Debian releases hide the stable patch level).
#include "core/profiles/profiles.h"

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

}  // namespace
}  // namespace kvmprobe
