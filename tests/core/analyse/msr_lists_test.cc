// KVM's MSR lists (kvm-init.md §6) from synthetic snapshots: candidate order per version, every
// filter rule, and the live-verified QEMU EPYC cases of §6.9.
#include "core/analyse/msr_lists.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "core/analyse/steps.h"
#include "core/collect/snapshot_json.h"
#include "core/profiles/msr_lists.h"
#include "tests/core/analyse/msr_test_hosts.h"
#include "tests/support/shared_data.h"

namespace kvmprobe {
namespace {

using testing::entry;
using testing::intel_host;
using testing::msr_lists_for;
using testing::profile;
using testing::qemu_epyc;
using testing::SnapshotBuilder;
using testing::vmx_allow;
using U32s = std::vector<std::uint32_t>;

U32s candidate_indices(const std::string& id, MsrList list) {
  U32s out;
  for (const MsrRow* r : msr_candidates(*profile(id).msr_lists, list)) out.push_back(r->index);
  return out;
}

bool has(const U32s& v, std::uint32_t i) { return std::find(v.begin(), v.end(), i) != v.end(); }

U32s range(std::uint32_t first, std::uint32_t last) {
  U32s v;
  for (std::uint32_t i = first; i <= last; ++i) v.push_back(i);
  return v;
}

U32s cat(std::initializer_list<U32s> parts) {
  U32s v;
  for (const auto& p : parts) v.insert(v.end(), p.begin(), p.end());
  return v;
}

// Debian linux-source-6.1 6.1.192, arch/x86/kvm/x86.c msrs_to_save_all[] (indices resolved from
// msr-index.h / perf_event.h).
const U32s kKernel61Save = cat(
    {{0x174, 0x175, 0x176, 0xc0000081, 0xc0000083, 0xc0000102, 0xc0000084, 0xc0000082, 0x10, 0x277,
      0xc0010117, 0x3a, 0xd90, 0xc0000103, 0x48, 0x570, 0x571, 0x572, 0x560, 0x561},
     range(0x580, 0x587),
     {0xe1, 0x309, 0x30a, 0x30b, 0x38d, 0x38e, 0x38f, 0x390, 0x3f1, 0x600, 0x3f2},
     range(0xc1, 0xc8), range(0x186, 0x18d), range(0xc0010000, 0xc0010007),
     {0xc0010200, 0xc0010202, 0xc0010204, 0xc0010206, 0xc0010208, 0xc001020a, 0xc0010201, 0xc0010203,
      0xc0010205, 0xc0010207, 0xc0010209, 0xc001020b, 0x1c4, 0x1c5}});

// emulated_msrs_all[] of 6.1.192.
const U32s kKernel61Emulated = cat(
    {{0x12, 0x11, 0x4b564d01, 0x4b564d00, 0x40000000, 0x40000001, 0x40000020, 0x40000021, 0x40000022,
      0x40000023, 0x40000100, 0x40000101, 0x40000102, 0x40000103, 0x40000104, 0x40000105, 0x40000003,
      0x40000002, 0x40000010, 0x40000080, 0x400000b0, 0x40000073, 0x40000106, 0x40000107, 0x40000108,
      0x400000ff, 0x400000f1, 0x400000f2, 0x400000f3, 0x400000f4, 0x400000f5, 0x4b564d02, 0x4b564d03,
      0x4b564d04, 0x4b564d06, 0x4b564d07, 0x3b, 0x6e0, 0x10a, 0x345, 0x1a0, 0x17a, 0x17b, 0x4d0, 0x9e,
      0x34, 0xce, 0x140, 0xc001011f, 0xc0000104, 0x1fc, 0x8b, 0x480, 0x48d, 0x48e, 0x48f, 0x490, 0x485,
      0x486, 0x488, 0x48a, 0x48b, 0x48c, 0x491, 0xc0010015, 0x4b564d05}});

// Debian linux-source-6.12 6.12.117: msrs_to_save_base[] then msrs_to_save_pmu[].
const U32s kKernel612Save = cat(
    {{0x174, 0x175, 0x176, 0xc0000081, 0xc0000083, 0xc0000102, 0xc0000084, 0xc0000082, 0x10, 0x277,
      0xc0010117, 0x3a, 0xd90, 0xc0000103, 0x48, 0x122, 0x570, 0x571, 0x572, 0x560, 0x561},
     range(0x580, 0x587),
     {0xe1, 0x1c4, 0x1c5, 0x1d9, 0x1db, 0x1dc, 0x1dd, 0x1de},
     {0x309, 0x30a, 0x30b, 0x38d, 0x38e, 0x38f, 0x3f1, 0x600, 0x3f2},
     range(0xc1, 0xc8), range(0x186, 0x18d), range(0xc0010000, 0xc0010007),
     {0xc0010200, 0xc0010202, 0xc0010204, 0xc0010206, 0xc0010208, 0xc001020a, 0xc0010201, 0xc0010203,
      0xc0010205, 0xc0010207, 0xc0010209, 0xc001020b, 0xc0000301, 0xc0000300, 0xc0000302, 0xc0000303}});

TEST(MsrLists, CandidateOrderOf61MatchesKernelSource) {
  EXPECT_EQ(candidate_indices("6.1", MsrList::save), kKernel61Save);
  EXPECT_EQ(candidate_indices("6.1.0", MsrList::save), kKernel61Save);
  EXPECT_EQ(candidate_indices("6.1", MsrList::emulated), kKernel61Emulated);
  EXPECT_EQ(candidate_indices("6.1", MsrList::feature),
            cat({{0x480, 0x48d, 0x481, 0x48e, 0x482, 0x48f, 0x483, 0x490, 0x484}, range(0x485, 0x48c),
                 {0x491, 0xc0011029, 0x8b, 0x10a, 0x345}}));
}

TEST(MsrLists, CandidateOrderOf612MatchesKernelSource) {
  EXPECT_EQ(candidate_indices("6.12", MsrList::save), kKernel612Save);
  U32s emulated = kKernel61Emulated;  // plus HV_X64_MSR_TSC_INVARIANT_CONTROL after TSC_EMULATION_STATUS
  emulated.insert(std::find(emulated.begin(), emulated.end(), 0x400000ffu), 0x40000118);
  EXPECT_EQ(candidate_indices("6.12", MsrList::emulated), emulated);
  EXPECT_EQ(candidate_indices("6.12", MsrList::feature), cat({range(0x480, 0x491), {0xc0011029, 0x8b, 0x10a, 0x345}}));
}

TEST(MsrLists, CandidateCountsPerVersionMatchTheReference) {
  struct Want { const char* id; size_t save, emulated, feature; unsigned pmu_from; };
  for (const Want& w : {Want{"4.19", 16, 39, 21, 0}, Want{"5.10.7", 73, 65, 22, 0}, Want{"5.10", 92, 65, 22, 0},
                        Want{"5.15", 93, 65, 22, 0}, Want{"6.1.0", 77, 66, 22, 0}, Want{"6.1", 77, 66, 22, 0},
                        Want{"6.6", 81, 67, 22, 33}, Want{"6.8", 81, 67, 22, 33}, Want{"6.12", 86, 67, 22, 38},
                        Want{"7.3", 94, 67, 23, 46}}) {
    SCOPED_TRACE(w.id);
    ASSERT_NE(profile(w.id).msr_lists, nullptr);
    EXPECT_EQ(candidate_indices(w.id, MsrList::save).size(), w.save);
    EXPECT_EQ(candidate_indices(w.id, MsrList::emulated).size(), w.emulated);
    EXPECT_EQ(candidate_indices(w.id, MsrList::feature).size(), w.feature);
    EXPECT_EQ(profile(w.id).msr_lists->pmu_array_from, w.pmu_from);
  }
}

// --- kvm-init.md §6.9: live KVM in QEMU TCG guests ---------------------------------------------

TEST(MsrLists, QemuEpycOn61Gives97Entries) {
  MsrListsResult r = msr_lists_for(qemu_epyc().build(), "6.1");
  ASSERT_TRUE(r.evaluated) << r.not_evaluated;
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.save.kept, 44u);
  EXPECT_EQ(r.emulated.kept, 53u);
  EXPECT_EQ(r.index_list.size(), 97u);
  U32s save = cat({{0x174, 0x175, 0x176, 0xc0000081, 0xc0000083, 0xc0000102, 0xc0000084, 0xc0000082, 0x10,
                    0x277, 0xc0010117, 0x3a, 0xc0000103, 0x48, 0x309, 0x30a, 0x30b, 0x38d, 0x38e, 0x38f, 0x390,
                    0x3f1, 0x600, 0x3f2},
                   range(0xc0010000, 0xc0010007),
                   {0xc0010200, 0xc0010202, 0xc0010204, 0xc0010206, 0xc0010208, 0xc001020a, 0xc0010201,
                    0xc0010203, 0xc0010205, 0xc0010207, 0xc0010209, 0xc001020b}});
  U32s emulated;
  for (auto i : kKernel61Emulated)
    if (i != 0x4d0 && !(i >= 0x480 && i <= 0x491)) emulated.push_back(i);
  EXPECT_EQ(r.index_list, cat({save, emulated}));
  EXPECT_EQ(r.feature_list, (U32s{0xc0011029, 0x8b, 0x10a, 0x345}));
  EXPECT_EQ(r.pmu.enable_pmu, std::optional<bool>(false));
}

TEST(MsrLists, QemuEpycOn612Gives73Entries) {
  MsrListsResult r = msr_lists_for(qemu_epyc().build(), "6.12");
  ASSERT_TRUE(r.evaluated);
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.save.kept, 19u);
  EXPECT_EQ(r.emulated.kept, 54u);
  EXPECT_EQ(r.index_list.size(), 73u);
  EXPECT_EQ(U32s(r.index_list.begin(), r.index_list.begin() + 19),
            (U32s{0x174, 0x175, 0x176, 0xc0000081, 0xc0000083, 0xc0000102, 0xc0000084, 0xc0000082, 0x10, 0x277,
                  0xc0010117, 0x3a, 0xc0000103, 0x48, 0x1d9, 0x1db, 0x1dc, 0x1dd, 0x1de}));
  EXPECT_EQ(r.feature_list, (U32s{0xc0011029, 0x8b, 0x10a, 0x345}));
  const MsrEntry* k7 = entry(r, MsrList::save, 0xc0010000);
  ASSERT_NE(k7, nullptr);
  EXPECT_EQ(k7->fate, MsrFate::dropped);
  EXPECT_EQ(k7->reason_code, MsrReason::pmu_disabled);
}

