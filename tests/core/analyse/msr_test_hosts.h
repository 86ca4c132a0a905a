// Synthetic hosts shared by the MSR-list and PMU tests: QEMU's EPYC model as a TCG guest sees it
// (kvm-init.md §6.9) and an Ice Lake-class Intel host with real VMX capability MSRs.
#pragma once

#include <cstdint>
#include <string>

#include "core/analyse/analyse.h"
#include "core/analyse/msr_lists.h"
#include "core/profiles/msr_lists.h"
#include "core/profiles/profiles.h"
#include "tests/support/snapshot_builder.h"

namespace kvmprobe::testing {

/// QEMU 7.2 `-cpu EPYC` under TCG: AuthenticAMD family 0x17, SVM, NX, LM, RDTSCP, no
/// PERFCTR_CORE/PerfMonV2/RDPID/XFD/WAITPKG/ARCH_CAPABILITIES; every MSR reads 0 (TCG), perf's
/// PMU self-test failed (no hardware PMU), XCR0 = x87|SSE|AVX.
inline SnapshotBuilder qemu_epyc(bool rdtscp = true) {
  SnapshotBuilder b;
  b.vendor("AuthenticAMD", 0xd, 0x8000001e)
      .leaf(0x1, 0, 0x00800f12, 0x00000800, 0xfed83203, 0x078bfbff)
      .leaf(0x7, 0, 0, 0x209c01a9, 0, 0)
      .leaf(0xd, 0, 0x7, 0x340, 0x340, 0)
      .leaf(0xd, 1, 0x7, 0, 0, 0)  // XSAVEOPT, XSAVEC, XGETBV1 (no XSAVES)
      .leaf(0x80000001, 0, 0x00800f12, 0, 0x004003f5, rdtscp ? 0x2fd3fbffu : 0x27d3fbffu)
      .leaf(0x80000008, 0, 0x3030, 0, 0, 0)  // no IBRS/STIBP/SSBD bits in plain EPYC
      .leaf(0x8000000a, 0, 1, 16, 0, 0x9)  // NPT, NRIPS
      .xcr0(0x7)
      .perf_hw_pmu(Tri::no)
      .msrs_read(msr_list_host_probes(), 0);
  return b;
}

/// An Intel host (Ice Lake-class CPUID; VMX MSRs of an Ice Lake from InstLatx64): VMX, XSAVES,
/// RDTSCP, arch perfmon v4 with 4 GP + 3 fixed counters, Intel PT with 2 address ranges, perf
/// with a hardware PMU. Every Intel MSR reads; the AMD-only MSRs fault.
inline SnapshotBuilder intel_host() {
  SnapshotBuilder b;
  b.vendor("GenuineIntel", 0x1b, 0x80000008)
      .leaf(0x1, 0, 0x000706e5, 0x00100800, 0x7ffafbff & ~(1u << 31), 0xbfebfbff)
      .leaf(0x7, 0, 0, 0x02000000, 0, 0)  // INTEL_PT only; tests add the rest
      .leaf(0xa, 0, 0x07300404, 0, 0, 0x00000603)
      .leaf(0xd, 0, 0x2e7, 0, 0, 0)
      .leaf(0xd, 1, 0xf, 0, 0, 0)  // XSAVEOPT, XSAVEC, XGETBV1, XSAVES
      .leaf(0x14, 0, 1, 0xf, 0x7, 0)
      .leaf(0x14, 1, 0x02490002, 0x003f3fff, 0, 0)
      .leaf(0x80000001, 0, 0, 0, 0x121, 0x2c100800)
      .xcr0(0x2e7)
      .perf_hw_pmu(Tri::yes)
      .msrs_read(msr_list_host_probes(), 0);
  for (std::uint32_t i = 0xc0010000; i <= 0xc0010007; ++i) b.msr_fault(i);
  for (std::uint32_t i = 0xc0010200; i <= 0xc001020b; ++i) b.msr_fault(i);
  for (std::uint32_t i = 0xc0000300; i <= 0xc0000303; ++i) b.msr_fault(i);
  b.msr_fault(0xc0010117);
  b.msr(0x3a, 0x5)
      .msr(0x480, 0x00da050000000013)
      .msr(0x481, 0x000000ff00000016)
      .msr(0x482, 0xfff9fffe0401e172)
      .msr(0x483, 0x037fffff00036dff)
      .msr(0x484, 0x0006ffff000011ff)
      .msr(0x485, 0x000000007004c1e7)
      .msr(0x486, 0x0000000080000021)
      .msr(0x487, 0x00000000ffffffff)
      .msr(0x488, 0x0000000000002000)
      .msr(0x489, 0x0000000000772fff)
      .msr(0x48a, 0x000000000000002e)
      .msr(0x48b, 0x335fbfff00000000)
      .msr(0x48c, 0x00000f0106734141)
      .msr(0x48d, 0x000000ff00000016)
      .msr(0x48e, 0xfff9fffe04006172)
      .msr(0x48f, 0x037fffff00036dfb)
      .msr(0x490, 0x0006ffff000011fb)
      .msr(0x277, 0x0007040600070406);
  return b;
}

/// Grant (or remove) allowed-1 bits of a VMX control MSR.
inline void vmx_allow(SnapshotBuilder& b, std::uint32_t msr_index, unsigned bit, bool on = true) {
  const MsrRead* r = b.cpu().find_msr(msr_index);
  std::uint64_t v = r ? r->value : 0;
  std::uint64_t m = 1ull << (32 + bit);
  b.msr(msr_index, on ? (v | m) : (v & ~m));
}

/// The profile with this id (fails the test when missing).
inline const KernelProfile& profile(const std::string& id) {
  const KernelProfile* p = find_profile(id);
  if (!p) throw std::runtime_error("no profile " + id);
  return *p;
}

/// compute_msr_lists through the real Analyzer (params, VMX negotiation, XCR0).
inline MsrListsResult msr_lists_for(const Snapshot& s, const std::string& id, const ParamOverrides& o = {},
                                    const MsrListsOptions& opt = {}) {
  Analyzer a(s, profile(id), o);
  return compute_msr_lists(a.ctx(), opt);
}

/// The entry of one candidate, or nullptr.
inline const MsrEntry* entry(const MsrListsResult& r, MsrList list, std::uint32_t index) {
  for (const auto& e : r.entries)
    if (e.list == list && e.index == index) return &e;
  return nullptr;
}

}  // namespace kvmprobe::testing
