#include "core/collect/cpu_list.h"

#include <gtest/gtest.h>

namespace kvmprobe::collect {
namespace {

using V = std::vector<unsigned>;

TEST(CollectCpuList, ParsesRangesAndSingles) {
  EXPECT_EQ(parse_cpu_list("0-3,8,10-11\n"), (V{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_EQ(parse_cpu_list("0"), (V{0}));
  EXPECT_EQ(parse_cpu_list("0-1\n"), (V{0, 1}));
}

TEST(CollectCpuList, KeepsHolesLeftByOfflineCpus) {
  // CPU 1 offline: the online file skips it.
  EXPECT_EQ(parse_cpu_list("0,2-3\n"), (V{0, 2, 3}));
  EXPECT_EQ(parse_cpu_list("4-5"), (V{4, 5}));  // even CPU 0 may be absent
}

TEST(CollectCpuList, EmptyListIsEmpty) {
  EXPECT_EQ(parse_cpu_list(""), V{});
  EXPECT_EQ(parse_cpu_list("\n"), V{});
}

TEST(CollectCpuList, SortsAndDeduplicates) {
  EXPECT_EQ(parse_cpu_list("3,0-2,1"), (V{0, 1, 2, 3}));
}

TEST(CollectCpuList, RejectsMalformedText) {
  for (const char* bad : {"a", "0-", "-1", "3-1", "1,,2", "0-3,", "0 1", "1-2-3", "65536", "0x1"})
    EXPECT_FALSE(parse_cpu_list(bad).has_value()) << bad;
}

}  // namespace
}  // namespace kvmprobe::collect
