#include "core/collect/cpuid_enum.h"

#include <algorithm>
#include <functional>
#include <optional>

#include "core/model/format.h"

namespace kvmprobe::collect {

namespace {

/// Reads leaves for one CPU, remembering the first failure.
class Enumerator {
 public:
  Enumerator(CpuidSource& src, unsigned cpu, std::vector<std::string>& notes)
      : src_(src), cpu_(cpu), notes_(notes) {}

  bool failed() const { return failed_; }
  std::vector<CpuidLeaf>& leaves() { return out_; }

  std::optional<CpuidLeaf> get(std::uint32_t leaf, std::uint32_t subleaf) {
    if (failed_) return std::nullopt;
    auto r = src_.cpuid(cpu_, leaf, subleaf);
    if (!r) {
      failed_ = true;
      notes_.push_back("cpu " + std::to_string(cpu_) + ": cpuid " + hex(leaf) + "." +
                       std::to_string(subleaf) + " failed (" + r.error().detail +
                       "); later leaves not read");
      return std::nullopt;
    }
    out_.push_back(*r);
    return *r;
  }

  void bound_hit(std::uint32_t leaf, const std::string& what) {
    notes_.push_back("cpu " + std::to_string(cpu_) + ": cpuid " + hex(leaf) + ": " + what);
  }

  /// Subleaves 0.. until \a last(subleaf) says so (the terminating subleaf is recorded).
  void until(std::uint32_t leaf, const std::function<bool(const CpuidLeaf&)>& last,
             std::uint32_t max = kMaxSubleaves) {
    for (std::uint32_t s = 0; s < max; ++s) {
      auto l = get(leaf, s);
      if (!l || last(*l)) return;
    }
    bound_hit(leaf, "subleaves did not terminate within " + std::to_string(max) + "; stopped");
  }

  /// Subleaves 0..subleaf 0's EAX, at most \a max_sub.
  void up_to_eax(std::uint32_t leaf, std::uint32_t max_sub) {
    auto l0 = get(leaf, 0);
    if (!l0) return;
    std::uint32_t n = l0->eax;
    if (n > max_sub) {
      bound_hit(leaf, "max subleaf " + std::to_string(n) + " above " + std::to_string(max_sub) +
                          "; read up to " + std::to_string(max_sub));
      n = max_sub;
    }
    for (std::uint32_t s = 1; s <= n; ++s)
      if (!get(leaf, s)) return;
  }

  /// Subleaf 0, then subleaf i for each bit i (first..last) set in \a bitmap(subleaf 0).
  void bitmap(std::uint32_t leaf, const std::function<std::uint64_t(const CpuidLeaf&)>& bits,
              unsigned first, unsigned last) {
    auto l0 = get(leaf, 0);
    if (!l0) return;
    std::uint64_t b = bits(*l0);
    for (unsigned i = first; i <= last; ++i)
      if (((b >> i) & 1u) != 0 && !get(leaf, i)) return;
  }