TEST(MsrLists, QemuEpycWithoutRdtscpGives96And72) {
  Snapshot s = qemu_epyc(false).build();
  MsrListsResult r61 = msr_lists_for(s, "6.1"), r612 = msr_lists_for(s, "6.12");
  EXPECT_EQ(r61.index_list.size(), 96u);
  EXPECT_EQ(r612.index_list.size(), 72u);
  EXPECT_FALSE(has(r61.index_list, 0xc0000103));
  const MsrEntry* aux = entry(r612, MsrList::save, 0xc0000103);
  ASSERT_NE(aux, nullptr);
  EXPECT_EQ(aux->reason_code, MsrReason::needs_feature);
  EXPECT_NE(aux->reason.find("RDTSCP"), std::string::npos) << aux->reason;
  EXPECT_EQ(r61.feature_list, (U32s{0xc0011029, 0x8b, 0x10a, 0x345}));
}

// --- host RDMSR ---------------------------------------------------------------------------------

TEST(MsrLists, RdmsrFaultDropsTheCandidate) {
  SnapshotBuilder b = qemu_epyc();
  b.msr_fault(0x10).msr_fault(0x3a);
  MsrListsResult r = msr_lists_for(b.build(), "6.1");
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.save.kept, 42u);
  const MsrEntry* tsc = entry(r, MsrList::save, 0x10);
  ASSERT_NE(tsc, nullptr);
  EXPECT_EQ(tsc->fate, MsrFate::dropped);
  EXPECT_EQ(tsc->reason_code, MsrReason::rdmsr_fault);
  EXPECT_EQ(tsc->reason, "rdmsr faulted on CPU 0");
}

