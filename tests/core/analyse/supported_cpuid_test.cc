// The KVM_GET_SUPPORTED_CPUID model against independent oracles:
// - recordings of real KVM (tests/data/cpuid/: a QEMU guest's snapshot taken before
//   `modprobe kvm_amd`, and KVM's answer after it, from tests/vm/cpuid.test.sh), register by
//   register;
// - invariants read from the kernel source (arch/x86/kvm/cpuid.c kvm_set_cpu_caps(),
//   vmx/vmx.c vmx_set_cpu_caps(), 5.10.262, 6.1.192 and 6.12.117) over every Intel CPU with VMX
//   in the shared libcpuid dumps, and 5.10's own __do_cpuid_func() limits.
#include "core/analyse/supported_cpuid.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/analyse/analyse.h"
#include "core/collect/import_dump.h"
#include "core/collect/snapshot_json.h"
#include "core/profiles/profiles.h"
#include "tests/support/shared_data.h"

namespace kvmprobe {
namespace {

namespace fs = std::filesystem;

struct Key {
  std::uint32_t leaf, subleaf;
  Reg reg;
  auto operator<=>(const Key&) const = default;
};

std::uint32_t get(const CpuidLeaf& l, Reg r) {
  return r == Reg::eax ? l.eax : r == Reg::ebx ? l.ebx : r == Reg::ecx ? l.ecx : l.edx;
}

/// Registers the model covers, as this test states them (not read from the model): the
/// feature registers of kvm_cpu_caps plus 0xD.0/1 and 0x14.
bool modelled(std::uint32_t leaf, std::uint32_t sub, Reg r) {
  switch (leaf) {
    case 0x1: return r == Reg::ecx || r == Reg::edx;
    case 0x7: return sub == 0 || (sub == 1 && r == Reg::eax);
    case 0xd: return sub == 0 ? (r == Reg::eax || r == Reg::edx) : sub == 1 && (r == Reg::eax || r == Reg::ecx);
    case 0x14: return true;
    case 0x80000001: return r == Reg::ecx || r == Reg::edx;
    case 0x80000008: return r == Reg::ebx;
    case 0x80000021: return r == Reg::eax;
    default: return false;
  }
}

/// "supported_cpuid LEAF SUB EAX EBX ECX EDX FLAGS" lines of tests/vm/oracle/cpuid_oracle.c.
std::map<Key, std::uint32_t> read_kvm_answer(const fs::path& p) {
  std::map<Key, std::uint32_t> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string tag;
    ss >> tag;
    if (tag != "supported_cpuid") continue;
    std::string f[7];
    for (auto& x : f) ss >> x;
    if (f[0].rfind("0x", 0) != 0) continue;
    auto v = [&](int i) { return static_cast<std::uint32_t>(std::stoul(f[i], nullptr, 16)); };
    const Reg regs[] = {Reg::eax, Reg::ebx, Reg::ecx, Reg::edx};
    for (int i = 0; i < 4; ++i)
      if (modelled(v(0), v(1), regs[i])) out[{v(0), v(1), regs[i]}] = v(2 + i);
  }
  return out;
}

std::map<Key, std::uint32_t> predicted(const SupportedCpuid& s) {
  std::map<Key, std::uint32_t> out;
  for (const auto& l : s.leaves)
    for (Reg r : {Reg::eax, Reg::ebx, Reg::ecx, Reg::edx})
      if (modelled(l.leaf, l.subleaf, r)) out[{l.leaf, l.subleaf, r}] = get(l, r);
  return out;
}

std::string name(const Key& k) {
  const char* r[] = {"eax", "ebx", "ecx", "edx"};
  std::ostringstream s;
  s << std::hex << "0x" << k.leaf << "." << k.subleaf << " " << r[static_cast<int>(k.reg)];
  return s.str();
}

SupportedCpuid predict(const Snapshot& snap, const KernelProfile& p, const ParamOverrides& o = {}) {
  Analyzer a(snap, p, o);
  return compute_supported_cpuid(a.ctx());
}

TEST(SupportedCpuid, MatchesEveryRecordedKvmAnswer) {
  fs::path dir = testing::test_data("cpuid");
  unsigned cases = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string fn = e.path().filename().string();
    const std::string suffix = ".kvm.txt";
    if (!fn.ends_with(suffix)) continue;
    std::string run = fn.substr(0, fn.size() - suffix.size());
    SCOPED_TRACE(run);
    auto snap = collect::load_snapshot_file((dir / (run + ".snapshot.json")).string());
    ASSERT_TRUE(snap.ok()) << run;
    auto choice = choose_profile(snap->kernel_release, snap->kernel_version);
    ASSERT_TRUE(choice.ok()) << snap->kernel_release;
    SupportedCpuid s = predict(*snap, *choice->profile);
    ASSERT_TRUE(s.evaluated) << s.not_evaluated;
    auto kvm = read_kvm_answer(e.path());
    auto mine = predicted(s);
    ASSERT_GE(kvm.size(), 10u) << "the recording holds KVM's answer";
    std::set<Key> keys;
    for (const auto& [k, v] : kvm) keys.insert(k);
    for (const auto& [k, v] : mine) keys.insert(k);
    for (const auto& k : keys) {
      ASSERT_TRUE(kvm.count(k)) << name(k) << " predicted but KVM has no such leaf";
      ASSERT_TRUE(mine.count(k)) << name(k) << " reported by KVM but not predicted";
      EXPECT_EQ(mine[k], kvm[k]) << name(k) << std::hex << ": predicted 0x" << mine[k] << ", KVM 0x"
                                 << kvm[k] << ", differing bits 0x" << (mine[k] ^ kvm[k]);
    }
    ++cases;
  }
  EXPECT_GE(cases, 8u) << "tests/data/cpuid holds 3 CPU models x 6.1/6.12, EPYC on 5.10 and sid";
}

