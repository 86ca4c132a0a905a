// libcpuid identification from recorded leaves, over every shared CPUID dump, against what
// libcpuid 0.6.2 itself made of the same dumps (LIBCPUID_0.6.2_RESULTS.tsv in the shared data).
#include "core/analyse/cpu_identity.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/collect/import_dump.h"
#include "core/collect/snapshot_json.h"
#include "tests/support/shared_data.h"

namespace kvmprobe {
namespace {

TEST(CpuIdentity, SkylakeSpFixtureHasCodenameAndModel) {
  auto s = collect::load_snapshot_file(testing::test_data("snapshots/intel-xeon-8180-skylake-sp-vmx.json").string());
  ASSERT_TRUE(s.ok());
  CpuIdentity id = identify_cpu(s->cpus.front());
  EXPECT_EQ(id.vendor, "GenuineIntel");
  EXPECT_EQ(id.family, 6u);
  EXPECT_EQ(id.model, 0x55u);
  EXPECT_NE(id.codename.find("Skylake"), std::string::npos) << id.codename << " " << id.note;
}

TEST(CpuIdentity, EveryLibcpuidDumpIdentifiesWithoutCrashing) {
  auto dir = testing::shared_data_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/data not present";
  unsigned files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir / "libcpuid-tests")) {
    if (!e.is_regular_file() || e.path().extension() != ".test") continue;
    auto s = collect::import_dump_file(e.path().string());
    ASSERT_TRUE(s.ok()) << e.path();
    CpuIdentity id = identify_cpu(s->cpus.front());
    ++files;
    EXPECT_FALSE(id.vendor.empty()) << e.path();
  }
  EXPECT_EQ(files, 419u) << "libcpuid-tests/SOURCES.md counts 419 .test files";
}

// The oracle: what Debian 12's libcpuid 0.6.2 itself made of each dump (its own loader,
// cpuid_deserialize_raw_data + cpu_identify), recorded in LIBCPUID_0.6.2_RESULTS.tsv beside the
// dumps (SOURCES.md there). Rows where 0.6.2 failed to read the dump (identify_rc != 0, or
// raw_matches_index 0: the raw struct stayed zero) say nothing and are not compared; on every
// other row our importer + identify_cpu must give 0.6.2's vendor, family, model, stepping and
// codename, or be one of the disagreements below, each with its reason. One more, as a rule:
// identify_cpu drops a best match whose marketing name the brand string lacks, or an AMD family
// past 0x19 (cpu_identity.cc: plausible()), e.g. "Xeon (Conroe/2M)" for an Emerald Rapids; the
// note must then name 0.6.2's codename, and how many times that happens is asserted.
struct Disagreement {
  const char* file;  ///< folder/file as in the table
  const char* ours;  ///< our codename ("" = none)
  const char* why;
};

constexpr const char* kNoCaches =
    "0.6.2's AIDA64 loader read no cache leaves from this dump (cpuid_tool --load gives L1d/L2/L3 -1), "
    "our importer reads leaves 2 and 4, and cpu_identify scores the cache sizes";

constexpr const char* kNoCachesThenDropped =
    "as kNoCaches, and the best match our complete leaves give names a part the brand string does not "
    "(plausible() drops it)";