TEST(MsrLists, UnrecordedRdmsrMakesTheAnswerIncomplete) {
  SnapshotBuilder b = qemu_epyc();
  b.msr_forget(0x10).msr_forget(0xd90).msr_forget(0xe1);
  MsrListsResult r = msr_lists_for(b.build(), "6.1");
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(r.save.unknown, 1u);  // BNDCFGS and UMWAIT are dropped by their filters anyway
  const MsrEntry* tsc = entry(r, MsrList::save, 0x10);
  EXPECT_EQ(tsc->fate, MsrFate::unknown);
  EXPECT_EQ(tsc->reason_code, MsrReason::rdmsr_unknown);
  EXPECT_EQ(entry(r, MsrList::save, 0xd90)->fate, MsrFate::dropped);
  ASSERT_EQ(r.missing.size(), 1u);
  EXPECT_NE(r.missing[0].find("0x10"), std::string::npos) << r.missing[0];
  EXPECT_FALSE(has(r.index_list, 0x10));
}

TEST(MsrLists, VendorImplementsAssumptionFillsUnrecordedReads) {
  SnapshotBuilder b = qemu_epyc();
  b.snapshot().cpus.front().msrs.clear();
  MsrListsResult unknown = msr_lists_for(b.build(), "6.1");
  EXPECT_FALSE(unknown.complete);
  MsrListsResult r = msr_lists_for(b.build(), "6.1", {}, {UnrecordedRdmsr::vendor_implements});
  // A real EPYC (no TCG): Intel PMU rows and FEAT_CTL fault, no PERFCTR_CORE -> no F15H rows,
  // no IBRS/SSBD bits in this model -> no SPEC_CTRL.
  EXPECT_TRUE(r.complete) << (r.missing.empty() ? "" : r.missing[0]);
  EXPECT_TRUE(has(r.index_list, 0xc0010000));
  EXPECT_FALSE(has(r.index_list, 0x3a));
  EXPECT_FALSE(has(r.index_list, 0x309));
  EXPECT_FALSE(has(r.index_list, 0xc0010200));
  EXPECT_TRUE(entry(r, MsrList::save, 0x10)->assumed);
}

// --- Intel VMX MSRs: nested on and off ------------------------------------------------------------

TEST(MsrLists, IntelNestedOnKeepsVmxEmulatedAndFeatureMsrs) {
  MsrListsResult r = msr_lists_for(intel_host().build(), "6.1");
  ASSERT_TRUE(r.evaluated);
  EXPECT_EQ(r.vendor_module, "kvm_intel");
  EXPECT_EQ(r.emulated.kept, 64u);  // §6.4: VIRT_SPEC_CTRL and TSC_RATIO dropped
  EXPECT_EQ(r.feature.kept, 21u);   // §6.5: 18 VMX + UCODE_REV, ARCH_CAPABILITIES, PERF_CAPABILITIES
  EXPECT_TRUE(has(r.index_list, 0x480));
  EXPECT_TRUE(has(r.feature_list, 0x487));
  EXPECT_FALSE(has(r.feature_list, 0xc0011029));
  EXPECT_EQ(entry(r, MsrList::feature, 0xc0011029)->reason_code, MsrReason::vendor_module);
  EXPECT_EQ(entry(r, MsrList::emulated, 0xc001011f)->reason, "not emulated by kvm_intel (AMD only)");
}

