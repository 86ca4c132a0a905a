// --format prometheus: the list hash against the FNV-1a 64 definition, the per-CPU enable
// states against raw IA32_FEATURE_CONTROL values, "cannot tell" as absent + _unknown, and the
// text format's escaping. Values against real KVM: tests/cli/prometheus.test.sh.
#include "core/render/prometheus.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <set>
#include <sstream>

#include "core/analyse/analyse.h"
#include "core/profiles/profiles.h"
#include "tests/core/compat/compat_fixtures.h"
#include "tests/support/synthetic_snapshot.h"

namespace kvmprobe::render {
namespace {

using testing::recorded;

TEST(MsrListHash, IsFnv1a64OfTheSortedLittleEndianIndexes) {
  // Expected values from the FNV-1a definition (offset basis 0xcbf29ce484222325, prime
  // 0x100000001b3), computed in Python over the bytes 10 00 00 00 and so on.
  EXPECT_EQ(msr_list_hash({}), 0xcbf29ce484222325ull);
  EXPECT_EQ(msr_list_hash({0x10}), 0x4cd037050129dd05ull);
  EXPECT_EQ(msr_list_hash({0x174, 0x10, 0xc0000080}), 0xf26eab512ff064f6ull);
  EXPECT_EQ(msr_list_hash({0xc0000080, 0x174, 0x10}), 0xf26eab512ff064f6ull) << "order must not matter";
}

/// Set IA32_FEATURE_CONTROL of `cpu` (remove the read when `value` is nullopt).
void set_feature_control(Snapshot& s, std::size_t cpu, std::optional<std::uint64_t> value) {
  auto& msrs = s.cpus.at(cpu).msrs;
  std::erase_if(msrs, [](const MsrRead& m) { return m.index == 0x3a; });
  if (value) {
    msrs.push_back({0x3a, ReadStatus::value, *value, 0});
    std::sort(msrs.begin(), msrs.end(), [](const MsrRead& a, const MsrRead& b) { return a.index < b.index; });
  }
}

TEST(HostMetrics, CountsCpusPerFeatureControlState) {
  Snapshot s = kvmprobe::testing::replicate_cpus(recorded("intel-core-i7-8700k-vmx-locked-off.json"), 6);
  ASSERT_EQ(s.cpus.size(), 6u);
  set_feature_control(s, 0, 0x5);          // locked, VMX outside SMX on
  set_feature_control(s, 1, 0x1);          // locked, VMX off
  set_feature_control(s, 2, 0x4);          // unlocked, VMX on
  set_feature_control(s, 3, std::nullopt); // not read
  for (std::size_t i = 4; i < s.cpus.size(); ++i) set_feature_control(s, i, 0x0);
  Analyzer a(s, *find_profile("6.1"));
  HostMetrics h = host_metrics(a.ctx(), true);
  ASSERT_STREQ(h.enable.feature, "vmx");
  EXPECT_EQ(h.enable.locked_enabled, 1u);
  EXPECT_EQ(h.enable.locked_disabled, 1u);
  EXPECT_EQ(h.enable.unlocked_enabled, 1u);
  EXPECT_EQ(h.enable.unreadable, 1u);
  EXPECT_EQ(h.enable.unlocked_disabled, s.cpus.size() - 4);
}

TEST(CheckPrometheus, CannotTellIsAbsentWithUnknownOne) {
  Report r;
  r.profile_id = "6.1";
  r.kernel_release = "6.1.0 \"odd\" \\build";  // quotes and backslashes must be escaped
  r.verdict.would_load = std::nullopt;
  r.verdict.kvm_usable = false;
  HostMetrics h;
  std::string out = check_prometheus({&r, &h, ""});
  EXPECT_EQ(out.find("\nkvmprobe_kvm_would_load "), std::string::npos);
  EXPECT_NE(out.find("\nkvmprobe_kvm_would_load_unknown 1\n"), std::string::npos);
  EXPECT_NE(out.find("\nkvmprobe_kvm_usable 0\n"), std::string::npos);
  EXPECT_NE(out.find("\nkvmprobe_kvm_usable_unknown 0\n"), std::string::npos);
  EXPECT_NE(out.find("kernel_release=\"6.1.0 \\\"odd\\\" \\\\build\""), std::string::npos) << out;
  EXPECT_EQ(out.find("kvmprobe_collection_timestamp_seconds"), std::string::npos) << "no time recorded, no metric";
  EXPECT_EQ(out.find("kvmprobe_msr_list_entries"), std::string::npos) << "lists unknown: no entries family";
  EXPECT_NE(out.find("kvmprobe_msr_list_unknown{list=\"save\"} 1"), std::string::npos);
}

TEST(CheckPrometheus, EveryFamilyOnceWithHelpAndType) {
  Snapshot s = recorded("intel-xeon-8180-skylake-sp-vmx.json");
  Analyzer a(s, *find_profile("6.1"));
  Report r = a.report();
  HostMetrics h = host_metrics(a.ctx(), true);
  std::string out = check_prometheus({&r, &h, "2026-11-28T13:57:27Z"});
  // 1795874247: calendar.timegm(time.strptime("2026-11-28T13:57:27Z", ...)) in Python.
  EXPECT_NE(out.find("\nkvmprobe_collection_timestamp_seconds 1795874247\n"), std::string::npos);
  std::set<std::string> types;
  std::regex type_re("^# TYPE (\\S+) gauge$");
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, type_re)) {
      EXPECT_TRUE(types.insert(m[1]).second) << "family twice: " << m[1];
    }
  }
  EXPECT_GE(types.size(), 15u);
}

}  // namespace
}  // namespace kvmprobe::render