constexpr Disagreement kDisagreements[] = {
    {"libcpuid-tests/intel/x86-atom/silvermont/intel-atom-cpu-z3740.test", "", kNoCachesThenDropped},
    {"instlatx64-cpuid/GenuineIntel/GenuineIntel00006F4_Conroe_CPUID.txt.xz", "", kNoCachesThenDropped},
    {"instlatx64-cpuid/GenuineIntel/GenuineIntel00006F4_Woodcrest_CPUID.txt.xz", "", kNoCachesThenDropped},
    {"instlatx64-cpuid/GenuineIntel/GenuineIntel00106A2_Nehalem-DP_CPUID.txt.xz", "", kNoCachesThenDropped},
    {"instlatx64-cpuid/GenuineIntel/GenuineIntel00106A2_Nehalem-EP_CPUID.txt.xz", "", kNoCachesThenDropped},
    {"instlatx64-cpuid/GenuineIntel/GenuineIntel00106A4_Bloomfield_CPUID.txt.xz", "", kNoCachesThenDropped},
    {"libcpuid-tests/intel/x86-64/core/intel-core2-duo-cpu-p8400.test", "Wolfdale (Core 2 Duo) 3M",
     kNoCaches},
    {"libcpuid-tests/intel/x86-64/haswell/intel-core-i7-4500u-cpu.test", "Arrandale (Core i7)",
     kNoCaches},
    {"libcpuid-tests/intel/x86-64/nehalem/intel-core-cpu-q-820.test", "Lynnfield (Core i7)",
     kNoCaches},
    {"libcpuid-tests/intel/x86-64/nehalem/intel-core-i5-cpu-650.test", "Clarkdale (Core i5)",
     kNoCaches},
    {"libcpuid-tests/intel/x86-64/nehalem/intel-xeon-cpu-x5667.test", "Gulftown (Xeon)",
     kNoCaches},
    {"libcpuid-tests/intel/x86-64/raptor-cove/13th-gen-intel-core-i9-13900h.test", "Comet Lake (Core i9)",
     "hybrid Raptor Lake: both read the same caches (48K/1280K/24M); why 0.6.2 scores Alder Lake-P and we Comet Lake is not known (0.6.2's is the nearer name)"},
    {"libcpuid-tests-recovered/from-history/intel/x86-64/core/intel-core2-quad-cpu-q9300-@2.50ghz.test", "Yorkfield (Core 2 Quad) 3M",
     kNoCaches},
    {"libcpuid-tests-recovered/lfs-pointer-targets/intel/x86-64/nehalem/intel-xeon-cpu-x5667.test", "Gulftown (Xeon)",
     kNoCaches},
    {"instlatx64-cpuid/GenuineIntel/GenuineIntel00006F6_Merom_CPUID.txt.xz", "Merom (Core 2 Duo) 2048K",
     kNoCaches},
    {"instlatx64-cpuid/GenuineIntel/GenuineIntel0010676_Penryn_CPUID.txt.xz", "Wolfdale (Core 2 Duo) 3M",
     kNoCaches},
    {"instlatx64-cpuid/GenuineIntel/GenuineIntel00106E5_Lynnfield_CPUID.txt.xz", "Lynnfield (Core i7)",
     kNoCaches},
    {"instlatx64-cpuid/GenuineIntel/GenuineIntel0020652_Clarkdale_CPUID.txt.xz", "Clarkdale (Core i5)",
     kNoCaches},
    {"instlatx64-cpuid/GenuineIntel/GenuineIntel00206C1_Gulftown_CPUID.txt.xz", "Gulftown (Xeon)",
     kNoCaches},
    {"instlatx64-cpuid/GenuineIntel/GenuineIntel00306E4_IvyBridgeE_CPUID.txt.xz", "Coffee Lake (Core i7)",
     kNoCaches},
    {"instlatx64-cpuid/GenuineIntel/GenuineIntel00B06A2_RaptorLakeP_04_CPUID.txt.xz", "Comet Lake (Core i9)",
     "hybrid Raptor Lake: both read the same caches (48K/1280K/24M); why 0.6.2 scores Alder Lake-P and we Comet Lake is not known (0.6.2's is the nearer name)"},
};

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1)
    out.push_back(line.substr(start, tab - start));
  out.push_back(line.substr(start));
  return out;
}

