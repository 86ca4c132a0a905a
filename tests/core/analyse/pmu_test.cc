// perf's PMU capability and KVM's PMU init (kvm-init.md §6.6) from synthetic snapshots.
#include "core/analyse/pmu.h"

#include <gtest/gtest.h>

#include "tests/core/analyse/msr_test_hosts.h"

namespace kvmprobe {
namespace {

using testing::intel_host;
using testing::profile;
using testing::qemu_epyc;
using testing::SnapshotBuilder;

KvmPmu pmu_for(const Snapshot& s, const std::string& id, const ParamOverrides& o = {}) {
  EffectiveParams p = resolve_params(s, profile(id), o);
  return kvm_pmu(s, profile(id), p);
}

TEST(Pmu, NoPerfHardwarePmuForcesEnablePmuOff) {
  Snapshot s = qemu_epyc().build();
  EffectiveParams p = resolve_params(s, profile("6.1"), {});
  auto [on, why] = effective_enable_pmu(s, profile("6.1"), p);
  EXPECT_EQ(on, std::optional<bool>(false));
  EXPECT_NE(why.find("perf registered no hardware PMU"), std::string::npos) << why;
  PmuCaps caps = perf_pmu_caps(s, PerfFixedCount::highest_bit);
  EXPECT_TRUE(caps.perf_hw_pmu_known);
  EXPECT_EQ(caps.gp, 0u);
}

TEST(Pmu, UnknownPerfStateCannotBeTold) {
  SnapshotBuilder b = qemu_epyc();
  b.perf_hw_pmu(Tri::unknown);
  KvmPmu k = pmu_for(b.build(), "6.12");
  EXPECT_FALSE(k.enable_pmu.has_value());
  EXPECT_NE(k.reason.find("cannot tell"), std::string::npos) << k.reason;
}

TEST(Pmu, IntelCountsComeFromCpuid0xA) {
  KvmPmu k = pmu_for(intel_host().build(), "6.1");
  EXPECT_EQ(k.enable_pmu, std::optional<bool>(true));
  EXPECT_EQ(k.perf.version, 4u);
  EXPECT_EQ(k.version, 2u);  // KVM caps the version at 2
  EXPECT_EQ(k.gp, 4u);
  EXPECT_EQ(k.fixed, 3u);
}

TEST(Pmu, IntelFixedCounterQuirkNeedsBareMetal) {
  SnapshotBuilder b = intel_host();
  b.leaf(0xa, 0, 0x07300402, 0, 0, 0);  // v2, 4 GP, EDX reports 0 fixed
  EXPECT_EQ(perf_pmu_caps(b.build(), PerfFixedCount::highest_bit).fixed, 3u);
  b.bit(0x1, 0, Reg::ecx, 31);          // under a hypervisor: no assumption
  EXPECT_EQ(perf_pmu_caps(b.build(), PerfFixedCount::highest_bit).fixed, 0u);
  b.leaf(0xa, 0, 0x07300805, 0, 0xf, 0);  // v5: fixed-counter bitmap in ECX
  EXPECT_EQ(perf_pmu_caps(b.build(), PerfFixedCount::highest_bit).fixed, 4u);
  EXPECT_EQ(pmu_for(b.build(), "6.6").fixed, 3u);
}

TEST(Pmu, IntelWithoutArchitecturalPerfmonIsForcedOff) {
  SnapshotBuilder b = intel_host();
  b.leaf(0xa, 0, 0, 0, 0, 0);
  KvmPmu k = pmu_for(b.build(), "6.1");
  EXPECT_EQ(k.enable_pmu, std::optional<bool>(false));
  EXPECT_EQ(k.gp, 0u);
}

TEST(Pmu, AmdLegacyAndCoreCounters) {
  SnapshotBuilder b = qemu_epyc();
  b.perf_hw_pmu(Tri::yes);
  EXPECT_EQ(perf_pmu_caps(b.build(), PerfFixedCount::highest_bit).gp, 4u);
  KvmPmu legacy = pmu_for(b.build(), "6.12");
  EXPECT_EQ(legacy.enable_pmu, std::optional<bool>(true));
  EXPECT_EQ(legacy.gp, 4u);
  b.bit(0x80000001, 0, Reg::ecx, 23);  // PERFCTR_CORE
  EXPECT_EQ(perf_pmu_caps(b.build(), PerfFixedCount::highest_bit).gp, 6u);
  EXPECT_EQ(pmu_for(b.build(), "6.12").gp, 6u);
}

TEST(Pmu, AmdPerfMonV2TakesItsCountFromCpuid80000022) {
  SnapshotBuilder b = qemu_epyc();
  b.perf_hw_pmu(Tri::yes).leaf(0x80000000, 0, 0x80000022, 0, 0, 0).bit(0x80000001, 0, Reg::ecx, 23);
  b.leaf(0x80000022, 0, 1, 6, 0, 0);
  PmuCaps caps = perf_pmu_caps(b.build(), PerfFixedCount::highest_bit);
  EXPECT_EQ(caps.version, 2u);
  EXPECT_EQ(caps.gp, 6u);
  EXPECT_TRUE(pmu_for(b.build(), "6.12").perfmon_v2);
  b.leaf(0x80000022, 0, 1, 5, 0, 0);  // 5 counters: KVM reduces to 4, hides PERFCTR_CORE and v2
  KvmPmu k = pmu_for(b.build(), "6.12");
  EXPECT_EQ(k.gp, 4u);
  EXPECT_FALSE(k.perfmon_v2);
}

TEST(Pmu, AmdWithFewerThanFourCountersIsForcedOffFrom66On) {
  SnapshotBuilder b = qemu_epyc();
  b.perf_hw_pmu(Tri::yes).leaf(0x80000000, 0, 0x80000022, 0, 0, 0).bit(0x80000001, 0, Reg::ecx, 23);
  b.leaf(0x80000022, 0, 1, 2, 0, 0);
  EXPECT_EQ(pmu_for(b.build(), "6.6").enable_pmu, std::optional<bool>(false));
  EXPECT_EQ(pmu_for(b.build(), "6.1").enable_pmu, std::optional<bool>(true));
}

TEST(Pmu, HybridForcesOffOnlyWhereTheKernelChecksIt) {
  SnapshotBuilder b = intel_host();
  b.bit(0x7, 0, Reg::edx, 15);
  KvmPmu k = pmu_for(b.build(), "6.1");
  EXPECT_EQ(k.enable_pmu, std::optional<bool>(false));
  EXPECT_NE(k.reason.find("hybrid"), std::string::npos);
  EXPECT_EQ(pmu_for(b.build(), "6.1.0").enable_pmu, std::optional<bool>(true));
}

TEST(Pmu, ParameterOffAndItsOrigin) {
  KvmPmu k = pmu_for(intel_host().build(), "6.12", {{"kvm.enable_pmu", "0"}});
  EXPECT_EQ(k.enable_pmu, std::optional<bool>(false));
  EXPECT_EQ(k.param_origin, "--param");
  EXPECT_EQ(k.gp, 0u);
}

TEST(Pmu, LoadedModuleValueIsKvmsOwnAnswer) {
  SnapshotBuilder b = intel_host();
  b.perf_hw_pmu(Tri::unknown);
  b.snapshot().modules.push_back({"kvm", {{"enable_pmu", "N"}}});
  KvmPmu k = pmu_for(b.build(), "6.1");
  EXPECT_EQ(k.enable_pmu, std::optional<bool>(false));
  EXPECT_NE(k.reason.find("loaded kvm module"), std::string::npos) << k.reason;
}

TEST(Pmu, KernelsWithoutTheParameterFollowPerf) {
  KvmPmu k = pmu_for(intel_host().build(), "5.15");
  EXPECT_EQ(k.enable_pmu, std::optional<bool>(true));
  EXPECT_EQ(k.gp, 4u);
  EXPECT_TRUE(k.param_origin.empty());
}

// 5.x: perf refusing the PMU after its vendor init ("PMU not available due to virtualization",
// as under QEMU/TCG) leaves x86_pmu filled, and KVM reads those counts (arch/x86/events/core.c:
// init_hw_perf_events() (5.10.262)); 6.1 clears them. Measured in bullseye's 5.10 guest.
TEST(Pmu, FiveXKeepsTheVendorCountsWhenPerfRefusedThePmu) {
  SnapshotBuilder b = qemu_epyc();
  b.bit(0x80000001, 0, Reg::ecx, 23, false);  // no PERFCTR_CORE: amd_pmu_init's 4 legacy counters
  Snapshot s = b.build();
  ASSERT_FALSE(perf_pmu_caps(s, PerfFixedCount::highest_bit).perf_hw_pmu);
  for (const char* id : {"5.10.7", "5.10", "5.15"}) {
    KvmPmu k = pmu_for(s, id);
    EXPECT_EQ(k.gp, 4u) << id;
    EXPECT_NE(k.reason.find("keeps the vendor init's counts"), std::string::npos) << k.reason;
  }
  b.bit(0x80000001, 0, Reg::ecx, 23, true);   // PERFCTR_CORE: 6
  EXPECT_EQ(pmu_for(b.build(), "5.10").gp, 6u);
  EXPECT_EQ(pmu_for(s, "6.1").gp, 0u);
  EXPECT_EQ(pmu_for(s, "6.1").enable_pmu, std::optional<bool>(false));
}

}  // namespace
}  // namespace kvmprobe