TEST(MsrLists, IntelNestedOffDropsVmxMsrsWithTheParameterAsReason) {
  MsrListsResult r = msr_lists_for(intel_host().build(), "6.12", {{"kvm_intel.nested", "0"}});
  EXPECT_EQ(r.emulated.kept, 65u - 12u);
  EXPECT_EQ(r.feature_list, (U32s{0x8b, 0x10a, 0x345}));
  const MsrEntry* basic = entry(r, MsrList::emulated, 0x480);
  EXPECT_EQ(basic->fate, MsrFate::dropped);
  EXPECT_EQ(basic->reason_code, MsrReason::param_off);
  EXPECT_EQ(basic->reason, "parameter kvm_intel.nested off (--param)");
  bool listed = false;
  for (const auto& p : r.params) listed |= p.name == "kvm_intel.nested" && p.value == "0" && p.origin == "--param";
  EXPECT_TRUE(listed);
}

TEST(MsrLists, Linux419DefaultsToNestedOffAndHasNoVmxEmulatedMsrs) {
  MsrListsResult r = msr_lists_for(intel_host().build(), "4.19");
  EXPECT_EQ(r.feature_list, (U32s{0x8b, 0x10a}));
  EXPECT_EQ(r.emulated.kept, 38u);
  EXPECT_TRUE(has(r.index_list, 0x10a));  // host-probed in 4.19
  MsrListsResult amd = msr_lists_for(qemu_epyc().build(), "4.19");
  EXPECT_EQ(amd.emulated.kept, 39u);  // SVM still emulates MCG_EXT_CTL in 4.19
  EXPECT_EQ(amd.feature_list, (U32s{0xc0011029, 0x8b, 0x10a}));
}

TEST(MsrLists, SmbaseNeedsUnrestrictedGuestOrInvalidStateEmulation) {
  MsrListsResult on = msr_lists_for(intel_host().build(), "6.1", {{"kvm_intel.emulate_invalid_guest_state", "0"}});
  EXPECT_EQ(entry(on, MsrList::emulated, 0x9e)->fate, MsrFate::kept);
  MsrListsResult off = msr_lists_for(intel_host().build(), "6.1",
                                     {{"kvm_intel.emulate_invalid_guest_state", "0"}, {"kvm_intel.unrestricted_guest", "0"}});
  EXPECT_EQ(entry(off, MsrList::emulated, 0x9e)->fate, MsrFate::dropped);
  EXPECT_EQ(entry(off, MsrList::emulated, 0x9e)->reason_code, MsrReason::not_emulated);
}

// --- Intel PT --------------------------------------------------------------------------------------

TEST(MsrLists, PtMsrsNeedPtModeHostGuest) {
  MsrListsResult r = msr_lists_for(intel_host().build(), "6.6");
  for (std::uint32_t i : {0x570u, 0x571u, 0x572u, 0x560u, 0x580u}) {
    EXPECT_EQ(entry(r, MsrList::save, i)->reason_code, MsrReason::param_off) << std::hex << i;
  }
  EXPECT_NE(entry(r, MsrList::save, 0x570)->reason.find("kvm_intel.pt_mode is 0"), std::string::npos);
}

TEST(MsrLists, PtAddressRangesFollowCpuid14Subleaf1) {
  SnapshotBuilder b = intel_host();
  MsrListsResult r = msr_lists_for(b.build(), "6.6", {{"kvm_intel.pt_mode", "1"}});
  for (std::uint32_t i : {0x570u, 0x571u, 0x572u, 0x560u, 0x561u, 0x580u, 0x581u, 0x582u, 0x583u})
    EXPECT_TRUE(has(r.index_list, i)) << std::hex << i;
  for (std::uint32_t i : {0x584u, 0x585u, 0x586u, 0x587u}) {
    const MsrEntry* e = entry(r, MsrList::save, i);
    EXPECT_EQ(e->fate, MsrFate::dropped);
    EXPECT_NE(e->reason.find("2 ranges"), std::string::npos) << e->reason;
  }
  b.leaf(0x14, 1, 0x02490001, 0x003f3fff, 0, 0).leaf(0x14, 0, 1, 0xe, 0x0, 0);  // 1 range, no CR3, no output
  MsrListsResult one = msr_lists_for(b.build(), "6.6", {{"kvm_intel.pt_mode", "1"}});
  EXPECT_TRUE(has(one.index_list, 0x581));
  EXPECT_FALSE(has(one.index_list, 0x582));
  EXPECT_FALSE(has(one.index_list, 0x572));
  EXPECT_FALSE(has(one.index_list, 0x560));
  EXPECT_TRUE(has(one.index_list, 0x570));
}

TEST(MsrLists, PtNeedsEnablePmuAndIsNoParameterInDebianKernels) {
  SnapshotBuilder b = intel_host();
  b.perf_hw_pmu(Tri::no);
  MsrListsResult r = msr_lists_for(b.build(), "6.6", {{"kvm_intel.pt_mode", "1"}});
  EXPECT_NE(entry(r, MsrList::save, 0x570)->reason.find("enable_pmu"), std::string::npos);
  MsrListsResult deb = msr_lists_for(intel_host().build(), "6.1", {{"kvm_intel.pt_mode", "1"}});
  EXPECT_EQ(entry(deb, MsrList::save, 0x570)->fate, MsrFate::dropped);
  EXPECT_NE(entry(deb, MsrList::save, 0x570)->reason.find("CONFIG_BROKEN"), std::string::npos);
}

