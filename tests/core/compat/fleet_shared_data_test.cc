// fleet() over every real CPUID dump of the shared data (../shared/data: libcpuid's test
// dumps, their recovered history, InstLatX64), each host modelled on kernel 6.1, checked
// against facts computed here without fleet(): the vendor and raw CPUID feature words of each
// dump, and compat() between sampled pairs.
//
// What actually happens: a CPUID dump records no MSR, no XCR0 set by an OS and no TSC
// frequency. Whether the vendor module loads (VM_CR on AMD, IA32_FEATURE_CONTROL on Intel) and
// KVM_GET_MSR_INDEX_LIST (host RDMSR of each candidate) cannot be told, so compat() between
// any two dumps is "cannot tell" and no two dumps share a pool: every Zen 3 dump stands alone
// (the "every Zen 3 dump in one pool for kernel 6.1" needs `kvmprobe snapshot` of the
// hosts, not CPUID dumps). What CPUID alone decides is asserted instead: dumps with identical
// feature words get identical supported CPUID features, and between such dumps the CPUID step
// passes both ways while the verdict is "cannot tell", naming the missing MSR evidence.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "core/collect/import_dump.h"
#include "core/compat/fleet.h"
#include "core/profiles/profiles.h"
#include "tests/support/shared_data.h"

