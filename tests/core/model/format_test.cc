#include "core/model/format.h"

#include <gtest/gtest.h>

#include <array>

namespace kvmprobe {
namespace {

TEST(FormatHex, LowerCaseWithPrefixAndNoPadding) {
  EXPECT_EQ(hex(0), "0x0");
  EXPECT_EQ(hex(0x3a), "0x3a");
  EXPECT_EQ(hex(0xC0010114), "0xc0010114");
  EXPECT_EQ(hex(0xffffffffffffffffull), "0xffffffffffffffff");
}

TEST(FormatJoin, PutsTheSeparatorOnlyBetweenElements) {
  EXPECT_EQ(join(std::vector<std::string>{}, ", "), "");
  EXPECT_EQ(join(std::vector<std::string>{"ept"}, ", "), "ept");
  EXPECT_EQ(join(std::vector<std::string>{"ept", "vpid", "ple"}, ", "), "ept, vpid, ple");
  EXPECT_EQ(join(std::array<int, 3>{1, 2, 3}, "|"), "1|2|3");
}

// The form the kernel writes to /sys/devices/system/cpu/online (bitmap_print_to_pagebuf, "%*pbl").
TEST(FormatCpuList, CompactsRunsAsLinuxDoes) {
  EXPECT_EQ(cpu_list({0, 1, 2, 3, 8, 10, 11}), "0-3,8,10-11");
  EXPECT_EQ(cpu_list({5}), "5");
  EXPECT_EQ(cpu_list({0, 2, 4}), "0,2,4");
  EXPECT_EQ(cpu_list({}), "");
}

}  // namespace
}  // namespace kvmprobe
