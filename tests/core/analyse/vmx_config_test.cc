// setup_vmcs_config against the real VMX capability MSRs of ~110 Intel CPUs (InstLatx64).
#include "core/analyse/vmx_config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/profiles/profiles.h"
#include "tests/support/shared_data.h"

namespace kvmprobe {
namespace {

/// Rows of MSR_VALUES.tsv: file, cpu, then one column per MSR (header names them).
std::vector<std::pair<std::string, CpuRecord>> load_vmx_rows(const std::filesystem::path& tsv) {
  std::ifstream in(tsv);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  {
    std::stringstream ss(line);
    std::string col;
    while (std::getline(ss, col, '\t')) header.push_back(col);
  }
  std::vector<std::pair<std::string, CpuRecord>> rows;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string col;
    std::vector<std::string> cols;
    while (std::getline(ss, col, '\t')) cols.push_back(col);
    CpuRecord cpu;
    bool vmx = false;
    for (size_t i = 0; i < cols.size() && i < header.size(); ++i) {
      const std::string& h = header[i];
      if (h.rfind("MSR_", 0) != 0 || cols[i].empty()) continue;
      std::uint32_t index = std::stoul(h.substr(4), nullptr, 16);
      cpu.msrs.push_back({index, ReadStatus::value, std::stoull(cols[i], nullptr, 16), 0});
      if (index == 0x482) vmx = true;
    }
    // The dumps never carry 0x492 (tertiary controls); it only decides IPI virtualization,
    // so CPUs that advertise tertiary controls get an empty one here.
    if (!cpu.find_msr(0x492)) cpu.msrs.push_back({0x492, ReadStatus::value, 0, 0});
    bool first_cpu = cols.size() > 3 && cols[3] == "0";
    if (vmx && first_cpu && line.rfind("GenuineIntel", 0) == 0) rows.push_back({cols[0], cpu});
  }
  return rows;
}

TEST(VmxConfig, EveryRealIntelCpuWithVmxMeetsKvmsRequiredControls) {
  auto dir = testing::shared_data_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/data not present";
  auto rows = load_vmx_rows(dir / "instlatx64-cpuid" / "MSR_VALUES.tsv");
  ASSERT_GT(rows.size(), 90u);
  for (const char* id : {"4.19", "5.10", "6.1", "6.6", "6.12", "7.3"}) {
    const KernelProfile& p = *find_profile(id);
    unsigned ept = 0;
    for (const auto& [name, cpu] : rows) {
      VmxConfig c = negotiate_vmx(cpu, p);
      ASSERT_TRUE(c.evaluated) << name << ": " << (c.unreadable.empty() ? "" : c.unreadable.front());
      EXPECT_TRUE(c.failures.empty()) << id << " " << name << ": " << c.failures.front();
      EXPECT_LE(c.vmcs_size, 4096u) << name;
      ept += c.ept;
    }
    EXPECT_GT(ept, rows.size() / 2) << id << ": most of these CPUs have EPT";
  }
}

TEST(VmxConfig, ControlNegotiationFollowsAllowedZeroAndOne) {
  CpuRecord cpu;
  auto put = [&](std::uint32_t i, std::uint64_t v) { cpu.msrs.push_back({i, ReadStatus::value, v, 0}); };
  put(0x480, (6ull << 50) | (1024ull << 32) | 0x4);
  put(0x481, 0x0000007f00000016ull);
  put(0x482, 0xfff9fffe0401e172ull);
  put(0x483, 0x003fffff00036dffull);
  put(0x484, 0x0000ffff000011ffull);
  put(0x485, 0);
  put(0x48b, 0x0000000000000000ull);  // no secondary controls allowed
  VmxConfig c = negotiate_vmx(cpu, *find_profile("6.1"));
  ASSERT_TRUE(c.evaluated);
  EXPECT_TRUE(c.failures.empty()) << c.failures.front();
  EXPECT_EQ(c.secondary.value, 0u);
  EXPECT_FALSE(c.ept);
  EXPECT_FALSE(c.tsc_scaling);
  EXPECT_EQ(c.pin.value & 0x16, 0x16u);  // allowed-0 bits stay set
}

TEST(VmxConfig, FaultingCapabilityMsrIsUnreadableNotZero) {
  CpuRecord cpu;
  cpu.msrs.push_back({0x480, ReadStatus::fault, 0, 5});
  VmxConfig c = negotiate_vmx(cpu, *find_profile("6.1"));
  EXPECT_FALSE(c.evaluated);
  EXPECT_FALSE(c.unreadable.empty());
}

}  // namespace
}  // namespace kvmprobe