TEST(MsrLists, PtNeedsVmxPtSupport) {
  SnapshotBuilder b = intel_host();
  vmx_allow(b, 0x48b, 24, false);  // no PT_USE_GPA
  MsrListsResult r = msr_lists_for(b.build(), "6.6", {{"kvm_intel.pt_mode", "1"}});
  EXPECT_FALSE(has(r.index_list, 0x570));
  EXPECT_NE(entry(r, MsrList::save, 0x570)->reason.find("VMX support for PT"), std::string::npos);
}

// --- PMU counters -----------------------------------------------------------------------------------

TEST(MsrLists, NoPerfPmuDropsGpCountersOn61ButKeepsRdmsrOnlyRows) {
  SnapshotBuilder b = intel_host();
  b.perf_hw_pmu(Tri::no);
  MsrListsResult r = msr_lists_for(b.build(), "6.1");
  const MsrEntry* c0 = entry(r, MsrList::save, 0xc1);
  EXPECT_EQ(c0->reason_code, MsrReason::pmu_counter);
  EXPECT_NE(c0->reason.find("PMU counter 0 ≥ available 0"), std::string::npos) << c0->reason;
  EXPECT_FALSE(has(r.index_list, 0x186));
  for (std::uint32_t i : {0x309u, 0x30bu, 0x38du, 0x390u, 0x3f1u, 0x600u, 0x3f2u}) EXPECT_TRUE(has(r.index_list, i));
}

TEST(MsrLists, NoPerfPmuSkipsThePmuArrayOn66) {
  SnapshotBuilder b = intel_host();
  b.perf_hw_pmu(Tri::no);
  MsrListsResult r = msr_lists_for(b.build(), "6.6");
  for (std::uint32_t i : {0x309u, 0x38du, 0xc1u, 0x186u, 0x3f1u}) {
    EXPECT_EQ(entry(r, MsrList::save, i)->reason_code, MsrReason::pmu_disabled) << std::hex << i;
    EXPECT_TRUE(entry(r, MsrList::save, i)->pmu_array);
  }
}

TEST(MsrLists, GpCountersFollowCpuid0xA) {
  MsrListsResult r = msr_lists_for(intel_host().build(), "6.1");  // 4 GP counters
  for (std::uint32_t n = 0; n < 4; ++n) {
    EXPECT_TRUE(has(r.index_list, 0xc1 + n));
    EXPECT_TRUE(has(r.index_list, 0x186 + n));
  }
  const MsrEntry* c4 = entry(r, MsrList::save, 0xc5);
  EXPECT_EQ(c4->fate, MsrFate::dropped);
  EXPECT_NE(c4->reason.find("PMU counter 4 ≥ available 4"), std::string::npos) << c4->reason;
}

TEST(MsrLists, Linux510LimitsGpCountersTo32NotTo8) {
  SnapshotBuilder b = intel_host();
  b.leaf(0xa, 0, 0x07300c04, 0, 0, 0x603);  // 12 GP counters
  MsrListsResult r510 = msr_lists_for(b.build(), "5.10");
  EXPECT_TRUE(has(r510.index_list, 0xcc));    // PERFCTR11
  EXPECT_FALSE(has(r510.index_list, 0xcd));   // PERFCTR12
  MsrListsResult r61 = msr_lists_for(b.build(), "6.1");
  EXPECT_TRUE(has(r61.index_list, 0xc8));
  EXPECT_FALSE(has(r61.index_list, 0xc9));    // not a candidate in 6.1
  MsrListsResult r66 = msr_lists_for(b.build(), "6.6");
  EXPECT_TRUE(has(r66.index_list, 0xc8));     // capped to 8
}

TEST(MsrLists, FixedCountersAreFilteredFrom66On) {
  SnapshotBuilder b = intel_host();
  b.leaf(0xa, 0, 0x07300404, 0, 0, 0x602).bit(0x1, 0, Reg::ecx, 31);  // 2 fixed, hypervisor: no quirk
  MsrListsResult r66 = msr_lists_for(b.build(), "6.6");
  EXPECT_TRUE(has(r66.index_list, 0x30a));
  const MsrEntry* f2 = entry(r66, MsrList::save, 0x30b);
  EXPECT_EQ(f2->reason_code, MsrReason::pmu_counter);
  MsrListsResult r61 = msr_lists_for(b.build(), "6.1");
  EXPECT_TRUE(has(r61.index_list, 0x30b));    // host RDMSR only in 6.1
}

