#include "core/collect/cpuid_source.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>

#include "tests/support/fake_sources.h"

namespace kvmprobe::collect {
namespace {

using testing::FakeTree;

TEST(CollectDevCpuid, ReadsSixteenBytesAtLeafAndSubleafOffset) {
  FakeTree tree;
  tree.mkdir("/dev/cpu/1");
  std::string node = tree.real("/dev/cpu/1/cpuid");
  std::uint32_t l7_1[4] = {0x11, 0x22, 0x33, 0x44};
  ASSERT_TRUE(testing::pwrite_at(node, static_cast<off_t>((std::uint64_t{1} << 32) | 7), l7_1, 16));
  DevCpuidSource src(tree.real("/dev/cpu"));
  auto l = src.cpuid(1, 7, 1);
  ASSERT_TRUE(l.ok()) << l.error().detail;
  EXPECT_EQ(l->leaf, 7u);
  EXPECT_EQ(l->subleaf, 1u);
  EXPECT_EQ(l->eax, 0x11u);
  EXPECT_EQ(l->edx, 0x44u);
  auto missing = src.cpuid(0, 0, 0);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().err, ENOENT);
}

}  // namespace
}  // namespace kvmprobe::collect
