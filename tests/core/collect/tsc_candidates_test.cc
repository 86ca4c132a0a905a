#include "core/collect/tsc_candidates.h"

#include <gtest/gtest.h>

namespace kvmprobe::collect {
namespace {

TEST(CollectTsc, ParsesMhzAsTheKernelPrintsIt) {
  EXPECT_EQ(parse_mhz_to_khz("2596.145"), 2596145u);
  EXPECT_EQ(parse_mhz_to_khz("2596.1"), 2596100u);
  EXPECT_EQ(parse_mhz_to_khz("2596.14599"), 2596145u);
  EXPECT_EQ(parse_mhz_to_khz("3000"), 3000000u);
  EXPECT_EQ(parse_mhz_to_khz("2596.098\n"), 2596098u);
  EXPECT_FALSE(parse_mhz_to_khz("").has_value());
  EXPECT_FALSE(parse_mhz_to_khz("abc").has_value());
  EXPECT_FALSE(parse_mhz_to_khz("12.").has_value());
  EXPECT_FALSE(parse_mhz_to_khz("1.2x").has_value());
}

CpuRecord vmware_intel_cpu() {
  CpuRecord c;
  c.cpuid = {
      {0x15, 0, 2, 216, 25000000, 0},                                   // 25 MHz x 108 = 2.7 GHz
      {0x16, 0, 2700, 4000, 100, 0},                                    // base 2700 MHz
      {0x40000000, 0, 0x40000010, 0x61774d56, 0x4d566572, 0x65726177},  // VMwareVMware
      {0x40000010, 0, 2699998, 1000000, 0, 0},
  };
  return c;
}

TEST(CollectTsc, CandidatesComeBestFirstAndOnlyKernelValuesAreExact) {
  CpuRecord cpu = vmware_intel_cpu();
  TscInputs in;
  in.kvm_vcpu_khz = 2699999;
  in.constant_tsc = true;
  in.driver_khz = 2699999;
  in.sysfs_khz = "2699999\n";
  in.log_lines = {"[    0.000000] tsc: Detected 2700.000 MHz processor",
                  "[    0.000001] tsc: Detected 2699.998 MHz TSC",
                  "[    1.500000] tsc: Refined TSC clocksource calibration: 2699.999 MHz"};
  in.boot_cpu = &cpu;
  in.cpuinfo_mhz = "1200.000";
  auto c = tsc_candidates(in);
  std::vector<TscSource> order;
  for (const auto& t : c) order.push_back(t.source);
  EXPECT_EQ(order,
            (std::vector<TscSource>{
                TscSource::kvm_vcpu, TscSource::driver, TscSource::sysfs, TscSource::kernel_log,
                TscSource::kernel_log, TscSource::kernel_log, TscSource::hypervisor_leaf,
                TscSource::cpuid_15h, TscSource::cpuid_16h, TscSource::cpuinfo_mhz}));
  EXPECT_EQ(c[3].khz, 2699999u);  // refined first
  EXPECT_EQ(c[4].khz, 2699998u);  // then "MHz TSC" (tsc_khz)
  EXPECT_EQ(c[5].khz, 2700000u);  // then "MHz processor" (cpu_khz)
  EXPECT_EQ(c[6].khz, 2699998u);
  EXPECT_EQ(c[7].khz, 2700000u);
  EXPECT_EQ(c[8].khz, 2700000u);
  EXPECT_EQ(c[9].khz, 1200000u);
  for (std::size_t i = 0; i < c.size(); ++i) EXPECT_EQ(c[i].exact, i < 2) << i;
}

TEST(CollectTsc, KvmValueIsNotExactWithoutConstantTscWhenCpufreqMayChangeIt) {
  TscInputs in;
  in.kvm_vcpu_khz = 2000000;
  in.constant_tsc = false;
  in.cpufreq_policies = true;
  auto c = tsc_candidates(in);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_FALSE(c[0].exact);
  EXPECT_NE(c[0].detail.find("max_tsc_khz"), std::string::npos);
  in.cpufreq_policies.reset();
  EXPECT_FALSE(tsc_candidates(in)[0].exact);
  in.constant_tsc.reset();
  EXPECT_FALSE(tsc_candidates(in)[0].exact);
  // Without cpufreq, kvm_timer_init() keeps max_tsc_khz = tsc_khz.
  in.constant_tsc = false;
  in.cpufreq_policies = false;
  EXPECT_TRUE(tsc_candidates(in)[0].exact);
}

TEST(CollectTsc, SkipsMeaninglessCpuidAndForeignHypervisorLeaves) {
  CpuRecord cpu;
  cpu.cpuid = {
      {0x15, 0, 2, 216, 0, 0},  // no crystal frequency
      {0x16, 0, 0, 0, 0, 0},
      {0x40000000, 0, 0x40000010, 0x7263694d, 0x666f736f, 0x76482074},  // "Microsoft Hv"
      {0x40000010, 0, 1234, 0, 0, 0},
  };
  TscInputs in;
  in.boot_cpu = &cpu;
  EXPECT_TRUE(tsc_candidates(in).empty());
}

TEST(CollectTsc, MalformedTextIsSkippedNotZero) {
  TscInputs in;
  in.sysfs_khz = "garbage";
  in.cpuinfo_mhz = "n/a";
  in.log_lines = {"tsc: Refined TSC clocksource calibration: fast MHz"};
  EXPECT_TRUE(tsc_candidates(in).empty());
}

}  // namespace
}  // namespace kvmprobe::collect