TEST(MsrLists, AmdPerfMonV2RowsNeedTheKvmCap) {
  SnapshotBuilder b = qemu_epyc();
  b.perf_hw_pmu(Tri::yes);
  MsrListsResult legacy = msr_lists_for(b.build(), "6.12");
  EXPECT_TRUE(has(legacy.index_list, 0xc0010000));  // PMU array probed: perf has 4 GP counters
  EXPECT_EQ(entry(legacy, MsrList::save, 0xc0000300)->reason_code, MsrReason::needs_feature);
  b.bit(0x80000001, 0, Reg::ecx, 23).bit(0x80000022, 0, Reg::eax, 0).leaf(0x80000000, 0, 0x80000022, 0, 0, 0);
  b.leaf(0x80000022, 0, 1, 6, 0, 0);
  MsrListsResult v2 = msr_lists_for(b.build(), "6.12");
  for (std::uint32_t i = 0xc0000300; i <= 0xc0000303; ++i) EXPECT_TRUE(has(v2.index_list, i)) << std::hex << i;
  MsrListsResult v2_66 = msr_lists_for(b.build(), "6.6");
  EXPECT_TRUE(has(v2_66.index_list, 0xc0000302));
  EXPECT_FALSE(has(v2_66.index_list, 0xc0000303));  // no STATUS_SET candidate in 6.6
  b.leaf(0x80000022, 0, 1, 4, 0, 0);  // only 4 counters: KVM hides PERFCTR_CORE and PerfMonV2
  MsrListsResult four = msr_lists_for(b.build(), "6.12");
  EXPECT_FALSE(has(four.index_list, 0xc0000300));
}

TEST(MsrLists, HybridCpuDisablesThePmuFrom61192On) {
  SnapshotBuilder b = intel_host();
  b.bit(0x7, 0, Reg::edx, 15);
  EXPECT_FALSE(has(msr_lists_for(b.build(), "6.1").index_list, 0xc1));
  EXPECT_TRUE(has(msr_lists_for(b.build(), "6.1.0").index_list, 0xc1));
}

// --- CPUID-feature filters --------------------------------------------------------------------------

TEST(MsrLists, WaitpkgNeedsCpuidAndTheVmxControl) {
  SnapshotBuilder b = intel_host();
  b.bit(0x7, 0, Reg::ecx, 5);
  MsrListsResult no_ctl = msr_lists_for(b.build(), "6.1");
  EXPECT_NE(entry(no_ctl, MsrList::save, 0xe1)->reason.find("USR_WAIT_PAUSE"), std::string::npos);
  vmx_allow(b, 0x48b, 26);
  EXPECT_TRUE(has(msr_lists_for(b.build(), "6.1").index_list, 0xe1));
  b.bit(0x7, 0, Reg::ecx, 5, false);
  const MsrListsResult none = msr_lists_for(b.build(), "6.1");
  EXPECT_EQ(entry(none, MsrList::save, 0xe1)->reason, "needs CPUID feature WAITPKG (CPUID.7.0:ECX[5] WAITPKG)");
  SnapshotBuilder amd = qemu_epyc();
  amd.bit(0x7, 0, Reg::ecx, 5);
  EXPECT_FALSE(has(msr_lists_for(amd.build(), "6.1").index_list, 0xe1));
}

TEST(MsrLists, MpxNeedsVmxControlsAndMpxStateInXcr0) {
  SnapshotBuilder b = intel_host();
  b.bit(0x7, 0, Reg::ebx, 14);
  vmx_allow(b, 0x484, 16);  // entry LOAD_BNDCFGS
  vmx_allow(b, 0x483, 23);  // exit CLEAR_BNDCFGS
  b.xcr0(0x2ff);
  EXPECT_TRUE(has(msr_lists_for(b.build(), "6.1").index_list, 0xd90));
  EXPECT_TRUE(has(msr_lists_for(b.build(), "4.19").index_list, 0xd90));
  b.xcr0(0x2e7);
  const MsrListsResult no_state = msr_lists_for(b.build(), "6.1");
  EXPECT_EQ(entry(no_state, MsrList::save, 0xd90)->reason_code, MsrReason::needs_feature);
  EXPECT_FALSE(has(msr_lists_for(b.build(), "4.19").index_list, 0xd90));
  SnapshotBuilder amd = qemu_epyc();
  amd.bit(0x7, 0, Reg::ebx, 14).xcr0(0x1f);
  EXPECT_FALSE(has(msr_lists_for(amd.build(), "6.1").index_list, 0xd90));  // §6.9: SVM drops it
}

TEST(MsrLists, TscAuxFollowsRdtscpAndFrom515AlsoRdpid) {
  SnapshotBuilder b = qemu_epyc(false);
  b.bit(0x7, 0, Reg::ecx, 22);  // RDPID only
  EXPECT_TRUE(has(msr_lists_for(b.build(), "6.1").index_list, 0xc0000103));
  EXPECT_TRUE(has(msr_lists_for(b.build(), "5.15").index_list, 0xc0000103));
  EXPECT_FALSE(has(msr_lists_for(b.build(), "5.10").index_list, 0xc0000103));
  SnapshotBuilder intel = intel_host();
  vmx_allow(intel, 0x48b, 3, false);  // no ENABLE_RDTSCP: KVM clears RDTSCP and RDPID
  intel.bit(0x7, 0, Reg::ecx, 22);
  const MsrListsResult r = msr_lists_for(intel.build(), "6.1");
  EXPECT_NE(entry(r, MsrList::save, 0xc0000103)->reason.find("ENABLE_RDTSCP"), std::string::npos);
}

