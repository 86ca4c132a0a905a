// Small helpers to build synthetic snapshots in tests: CPUID leaves, MSR reads and the few host
// facts KVM's MSR lists depend on. Everything not set is absent (unknown), as in a snapshot.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/model/snapshot.h"

namespace kvmprobe::testing {

/// Builds a one-CPU (or more) Snapshot step by step.
class SnapshotBuilder {
 public:
  SnapshotBuilder() {
    snap_.origin = "test";
    snap_.cpus.push_back(CpuRecord{});
    snap_.online_cpus.push_back(0);
  }

  /// CPUID leaf 0 with the 12-character vendor and the maximum basic leaf.
  SnapshotBuilder& vendor(const std::string& v, std::uint32_t max_basic, std::uint32_t max_ext) {
    auto word = [&](int i) {
      std::uint32_t w = 0;
      for (int k = 0; k < 4; ++k) w |= static_cast<std::uint32_t>(static_cast<unsigned char>(v[i * 4 + k])) << (8 * k);
      return w;
    };
    leaf(0, 0, max_basic, word(0), word(2), word(1));
    leaf(0x80000000, 0, max_ext, 0, 0, 0);
    return *this;
  }

  /// Set (replace) one leaf on CPU 0.
  SnapshotBuilder& leaf(std::uint32_t l, std::uint32_t sub, std::uint32_t a, std::uint32_t b,
                        std::uint32_t c, std::uint32_t d) {
    auto& v = cpu().cpuid;
    v.erase(std::remove_if(v.begin(), v.end(), [&](const CpuidLeaf& x) { return x.leaf == l && x.subleaf == sub; }),
            v.end());
    v.push_back({l, sub, a, b, c, d});
    std::sort(v.begin(), v.end(), [](const CpuidLeaf& x, const CpuidLeaf& y) {
      return x.leaf != y.leaf ? x.leaf < y.leaf : x.subleaf < y.subleaf;
    });
    return *this;
  }

  /// Set or clear one CPUID bit (the leaf is created, zero-filled, when missing).
  SnapshotBuilder& bit(std::uint32_t l, std::uint32_t sub, Reg r, unsigned b, bool on = true) {
    const CpuidLeaf* f = cpu().find_cpuid(l, sub);
    CpuidLeaf x = f ? *f : CpuidLeaf{l, sub};
    std::uint32_t* reg = r == Reg::eax ? &x.eax : r == Reg::ebx ? &x.ebx : r == Reg::ecx ? &x.ecx : &x.edx;
    *reg = on ? (*reg | (1u << b)) : (*reg & ~(1u << b));
    return leaf(l, sub, x.eax, x.ebx, x.ecx, x.edx);
  }

  /// One MSR read with a value.
  SnapshotBuilder& msr(std::uint32_t index, std::uint64_t value) { return put({index, ReadStatus::value, value, 0}); }
  /// One MSR whose RDMSR faulted (#GP).
  SnapshotBuilder& msr_fault(std::uint32_t index) { return put({index, ReadStatus::fault, 0, 5}); }
  /// Forget one MSR read (unknown).
  SnapshotBuilder& msr_forget(std::uint32_t index) {
    auto& v = cpu().msrs;
    v.erase(std::remove_if(v.begin(), v.end(), [&](const MsrRead& m) { return m.index == index; }), v.end());
    return *this;
  }
  /// Every MSR of `indices` reads `value` (what TCG does for every MSR).
  SnapshotBuilder& msrs_read(const std::vector<std::uint32_t>& indices, std::uint64_t value = 0) {
    for (auto i : indices) msr(i, value);
    return *this;
  }

  SnapshotBuilder& xcr0(std::uint64_t v) {
    cpu().xcr0 = v;
    return *this;
  }
  SnapshotBuilder& perf_hw_pmu(Tri t) {
    snap_.perf.hw_pmu = t;
    snap_.perf.evidence = "test";
    return *this;
  }
  SnapshotBuilder& kernel(const std::string& release) {
    snap_.kernel_release = release;
    return *this;
  }

  CpuRecord& cpu() { return snap_.cpus.front(); }
  Snapshot& snapshot() { return snap_; }
  Snapshot build() const { return snap_; }

 private:
  SnapshotBuilder& put(MsrRead m) {
    msr_forget(m.index);
    auto& v = cpu().msrs;
    v.push_back(m);
    std::sort(v.begin(), v.end(), [](const MsrRead& a, const MsrRead& b) { return a.index < b.index; });
    return *this;
  }
  Snapshot snap_;
};

}  // namespace kvmprobe::testing