namespace kvmprobe::compat {
namespace {

namespace fs = std::filesystem;

struct Dump {
  std::string label;
  Snapshot snap;
};

std::vector<Dump> shared_dumps(const fs::path& dir) {
  std::vector<Dump> out;
  for (const char* folder : {"libcpuid-tests", "libcpuid-tests-recovered", "instlatx64-cpuid"}) {
    std::ifstream index(dir / folder / "INDEX.tsv");
    EXPECT_TRUE(index) << folder << "/INDEX.tsv";
    std::string line;
    std::getline(index, line);  // header: the file is the first column
    while (std::getline(index, line)) {
      const std::string file = line.substr(0, line.find('\t'));
      if (file.empty()) continue;
      auto s = collect::import_dump_file((dir / folder / file).string());
      EXPECT_TRUE(s.ok()) << folder << "/" << file << ": " << (s ? "" : s.error().detail);
      if (s) out.push_back({std::string(folder) + "/" + file, std::move(*s)});
    }
  }
  return out;
}

/// Vendor and the raw feature words of the boot CPU, as this test reads them: CPUID 0x0, then
/// 0x1 (but EBX), every register of 0x7.0, 0x7.1, 0xD.1, 0x14.0, 0x80000001, 0x80000008,
/// 0x80000021, and 0x80000000 ("-" for a leaf not recorded), and the MSRs the dump recorded.
std::string feature_words(const Snapshot& s) {
  if (s.cpus.empty()) return "no cpu";
  const CpuRecord& c = s.cpus.front();
  std::string key;
  auto add = [&](std::uint32_t leaf, std::uint32_t sub) {
    const CpuidLeaf* l = c.find_cpuid(leaf, sub);
    key += l ? fmt::format("{:x}.{:x}={:x},{:x},{:x},{:x};", leaf, sub, l->eax, l->ebx, l->ecx, l->edx)
             : fmt::format("{:x}.{:x}=-;", leaf, sub);
  };
  add(0x0, 0);
  add(0x1, 0);
  add(0x7, 0);
  add(0x7, 1);
  add(0xd, 1);
  add(0x14, 0);
  add(0x80000001, 0);
  add(0x80000008, 0);
  add(0x80000021, 0);
  // The model also reads the signature (Linux's CPU bug flags, the vulnerability whitelists,
  // go by family/model/stepping) and the max leaves: they stay in the key. 0x1 EBX (APIC ID,
  // CLFLUSH size, logical count, brand index) does not feed the feature prediction: dropped.
  const CpuidLeaf* l1 = c.find_cpuid(0x1, 0);
  if (l1) {
    auto at = key.find("1.0=");
    key.replace(at, key.find(';', at) - at, fmt::format("1.0={:x},ecx {:x} edx {:x}", l1->eax, l1->ecx, l1->edx));
  }
  add(0x80000000, 0);
  // Some InstLatX64/AIDA64 dumps carry MSRs (the VMX capability MSRs decide EPT, UMIP, ...
  // for kvm_intel): what was read is part of the evidence.
  for (const auto& m : c.msrs) key += fmt::format("msr {:x}={}:{:x};", m.index, static_cast<int>(m.status), m.value);
  return key;
}

FleetReport run_fleet(const std::vector<Dump>& dumps, double* seconds) {
  auto p = choose_profile("6.1");
  EXPECT_TRUE(p);
  auto t0 = std::chrono::steady_clock::now();
  std::vector<FleetHost> hosts;
  for (const auto& d : dumps) {
    CompatSide side;
    side.snap = &d.snap;
    side.profile = p->profile;
    side.label = d.label;
    side.own_kernel = false;
    hosts.push_back({d.label, side_facts(side)});
  }
  FleetReport r = fleet(std::move(hosts));
  *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::map<std::string, std::size_t> pool_of(const FleetReport& r) {
  std::map<std::string, std::size_t> m;
  for (std::size_t i = 0; i < r.pools.size(); ++i)
    for (auto h : r.pools[i].hosts) m[r.hosts[h].label] = i;
  return m;
}

bool zen3(const std::string& label) {
  // libcpuid files its dumps by codename: amd/zen3/ (Vermeer, Cezanne, Milan, ...), not zen3+.
  return label.find("/amd/zen3/") != std::string::npos;
}

TEST(FleetSharedData, EveryDumpOnKernel61) {
  const fs::path dir = testing::shared_data_dir();
  if (dir.empty()) GTEST_SKIP() << "no shared data directory (../shared/data or $KVMPROBE_SHARED_DATA)";
  std::vector<Dump> dumps = shared_dumps(dir);
  ASSERT_EQ(dumps.size(), 929u) << "INDEX.tsv of the three folders";
  double seconds = 0;
  FleetReport r = run_fleet(dumps, &seconds);
  EXPECT_LT(seconds, 10.0);
  ASSERT_EQ(r.hosts.size(), 929u);

  // Excluded: hosts whose vendor module would not load. Counted here from CPUID alone: without
  // VMX (CPUID.1:ECX[5]; kvm_intel takes any vendor's VMX) and without AMD/Hygon SVM
  // (0x80000001:ECX[2]) no module loads; with them, a CPU without FPU or FXSR (CPUID.1:EDX[0],
  // [24]) is refused by kvm_x86_vendor_init() (arch/x86/kvm/x86.c (6.1)). One more, a hybrid
  // whose CPUs negotiate different VMCS configs, is named by its reason.
  std::size_t no_virt = 0, no_fxsr = 0;
  for (const auto& d : dumps) {
    const CpuRecord& c = d.snap.cpus.front();
    bool vmx = c.cpuid_bit(0x1, 0, Reg::ecx, 5).value_or(false);
    bool svm = c.cpuid_bit(0x80000001, 0, Reg::ecx, 2).value_or(false);
    const CpuidLeaf* l0 = c.find_cpuid(0x0, 0);
    bool amd = l0 && (l0->ebx == 0x68747541 || l0->ebx == 0x6f677948);  // "Auth", "Hygo"
    bool fpu_fxsr = c.cpuid_bit(0x1, 0, Reg::edx, 0).value_or(false) && c.cpuid_bit(0x1, 0, Reg::edx, 24).value_or(false);
    if (!vmx && !(amd && svm)) ++no_virt;
    else if (!fpu_fxsr) ++no_fxsr;
  }
  std::size_t in_pools = 0, vmcs = 0;
  for (const auto& p : r.pools) in_pools += p.hosts.size();
  for (const auto& e : r.excluded) {
    EXPECT_NE(e.reason.find("would not load"), std::string::npos) << e.reason;
    vmcs += e.reason.find("negotiates a different VMCS config") != std::string::npos;
  }
  EXPECT_EQ(in_pools + r.excluded.size(), r.hosts.size());
  EXPECT_EQ(no_virt, 240u);
  EXPECT_EQ(no_fxsr, 1u);
  EXPECT_EQ(vmcs, 1u);
  EXPECT_EQ(r.excluded.size(), no_virt + no_fxsr + vmcs);

  // No MSR evidence: every host is its own pool, and no one-way move can be shown.
  EXPECT_EQ(r.pools.size(), r.hosts.size() - r.excluded.size());
  for (const auto& p : r.pools) EXPECT_EQ(p.hosts.size(), 1u);
  EXPECT_TRUE(r.edges.empty());

  // Identical vendor and feature words (read here, raw) -> identical supported CPUID features;
  // between two such hosts the CPUID step passes both ways and the verdict is "cannot tell",
  // for missing MSRs (VM_CR / FEATURE_CONTROL, or the host RDMSRs behind the MSR list).
  std::map<std::string, std::vector<std::size_t>> by_words;
  auto pool = pool_of(r);
  for (std::size_t i = 0; i < r.hosts.size(); ++i)
    if (pool.count(r.hosts[i].label)) by_words[feature_words(dumps[i].snap)].push_back(i);
  std::size_t groups = 0, checked = 0;
  for (const auto& [words, members] : by_words) {
    if (members.size() < 2) continue;
    ++groups;
    for (std::size_t i : members) EXPECT_EQ(r.hosts[i].facts.cpuid_features, r.hosts[members[0]].facts.cpuid_features);
    const SideFacts &a = r.hosts[members[0]].facts, &b = r.hosts[members[1]].facts;
    for (const auto& [x, y] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
      CompatReport c = compat(*x, *y);
      SCOPED_TRACE(x->label + " -> " + y->label);
      EXPECT_EQ(c.find_step("cpuid")->status, Status::ok) << c.find_step("cpuid")->summary;
      EXPECT_EQ(c.verdict, CompatVerdict::unknown) << c.reason;
      EXPECT_TRUE(c.reason.find("not readable") != std::string::npos ||
                  c.reason.find("not recorded") != std::string::npos)
          << c.reason;
      ++checked;
    }
  }
  EXPECT_GT(groups, 10u);

  // Zen 3: all alone, each apart from the largest kvm_amd pool for missing evidence (not for a
  // rejection); how many distinct supported-CPUID sets they have.
  std::size_t zen3_hosts = 0;
  std::set<std::vector<std::string>> zen3_sets;
  for (std::size_t i = 0; i < r.hosts.size(); ++i) {
    if (!zen3(r.hosts[i].label)) continue;
    ++zen3_hosts;
    ASSERT_TRUE(r.hosts[i].facts.cpuid_features) << r.hosts[i].label;
    zen3_sets.insert(*r.hosts[i].facts.cpuid_features);
    ASSERT_TRUE(pool.count(r.hosts[i].label)) << r.hosts[i].label << " would not load?";
    EXPECT_EQ(r.pools[pool[r.hosts[i].label]].hosts.size(), 1u);
  }
  EXPECT_EQ(zen3_hosts, 12u) << "libcpuid-tests amd/zen3/ (9) and its recovered history (3)";
  for (const auto& s : r.splits) {
    if (zen3(r.hosts[r.pools[s.pool].hosts.front()].label)) {
      EXPECT_TRUE(s.reason.find("not readable") != std::string::npos || s.reason.find("not recorded") != std::string::npos)
          << s.reason;
    }
  }
  std::cout << "[ shared   ] " << dumps.size() << " dumps on 6.1: " << r.pools.size() << " pools, " << r.excluded.size()
            << " excluded (module would not load), fleet " << seconds << " s; " << groups << " groups of identical feature words ("
            << checked << " compat checks); Zen 3: " << zen3_hosts << " dumps, " << zen3_sets.size()
            << " distinct supported-CPUID sets\n";
}

}  // namespace
}  // namespace kvmprobe::compat