const CpuidFeature& feature(const char* n) {
  for (const auto& f : known_cpuid_features())
    if (std::string(f.qemu_name) == n) return f;
  ADD_FAILURE() << "no feature " << n;
  static CpuidFeature none{"", 0, 0, Reg::eax, 0};
  return none;
}

// Bits KVM reports although the host lacks them, per kvm_set_cpu_caps() / vmx_set_cpu_caps()
// (5.10.262, 6.1.192, 6.12.117): X2APIC, TSC_ADJUST, ARCH_CAPABILITIES (emulated), VMX (nested), UMIP
// (emulated with DESC exiting), SPEC_CTRL / INTEL_STIBP / SPEC_CTRL_SSBD and the AMD
// 0x80000008 speculation bits (synthesized from the other vendor's bits), GBPAGES without TDP.
const std::set<std::string> kKvmMaySynthesize = {
    "x2apic", "tsc-adjust", "arch-capabilities", "vmx", "umip", "spec-ctrl", "stibp", "ssbd",
    "ibpb", "ibrs", "amd-stibp", "amd-ssbd", "amd-no-ssb", "virt-ssbd", "pdpe1gb"};
// Never in KVM_GET_SUPPORTED_CPUID of 5.10/6.1/6.12 on Intel: outside every mask, never set.
const char* const kNever[] = {"hypervisor", "monitor", "ds-cpl", "smx", "est", "tm2", "xtpr",
                              "tsc-deadline", "svm", "dtes64", "ds", "ht", "tm", "pbe"};

