// The MSR step of compat against real KVM answers: the recorded KVM_GET_MSR_INDEX_LIST of
// QEMU EPYC guests on Debian 6.1.192 and 6.12.117 (tests/data/snapshots/qemu-*-epyc-kvm.json),
// what real KVM 6.12 did with a fresh 6.1 vCPU's MSRs (oracle run quoted in issue 8's brief:
// 22 of the 30 MSRs 6.12 does not list rejected, 0xc0010000–7 accepted), and the kernel source
// of both versions for the rest (cited per test).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "core/compat/compat.h"
#include "tests/core/compat/compat_fixtures.h"

namespace kvmprobe::compat {
namespace {

using testing::recorded;
using testing::side_of;
using Set = std::set<std::uint32_t>;

const CompatMsr* find(const std::vector<CompatMsr>& v, std::uint32_t index) {
  for (const auto& m : v)
    if (m.index == index) return &m;
  return nullptr;
}

Set range(std::uint32_t lo, std::uint32_t hi) {
  Set s;
  for (auto i = lo; i <= hi; ++i) s.insert(i);
  return s;
}

TEST(CompatMsrs, SixOneToSixTwelveOnEpycRejectsWhatRealKvmRejects) {
  Snapshot a = recorded("qemu-6.1-epyc-kvm.json"), b = recorded("qemu-6.12-epyc-kvm.json");
  SideFacts src = side_facts(side_of(a, "6.1")), dst = side_facts(side_of(b, "6.12"));
  auto msrs = msr_moves(src, dst);
  ASSERT_EQ(msrs.size(), 97u);
  for (size_t i = 0; i < msrs.size(); ++i) EXPECT_EQ(msrs[i].index, (*a.kvm.msr_index_list)[i]) << "source order";
  Set unlisted, rejected, dropped;
  for (const auto& m : msrs) {
    if (!m.dst_listed) unlisted.insert(m.index);
    if (m.dst_accepts == false) rejected.insert(m.index);
    if (!m.dst_listed && m.dst_accepts == true) dropped.insert(m.index);
    EXPECT_TRUE(m.dst_accepts.has_value()) << std::hex << m.index << ": " << m.reason;
  }
  EXPECT_EQ(unlisted.size(), 30u);
  // Intel PMU MSRs 6.1 lists even on AMD, and the AMD core counters.
  Set want{0x309, 0x30a, 0x30b, 0x38d, 0x38e, 0x38f, 0x390, 0x3f1, 0x3f2, 0x600};
  for (auto i : range(0xc0010200, 0xc001020b)) want.insert(i);
  EXPECT_EQ(rejected, want);
  EXPECT_EQ(dropped, range(0xc0010000, 0xc0010007));

  StepResult s = step_msrs(src, dst, msrs);
  EXPECT_EQ(s.status, Status::fail);
  EXPECT_NE(s.summary.find("22 of 97"), std::string::npos) << s.summary;
  EXPECT_NE(s.summary.find("0x309"), std::string::npos) << s.summary;
  EXPECT_FALSE(s.remedy.empty());
}

TEST(CompatMsrs, SameHostAndKernelTakesEveryMsr) {
  Snapshot a = recorded("qemu-6.12-epyc-kvm.json");
  SideFacts f = side_facts(side_of(a, "6.12"));
  auto msrs = msr_moves(f, f);
  ASSERT_EQ(msrs.size(), 73u);
  for (const auto& m : msrs) {
    EXPECT_TRUE(m.dst_listed) << std::hex << m.index;
    EXPECT_EQ(m.dst_accepts, true) << std::hex << m.index << ": " << m.reason;
  }
  EXPECT_EQ(step_msrs(f, f, msrs).status, Status::ok);
}

// 6.12 → 6.1: the MSRs only 6.12 lists on AMD. 6.1's svm_set_msr() handles IA32_DEBUGCTLMSR but
// has no case for the LBR MSRs 0x1db–0x1de (arch/x86/kvm/svm/svm.c (6.1)), and hyperv.c (6.1)
// has no HV_X64_MSR_TSC_INVARIANT_CONTROL: both reach the default branch of
// kvm_set_msr_common() (6.1), which only takes a 0 write to an MSR 6.1 lists.
TEST(CompatMsrs, SixTwelveToSixOneRejectsTheLbrAndHyperVMsrsOnlySixTwelveKnows) {
  Snapshot a = recorded("qemu-6.1-epyc-kvm.json"), b = recorded("qemu-6.12-epyc-kvm.json");
  SideFacts src = side_facts(side_of(b, "6.12")), dst = side_facts(side_of(a, "6.1"));
  auto msrs = msr_moves(src, dst);
  Set rejected, dropped;
  for (const auto& m : msrs) {
    if (m.dst_accepts == false) rejected.insert(m.index);
    if (!m.dst_listed && m.dst_accepts == true) dropped.insert(m.index);
  }
  EXPECT_EQ(rejected, (Set{0x1db, 0x1dc, 0x1dd, 0x1de, 0x40000118}));
  EXPECT_EQ(dropped, (Set{0x1d9}));
}

// Fresh-vCPU values from the source: kvm_vcpu_reset() (PAT default, MISC_ENABLE
// PEBS_UNAVAIL|BTS_UNAVAIL, smbase 0x30000), svm.c init_vmcb() microcode_version 0x01000065,
// kvm_arch_vcpu_create() PLATFORM_INFO CPUID_FAULT (x86.c (6.1), (6.12)).
TEST(CompatMsrs, FreshVcpuValuesComeFromTheSourceKernelsResetPath) {
  Snapshot a = recorded("qemu-6.1-epyc-kvm.json");
  SideFacts f = side_facts(side_of(a, "6.1"));
  auto msrs = msr_moves(f, f);
  auto value = [&](std::uint32_t i) { return find(msrs, i) ? find(msrs, i)->src_value : std::nullopt; };
  EXPECT_EQ(value(0x277), 0x0007040600070406ull);
  EXPECT_EQ(value(0x1a0), 0x1800ull);
  EXPECT_EQ(value(0x9e), 0x30000ull);
  EXPECT_EQ(value(0x8b), 0x01000065ull);
  EXPECT_EQ(value(0xce), 0x80000000ull);
  EXPECT_EQ(value(0x40000022), 2000000000ull) << "HV TSC_FREQUENCY = virtual_tsc_khz * 1000";
  EXPECT_EQ(value(0x174), 0ull);
  EXPECT_FALSE(value(0x10).has_value()) << "the guest TSC counts from vCPU creation";
  EXPECT_FALSE(value(0x10a).has_value()) << "ARCH_CAPABILITIES is derived from the host";
  EXPECT_EQ(find(msrs, 0x10a)->dst_accepts, true) << "6.1 takes any host-initiated ARCH_CAPABILITIES";
}

// TSC_AUX on a host whose CPUID lacks RDTSCP (QEMU qemu64): 6.1 does not list it
// (kvm_init_msr_lists: F-TSCAUX), yet real KVM took the write (oracle
// 6.1-epyc--6.1-qemu64-svm: "unlisted accepted") because the host's RDMSR/WRMSR of it work,
// so kvm_is_supported_user_return_msr(MSR_TSC_AUX) holds (arch/x86/kvm/x86.c: __kvm_set_msr (6.1)).
TEST(CompatMsrs, TscAuxIsTakenWhereTheHostCanAccessItEvenUnlisted) {
  Snapshot a = recorded("qemu-6.1-epyc-kvm.json"), b = recorded("qemu-6.1-qemu64-svm-kvm.json");
  SideFacts src = side_facts(side_of(a, "epyc")), dst = side_facts(side_of(b, "qemu64"));
  auto msrs = msr_moves(src, dst);
  const CompatMsr* aux = find(msrs, 0xc0000103);
  ASSERT_NE(aux, nullptr);
  EXPECT_FALSE(aux->dst_listed);
  EXPECT_EQ(aux->dst_accepts, true) << aux->reason;
  EXPECT_EQ(step_msrs(src, dst, msrs).status, Status::warn);
  for (auto& m : b.cpus[0].msrs)
    if (m.index == 0xc0000103) m.status = ReadStatus::fault;
  auto faulting = msr_moves(src, side_facts(side_of(b, "qemu64, TSC_AUX faults")));
  EXPECT_EQ(find(faulting, 0xc0000103)->dst_accepts, false);
}

TEST(CompatMsrs, AKernelWhoseSetPathIsNotModelledIsCannotTell) {
  Snapshot a = recorded("qemu-6.1-epyc-kvm.json");
  SideFacts src = side_facts(side_of(a, "6.1")), dst = side_facts(side_of(a, "5.15", "5.15"));
  auto msrs = msr_moves(src, dst);
  ASSERT_FALSE(msrs.empty());
  StepResult s = step_msrs(src, dst, msrs);
  EXPECT_EQ(s.status, Status::unknown) << s.summary;
  EXPECT_FALSE(s.missing.empty());
}

TEST(CompatMsrs, ASourceWhoseKvmWouldNotLoadHasNothingToMove) {
  Snapshot a = recorded("qemu-6.1-epyc-nosvm.json");
  Snapshot b = recorded("qemu-6.12-epyc-kvm.json");
  CompatReport r = compat(side_of(a, "nosvm"), side_of(b, "6.12"));
  EXPECT_EQ(r.verdict, CompatVerdict::unknown) << r.reason;
  EXPECT_EQ(r.find_step("vendor")->status, Status::unknown);
  EXPECT_EQ(r.find_step("msrs")->status, Status::skipped);
}

}  // namespace
}  // namespace kvmprobe::compat