TEST(CpuIdentity, AgreesWithLibcpuid062sOwnResultsOnEveryDumpItRead) {
  auto dir = testing::shared_data_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/data not present";
  std::map<std::string, const Disagreement*> expected;
  for (const Disagreement& d : kDisagreements) expected[d.file] = &d;
  std::set<std::string> seen;
  unsigned rows = 0, compared = 0, not_read_by_062 = 0, dropped_as_implausible = 0;
  for (const char* folder : {"libcpuid-tests", "libcpuid-tests-recovered", "instlatx64-cpuid"}) {
    std::ifstream in(dir / folder / "LIBCPUID_0.6.2_RESULTS.tsv");
    ASSERT_TRUE(in) << folder << "/LIBCPUID_0.6.2_RESULTS.tsv";
    std::string line;
    std::getline(in, line);
    std::vector<std::string> head = split_tabs(line);
    auto col = [&](const char* name) {
      auto it = std::find(head.begin(), head.end(), name);
      return static_cast<std::size_t>(it - head.begin());
    };
    const std::size_t c_file = col("file"), c_rc = col("identify_rc"), c_vendor = col("vendor_062"),
                      c_family = col("ext_family_062"), c_model = col("ext_model_062"),
                      c_stepping = col("stepping_062"), c_codename = col("codename_062"),
                      c_raw = col("raw_matches_index");
    ASSERT_LT(c_raw, head.size()) << folder << ": a column is missing";
    while (std::getline(in, line)) {
      std::vector<std::string> f = split_tabs(line);
      ASSERT_EQ(f.size(), head.size()) << folder << ": " << line;
      ++rows;
      if (f[c_rc] != "0" || f[c_raw] != "1") {
        ++not_read_by_062;
        continue;
      }
      std::string key = std::string(folder) + "/" + f[c_file];
      SCOPED_TRACE(key);
      auto s = collect::import_dump_file((dir / folder / f[c_file]).string());
      ASSERT_TRUE(s.ok()) << s.error().detail;
      CpuIdentity id = identify_cpu(s->cpus.front());
      ++compared;
      EXPECT_EQ(id.vendor, f[c_vendor]);
      EXPECT_EQ(std::to_string(id.family), f[c_family]);
      EXPECT_EQ(std::to_string(id.model), f[c_model]);
      EXPECT_EQ(std::to_string(id.stepping), f[c_stepping]);
      if (id.codename == f[c_codename]) {
        EXPECT_EQ(expected.count(key), 0u) << "listed as a disagreement but agrees: " << id.codename;
        continue;
      }
      if (id.codename.empty() &&
          id.note == "libcpuid 0.6.2 does not know this CPU (its best match was '" + f[c_codename] + "')") {
        ++dropped_as_implausible;
        std::printf("[libcpuid 0.6.2] %s: '%s' dropped (brand '%s')\n", key.c_str(), f[c_codename].c_str(),
                    id.brand.c_str());
        continue;
      }
      seen.insert(key);
      auto it = expected.find(key);
      if (it == expected.end()) {
        ADD_FAILURE() << "unexplained: libcpuid 0.6.2 says '" << f[c_codename] << "', we say '" << id.codename
                      << "' (" << id.note << ")";
        continue;
      }
      EXPECT_EQ(id.codename, it->second->ours) << it->second->why;
    }
  }
  for (const auto& [key, d] : expected) EXPECT_TRUE(seen.count(key)) << "disagreement no longer seen: " << key;
  // 419 + 68 + 442 rows; SOURCES.md of each folder says how many 0.6.2 could not read.
  EXPECT_EQ(rows, 929u);
  EXPECT_EQ(not_read_by_062, 163u) << "identify_rc != 0 or raw_matches_index 0 in the tables";
  EXPECT_EQ(compared, 766u) << "dumps libcpuid 0.6.2 read, compared field by field";
  EXPECT_EQ(dropped_as_implausible, 111u);
  EXPECT_EQ(seen.size(), std::size(kDisagreements));
  std::printf("[libcpuid 0.6.2] %u rows, %u compared, %u not read by 0.6.2; codename: %u dropped as implausible, "
              "%zu other disagreements (listed with reasons), %zu agree\n",
              rows, compared, not_read_by_062, dropped_as_implausible, seen.size(),
              compared - dropped_as_implausible - seen.size());
}

}  // namespace
}  // namespace kvmprobe

namespace kvmprobe {
namespace {

TEST(CpuIdentity, ImplausibleBestMatchIsDropped) {
  // A family-0x1A AMD EPYC: libcpuid 0.6.2 would call it an Athlon X2.
  CpuRecord cpu;
  cpu.cpuid = {{0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65},
               {1, 0, 0x00b00f21, 0, 0, 0x178bfbff},
               {0x80000000, 0, 0x80000004, 0, 0, 0},
               {0x80000002, 0, 0x20444d41, 0x43595045, 0x20, 0},
               {0x80000003, 0, 0, 0, 0, 0},
               {0x80000004, 0, 0, 0, 0, 0}};
  CpuIdentity id = identify_cpu(cpu);
  EXPECT_EQ(id.family, 0x1au);
  EXPECT_EQ(id.codename, "");
}

}  // namespace
}  // namespace kvmprobe