TEST(SupportedCpuid, IntelCpusFromSharedDumpsKeepKvmsInvariants) {
  auto dir = testing::shared_data_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/data not present (the shared libcpuid dumps)";
  unsigned cpus = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir / "libcpuid-tests")) {
    if (!e.is_regular_file() || e.path().extension() != ".test") continue;
    auto snap = collect::import_dump_file(e.path().string());
    if (!snap.ok() || snap->cpus.empty()) continue;
    const CpuRecord& cpu = snap->cpus.front();
    auto l0 = cpu.find_cpuid(0);
    auto l1 = cpu.find_cpuid(1);
    if (!l0 || !l1 || l0->ebx != 0x756e6547 || ((l1->ecx >> 5) & 1u) == 0) continue;  // Intel, VMX
    SCOPED_TRACE(e.path().string());
    for (const char* id : {"5.10", "6.1", "6.12"}) {
      SCOPED_TRACE(id);
      const KernelProfile& p = *find_profile(id);
      for (const char* nested : {"Y", "N"}) {
        SupportedCpuid s = predict(*snap, p, {{"kvm_intel.nested", nested}});
        ASSERT_TRUE(s.evaluated) << s.not_evaluated;
        // vmx_set_cpu_caps(): "if (nested) kvm_cpu_cap_set(X86_FEATURE_VMX)"; VMX is not in
        // kvm_set_cpu_caps()'s CPUID_1_ECX mask.
        EXPECT_EQ(s.has(feature("vmx")), std::string(nested) == "Y");
        for (const char* n : kNever) EXPECT_FALSE(s.has(feature(n))) << n;
        // Emulated, so always reported, but only in a leaf KVM reports at all: leaf 0 is
        // min(host max leaf, KVM's), so a host without leaf 7 gets no TSC_ADJUST either.
        EXPECT_TRUE(s.has(feature("x2apic")));
        bool leaf7 = l0->eax >= 7;
        EXPECT_EQ(s.has(feature("tsc-adjust")), leaf7);
        EXPECT_EQ(s.has(feature("arch-capabilities")), leaf7);
        for (const auto& f : known_cpuid_features()) {
          if (!s.has(f) || kKvmMaySynthesize.count(f.qemu_name)) continue;
          EXPECT_EQ(cpu.cpuid_bit(f.leaf, f.subleaf, f.reg, f.bit), std::optional<bool>(true))
              << f.qemu_name << " reported without the host having it";
        }
      }
    }
    ++cpus;
  }
  EXPECT_GT(cpus, 50u) << "the shared dumps hold many Intel CPUs with VMX";
}

TEST(SupportedCpuid, SkylakeSpEmulatesUmipWithDescriptorExiting) {
  auto snap = collect::load_snapshot_file(
      testing::test_data("snapshots/intel-xeon-8180-skylake-sp-vmx.json").string());
  ASSERT_TRUE(snap.ok());
  ASSERT_EQ(snap->cpus.front().cpuid_bit(7, 0, Reg::ecx, 2), std::optional<bool>(false))
      << "Skylake-SP has no UMIP of its own";
  // vmx_set_cpu_caps(): "if (vmx_umip_emulated()) kvm_cpu_cap_set(X86_FEATURE_UMIP)", and the
  // fixture's IA32_VMX_PROCBASED_CTLS2 allows DESC exiting (bit 2).
  SupportedCpuid s = predict(*snap, *find_profile("6.12"));
  ASSERT_TRUE(s.evaluated);
  EXPECT_TRUE(s.has(feature("umip")));
  EXPECT_TRUE(s.has(feature("rdtscp")));
  EXPECT_FALSE(s.has(feature("null-sel-clr-base"))) << "no leaf 0x80000021 below max 0x80000008";
}

// kvm_set_cpu_caps(): "if (!tdp_enabled || !boot_cpu_has(X86_FEATURE_OSPKE))
// kvm_cpu_cap_clear(X86_FEATURE_PKU)" (6.1, 6.12).
TEST(SupportedCpuid, PkuNeedsOspkeAndTdp) {
  auto snap = collect::load_snapshot_file(
      testing::test_data("snapshots/intel-xeon-8180-skylake-sp-vmx.json").string());
  ASSERT_TRUE(snap.ok());
  const KernelProfile& p = *find_profile("6.12");
  EXPECT_FALSE(predict(*snap, p).has(feature("pku"))) << "the fixture's OSPKE (7.0:ECX[4]) is clear";
  for (auto& l : snap->cpus.front().cpuid)
    if (l.leaf == 7 && l.subleaf == 0) l.ecx |= 1u << 4;  // as on Linux, which sets CR4.PKE
  EXPECT_TRUE(predict(*snap, p).has(feature("pku")));
  EXPECT_FALSE(predict(*snap, p, {{"kvm_intel.ept", "N"}}).has(feature("pku"))) << "no TDP";
}

