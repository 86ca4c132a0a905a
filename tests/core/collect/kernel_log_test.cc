#include "core/collect/kernel_log.h"

#include <gtest/gtest.h>

namespace kvmprobe::collect {
namespace {

TEST(CollectKernelLog, SplitsSyslogTextAndDropsLevels) {
  auto lines = split_syslog_text(
      "<6>[    0.000052] tsc: Detected 2596.098 MHz processor\n"
      "<4>[    0.1] x86/cpu: VMX (outside TXT) disabled by BIOS\n\nno level\n");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "[    0.000052] tsc: Detected 2596.098 MHz processor");
  EXPECT_EQ(lines[1], "[    0.1] x86/cpu: VMX (outside TXT) disabled by BIOS");
  EXPECT_EQ(lines[2], "no level");
}

TEST(CollectKernelLog, SplitsOnlyTheLinesTheFilterKeeps) {
  const char* text =
      "<6>[    0.000052] tsc: Detected 2596.098 MHz processor\n"
      "<6>[    0.2] EXT4-fs (vda): mounted filesystem\n"
      "<4>[    0.3] kvm_amd: Nested Virtualization enabled\n"
      "<6>[    0.4] virtio_net virtio1 eth0: up\n";
  auto lines = split_syslog_text(text, &is_relevant_kernel_log_line);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "[    0.000052] tsc: Detected 2596.098 MHz processor");
  EXPECT_EQ(lines[1], "[    0.3] kvm_amd: Nested Virtualization enabled");
  EXPECT_EQ(split_syslog_text(text).size(), 4u);
}

// The running kernel's log, both ways: the filtered read (what collect() uses) must give
// exactly the relevant lines of the whole read, in order.
TEST(CollectKernelLog, FilteredReadOfThisHostEqualsFilteringTheWholeLog) {
  SystemKernelLog log;
  auto all = log.read_lines();
  if (!all) GTEST_SKIP() << "this host's kernel log is unreadable: " << all.error().detail;
  auto relevant = log.read_matching_lines(&is_relevant_kernel_log_line);
  ASSERT_TRUE(relevant.ok()) << relevant.error().detail;
  std::vector<std::string> want;
  for (const std::string& l : *all)
    if (is_relevant_kernel_log_line(l)) want.push_back(l);
  // A line logged between the two reads may be missing from the first; none here is expected,
  // but compare the common prefix so a racing kvm message cannot make this flaky.
  ASSERT_LE(want.size(), relevant->size());
  EXPECT_EQ(want, std::vector<std::string>(relevant->begin(), relevant->begin() + static_cast<long>(want.size())));
  EXPECT_LT(relevant->size(), all->size()) << "a real boot log has lines that are not about KVM's init";
}

TEST(CollectKernelLog, FormatsKmsgRecordsLikeDmesg) {
  EXPECT_EQ(format_kmsg_record("6,339,5140900,-;kvm: Nested Virtualization enabled\n"
                               " SUBSYSTEM=cpu\n"),
            "[    5.140900] kvm: Nested Virtualization enabled");
  EXPECT_EQ(format_kmsg_record("6,1,52,-,caller=T0;tsc: Detected 2596.098 MHz processor\n"),
            "[    0.000052] tsc: Detected 2596.098 MHz processor");
  EXPECT_FALSE(format_kmsg_record("garbage").has_value());
  EXPECT_FALSE(format_kmsg_record("6,1;x").has_value());
}

TEST(CollectKernelLog, KeepsOnlyLinesAboutKvmInit) {
  for (const char* yes :
       {"x86/cpu: VMX (outside TXT) disabled by BIOS", "SVM disabled (by BIOS) in MSR_VM_CR",
        "kvm_amd: Nested Virtualization enabled",
        "Performance Events: PMU not available due to "
        "virtualization, using software events only.",
        "tsc: Refined TSC clocksource calibration: "
        "2596.145 MHz",
        "Hypervisor detected: KVM", "has_svm: svm not available"})
    EXPECT_TRUE(is_relevant_kernel_log_line(yes)) << yes;
  for (const char* no : {"EXT4-fs (vda): mounted filesystem", "virtio_net virtio1 eth0: up"})
    EXPECT_FALSE(is_relevant_kernel_log_line(no)) << no;
}

TEST(CollectKernelLog, BoundsTheLinesKeptToFirstAndLastHalf) {
  std::vector<std::string> lines;
  for (int i = 0; i < 1000; ++i) lines.push_back("kvm: line " + std::to_string(i));
  lines.push_back("unrelated");
  std::size_t dropped = 0;
  auto kept = select_relevant_lines(lines, 10, dropped);
  ASSERT_EQ(kept.size(), 10u);
  EXPECT_EQ(dropped, 990u);
  EXPECT_EQ(kept[0], "kvm: line 0");
  EXPECT_EQ(kept[4], "kvm: line 4");
  EXPECT_EQ(kept[5], "kvm: line 995");
  EXPECT_EQ(kept[9], "kvm: line 999");
}

}  // namespace
}  // namespace kvmprobe::collect
