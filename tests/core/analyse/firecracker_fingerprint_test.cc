// kvmprobe's KVM_GET_MSR_INDEX_LIST against Firecracker's fingerprints of real AWS hosts
// (../shared/data/firecracker-fingerprints, SOURCES.md there): the host CPU comes from a CPUID
// dump of the same model in ../shared/data, the kernel profile from the fingerprint's host
// kernel. Every difference must be one of the explained ones below (docs/firecracker-comparison.md),
// in the current fingerprints (head/) and in the older ones (history/), each counted.
#include <gtest/gtest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/analyse/analyse.h"
#include "core/analyse/msr_lists.h"
#include "core/collect/import_dump.h"
#include "core/profiles/profiles.h"
#include "tests/support/shared_data.h"

namespace kvmprobe {
namespace {

namespace fs = std::filesystem;

// One fingerprint host and the dump of the same CPU model that stands in for its CPUID.
struct Pairing {
  const char* cpu;        ///< fingerprint name part, "INTEL_CASCADELAKE"
  const char* dump;       ///< under ../shared/data
  const char* vmx_donor;  ///< dump whose VMX capability MSRs are borrowed when `dump` has none
};

constexpr Pairing kPairings[] = {
    {"INTEL_CASCADELAKE", "instlatx64-cpuid/GenuineIntel/GenuineIntel0050657_CascadeLakeW_CPUID.txt.xz", nullptr},
    {"INTEL_ICELAKE", "instlatx64-cpuid/GenuineIntel/GenuineIntel00606A6_ICX_04_CPUID.txt.xz",
     "instlatx64-cpuid/GenuineIntel/GenuineIntel00706E5_IceLakeY_CPUID.txt.xz"},
    {"INTEL_SAPPHIRE_RAPIDS", "instlatx64-cpuid/GenuineIntel/GenuineIntel00806F8_SapphireRapids_05_CPUID.txt.xz", nullptr},
    {"INTEL_GRANITE_RAPIDS", "instlatx64-cpuid/GenuineIntel/GenuineIntel00A06D1_GraniteRapids_03_CPUID.txt.xz", nullptr},
    {"AMD_MILAN", "instlatx64-cpuid/AuthenticAMD/AuthenticAMD0A00F11_K19_Milan_02_CPUID.txt.xz", nullptr},
    {"AMD_GENOA", "instlatx64-cpuid/AuthenticAMD/AuthenticAMD0A10F11_K19_Genoa_01_CPUID.txt.xz", nullptr},
};

// MSRs Firecracker leaves out of a fingerprint: vmm's UNDUMPABLE_MSR_RANGES (src/vmm/src/arch/
// x86_64/msr.rs) and cpu-template-helper's MSR_EXCLUSION_LIST (+ ARCH_CAPABILITIES on AMD).
bool firecracker_excludes(std::uint32_t i, bool amd) {
  auto in = [i](std::uint32_t first, std::uint32_t n) { return i >= first && i < first + n; };
  return in(0x10, 1) || in(0xc1, 8) || in(0x186, 8) || in(0x309, 4) || in(0x38d, 4) || in(0x345, 1) ||
         in(0x3f1, 2) || in(0x600, 1) || in(0x6e0, 1) || in(0x17a, 2) || in(0x4d0, 1) || in(0x480, 18) ||
         in(0xc0010000, 8) || in(0xc0010200, 12) || in(0x40000000, 0x200) || (amd && i == 0x10a);
}

// A difference and why it is not a modelling error (docs/firecracker-comparison.md).
struct Explained {
  const char* cpu;
  const char* kernel;       ///< "5.10", "6.1", "6.18"
  std::uint32_t index;
  const char* kind;         ///< "missing" (Firecracker has it, kvmprobe not), "extra", "unknown"
  const char* why;
};

constexpr Explained kExplained[] = {
    {"INTEL_CASCADELAKE", "6.18", 0x122, "missing",
     "the dump's ARCH_CAPABILITIES (0x2b, older microcode) lacks TSX_CTRL_MSR; the EC2 host's has it"},
    {"INTEL_ICELAKE", "6.18", 0x122, "unknown", "the ICX dump holds no MSRs: ARCH_CAPABILITIES unknown"},
};

// Differences in the older fingerprints (history/): none from KVM, each from an older Firecracker
// exclusion list, so each holds only for fingerprints taken before the day Firecracker changed
// it (docs/firecracker-comparison.md, "Older fingerprints").
struct HistoryExplained {
  std::uint32_t index;
  const char* kind;
  const char* before;  ///< fingerprints dated before this day ("2024-05-31") show it
  unsigned count;      ///< how many history fingerprints show it
  const char* why;
};

constexpr HistoryExplained kHistoryExplained[] = {
    {0x6e0, "missing", "2024-05-31", 45,
     "cpu-template-helper added TSC_DEADLINE to its MSR_EXCLUSION_LIST later: older fingerprints list it"},
    {0xce, "extra", "2024-03-21", 29,
     "the vmm's PERFCTR range was 18 MSRs long (0xC1-0xD2) and swallowed PLATFORM_INFO before it was cut to 8"},
};

/// "2024-03-15" from "fingerprint_AMD_MILAN_5.10host@2024-03-15_2c17f734b736.json", "" for head/.
std::string fingerprint_date(const std::string& name) {
  std::size_t at = name.find('@');
  return at == std::string::npos ? std::string() : name.substr(at + 1, 10);
}

std::string kernel_series(const std::string& release) {
  KernelVersion v;
  if (!parse_kernel_version(release, v)) return release;
  return std::to_string(v.major) + "." + std::to_string(v.minor);
}

std::vector<std::uint32_t> fingerprint_msrs(const nlohmann::json& j) {
  std::vector<std::uint32_t> v;
  for (const auto& m : j["guest_cpu_config"]["msr_modifiers"])
    v.push_back(static_cast<std::uint32_t>(std::stoul(m["addr"].get<std::string>(), nullptr, 16)));
  std::sort(v.begin(), v.end());
  return v;
}

// What a dump cannot tell, filled the way a bare-metal Linux host would have it (each one an
// assumption listed in docs/firecracker-comparison.md).
void complete_host(Snapshot& s, const Snapshot* donor) {
  s.perf.hw_pmu = Tri::yes;
  s.perf.evidence = "assumed: bare-metal EC2 host with a perf PMU";
  for (CpuRecord& c : s.cpus) {
    const CpuidLeaf* d = c.find_cpuid(0xd, 0);
    if (d) c.xcr0 = ((std::uint64_t{d->edx} << 32) | d->eax) & 0x602ffull;
    const CpuidLeaf* d1 = c.find_cpuid(0xd, 1);
    std::uint64_t xss = d1 ? ((std::uint64_t{d1->edx} << 32) | d1->ecx) & 0x1800 : 0;
    auto set = [&](std::uint32_t index, std::uint64_t value) {
      for (auto& m : c.msrs)
        if (m.index == index) {
          if (m.status != ReadStatus::value) m = MsrRead{index, ReadStatus::value, value, 0};
          return;
        }
      c.msrs.push_back(MsrRead{index, ReadStatus::value, value, 0});
    };
    set(0xda0, xss);
    // Tertiary controls are read when the primary allowed-1 has bit 17; dumps stop at 0x490.
    const MsrRead* primary = c.find_msr(0x482);
    if (primary && primary->ok() && ((primary->value >> (32 + 17)) & 1)) set(0x492, 0);
    if (donor && donor->boot_cpu())
      for (const MsrRead& m : donor->boot_cpu()->msrs)
        if (m.ok() && m.index >= 0x480 && m.index <= 0x492) set(m.index, m.value);
    std::sort(c.msrs.begin(), c.msrs.end(), [](const MsrRead& a, const MsrRead& b) { return a.index < b.index; });
  }
}

TEST(FirecrackerFingerprint, MsrIndexListsMatchOrAreExplained) {
  fs::path data = testing::shared_data_dir();
  if (data.empty()) GTEST_SKIP() << "../shared/data not present (set KVMPROBE_SHARED_DATA)";
  fs::path fp_dir = data / "firecracker-fingerprints" / "head";
  if (!fs::is_directory(fp_dir)) GTEST_SKIP() << fp_dir << " not present";

  std::set<std::string> expected_keys, seen_keys;
  for (const Explained& e : kExplained)
    if (*e.cpu) expected_keys.insert(fmt::format("{} {} {:#x} {}", e.cpu, e.kernel, e.index, e.kind));
  int compared = 0, history_compared = 0;
  std::map<const HistoryExplained*, unsigned> history_seen;
  for (const Pairing& p : kPairings) {
    fs::path dump = data / p.dump;
    if (!fs::exists(dump)) {
      ADD_FAILURE() << "dump missing: " << dump;
      continue;
    }
    auto snap = collect::import_dump_file(dump.string());
    ASSERT_TRUE(snap) << dump << ": " << snap.error().detail;
    std::optional<Snapshot> donor;
    if (p.vmx_donor) {
      auto d = collect::import_dump_file((data / p.vmx_donor).string());
      ASSERT_TRUE(d) << p.vmx_donor;
      donor = *d;
    }
    complete_host(*snap, donor ? &*donor : nullptr);
    std::vector<std::pair<fs::path, bool>> files;  // (file, from history/)
    for (const char* sub : {"head", "history"}) {
      std::error_code ec;
      for (const auto& f : fs::directory_iterator(fp_dir.parent_path() / sub, ec))
        files.emplace_back(f.path(), std::string(sub) == "history");
    }
    std::sort(files.begin(), files.end());
    for (const auto& [path, history] : files) {
      std::string name = path.filename().string();
      if (name.rfind(std::string("fingerprint_") + p.cpu + "_", 0) != 0) continue;
      std::ifstream in(path);
      nlohmann::json j = nlohmann::json::parse(in);
      std::string release = j["kernel_version"];
      std::string series = kernel_series(release);
      auto choice = choose_profile(release);
      if (!choice) continue;  // 4.14 hosts: older than every modelled KVM
      SCOPED_TRACE(name + " (" + release + " -> profile " + choice->profile->id + ")");
      Analyzer a(*snap, *choice->profile);
      MsrListsResult r = compute_msr_lists(a.ctx(), {UnrecordedRdmsr::vendor_implements});
      ASSERT_TRUE(r.evaluated) << r.not_evaluated;
      bool amd = a.ctx().vendor == Vendor::amd;
      std::set<std::uint32_t> ours, unknown;
      for (const auto& e : r.entries) {
        if (e.list == MsrList::feature || firecracker_excludes(e.index, amd)) continue;
        if (e.fate == MsrFate::kept) ours.insert(e.index);
        if (e.fate == MsrFate::unknown) unknown.insert(e.index);
      }
      std::vector<std::uint32_t> theirs = fingerprint_msrs(j);
      std::set<std::uint32_t> theirs_set(theirs.begin(), theirs.end());
      std::printf("[fingerprint] %s: host %s, profile %s: Firecracker %zu, kvmprobe %zu (after exclusions)\n",
                  name.c_str(), release.c_str(), choice->profile->id.c_str(), theirs_set.size(), ours.size());
      auto report = [&](std::uint32_t i, const char* kind, const std::string& detail) {
        std::string key = fmt::format("{} {} {:#x} {}", p.cpu, series, i, kind);
        const char* nm = msr_name(i);
        std::printf("  %-8s %#x %s%s%s\n", kind, i, nm ? nm : "?", detail.empty() ? "" : ": ", detail.c_str());
        if (!history) {
          seen_keys.insert(key);
          return;
        }
        const std::string date = fingerprint_date(name);
        for (const HistoryExplained& h : kHistoryExplained)
          if (h.index == i && std::string(kind) == h.kind && date < h.before) {
            ++history_seen[&h];
            return;
          }
        ADD_FAILURE() << "unexplained difference in a history fingerprint (" << date << "): " << key;
      };
      for (std::uint32_t i : theirs_set)
        if (!ours.count(i)) {
          std::string why;
          for (const auto& e : r.entries)
            if (e.index == i && e.list != MsrList::feature) why = e.reason;
          report(i, unknown.count(i) ? "unknown" : "missing", why);
        }
      for (std::uint32_t i : ours)
        if (!theirs_set.count(i)) report(i, "extra", "");
      for (std::uint32_t i : unknown)
        if (!theirs_set.count(i)) report(i, "unknown", "");
      if (!history) ++compared;
      else ++history_compared;
    }
  }
  EXPECT_EQ(compared, 18);
  EXPECT_EQ(history_compared, 84) << "history/ fingerprints of modelled kernels (4.14 hosts are older than every profile)";
  for (const HistoryExplained& h : kHistoryExplained)
    EXPECT_EQ(history_seen[&h], h.count) << fmt::format("{:#x} {}: {}", h.index, h.kind, h.why);
  std::printf("[fingerprint] %d head and %d history fingerprints compared\n", compared, history_compared);
  for (const auto& k : seen_keys) EXPECT_TRUE(expected_keys.count(k)) << "unexplained difference: " << k;
  for (const auto& k : expected_keys) EXPECT_TRUE(seen_keys.count(k)) << "explained difference no longer seen: " << k;
}

}  // namespace
}  // namespace kvmprobe