// vmx_set_cpu_caps(): "if (!cpu_has_vmx_rdtscp()) { clear RDTSCP; clear RDPID }".
TEST(SupportedCpuid, RdtscpNeedsTheSecondaryRdtscpControl) {
  auto snap = collect::load_snapshot_file(
      testing::test_data("snapshots/intel-xeon-8180-skylake-sp-vmx.json").string());
  ASSERT_TRUE(snap.ok());
  const KernelProfile& p = *find_profile("6.1");
  ASSERT_TRUE(predict(*snap, p).has(feature("rdtscp")));
  bool cleared = false;
  for (auto& m : snap->cpus.front().msrs)
    if (m.index == 0x48b) {  // IA32_VMX_PROCBASED_CTLS2: allowed-1 in bits 63:32
      m.value &= ~(1ull << (32 + 3));  // ENABLE_RDTSCP
      cleared = true;
    }
  ASSERT_TRUE(cleared);
  SupportedCpuid s = predict(*snap, p);
  ASSERT_TRUE(s.evaluated) << s.not_evaluated;
  EXPECT_FALSE(s.has(feature("rdtscp")));
  EXPECT_FALSE(s.has(feature("rdpid")));
}

TEST(SupportedCpuid, AmdNestedOffHidesSvm) {
  auto snap = collect::load_snapshot_file(testing::test_data("cpuid/epyc-612.snapshot.json").string());
  ASSERT_TRUE(snap.ok());
  const KernelProfile& p = *find_profile("6.12");
  // svm_set_cpu_caps(): SVM is set only "if (nested)"; it is outside the 0x80000001 ECX mask.
  EXPECT_TRUE(predict(*snap, p).has(feature("svm")));
  EXPECT_FALSE(predict(*snap, p, {{"kvm_amd.nested", "0"}}).has(feature("svm")));
}

CpuidLeaf* find_leaf(Snapshot& snap, std::uint32_t leaf, std::uint32_t sub) {
  for (auto& l : snap.cpus.front().cpuid)
    if (l.leaf == leaf && l.subleaf == sub) return &l;
  return nullptr;
}

const CpuidLeaf* find_leaf(const SupportedCpuid& s, std::uint32_t leaf, std::uint32_t sub) {
  for (const auto& l : s.leaves)
    if (l.leaf == leaf && l.subleaf == sub) return &l;
  return nullptr;
}

// arch/x86/kvm/cpuid.c (5.10.262): case 0x80000000 is only "min(entry->eax, 0x80000021)" (6.1
// synthesizes 0x80000021 for hosts with 0x8000001d), and case 0x80000021 passes boot_cpu_data's
// word (never kvm_cpu_cap_mask()ed) through "entry->eax &= BIT(0) | BIT(2) | BIT(5) | BIT(6)",
// which also drops the SRSO_NO that kvm_set_cpu_caps() set.
TEST(SupportedCpuid, Kernel510PassesFourBitsOfAHostLeaf80000021) {
  auto snap = collect::load_snapshot_file(testing::test_data("cpuid/epyc-510.snapshot.json").string());
  ASSERT_TRUE(snap.ok());
  const KernelProfile& k510 = *find_profile("5.10");
  SupportedCpuid before = predict(*snap, k510);
  ASSERT_TRUE(before.evaluated) << before.not_evaluated;
  EXPECT_EQ(find_leaf(before, 0x80000021, 0), nullptr) << "host max 0x8000001e: no leaf on 5.10";
  EXPECT_NE(find_leaf(predict(*snap, *find_profile("6.1")), 0x80000021, 0), nullptr)
      << "6.1 synthesizes it (host has 0x8000001d)";

  CpuidLeaf* ext = find_leaf(*snap, 0x80000000, 0);
  ASSERT_NE(ext, nullptr);
  ext->eax = 0x80000021;
  // NO_NESTED_DATA_BP, LFENCE always serializing, NULL_SEL_CLR_BASE, AUTOIBRS (8), SRSO_NO (29).
  const std::uint32_t host = (1u << 0) | (1u << 2) | (1u << 6) | (1u << 8) | (1u << 29);
  snap->cpus.front().cpuid.push_back({0x80000021, 0, host, 0, 0, 0});
  SupportedCpuid s = predict(*snap, k510);
  ASSERT_TRUE(s.evaluated) << s.not_evaluated;
  const CpuidLeaf* l = find_leaf(s, 0x80000021, 0);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->eax, (1u << 0) | (1u << 2) | (1u << 6));
}