 private:
  CpuidSource& src_;
  unsigned cpu_;
  std::vector<std::string>& notes_;
  std::vector<CpuidLeaf> out_;
  bool failed_ = false;
};

bool type_4_0_zero(const CpuidLeaf& l) { return (l.eax & 0x1F) == 0; }
bool level_type_zero(const CpuidLeaf& l) { return ((l.ecx >> 8) & 0xFF) == 0; }
bool pconfig_type_zero(const CpuidLeaf& l) { return (l.eax & 0xFFF) == 0; }
std::uint64_t eax_bits(const CpuidLeaf& l) { return l.eax; }
std::uint64_t ebx_bits(const CpuidLeaf& l) { return l.ebx; }
std::uint64_t edx_bits(const CpuidLeaf& l) { return l.edx; }

void basic_leaf(Enumerator& e, std::uint32_t leaf) {
  switch (leaf) {
    case 0x4: e.until(leaf, type_4_0_zero); break;
    case 0x7: e.up_to_eax(leaf, 31); break;
    case 0xB:
    case 0x1F: e.until(leaf, level_type_zero, 16); break;
    case 0xD: {
      auto d0 = e.get(0xD, 0);
      auto d1 = e.get(0xD, 1);
      if (!d0 || !d1) return;
      // SDM vol. 1 §13.2: a state component i >= 2 exists where XCR0 (0xD.0 EDX:EAX) or
      // IA32_XSS (0xD.1 EDX:ECX) may set bit i.
      std::uint64_t mask = (static_cast<std::uint64_t>(d0->edx) << 32 | d0->eax) |
                           (static_cast<std::uint64_t>(d1->edx) << 32 | d1->ecx);
      for (unsigned i = 2; i < 64; ++i)
        if (((mask >> i) & 1u) != 0 && !e.get(0xD, i)) return;
      break;
    }
    case 0xF: e.bitmap(leaf, edx_bits, 1, 7); break;
    case 0x10: e.bitmap(leaf, ebx_bits, 1, 7); break;
    case 0x12:
      if (!e.get(leaf, 0) || !e.get(leaf, 1)) return;
      for (std::uint32_t s = 2;; ++s) {
        if (s >= 2 + 32) {
          e.bound_hit(leaf, "more than 32 EPC sections; stopped");
          return;
        }
        auto l = e.get(leaf, s);
        if (!l || (l->eax & 0xF) == 0) return;
      }
    case 0x14:
    case 0x17:
    case 0x1D:
    case 0x1E:
    case 0x20:
    case 0x24: e.up_to_eax(leaf, 15); break;
    case 0x18: e.up_to_eax(leaf, kMaxSubleaves - 1); break;
    case 0x1B: e.until(leaf, pconfig_type_zero, 16); break;
    case 0x23: e.bitmap(leaf, eax_bits, 1, 31); break;
    default: e.get(leaf, 0); break;
  }
}

void hypervisor_leaves(Enumerator& e) {
  auto h0 = e.get(0x40000000, 0);
  if (!h0) return;
  std::uint32_t max = h0->eax;
  // KVM's documented quirk: EAX 0 in 0x40000000 means 0x40000001 (api.rst, KVM_CPUID_SIGNATURE).
  if (max < 0x40000000) max = max == 0 ? 0x40000001 : 0x40000000;
  if (max > kMaxHypervisorLeaf) {
    e.bound_hit(0x40000000, "max leaf " + hex(max) + " above " + hex(kMaxHypervisorLeaf) +
                                "; read up to " + hex(kMaxHypervisorLeaf));
    max = kMaxHypervisorLeaf;
  }
  // "XenVMMXenVMM"
  bool xen = h0->ebx == 0x566e6558 && h0->ecx == 0x65584d4d && h0->edx == 0x4d4d566e;
  for (std::uint32_t leaf = 0x40000001; leaf <= max; ++leaf) {
    if (xen && leaf == 0x40000003) {  // Xen's time leaf has subleaves 0..2
      for (std::uint32_t s = 0; s < 3; ++s)
        if (!e.get(leaf, s)) return;
      continue;
    }
    if (!e.get(leaf, 0)) return;
  }
}

void extended_leaves(Enumerator& e) {
  auto x0 = e.get(0x80000000, 0);
  if (!x0) return;
  std::uint32_t max = x0->eax;
  if ((max & 0xFFFF0000u) != 0x80000000u) return;  // no extended range
  if (max > kMaxExtendedLeaf) {
    e.bound_hit(0x80000000, "max leaf " + hex(max) + " above " + hex(kMaxExtendedLeaf) +
                                "; read up to " + hex(kMaxExtendedLeaf));
    max = kMaxExtendedLeaf;
  }
  for (std::uint32_t leaf = 0x80000001; leaf <= max && !e.failed(); ++leaf) {
    switch (leaf) {
      case 0x8000001D: e.until(leaf, type_4_0_zero); break;
      case 0x80000020: e.bitmap(leaf, ebx_bits, 1, 7); break;
      case 0x80000026: e.until(leaf, level_type_zero, 16); break;
      default: e.get(leaf, 0); break;
    }
  }
}

}  // namespace

Result<std::vector<CpuidLeaf>> enumerate_cpuid(CpuidSource& source, unsigned cpu,
                                               std::vector<std::string>& notes) {
  auto l0 = source.cpuid(cpu, 0, 0);
  if (!l0) return l0.error();
  Enumerator e(source, cpu, notes);
  e.leaves().push_back(*l0);
  std::uint32_t max_basic = l0->eax;
  if (max_basic > kMaxBasicLeaf) {
    e.bound_hit(0, "max basic leaf " + hex(max_basic) + " above " + hex(kMaxBasicLeaf) +
                       "; read up to " + hex(kMaxBasicLeaf));
    max_basic = kMaxBasicLeaf;
  }
  bool hypervisor = false;
  for (std::uint32_t leaf = 1; leaf <= max_basic && !e.failed(); ++leaf) {
    basic_leaf(e, leaf);
    if (leaf == 1 && !e.failed()) hypervisor = ((e.leaves().back().ecx >> 31) & 1u) != 0;
  }
  if (hypervisor && !e.failed()) hypervisor_leaves(e);
  if (!e.failed()) extended_leaves(e);
  std::vector<CpuidLeaf> out = std::move(e.leaves());
  std::stable_sort(out.begin(), out.end(), [](const CpuidLeaf& a, const CpuidLeaf& b) {
    return a.leaf != b.leaf ? a.leaf < b.leaf : a.subleaf < b.subleaf;
  });
  return out;
}

}  // namespace kvmprobe::collect
