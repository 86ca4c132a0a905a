// vmx_set_vmx_msr()'s acceptance rules, case by case from the kernel source
// (arch/x86/kvm/vmx/nested.c: vmx_restore_vmx_basic(), vmx_restore_control_msr(),
// vmx_restore_vmx_misc(), vmx_restore_fixed0_msr(), vmx_restore_vmx_ept_vpid_cap(),
// vmx_set_vmx_msr() (6.1, 6.12)), against a destination whose vmcs_config.nested is what the
// Bochs corei7_skylake_x guest's kvm_intel 6.1 returned on /dev/kvm (tests/data/bochs/sky61.kvm.txt).
#include <gtest/gtest.h>

#include "core/analyse/nested_vmx.h"

namespace kvmprobe {
namespace {

class NestedRestoreRules : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    dst_.data = nested_vmx_profile(GetParam());
    ASSERT_NE(dst_.data, nullptr);
    dst_.evaluated = true;
    const std::uint64_t sky61[18] = {0xd8100011e57ed0, 0x7f00000016,      0xf7f9fffe0401e172, 0x7fffff00036dff,
                                     0xf3ff000011ff,   0x20000165,        0x80000021,         0xffffffff,
                                     0x2000,           0x372fff,          0x32,               0x2137bff00000000,
                                     0xf0106334041,    0x7f00000016,      0xf7f9fffe04006172, 0x7fffff00036dfb,
                                     0xf3ff000011fb,   0x1};
    for (unsigned i = 0; i < 18; ++i) dst_.system[i] = sky61[i];
  }
  bool ok(std::uint32_t index, std::uint64_t v) { return nested_vmx_restore(dst_, index, v).accepted; }
  NestedVmx dst_;
};

TEST_P(NestedRestoreRules, EveryRestorableMsrTakesKvmsOwnValue) {
  for (std::uint32_t i : {0x480u, 0x485u, 0x486u, 0x488u, 0x48au, 0x48bu, 0x48cu, 0x48du, 0x48eu, 0x48fu, 0x490u,
                          0x491u})
    EXPECT_TRUE(ok(i, dst_.value(i))) << std::hex << i << ": " << nested_vmx_restore(dst_, i, dst_.value(i)).reason;
}

// "The non-true VMX capability MSRs are generated from the true MSRs, so we do not support
// restoring them directly"; CR0/CR4_FIXED1 "are generated based on the vCPU's CPUID".
TEST_P(NestedRestoreRules, NonTrueControlsAndFixed1AreRefusedEvenUnchanged) {
  for (std::uint32_t i : {0x481u, 0x482u, 0x483u, 0x484u, 0x487u, 0x489u}) EXPECT_FALSE(ok(i, dst_.value(i))) << i;
}

TEST_P(NestedRestoreRules, Basic) {
  const std::uint64_t b = dst_.value(0x480);
  EXPECT_TRUE(ok(0x480, b & ~(1ull << 54)));             // fewer features (INOUT)
  EXPECT_FALSE(ok(0x480, b | (1ull << 49)));             // dual-monitor: not KVM's
  EXPECT_FALSE(ok(0x480, b | (1ull << 56)));             // reserved
  EXPECT_FALSE(ok(0x480, b | (1ull << 48)));             // 32-bit physical addresses
  EXPECT_FALSE(ok(0x480, (b & ~0x7fffffffull) | 1));     // another VMCS revision
  EXPECT_FALSE(ok(0x480, b & ~(0x1fffull << 32)));       // a smaller VMCS than KVM's
  EXPECT_TRUE(ok(0x480, b | (0x800ull << 32)));          // a larger one is fine
  EXPECT_TRUE(ok(0x480, (b & ~(0xfull << 50)) | (0ull << 50)));  // memory type is not checked
}

TEST_P(NestedRestoreRules, ControlMsrs) {
  const std::uint64_t sec = dst_.value(0x48b);
  EXPECT_TRUE(ok(0x48b, sec & ~(1ull << (32 + 11))));    // without RDRAND exiting
  EXPECT_FALSE(ok(0x48b, sec | (1ull << (32 + 10))));    // PAUSE-loop exiting: not offered
  const std::uint64_t proc = dst_.value(0x48e);
  EXPECT_FALSE(ok(0x48e, proc & ~(1ull << 1)));          // a must-be-1 bit cleared
  EXPECT_TRUE(ok(0x48e, proc | (1ull << 15)));           // must-be-1 CR3-load exiting: stricter is fine
  EXPECT_FALSE(ok(0x48d, dst_.value(0x48d) | (1ull << (32 + 7))));  // posted interrupts
  auto r = nested_vmx_restore(dst_, 0x48b, sec | (1ull << (32 + 10)));
  EXPECT_NE(r.reason.find("0x400"), std::string::npos) << r.reason;
}

