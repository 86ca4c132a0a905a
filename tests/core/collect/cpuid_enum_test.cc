#include "core/collect/cpuid_enum.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/support/fake_sources.h"

namespace kvmprobe::collect {
namespace {

using testing::FakeCpuidSource;

std::vector<std::uint32_t> subleaves_of(const std::vector<CpuidLeaf>& leaves, std::uint32_t leaf) {
  std::vector<std::uint32_t> out;
  for (const auto& l : leaves)
    if (l.leaf == leaf) out.push_back(l.subleaf);
  return out;
}

bool has_leaf(const std::vector<CpuidLeaf>& leaves, std::uint32_t leaf) {
  return std::any_of(leaves.begin(), leaves.end(),
                     [&](const CpuidLeaf& l) { return l.leaf == leaf; });
}

bool mentions(const std::vector<std::string>& notes, const std::string& text) {
  return std::any_of(notes.begin(), notes.end(),
                     [&](const std::string& n) { return n.find(text) != std::string::npos; });
}

/// Max basic leaf \a max_basic, with or without the hypervisor bit.
FakeCpuidSource basic_cpu(std::uint32_t max_basic, bool hypervisor = false) {
  FakeCpuidSource f;
  f.set(0, 0, max_basic, 0x756e6547, 0x6c65746e, 0x49656e69);  // GenuineIntel
  f.set(1, 0, 0x000906EA, 0, hypervisor ? 0x80000000u : 0u, 0);
  f.set(0x80000000, 0, 0x80000008, 0, 0, 0);
  return f;
}

TEST(CollectCpuidEnum, ReadsEveryBasicAndExtendedLeafSorted) {
  auto f = basic_cpu(0x6);
  std::vector<std::string> notes;
  auto leaves = enumerate_cpuid(f, 0, notes);
  ASSERT_TRUE(leaves.ok());
  for (std::uint32_t l = 0; l <= 6; ++l) EXPECT_TRUE(has_leaf(*leaves, l)) << l;
  for (std::uint32_t l = 0x80000000; l <= 0x80000008; ++l) EXPECT_TRUE(has_leaf(*leaves, l)) << l;
  EXPECT_FALSE(has_leaf(*leaves, 7));
  EXPECT_FALSE(has_leaf(*leaves, 0x80000009));
  EXPECT_TRUE(std::is_sorted(leaves->begin(), leaves->end(), [](const auto& a, const auto& b) {
    return a.leaf != b.leaf ? a.leaf < b.leaf : a.subleaf < b.subleaf;
  }));
  EXPECT_TRUE(notes.empty());
}

TEST(CollectCpuidEnum, Leaf4StopsAtCacheTypeZeroAndKeepsTheTerminator) {
  auto f = basic_cpu(0x4);
  f.set(4, 0, 0x121, 0, 0, 0);  // L1d
  f.set(4, 1, 0x122, 0, 0, 0);  // L1i
  f.set(4, 2, 0x143, 0, 0, 0);  // L2
  std::vector<std::string> notes;
  auto leaves = enumerate_cpuid(f, 0, notes);
  ASSERT_TRUE(leaves.ok());
  EXPECT_EQ(subleaves_of(*leaves, 4), (std::vector<std::uint32_t>{0, 1, 2, 3}));
}

TEST(CollectCpuidEnum, SubleafLoopThatNeverEndsIsBounded) {
  auto f = basic_cpu(0xB);
  for (std::uint32_t s = 0; s < 200; ++s) {
    f.set(4, s, 0x121, 0, 0, 0);        // never type 0
    f.set(0xB, s, 0, 0, 0x100 | s, 0);  // level type 1 forever
  }
  std::vector<std::string> notes;
  auto leaves = enumerate_cpuid(f, 0, notes);
  ASSERT_TRUE(leaves.ok());
  EXPECT_EQ(subleaves_of(*leaves, 4).size(), kMaxSubleaves);
  EXPECT_EQ(subleaves_of(*leaves, 0xB).size(), 16u);
  EXPECT_TRUE(mentions(notes, "cpuid 0x4: subleaves did not terminate"));
  EXPECT_TRUE(mentions(notes, "cpuid 0xb: subleaves did not terminate"));
}

TEST(CollectCpuidEnum, TopologyLevelsEndAtLevelTypeZero) {
  auto f = basic_cpu(0x1F);
  f.set(0xB, 0, 1, 2, 0x100, 0);
  f.set(0xB, 1, 4, 8, 0x201, 0);
  f.set(0x1F, 0, 1, 2, 0x100, 0);
  std::vector<std::string> notes;
  auto leaves = enumerate_cpuid(f, 0, notes);
  ASSERT_TRUE(leaves.ok());
  EXPECT_EQ(subleaves_of(*leaves, 0xB), (std::vector<std::uint32_t>{0, 1, 2}));
  EXPECT_EQ(subleaves_of(*leaves, 0x1F), (std::vector<std::uint32_t>{0, 1}));
}

TEST(CollectCpuidEnum, Leaf7ReadsUpToItsMaxSubleafAndBoundsIt) {
  auto f = basic_cpu(0x7);
  f.set(7, 0, 2, 0, 0, 0);
  std::vector<std::string> notes;
  auto leaves = enumerate_cpuid(f, 0, notes);
  ASSERT_TRUE(leaves.ok());
  EXPECT_EQ(subleaves_of(*leaves, 7), (std::vector<std::uint32_t>{0, 1, 2}));

  f.set(7, 0, 0xFFFFFFFF, 0, 0, 0);
  notes.clear();
  leaves = enumerate_cpuid(f, 0, notes);
  ASSERT_TRUE(leaves.ok());
  EXPECT_EQ(subleaves_of(*leaves, 7).size(), 32u);
  EXPECT_TRUE(mentions(notes, "cpuid 0x7: max subleaf"));
}

TEST(CollectCpuidEnum, LeafDReadsOnlyExistingStateComponents) {
  auto f = basic_cpu(0xD);
  f.set(0xD, 0, 0x207, 0, 0, 0);     // x87, SSE, AVX, PKRU
  f.set(0xD, 1, 0xF, 0, 0x1800, 0);  // XSS: CET_U, CET_S
  std::vector<std::string> notes;
  auto leaves = enumerate_cpuid(f, 0, notes);
  ASSERT_TRUE(leaves.ok());
  EXPECT_EQ(subleaves_of(*leaves, 0xD), (std::vector<std::uint32_t>{0, 1, 2, 9, 11, 12}));
}

TEST(CollectCpuidEnum, LeafDAlwaysHasSubleavesZeroAndOne) {
  auto f = basic_cpu(0xD);
  std::vector<std::string> notes;
  auto leaves = enumerate_cpuid(f, 0, notes);
  ASSERT_TRUE(leaves.ok());
  EXPECT_EQ(subleaves_of(*leaves, 0xD), (std::vector<std::uint32_t>{0, 1}));
}

TEST(CollectCpuidEnum, HypervisorLeavesOnlyWithBit31) {
  auto bare = basic_cpu(0x1, false);
  bare.set(0x40000000, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d);
  std::vector<std::string> notes;
  auto leaves = enumerate_cpuid(bare, 0, notes);
  ASSERT_TRUE(leaves.ok());
  EXPECT_FALSE(has_leaf(*leaves, 0x40000000));

  auto guest = basic_cpu(0x1, true);
  guest.set(0x40000000, 0, 0x40000010, 0x4b4d564b, 0x564b4d56, 0x4d);  // KVMKVMKVM
  leaves = enumerate_cpuid(guest, 0, notes);
  ASSERT_TRUE(leaves.ok());
  for (std::uint32_t l = 0x40000000; l <= 0x40000010; ++l) EXPECT_TRUE(has_leaf(*leaves, l)) << l;
  EXPECT_FALSE(has_leaf(*leaves, 0x40000011));
}

TEST(CollectCpuidEnum, HypervisorMaxLeafIsBoundedAndKvmZeroMeansOne) {
  auto guest = basic_cpu(0x1, true);
  guest.set(0x40000000, 0, 0x4FFFFFFF, 0, 0, 0);
  std::vector<std::string> notes;
  auto leaves = enumerate_cpuid(guest, 0, notes);
  ASSERT_TRUE(leaves.ok());
  EXPECT_TRUE(has_leaf(*leaves, kMaxHypervisorLeaf));
  EXPECT_FALSE(has_leaf(*leaves, kMaxHypervisorLeaf + 1));
  EXPECT_TRUE(mentions(notes, "cpuid 0x40000000: max leaf"));

  guest.set(0x40000000, 0, 0, 0x4b4d564b, 0x564b4d56, 0x4d);
  leaves = enumerate_cpuid(guest, 0, notes);
  ASSERT_TRUE(leaves.ok());
  EXPECT_TRUE(has_leaf(*leaves, 0x40000001));
  EXPECT_FALSE(has_leaf(*leaves, 0x40000002));
}

TEST(CollectCpuidEnum, MaxBasicAndExtendedLeavesAreBounded) {
  auto f = basic_cpu(0xFFFFFFFF);
  f.set(0x80000000, 0, 0x8000FFFF, 0, 0, 0);
  std::vector<std::string> notes;
  auto leaves = enumerate_cpuid(f, 0, notes);
  ASSERT_TRUE(leaves.ok());
  EXPECT_TRUE(has_leaf(*leaves, kMaxBasicLeaf));
  EXPECT_FALSE(has_leaf(*leaves, kMaxBasicLeaf + 1));
  EXPECT_TRUE(has_leaf(*leaves, kMaxExtendedLeaf));
  EXPECT_FALSE(has_leaf(*leaves, kMaxExtendedLeaf + 1));
  EXPECT_TRUE(mentions(notes, "max basic leaf"));
  EXPECT_LT(f.calls, 2000);
}

TEST(CollectCpuidEnum, NoExtendedRangeWhenLeaf80000000IsNotValid) {
  auto f = basic_cpu(0x1);
  for (std::uint32_t garbage : {0x00000001u, 0x8FFFFFFFu, 0x7FFFFFFFu}) {
    f.set(0x80000000, 0, garbage, 0, 0, 0);
    std::vector<std::string> notes;
    auto leaves = enumerate_cpuid(f, 0, notes);
    ASSERT_TRUE(leaves.ok());
    EXPECT_TRUE(has_leaf(*leaves, 0x80000000));
    EXPECT_FALSE(has_leaf(*leaves, 0x80000001)) << std::hex << garbage;
  }
}

TEST(CollectCpuidEnum, AmdExtendedSubleafLeaves) {
  auto f = basic_cpu(0x1);
  f.set(0x80000000, 0, 0x80000026, 0, 0, 0);
  f.set(0x8000001D, 0, 0x121, 0, 0, 0);
  f.set(0x8000001D, 1, 0x122, 0, 0, 0);
  f.set(0x80000020, 0, 0, 0b1010, 0, 0);  // subleaves 1 and 3 exist
  f.set(0x80000026, 0, 0, 0, 0x100, 0);
  f.set(0x80000026, 1, 0, 0, 0x201, 0);
  std::vector<std::string> notes;
  auto leaves = enumerate_cpuid(f, 0, notes);
  ASSERT_TRUE(leaves.ok());
  EXPECT_EQ(subleaves_of(*leaves, 0x8000001D), (std::vector<std::uint32_t>{0, 1, 2}));
  EXPECT_EQ(subleaves_of(*leaves, 0x80000020), (std::vector<std::uint32_t>{0, 1, 3}));
  EXPECT_EQ(subleaves_of(*leaves, 0x80000026), (std::vector<std::uint32_t>{0, 1, 2}));
}

TEST(CollectCpuidEnum, FailedLeafStopsWithANoteAndKeepsWhatWasRead) {
  auto f = basic_cpu(0x6);
  f.fail_leaf(3);
  std::vector<std::string> notes;
  auto leaves = enumerate_cpuid(f, 0, notes);
  ASSERT_TRUE(leaves.ok());
  EXPECT_TRUE(has_leaf(*leaves, 2));
  EXPECT_FALSE(has_leaf(*leaves, 3));
  EXPECT_FALSE(has_leaf(*leaves, 0x80000000));
  EXPECT_TRUE(mentions(notes, "cpu 0: cpuid 0x3.0 failed"));
}

TEST(CollectCpuidEnum, FailedLeafZeroIsAnError) {
  auto f = basic_cpu(0x6);
  f.fail_cpu(1);
  std::vector<std::string> notes;
  EXPECT_FALSE(enumerate_cpuid(f, 1, notes).ok());
  EXPECT_TRUE(enumerate_cpuid(f, 0, notes).ok());
}

}  // namespace
}  // namespace kvmprobe::collect
