// The kernel-version scanners of core/profiles/profiles.cc against std::regex as the oracle of
// the grammar they implement (what profiles.cc used before they were written by hand, at 40 %
// of a whole `kvmprobe check`): "MAJOR.MINOR[.PATCH]" with at most 3/3/5 digits at the start,
// "Debian|Ubuntu X.Y.Z" inside `uname -v`, and the ABI release "X.Y.0-N".
#include "core/model/kernel_profile.h"
#include "core/profiles/profiles.h"

#include <gtest/gtest.h>

#include <random>
#include <regex>
#include <string>
#include <vector>

namespace kvmprobe {
namespace {

struct Oracle {
  bool ok = false;
  int major = 0, minor = 0, patch = 0;
};

Oracle by_regex(const std::string& text) {
  static const std::regex re(R"(^\s*(\d{1,3})\.(\d{1,3})(?:\.(\d{1,5}))?)");
  std::smatch m;
  Oracle o;
  if (!std::regex_search(text, m, re)) return o;
  o.ok = true;
  o.major = std::stoi(m[1]);
  o.minor = std::stoi(m[2]);
  o.patch = m[3].matched ? std::stoi(m[3]) : 0;
  return o;
}

void expect_same(const std::string& text) {
  Oracle want = by_regex(text);
  KernelVersion got;
  bool ok = parse_kernel_version(text, got);
  ASSERT_EQ(ok, want.ok) << "'" << text << "'";
  if (!ok) return;
  EXPECT_EQ(got.major, want.major) << "'" << text << "'";
  EXPECT_EQ(got.minor, want.minor) << "'" << text << "'";
  EXPECT_EQ(got.patch, want.patch) << "'" << text << "'";
}

TEST(KernelVersion, ParsesAsTheRegexGrammar) {
  for (const char* t :
       {"6.1", "6.1.192", "6.1.0-56-amd64", "6.12.117+deb12-amd64", "  5.10.218", "\t4.19", "7.3.",
        "7.3.x", "6.1234", "6.1.123456", "1234.5", "123.456.78901", ".1", "6.", "6", "", " ", "a6.1",
        "6..1", "6.1..2", "0.0.0", "6.18.44-fc-v509", "3.10.0-1160.el7", "6.1.0\n", "\n6.1"})
    expect_same(t);
}

TEST(KernelVersion, ParsesRandomTextAsTheRegexGrammar) {
  std::mt19937 rng(20261207);  // fixed: a failure reruns the same strings
  const std::string alphabet = "0123456789..  -+a";
  int compared = 0, accepted = 0;
  for (int n = 0; n < 5000; ++n) {
    std::string t;
    for (int k = rng() % 14; k > 0; --k) t += alphabet[rng() % alphabet.size()];
    expect_same(t);
    ++compared;
    KernelVersion v;
    accepted += parse_kernel_version(t, v);
  }
  EXPECT_EQ(compared, 5000);
  EXPECT_GT(accepted, 200);  // the alphabet makes both kinds of string common
}

std::string note_of(const std::string& release, const std::string& uname_v) {
  auto c = choose_profile(release, uname_v);
  return c.ok() ? c->note : "error: " + c.error().detail;
}

TEST(KernelVersion, DistroVersionInUnameV) {
  EXPECT_EQ(note_of("6.1.0-56-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-10-01)")
                .rfind("kernel 6.1.0-56-amd64 is 6.1.192 (Debian 6.1.192): profile 6.1", 0),
            0u);
  // Ubuntu, several blanks, and a first "Debian" that is not followed by a version.
  EXPECT_EQ(note_of("6.8.0-31-generic", "#31-Ubuntu Debian-ish Ubuntu  6.8.12 SMP")
                .rfind("kernel 6.8.0-31-generic is 6.8.12 (Ubuntu  6.8.12): profile 6.8", 0),
            0u);
  // A version of another series is not taken.
  EXPECT_EQ(note_of("6.1.0-56-amd64", "#1 SMP Debian 6.12.57-1").find(" is 6.12"), std::string::npos);
}

TEST(KernelVersion, AbiReleaseWithoutUnameV) {
  EXPECT_NE(note_of("6.1.0-56-amd64", "").find("distribution ABI release"), std::string::npos);
  EXPECT_NE(note_of("6.12.0-1-amd64", "").find("distribution ABI release"), std::string::npos);
  EXPECT_EQ(note_of("6.1.0", "").find("distribution ABI release"), std::string::npos);
  EXPECT_EQ(note_of("6.1.0-", "").find("distribution ABI release"), std::string::npos);
  EXPECT_EQ(note_of("6.1.10-1", "").find("distribution ABI release"), std::string::npos);
  EXPECT_EQ(note_of("6.12.117+deb12-amd64", "").find("distribution ABI release"), std::string::npos);
}

}  // namespace
}  // namespace kvmprobe