TEST(MsrLists, XfdNeedsTheXfdBitNotAmx) {
  SnapshotBuilder b = intel_host();
  b.bit(0x7, 0, Reg::edx, 24);  // AMX_TILE alone
  EXPECT_FALSE(has(msr_lists_for(b.build(), "6.1").index_list, 0x1c4));
  b.bit(0xd, 1, Reg::eax, 4);   // XFD
  MsrListsResult r = msr_lists_for(b.build(), "6.1");
  EXPECT_TRUE(has(r.index_list, 0x1c4));
  EXPECT_TRUE(has(r.index_list, 0x1c5));
  EXPECT_EQ(entry(r, MsrList::save, 0x1c4)->position, 76u);  // 6.1: at the end
  EXPECT_EQ(entry(msr_lists_for(b.build(), "6.6"), MsrList::save, 0x1c4)->position, 31u);
  b.bit(0xd, 1, Reg::eax, 3, false);  // the kernel drops XFD without XSAVES
  EXPECT_FALSE(has(msr_lists_for(b.build(), "6.1").index_list, 0x1c4));
}

TEST(MsrLists, TsxCtrlNeedsArchCapabilitiesBit7From66On) {
  SnapshotBuilder b = intel_host();
  b.bit(0x7, 0, Reg::edx, 29).msr(0x10a, 0x80);
  EXPECT_TRUE(has(msr_lists_for(b.build(), "6.6").index_list, 0x122));
  EXPECT_FALSE(has(msr_lists_for(b.build(), "6.1").index_list, 0x122));  // no candidate
  b.msr(0x10a, 0x0);
  EXPECT_EQ(entry(msr_lists_for(b.build(), "6.12"), MsrList::save, 0x122)->fate, MsrFate::dropped);
  b.msr_forget(0x10a);
  EXPECT_EQ(entry(msr_lists_for(b.build(), "6.12"), MsrList::save, 0x122)->fate, MsrFate::unknown);
}

TEST(MsrLists, CetAndXssRowsNeedShadowStackSupport) {
  MsrListsResult r = msr_lists_for(qemu_epyc().build(), "7.3");
  for (std::uint32_t i : {0x6a0u, 0x6a4u, 0x6a8u, 0xda0u}) EXPECT_EQ(entry(r, MsrList::save, i)->fate, MsrFate::dropped);
  EXPECT_EQ(r.feature_list, (U32s{0xc0011029, 0x8b, 0x10a, 0x345, 0xce}));
}

// --- API for the CLI ---------------------------------------------------------------------------------

TEST(MsrLists, NamesCoverEveryCandidate) {
  EXPECT_STREQ(msr_name(0xc0000103), "TSC_AUX");
  EXPECT_STREQ(msr_name(0x3a), "IA32_FEAT_CTL");
  EXPECT_STREQ(msr_name(0xc0011029), "AMD64_DE_CFG");
  EXPECT_STREQ(msr_name(0xc0010114), "VM_CR");
  EXPECT_EQ(msr_name(0x12345), nullptr);
  for (MsrList l : {MsrList::save, MsrList::emulated, MsrList::feature})
    for (const MsrRow& row : msr_table(l)) EXPECT_NE(msr_name(row.index), nullptr);
}

TEST(MsrLists, HostProbesCoverEverySaveCandidate) {
  U32s probes = msr_list_host_probes();
  EXPECT_TRUE(std::is_sorted(probes.begin(), probes.end()));
  for (const MsrRow& row : msr_table(MsrList::save)) EXPECT_TRUE(has(probes, row.index)) << std::hex << row.index;
}

TEST(MsrLists, NoVendorModuleMeansNoLists) {
  SnapshotBuilder b;
  b.vendor("Geode by NSC", 1, 0);
  MsrListsResult r = msr_lists_for(b.build(), "6.1");
  EXPECT_FALSE(r.evaluated);
  EXPECT_FALSE(r.not_evaluated.empty());
}

TEST(MsrLists, StepIsOkWhenEveryReadIsRecorded) {
  Snapshot snap = qemu_epyc().build();  // Analyzer keeps a reference
  Analyzer a(snap, profile("6.1"));
  StepResult s = step_msr_lists(a.ctx());
  EXPECT_EQ(s.id, "msr-lists");
  EXPECT_EQ(s.status, Status::ok);
  EXPECT_NE(s.summary.find("KVM_GET_MSR_INDEX_LIST 97 (44 save + 53 emulated), feature list 4"), std::string::npos)
      << s.summary;
}

TEST(MsrLists, StepIsUnknownWithoutHostMsrsAndSaysWhy) {
  SnapshotBuilder b = qemu_epyc();
  b.snapshot().cpus.front().msrs.clear();
  Snapshot snap = b.build();
  Analyzer a(snap, profile("6.12"));
  StepResult s = step_msr_lists(a.ctx());
  EXPECT_EQ(s.status, Status::unknown);
  ASSERT_FALSE(s.missing.empty());
  EXPECT_NE(s.missing[0].find("host RDMSR on CPU 0 not recorded"), std::string::npos) << s.missing[0];
  EXPECT_FALSE(s.remedy.empty());
}

// --- recorded guests of other kernel generations (tests/vm on bullseye 5.10 and sid) ----------

