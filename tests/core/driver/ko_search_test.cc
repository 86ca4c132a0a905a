#include "core/driver/ko_search.h"

#include <gtest/gtest.h>

#include "tests/support/fake_sources.h"

namespace kvmprobe::driver {
namespace {

using namespace std::string_literals;

TEST(KoSearch, AnExplicitPathIsTheOnlyCandidate) {
  testing::FakeTree t;
  collect::RootedSysfsReader fs(t.root());
  t.write("/lib/modules/6.1.0-56-amd64/updates/dkms/kvmprobe.ko", "x");
  KoSearch s{"/root/mine.ko", "/env/kvmprobe.ko", "6.1.0-56-amd64", "/src/msr-driver/kvmprobe.ko"};
  auto c = ko_candidates(s, fs);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].origin, KoOrigin::option);
  EXPECT_FALSE(c[0].exists);
  EXPECT_FALSE(first_existing(c));  // never another file instead
  s.option_path.clear();
  c = ko_candidates(s, fs);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].origin, KoOrigin::environment);
  EXPECT_EQ(c[0].path, "/env/kvmprobe.ko");
}

TEST(KoSearch, DkmsBeforeUpdatesExtraAndTheBuildTree) {
  testing::FakeTree t;
  collect::RootedSysfsReader fs(t.root());
  t.write("/src/msr-driver/kvmprobe.ko", "x");
  KoSearch s{"", "", "6.1.0-56-amd64", "/src/msr-driver/kvmprobe.ko"};
  auto c = ko_candidates(s, fs);
  ASSERT_EQ(c.size(), 13u);
  EXPECT_EQ(c[0].path, "/lib/modules/6.1.0-56-amd64/updates/dkms/kvmprobe.ko");
  EXPECT_EQ(c[1].path, "/lib/modules/6.1.0-56-amd64/updates/dkms/kvmprobe.ko.xz");
  EXPECT_EQ(c[4].origin, KoOrigin::updates);
  EXPECT_EQ(c[8].origin, KoOrigin::extra);
  EXPECT_EQ(c[12].origin, KoOrigin::build_tree);
  EXPECT_EQ(first_existing(c)->origin, KoOrigin::build_tree);
  t.write("/lib/modules/6.1.0-56-amd64/updates/dkms/kvmprobe.ko.zst", "x");
  auto pick = first_existing(ko_candidates(s, fs));
  EXPECT_EQ(pick->origin, KoOrigin::dkms);
  EXPECT_TRUE(pick->compressed());
}

TEST(KoSearch, VermagicFromModinfo) {
  std::string ko = "\x7f" "ELF...\0license=GPL\0xvermagic=bogus\0vermagic=6.1.0-56-amd64 SMP preempt "
                   "mod_unload modversions \0name=kvmprobe\0"s;
  auto v = ko_vermagic(ko);
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, "6.1.0-56-amd64 SMP preempt mod_unload modversions ");
  EXPECT_EQ(vermagic_release(*v), "6.1.0-56-amd64");
  EXPECT_FALSE(ko_vermagic("no modinfo here"));
  EXPECT_FALSE(ko_vermagic("\0vermagic=unterminated"s));
}

}  // namespace
}  // namespace kvmprobe::driver
