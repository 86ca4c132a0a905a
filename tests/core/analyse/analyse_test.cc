// analyse() on recorded snapshots: verdicts, refusal classes and each version's log lines.
#include "core/analyse/analyse.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/collect/snapshot_json.h"
#include "core/profiles/profiles.h"
#include "tests/support/shared_data.h"
#include "tests/support/snapshot_builder.h"

namespace kvmprobe {
namespace {

Snapshot load(const std::string& name) {
  auto s = collect::load_snapshot_file(testing::test_data("snapshots/" + name).string());
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().detail);
  return s.ok() ? *s : Snapshot{};
}

Report run(const Snapshot& s, const std::string& profile, const ParamOverrides& o = {}) {
  const KernelProfile* p = find_profile(profile);
  EXPECT_NE(p, nullptr) << profile;
  return analyse(s, *p, o);
}

const StepResult& step(const Report& r, const std::string& id) {
  const StepResult* s = r.find_step(id);
  static StepResult none;
  EXPECT_NE(s, nullptr) << id;
  return s ? *s : none;
}

TEST(Analyse, EpycWithSvmWouldLoadOnEveryProfile) {
  Snapshot s = load("amd-epyc-7713-svm.json");
  for (const auto& p : all_profiles()) {
    Report r = analyse(s, p);
    EXPECT_EQ(r.verdict.vendor_module, "kvm_amd") << p.id;
    EXPECT_EQ(r.verdict.would_load, std::optional<bool>(true)) << p.id << ": " << r.verdict.reason;
    EXPECT_EQ(step(r, "support").status, Status::ok) << p.id;
    EXPECT_EQ(step(r, "bios-lock").status, Status::ok) << p.id;
  }
}

TEST(Analyse, SkylakeSpWithRealVmxMsrsWouldLoad) {
  Snapshot s = load("intel-xeon-8180-skylake-sp-vmx.json");
  for (const char* p : {"4.19", "5.10", "5.15", "6.1", "6.6", "6.12", "7.3"}) {
    Report r = run(s, p);
    EXPECT_EQ(step(r, "vmx-config").status, Status::ok) << p << ": " << step(r, "vmx-config").summary;
    EXPECT_EQ(r.verdict.would_load, std::optional<bool>(true)) << p << ": " << r.verdict.reason;
    EXPECT_EQ(r.verdict.reason, fmt::format("kvm_intel would load with kernel {}", p));
  }
}

TEST(Analyse, UnreadableMsrsAreUnknownNotZero) {
  Snapshot s = load("intel-xeon-8180-skylake-sp-vmx.json");
  for (auto& cpu : s.cpus)
    for (auto& m : cpu.msrs) m.status = ReadStatus::unavailable;
  Report r = run(s, "6.1");
  EXPECT_EQ(r.verdict.would_load, std::nullopt);
  EXPECT_EQ(r.verdict.refusal, Refusal::cannot_tell);
  EXPECT_FALSE(step(r, "bios-lock").missing.empty());
}

}  // namespace
}  // namespace kvmprobe