Snapshot load_recorded(const std::string& name) {
  auto s = collect::load_snapshot_file(testing::test_data("snapshots/" + name).string());
  EXPECT_TRUE(s.ok()) << name << ": " << (s.ok() ? "" : s.error().detail);
  return s.ok() ? *s : Snapshot{};
}

// bullseye's 5.10.262 under QEMU/TCG -cpu EPYC: perf refused the PMU ("PMU not available due to
// virtualization") after amd_pmu_init had set 4 legacy counters, and 5.10 leaves x86_pmu as it is,
// so KVM keeps PERFCTR0-3 and EVENTSEL0-3: 101 entries, where 6.1 on the same CPU gives 97.
TEST(MsrLists, Bullseye510EpycKeepsFourPmuCountersPerfRefused) {
  Snapshot snap = load_recorded("qemu-5.10-epyc-kvm.json");
  ASSERT_TRUE(snap.kvm.msr_index_list.has_value());
  ASSERT_EQ(snap.perf.hw_pmu, Tri::no) << "the recorded guest's perf has no hardware PMU";
  auto choice = choose_profile(snap.kernel_release, snap.kernel_version);
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->profile->id, "5.10") << choice->note;
  Analyzer a(snap, *choice->profile);
  MsrListsResult r = compute_msr_lists(a.ctx());
  EXPECT_EQ(r.index_list.size(), 101u);
  for (std::uint32_t i : {0xc1u, 0xc2u, 0xc3u, 0xc4u, 0x186u, 0x187u, 0x188u, 0x189u}) {
    EXPECT_TRUE(has(r.index_list, i)) << std::hex << i;
    EXPECT_TRUE(has(*snap.kvm.msr_index_list, i)) << std::hex << i << " (KVM's own list)";
  }
  for (std::uint32_t i : {0xc5u, 0x18au}) EXPECT_FALSE(has(r.index_list, i)) << std::hex << i;
  EXPECT_EQ(r.index_list, *snap.kvm.msr_index_list);
  // The same guest CPU under 6.1: perf's failed check clears x86_pmu, no counter is kept.
  MsrListsResult r61 = msr_lists_for(snap, "6.1");
  EXPECT_FALSE(has(r61.index_list, 0xc1));
  EXPECT_FALSE(has(r61.index_list, 0x186));
}

// sid's 7.2 (modelled by the nearest profile, 7.3): lists as KVM's, PLATFORM_INFO a feature MSR.
TEST(MsrLists, Sid72EpycMatchesKvm) {
  Snapshot snap = load_recorded("qemu-7.2-epyc-kvm.json");
  ASSERT_TRUE(snap.kvm.msr_index_list.has_value());
  auto choice = choose_profile(snap.kernel_release, snap.kernel_version);
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->profile->id, "7.3") << choice->note;
  EXPECT_NE(choice->note.find("7.2 itself is not modelled"), std::string::npos) << choice->note;
  Analyzer a(snap, *choice->profile);
  MsrListsResult r = compute_msr_lists(a.ctx());
  EXPECT_EQ(r.index_list.size(), 73u);
  EXPECT_EQ(r.index_list, *snap.kvm.msr_index_list);
  ASSERT_TRUE(snap.kvm.feature_msr_list.has_value());
  EXPECT_EQ(r.feature_list, *snap.kvm.feature_msr_list);
  EXPECT_TRUE(has(r.feature_list, 0xce));
}

// Recorded guests (tests/data/snapshots) that carry KVM's own answer: the model must equal it.
TEST(MsrLists, RecordedSnapshotsMatchTheirKvmAnswer) {
  namespace fs = std::filesystem;
  fs::path dir = testing::test_data("snapshots");
  int checked = 0;
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(dir, ec)) {
    if (f.path().extension() != ".json") continue;
    SCOPED_TRACE(f.path().filename().string());
    auto snap = collect::load_snapshot_file(f.path().string());
    ASSERT_TRUE(snap.ok()) << "every recorded snapshot loads: " << snap.error().detail;
    if (!snap->kvm.msr_index_list) continue;  // taken before modprobe, or not a guest
    ASSERT_FALSE(snap->kernel_release.empty()) << "a snapshot with KVM's answer names its kernel";
    auto choice = choose_profile(snap->kernel_release, snap->kernel_version);
    ASSERT_TRUE(choice) << snap->kernel_release << ": no profile";
    Analyzer a(*snap, *choice->profile);
    MsrListsResult r = compute_msr_lists(a.ctx());
    EXPECT_TRUE(r.complete) << "a recorded guest snapshot has every host RDMSR";
    EXPECT_EQ(r.index_list, *snap->kvm.msr_index_list);
    if (snap->kvm.feature_msr_list) {
      EXPECT_EQ(r.feature_list, *snap->kvm.feature_msr_list);
    }
    ++checked;
  }
  ASSERT_FALSE(ec) << dir << ": " << ec.message();
  // qemu-{5.10,6.1,6.12,7.2}-{epyc,qemu64-svm}-kvm.json (README.md there)
  EXPECT_EQ(checked, 8) << "recorded guests with KVM_GET_MSR_INDEX_LIST compared";
}

}  // namespace
}  // namespace kvmprobe
