// The CPUID step of compat: features a -cpu host guest on the source may use that the
// destination's KVM does not support. The independent oracle for the recorded QEMU guests is
// real KVM's own KVM_GET_SUPPORTED_CPUID in those guests (tests/data/cpuid/RUN.kvm.txt,
// recorded by tests/vm/cpuid.test.sh): the features a move loses are the bits set in the
// source guest's answer and clear in the destination guest's.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "core/analyse/supported_cpuid.h"
#include "core/compat/compat.h"
#include "core/compat/fleet.h"
#include "tests/core/compat/compat_fixtures.h"

namespace kvmprobe::compat {
namespace {

using testing::side_of;
using testing::test_data;

Snapshot migration_snapshot(const std::string& guest) {
  auto snap = collect::load_snapshot_file(test_data("migration").append(guest + ".snapshot.json").string());
  EXPECT_TRUE(snap) << guest << ": " << (snap ? "" : snap.error().detail);
  return snap ? *snap : Snapshot{};
}

SideFacts facts_of(const std::string& guest) {
  Snapshot s = migration_snapshot(guest);
  return side_facts(side_of(s, guest));
}

/// QEMU names of the feature bits set in a recorded KVM_GET_SUPPORTED_CPUID
/// ("supported_cpuid LEAF SUB EAX EBX ECX EDX FLAGS" lines).
std::set<std::string> recorded_features(const std::string& run) {
  std::ifstream in(test_data("cpuid").append(run + ".kvm.txt"));
  EXPECT_TRUE(in) << run;
  std::set<std::string> out;
  std::string line, tag;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::uint32_t leaf, sub, r[4];
    if (!(ls >> tag) || tag != "supported_cpuid") continue;
    ls >> std::hex >> leaf >> sub >> r[0] >> r[1] >> r[2] >> r[3];
    for (const auto& f : known_cpuid_features())
      if (f.leaf == leaf && f.subleaf == sub && ((r[static_cast<int>(f.reg)] >> f.bit) & 1u)) out.insert(f.qemu_name);
  }
  return out;
}

std::vector<std::string> minus(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::vector<std::string> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

TEST(CompatCpuid, RegisterOrderOfTheOracleParserIsEaxEbxEcxEdx) {
  // recorded_features() indexes r[] by Reg; the recording's column order is EAX EBX ECX EDX.
  EXPECT_EQ(static_cast<int>(Reg::eax), 0);
  EXPECT_EQ(static_cast<int>(Reg::ebx), 1);
  EXPECT_EQ(static_cast<int>(Reg::ecx), 2);
  EXPECT_EQ(static_cast<int>(Reg::edx), 3);
}

struct RecordedPair {
  const char* src;        // tests/data/migration guest
  const char* dst;
  const char* src_run;    // tests/data/cpuid run of the same kernel and QEMU -cpu
  const char* dst_run;
  std::vector<std::string> lost;  // written out: see below
};

// The written-out lists, and where they come from. EPYC -> qemu64,+svm: QEMU 7.2's EPYC model
// beyond qemu64 (query-cpu-model-expansion: abm adx aes avx avx2 bmi1 bmi2 clflushopt
// cr8legacy f16c fma fsgsbase mmxext movbe pclmulqdq popcnt rdrand rdtscp smap smep sse4.1
// sse4.2 sse4a ssse3 xgetbv1 xsave xsaveopt, and also rdseed sha-ni xsavec misalignsse
// 3dnowprefetch osvw topoext fxsr-opt, which TCG does not give the guest, so its KVM cannot
// either), plus virt-ssbd and lfence-always-serializing, which KVM itself reports on an AMD
// host with those CPUID bits (arch/x86/kvm/cpuid.c: kvm_set_cpu_caps() (6.1)), the same on
// 6.1 and 6.12. EPYC -> EPYC,-rdtscp: rdtscp, the one flag the -cpu strings differ in.
// qemu64,+svm -> EPYC: amd-no-ssb, which KVM sets for family 0xf hosts not affected by SSB
// (kvm_set_cpu_caps(): !boot_cpu_has_bug(X86_BUG_SPEC_STORE_BYPASS)). Each list is also
// what real KVM said (the test above).
const std::vector<std::string> kEpycBeyondQemu64 = {
    "abm",    "adx",     "aes",  "avx",    "avx2",     "bmi1",   "bmi2",   "clflushopt", "cr8legacy", "f16c",
    "fma",    "fsgsbase", "lfence-always-serializing", "mmxext", "movbe",  "pclmulqdq",  "popcnt",    "rdrand",
    "rdtscp", "smap",    "smep", "sse4.1", "sse4.2",   "sse4a",  "ssse3",  "virt-ssbd",  "xgetbv1",   "xsave",
    "xsaveopt"};

const RecordedPair kPairs[] = {
    {"6.1-epyc", "6.1-epyc-nordtscp", "epyc-61", "epycnordtscp-61", {"rdtscp"}},
    {"6.1-epyc-nordtscp", "6.1-epyc", "epycnordtscp-61", "epyc-61", {}},
    {"6.1-epyc", "6.1-qemu64-svm", "epyc-61", "qemu64svm-61", kEpycBeyondQemu64},
    {"6.1-qemu64-svm", "6.1-epyc", "qemu64svm-61", "epyc-61", {"amd-no-ssb"}},
    {"6.12-epyc", "6.12-qemu64-svm", "epyc-612", "qemu64svm-612", kEpycBeyondQemu64},
    {"6.12-qemu64-svm", "6.12-epyc", "qemu64svm-612", "epyc-612", {"amd-no-ssb"}},
    {"6.1-epyc", "6.12-epyc", "epyc-61", "epyc-612", {}},
    {"6.12-epyc", "6.1-epyc", "epyc-612", "epyc-61", {}},
};

TEST(CompatCpuid, RecordedPairsLoseExactlyWhatRealKvmSupportsOnlyAtTheSource) {
  for (const auto& p : kPairs) {
    SCOPED_TRACE(std::string(p.src) + " -> " + p.dst);
    std::vector<std::string> oracle = minus(recorded_features(p.src_run), recorded_features(p.dst_run));
    EXPECT_EQ(oracle, p.lost) << "the written-out list is what real KVM said";
    SideFacts src = facts_of(p.src), dst = facts_of(p.dst);
    ASSERT_TRUE(src.cpuid_features && dst.cpuid_features) << src.cpuid_missing << dst.cpuid_missing;
    EXPECT_EQ(cpuid_lost(src, dst), oracle);
    StepResult s = step_cpuid(src, dst);
    EXPECT_EQ(s.status, oracle.empty() ? Status::ok : Status::warn) << s.summary;
    for (const auto& f : oracle) EXPECT_NE(s.summary.find(f), std::string::npos) << s.summary;
    CompatReport r = compat(src, dst);
    EXPECT_EQ(r.cpuid_lost, oracle);
    if (!oracle.empty()) {
      EXPECT_NE(r.verdict, CompatVerdict::compatible);
    }
  }
}

// ---- constructed facts: each rule on its own -----------------------------------------------------

SideFacts with_features(std::vector<std::string> names) {
  Snapshot s = migration_snapshot("6.1-epyc");
  SideFacts f = side_facts(side_of(s, "host"));
  std::sort(names.begin(), names.end());
  f.cpuid_features = names;
  return f;
}

TEST(CompatCpuid, FeaturesOnlyTheSourceHasAreAConditionNamedWithARemedy) {
  SideFacts src = with_features({"avx2", "fpu", "sse", "avx512f"}), dst = with_features({"fpu", "sse"});
  StepResult s = step_cpuid(src, dst);
  EXPECT_EQ(s.status, Status::warn);
  EXPECT_NE(s.summary.find("2 CPUID features"), std::string::npos) << s.summary;
  EXPECT_NE(s.summary.find("avx2 avx512f"), std::string::npos) << s.summary;
  // The remedy: a migratable model of the features both have, never -cpu host.
  EXPECT_NE(s.remedy.find("-cpu qemu64,"), std::string::npos) << s.remedy;
  EXPECT_NE(s.remedy.find(",enforce"), std::string::npos) << s.remedy;
  EXPECT_EQ(s.remedy.find("avx2"), std::string::npos) << s.remedy;
  EXPECT_EQ(s.remedy.find("-cpu host"), std::string::npos) << s.remedy;
  // Only the cpuid step differs between these two sides: compat is conditional (exit 21).
  CompatReport r = compat(src, dst);
  EXPECT_EQ(r.verdict, CompatVerdict::conditional) << r.reason;
  EXPECT_EQ(r.cpuid_lost, (std::vector<std::string>{"avx2", "avx512f"}));
  // The other way nothing is lost.
  EXPECT_EQ(step_cpuid(dst, src).status, Status::ok);
  EXPECT_EQ(compat(dst, src).verdict, CompatVerdict::compatible);
}

TEST(CompatCpuid, AnUnpredictableSideIsCannotTellWithTheReason) {
  SideFacts src = with_features({"fpu"}), dst = with_features({"fpu"});
  dst.cpuid_features.reset();
  dst.cpuid_missing = "KVM's CPUID capabilities are not modelled for kernel profile 5.15";
  StepResult s = step_cpuid(src, dst);
  EXPECT_EQ(s.status, Status::unknown);
  EXPECT_NE(s.summary.find("destination"), std::string::npos);
  EXPECT_NE(s.summary.find("profile 5.15"), std::string::npos) << s.summary;
  EXPECT_FALSE(s.missing.empty());
  EXPECT_EQ(compat(src, dst).verdict, CompatVerdict::unknown);
  EXPECT_EQ(step_cpuid(dst, src).status, Status::unknown) << "the source side too";
}

TEST(CompatCpuid, SideFactsPredictOnlyWhereTheModelReaches) {
  Snapshot s = migration_snapshot("6.1-epyc");
  SideFacts own = side_facts(side_of(s, "6.1"));
  ASSERT_TRUE(own.cpuid_features);
  EXPECT_TRUE(std::is_sorted(own.cpuid_features->begin(), own.cpuid_features->end()));
  EXPECT_NE(own.cpuid_source.find("profile 6.1"), std::string::npos) << own.cpuid_source;
  SideFacts old = side_facts(side_of(s, "as 5.15", "5.15"));
  EXPECT_FALSE(old.cpuid_features);
  EXPECT_NE(old.cpuid_missing.find("5.15"), std::string::npos) << old.cpuid_missing;
}

TEST(CompatCpuid, FleetPoolsSplitOnSupportedCpuid) {
  SideFacts a = with_features({"fpu", "sse"}), b = with_features({"fpu", "sse"}), c = with_features({"fpu"});
  EXPECT_EQ(fleet_fingerprint(a), fleet_fingerprint(b));
  EXPECT_NE(fleet_fingerprint(a), fleet_fingerprint(c));
  FleetReport r = fleet({{"a", a}, {"b", b}, {"c", c}});
  ASSERT_EQ(r.pools.size(), 2u);
  EXPECT_EQ(r.pools[0].hosts, (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(r.pools[0].cpuid_features, (std::vector<std::string>{"fpu", "sse"}));
  ASSERT_TRUE(r.pools[0].guest_cpu);
  EXPECT_EQ(r.pools[0].guest_cpu->add, std::vector<std::string>{});
  EXPECT_EQ(r.pools[1].cpuid_features, std::vector<std::string>{"fpu"});
  // c's guests move to a/b as they are (compatible); a/b's only with a CPU model (conditional:
  // sse is lost).
  auto edge = [&](std::size_t from, std::size_t to) -> const FleetEdge* {
    for (const auto& e : r.edges)
      if (e.from == from && e.to == to) return &e;
    return nullptr;
  };
  ASSERT_EQ(r.edges.size(), 2u);
  ASSERT_TRUE(edge(1, 0) && edge(0, 1));
  EXPECT_EQ(edge(1, 0)->verdict, CompatVerdict::compatible);
  EXPECT_NE(edge(1, 0)->back_reason.find("sse"), std::string::npos) << edge(1, 0)->back_reason;
  EXPECT_EQ(edge(0, 1)->verdict, CompatVerdict::conditional);
  ASSERT_EQ(r.splits.size(), 1u);
  EXPECT_NE(r.splits[0].reason.find("CPUID"), std::string::npos) << r.splits[0].reason;
}

TEST(CompatCpuid, APoolBaselineIsTheIntersectionAndUnknownWhenOneHostIs) {
  // Hosts that move both ways have equal feature sets; the intersection is still what
  // fill_baseline computes over every host, so check it where TSC splits nothing.
  SideFacts a = with_features({"avx", "fpu"}), b = with_features({"avx", "fpu"});
  FleetReport r = fleet({{"a", a}, {"b", b}});
  ASSERT_EQ(r.pools.size(), 1u);
  EXPECT_EQ(r.pools[0].cpuid_features, (std::vector<std::string>{"avx", "fpu"}));
  ASSERT_TRUE(r.pools[0].guest_cpu);
  EXPECT_EQ(r.pools[0].guest_cpu->add, std::vector<std::string>{"avx"});
  SideFacts u = with_features({});
  u.cpuid_features.reset();
  FleetReport r2 = fleet({{"u", u}});
  ASSERT_EQ(r2.pools.size(), 1u);
  EXPECT_FALSE(r2.pools[0].cpuid_features);
  EXPECT_FALSE(r2.pools[0].guest_cpu);
}

}  // namespace
}  // namespace kvmprobe::compat
