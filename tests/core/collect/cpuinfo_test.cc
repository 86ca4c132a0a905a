#include "core/collect/cpuinfo.h"

#include <gtest/gtest.h>

namespace kvmprobe::collect {
namespace {

TEST(CollectCpuinfo, ParsesFlagsAndMhzPerProcessor) {
  auto info = parse_cpuinfo(
      "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu MHz\t\t: 2596.098\n"
      "flags\t\t: fpu vme constant_tsc hypervisor\n\n"
      "processor\t: 2\ncpu MHz\t\t: 1800.000\nflags\t\t: fpu\n\n");
  ASSERT_EQ(info.size(), 2u);
  ASSERT_TRUE(info[0].flags.has_value());
  EXPECT_EQ(*info[0].flags, (std::vector<std::string>{"fpu", "vme", "constant_tsc", "hypervisor"}));
  EXPECT_EQ(info[0].mhz, "2596.098");
  EXPECT_EQ(info[2].mhz, "1800.000");
  EXPECT_EQ(info.count(1), 0u);
}

TEST(CollectCpuinfo, ProcessorWithoutFlagsLineHasNoFlags) {
  auto info = parse_cpuinfo("processor\t: 0\nmodel name\t: X\n");
  ASSERT_EQ(info.size(), 1u);
  EXPECT_FALSE(info[0].flags.has_value());
  EXPECT_TRUE(info[0].mhz.empty());
}

TEST(CollectCpuinfo, IgnoresGarbage) {
  EXPECT_TRUE(parse_cpuinfo("flags : fpu\nprocessor : x\nflags : sse\n").empty());
}

}  // namespace
}  // namespace kvmprobe::collect