TEST_P(NestedRestoreRules, Misc) {
  const std::uint64_t m = dst_.value(0x485);
  EXPECT_TRUE(ok(0x485, m & ~(1ull << 6)));              // without HLT activity
  EXPECT_FALSE(ok(0x485, m | (1ull << 14)));             // Intel PT in VMX: not KVM's
  EXPECT_FALSE(ok(0x485, m | (1ull << 10)));             // reserved
  EXPECT_FALSE(ok(0x485, (m & ~0x1full) | 3));           // another preemption timer rate
  EXPECT_FALSE(ok(0x485, m | (1ull << 16)));             // a CR3 target more
  EXPECT_FALSE(ok(0x485, m | (1ull << 25)));             // a larger MSR-list limit
  EXPECT_FALSE(ok(0x485, m | (1ull << 32)));             // another MSEG revision
}

TEST_P(NestedRestoreRules, Fixed0EptVpidVmcsEnumVmfunc) {
  EXPECT_TRUE(ok(0x486, dst_.value(0x486) | 0x2));       // more must-be-1 CR0 bits
  EXPECT_FALSE(ok(0x486, dst_.value(0x486) & ~1ull));    // PE no longer must be 1
  EXPECT_FALSE(ok(0x488, 0));                            // VMXE no longer must be 1
  EXPECT_TRUE(ok(0x48c, dst_.value(0x48c) & ~(1ull << 21)));  // without EPT A/D
  EXPECT_FALSE(ok(0x48c, dst_.value(0x48c) | (1ull << 7)));   // 5-level EPT: not this host's
  EXPECT_TRUE(ok(0x48a, 0x7fe));                         // stored as given
  EXPECT_FALSE(ok(0x491, 0x3));                          // VMFUNC bit 1: not KVM's
  dst_.system[0x491 - 0x480] = 0;
  EXPECT_FALSE(ok(0x491, 0x1));                          // EPTP switching where the host has no VMFUNC
}

INSTANTIATE_TEST_SUITE_P(Versions, NestedRestoreRules, ::testing::Values("6.1", "6.12"));

TEST(NestedVmxVersions, OnlyTranscribedVersionsAreModelled) {
  EXPECT_NE(nested_vmx_profile("6.1"), nullptr);
  EXPECT_NE(nested_vmx_profile("6.12"), nullptr);
  EXPECT_EQ(nested_vmx_profile("5.15"), nullptr);
}

// vmx_secondary_exec_control() (6.1, 6.12): the vCPU's copy follows KVM_SET_CPUID2.
TEST(NestedVcpuValue, SecondaryControlsFollowTheGuestCpuid) {
  NestedVmx n;
  n.data = nested_vmx_profile("6.1");
  n.evaluated = true;
  n.system[0x48b - 0x480] = 0x2137bff00000000;  // sky61's vmcs_config.nested
  n.vmcs_secondary = 0x02137bff;
  std::string why;
  std::vector<std::string> all = {"rdtscp", "invpcid", "rdrand", "rdseed", "xsaves"};
  auto v = nested_vcpu_value(n, 0x48b, all, why);
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 0x2137bff00000000u);
  std::vector<std::string> no_xsaves = {"rdpid", "invpcid", "rdrand", "rdseed"};
  v = nested_vcpu_value(n, 0x48b, no_xsaves, why);
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 0x2037bff00000000u);  // XSAVES (bit 20) cleared, RDTSCP kept for RDPID
  EXPECT_FALSE(nested_vcpu_value(n, 0x48b, std::nullopt, why));
  EXPECT_NE(why.find("CPUID"), std::string::npos);
  EXPECT_TRUE(nested_vcpu_value(n, 0x48c, std::nullopt, why));  // does not follow CPUID
  EXPECT_FALSE(nested_vcpu_value(n, 0x489, all, why));          // CR4_FIXED1: from the vCPU's CPUID
}

}  // namespace
}  // namespace kvmprobe
