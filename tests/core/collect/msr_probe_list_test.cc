#include "core/collect/msr_probe_list.h"
#include "core/profiles/msr_lists.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace kvmprobe::collect {
namespace {

TEST(CollectMsrProbeList, BootListIsSortedUniqueAndCoversThePerCpuSet) {
  const auto& boot = boot_cpu_msr_probe_list();
  EXPECT_TRUE(std::is_sorted(boot.begin(), boot.end()));
  EXPECT_EQ(std::adjacent_find(boot.begin(), boot.end()), boot.end());
  auto per_cpu = per_cpu_msr_list();
  EXPECT_TRUE(std::is_sorted(per_cpu.begin(), per_cpu.end()));
  for (std::uint32_t i : per_cpu)
    EXPECT_TRUE(std::binary_search(boot.begin(), boot.end(), i)) << std::hex << i;
  // A few from each source table of kvm-init.md.
  for (std::uint32_t i : {0x10u, 0x277u, 0x38Du, 0x186u, 0xC1u, 0x8Bu, 0x10Au, 0x345u, 0x492u,
                          0xC0010114u, 0xC0011029u, 0xC001020Bu, 0xC0000103u, 0xDA0u, 0x6A2u})
    EXPECT_TRUE(std::binary_search(boot.begin(), boot.end(), i)) << std::hex << i;
  EXPECT_GT(boot.size(), 130u);
  // Every candidate of every modelled kernel's msrs_to_save is recorded on the boot CPU.
  for (std::uint32_t i : msr_list_host_probes())
    EXPECT_TRUE(std::binary_search(boot.begin(), boot.end(), i)) << std::hex << i;
}

}  // namespace
}  // namespace kvmprobe::collect