// 5.10.262: svm_set_cpu_caps() "kvm_cpu_cap_check_and_set(X86_FEATURE_INVPCID)" (INVPCID is not
// in kvm_set_cpu_caps()'s CPUID_7_0_EBX mask); F(PERFCTR_CORE) is in the CPUID_8000_0001_ECX mask
// (6.1 sets it in svm_set_cpu_caps() under enable_pmu instead); case 7: "min(entry->eax, 1u)".
TEST(SupportedCpuid, Kernel510AmdInvpcidPerfctrCoreAndLeaf7) {
  auto snap = collect::load_snapshot_file(testing::test_data("cpuid/epyc-510.snapshot.json").string());
  ASSERT_TRUE(snap.ok());
  const KernelProfile& k510 = *find_profile("5.10");
  EXPECT_FALSE(predict(*snap, k510).has(feature("invpcid"))) << "TCG's EPYC has no INVPCID";
  EXPECT_FALSE(predict(*snap, k510).has(feature("perfctr-core"))) << "nor PERFCTR_CORE";
  CpuidLeaf* l7 = find_leaf(*snap, 7, 0);
  CpuidLeaf* l81 = find_leaf(*snap, 0x80000001, 0);
  ASSERT_TRUE(l7 && l81);
  l7->ebx |= 1u << 10;   // INVPCID
  l7->eax = 2;           // subleaves up to 2
  l81->ecx |= 1u << 23;  // PERFCTR_CORE
  snap->cpus.front().cpuid.push_back({7, 1, 1u << 5, 0, 0, 0});  // AVX512_BF16
  snap->cpus.front().cpuid.push_back({7, 2, 0, 0, 0, 0});
  SupportedCpuid s = predict(*snap, k510);
  ASSERT_TRUE(s.evaluated) << s.not_evaluated;
  EXPECT_TRUE(s.has(feature("invpcid")));
  EXPECT_TRUE(s.has(feature("perfctr-core")));
  EXPECT_TRUE(s.has(feature("avx512-bf16")));
  const CpuidLeaf* p7 = find_leaf(s, 7, 0);
  ASSERT_NE(p7, nullptr);
  EXPECT_EQ(p7->eax, 1u) << "5.10 reports 0x7.0 and 0x7.1 only";
  EXPECT_EQ(find_leaf(s, 7, 2), nullptr);
}

TEST(SupportedCpuid, UnreadVersionsAreNotEvaluatedOrMarkedUnconfirmed) {
  auto snap = collect::load_snapshot_file(testing::test_data("cpuid/epyc-612.snapshot.json").string());
  ASSERT_TRUE(snap.ok());
  for (const char* id : {"4.19", "5.10.7", "5.15"}) {
    SupportedCpuid old = predict(*snap, *find_profile(id));
    EXPECT_FALSE(old.evaluated) << id;
    EXPECT_NE(old.not_evaluated.find(id), std::string::npos) << old.not_evaluated;
  }
  SupportedCpuid s510 = predict(*snap, *find_profile("5.10"));
  ASSERT_TRUE(s510.evaluated) << s510.not_evaluated;
  for (const auto& u : s510.unknown) EXPECT_EQ(u.find("UNCONFIRMED"), std::string::npos) << u;
  SupportedCpuid s66 = predict(*snap, *find_profile("6.6"));
  ASSERT_TRUE(s66.evaluated);
  ASSERT_FALSE(s66.unknown.empty());
  EXPECT_NE(s66.unknown.front().find("UNCONFIRMED"), std::string::npos);
}

TEST(SupportedCpuid, FeatureNamesAreUniqueAndSorted) {
  std::set<std::string> names;
  for (const auto& f : known_cpuid_features()) EXPECT_TRUE(names.insert(f.qemu_name).second) << f.qemu_name;
  auto snap = collect::load_snapshot_file(testing::test_data("cpuid/epyc-61.snapshot.json").string());
  ASSERT_TRUE(snap.ok());
  auto v = predict(*snap, *find_profile("6.1")).feature_names();
  EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
  EXPECT_FALSE(v.empty());
}

}  // namespace
}  // namespace kvmprobe
