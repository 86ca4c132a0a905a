// The libcpuid raw format is read by libcpuid itself (cpuid_deserialize_all_raw_data) wherever
// that loses nothing, and by the hand parser elsewhere (core/collect/import_libcpuid.cc). The
// oracle is the hand parser, which read every one of these dumps before libcpuid did: each
// shared libcpuid-format dump must import to the same Snapshot both ways.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/collect/import_dump_common.h"
#include "core/collect/snapshot_json.h"
#include "tests/support/shared_data.h"

namespace kvmprobe::collect {
namespace {

namespace fs = std::filesystem;

using testing::read_text;

/// The snapshot document of a parse, for comparing two parses whole.
std::string snapshot_text(const Result<dump::DumpContent>& c) {
  if (!c) return "error: " + c.error().detail;
  return snapshot_to_text(dump::finish_import(*c, DumpFormat::libcpuid));
}

/// What cpuid_tool --save writes: every table row, in libcpuid's order.
std::string full_dump(int cpus) {
  std::string s = "version=0.6.2\n";
  for (int cpu = 0; cpu < cpus; ++cpu) {
    s += "\n_________________ Logical CPU #" + std::to_string(cpu) + " _________________\n";
    auto rows = [&](const char* name, int n, std::uint32_t base) {
      for (int i = 0; i < n; ++i) {
        char line[128];
        std::snprintf(line, sizeof line, "%s[%d]=%08x %08x %08x %08x\n", name, i, base + i, 0x100u * cpu + i, 0u, 7u);
        s += line;
      }
    };
    rows("basic_cpuid", 32, 0x14);  // basic_cpuid[0].eax = 0x14: leaves past 0x14 are dropped
    rows("ext_cpuid", 32, 0x80000008u);
    rows("intel_fn4", 8, 0x121);
    rows("intel_fn11", 4, 1);
    rows("intel_fn12h", 4, 0);
    rows("intel_fn14h", 4, 0);
    rows("amd_fn8000001dh", 4, 0);
  }
  return s;
}

TEST(ImportLibcpuid, ACompleteCpuidToolDumpIsReadByLibcpuidAsByHand) {
  std::string dump = full_dump(3);
  auto lib = dump::parse_libcpuid_with_libcpuid(dump);
  ASSERT_TRUE(lib.has_value()) << "libcpuid did not take a complete 0.6.2 dump";
  ASSERT_TRUE(lib->ok()) << lib->error().detail;
  EXPECT_EQ((*lib)->cpus.size(), 3u);
  EXPECT_EQ(snapshot_text(*lib), snapshot_text(dump::parse_libcpuid_by_hand(dump)));
}

TEST(ImportLibcpuid, RowsTheDumpLacksStayMissingAndWhatLibcpuidWouldLoseStaysWithTheHandParser) {
  // A row the file lacks reads as zeros in cpu_raw_data_t; it stays missing, as by hand.
  std::string trimmed = full_dump(1);
  trimmed.erase(trimmed.find("basic_cpuid[3]="), trimmed.find("basic_cpuid[4]=") - trimmed.find("basic_cpuid[3]="));
  auto lib = dump::parse_libcpuid_with_libcpuid(trimmed);
  ASSERT_TRUE(lib.has_value() && lib->ok());
  EXPECT_EQ((*lib)->cpus[0].leaves.count({3, 0}), 0u);
  EXPECT_EQ((*lib)->cpus[0].leaves.count({2, 0}), 1u);
  // intel_fn4[8] is past libcpuid's 8-row table.
  std::string long_table = full_dump(1) + "intel_fn4[8]=00000000 00000000 00000000 00000001\n";
  EXPECT_FALSE(dump::parse_libcpuid_with_libcpuid(long_table).has_value());
  auto hand = dump::parse_libcpuid_by_hand(long_table);
  ASSERT_TRUE(hand.ok());
  EXPECT_EQ(hand->cpus[0].leaves.count({4, 8}), 1u);
  // 0.7's table 0x80000026 is unknown to 0.6.2.
  std::string newer = full_dump(1) + "amd_fn80000026h[0]=00000001 00000002 00000003 00000004\n";
  EXPECT_FALSE(dump::parse_libcpuid_with_libcpuid(newer).has_value());
  // Either way parse_libcpuid() gives the hand parser's reading.
  for (const std::string& d : {trimmed, long_table, newer})
    EXPECT_EQ(snapshot_text(dump::parse_libcpuid(d)), snapshot_text(dump::parse_libcpuid_by_hand(d)));
}

TEST(ImportLibcpuidShared, EveryLibcpuidDumpImportsAsTheHandParserReadsIt) {
  const fs::path dir = kvmprobe::testing::shared_data_dir();
  if (dir.empty()) GTEST_SKIP() << "no shared data directory (../shared/data or $KVMPROBE_SHARED_DATA)";
  std::size_t libcpuid_format = 0, via_libcpuid = 0, by_hand = 0;
  for (const char* folder : {"libcpuid-tests", "libcpuid-tests-recovered"}) {
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(dir / folder))
      if (e.is_regular_file() && e.path().extension() == ".test") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::string text = read_text(f);
      if (detect_dump_format(text) != DumpFormat::libcpuid) continue;
      ++libcpuid_format;
      std::string_view body = dump::dump_part(text);
      std::string oracle = snapshot_text(dump::parse_libcpuid_by_hand(body));
      auto lib = dump::parse_libcpuid_with_libcpuid(body);
      if (lib) {
        ++via_libcpuid;
        EXPECT_EQ(snapshot_text(*lib), oracle) << f;
      } else {
        ++by_hand;
      }
      // And the importer users call, whichever path it took.
      auto imported = import_libcpuid(text);
      ASSERT_TRUE(imported.ok()) << f << ": " << imported.error().detail;
      EXPECT_EQ(snapshot_to_text(*imported), oracle) << f;
    }
  }
  std::printf("libcpuid-format dumps: %zu compared, %zu read by libcpuid, %zu by the hand parser\n",
              libcpuid_format, via_libcpuid, by_hand);
  EXPECT_EQ(libcpuid_format, 125u) << "libcpuid-format dumps in libcpuid-tests and libcpuid-tests-recovered";
  EXPECT_EQ(via_libcpuid, 125u) << "every one of them is read by libcpuid";
}

}  // namespace
}  // namespace kvmprobe::collect
