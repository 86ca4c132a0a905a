#include "core/collect/import_dump.h"

#include <cpuid.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>

#include "core/analyse/cpu_facts.h"
#include "core/collect/snapshot_json.h"
#include "tests/support/shared_data.h"

namespace kvmprobe::collect {
namespace {

namespace fs = std::filesystem;

using testing::read_text;

bool has_note(const Snapshot& s, const std::string& part) {
  for (const auto& n : s.notes)
    if (n.find(part) != std::string::npos) return true;
  return false;
}

// ---- libcpuid native format -----------------------------------------------------------------

constexpr char kLibcpuidTwoCpus[] = R"(version=0.6.2

_________________ Logical CPU #0 _________________
basic_cpuid[0]=00000004 68747541 444d4163 69746e65
basic_cpuid[1]=00a00f11 00020800 7ef8320b 178bfbff
basic_cpuid[2]=00000000 00000000 00000000 00000000
basic_cpuid[3]=00000000 00000000 00000000 00000000
basic_cpuid[4]=00000000 00000000 00000000 00000000
basic_cpuid[5]=00000040 00000040 00000003 00000011
basic_cpuid[6]=00000004 00000000 00000000 00000000
ext_cpuid[0]=80000001 68747541 444d4163 69746e65
ext_cpuid[1]=00a00f11 40000000 75c237ff 2fd3fbff
ext_cpuid[2]=20444d41 43595045 31373720 36362033
intel_fn4[0]=00000121 01c0003f 0000003f 00000000
intel_fn4[1]=00000122 01c0003f 0000003f 00000000
intel_fn11[0]=00000001 00000002 00000100 00000000
amd_fn8000001dh[0]=00004121 01c0003f 0000003f 00000000

_________________ Logical CPU #1 _________________
basic_cpuid[0]=00000004 68747541 444d4163 69746e65
basic_cpuid[1]=00a00f11 01020800 7ef8320b 178bfbff
ext_cpuid[0]=80000001 68747541 444d4163 69746e65
ext_cpuid[1]=00a00f11 40000000 75c237ff 2fd3fbff
)";

TEST(ImportDumpLibcpuid, ReadsEveryCpuAndDropsRowsPastTheMaximumLeaf) {
  auto r = import_libcpuid(kLibcpuidTwoCpus);
  ASSERT_TRUE(r.ok()) << r.error().detail;
  const Snapshot& s = *r;
  EXPECT_EQ(s.origin, "import:libcpuid");
  EXPECT_EQ(s.msr_backend, "none");
  ASSERT_EQ(s.cpus.size(), 2u);
  EXPECT_EQ(s.online_cpus, (std::vector<unsigned>{0, 1}));
  const CpuRecord& c0 = s.cpus[0];
  EXPECT_EQ(c0.cpuid_reg(1, 0, Reg::ecx), 0x7ef8320bu);
  EXPECT_EQ(c0.cpuid_bit(0x80000001, 0, Reg::ecx, 2), true);  // SVM
  EXPECT_EQ(c0.cpuid_reg(4, 1, Reg::eax), 0x122u);             // intel_fn4[1] is CPUID(4,1)
  EXPECT_EQ(c0.cpuid_reg(4, 0, Reg::eax), 0x121u);             // the table wins over basic_cpuid[4]
  EXPECT_EQ(c0.find_cpuid(5), nullptr);                        // past CPUID.0:EAX = 4
  EXPECT_EQ(c0.find_cpuid(0xb), nullptr);                      // intel_fn11 past the maximum too
  EXPECT_EQ(c0.find_cpuid(0x80000002), nullptr);               // past CPUID.80000000h:EAX
  EXPECT_EQ(c0.find_cpuid(0x8000001d), nullptr);
  EXPECT_EQ(s.cpus[1].cpuid_reg(1, 0, Reg::ebx), 0x01020800u);
  EXPECT_TRUE(std::is_sorted(c0.cpuid.begin(), c0.cpuid.end(), [](const auto& a, const auto& b) {
    return std::tie(a.leaf, a.subleaf) < std::tie(b.leaf, b.subleaf);
  }));
  // No MSRs in this format: the KVM-relevant ones are there, as unavailable.
  for (const auto& c : s.cpus) {
    ASSERT_NE(c.find_msr(0xc0010114), nullptr);
    EXPECT_EQ(c.find_msr(0xc0010114)->status, ReadStatus::unavailable);
    EXPECT_EQ(c.find_msr(0x3a)->status, ReadStatus::unavailable);
    EXPECT_FALSE(c.xcr0.has_value());
  }
  EXPECT_TRUE(has_note(s, "libcpuid 0.6.2"));
  EXPECT_TRUE(has_note(s, "unknown"));
  EXPECT_TRUE(has_note(s, "(7,1)"));
  EXPECT_TRUE(has_note(s, "past the maximum"));
}

TEST(ImportDumpLibcpuid, TestFileWithoutHeaderAndWithExpectedOutput) {
  std::string text =
      "basic_cpuid[0]=0000000d 756e6547 6c65746e 49656e69\n"
      "basic_cpuid[1]=000306c3 00100800 7ffafbff bfebfbff\n"
      "basic_cpuid[2]=ffffffff ffffffff ffffffff ffffffff\n"
      "ext_cpuid[0]=80000008 00000000 00000000 00000000\n" +
      std::string(80, '-') + "\nx86\ngeneral\n6\n60\nbasic_cpuid[7]=1 2 3 4\n";
  auto r = import_dump_auto(text);
  ASSERT_TRUE(r.ok()) << r.error().detail;
  ASSERT_EQ(r->cpus.size(), 1u);
  EXPECT_EQ(r->cpus[0].cpuid_bit(1, 0, Reg::ecx, 5), true);  // VMX
  EXPECT_EQ(r->cpus[0].find_cpuid(2), nullptr);              // ffffffff row = missing
  EXPECT_EQ(r->cpus[0].find_cpuid(7), nullptr);              // below the separator: ignored
  EXPECT_TRUE(has_note(*r, "marked missing"));
}

TEST(ImportDumpLibcpuid, UnknownAndMalformedLinesAreNotedNotFatal) {
  auto r = import_libcpuid(
      "basic_cpuid[0]=00000001 756e6547 6c65746e 49656e69\n"
      "basic_cpuid[1]=000306c3 00100800 7ffafbff\n"
      "amd_fn80000026h[0]=00000001 00000002 00000003 00000004\n"
      "arm_midr=0000000000000000\n"
      "basic_cpuid[99999999999]=1 2 3 4\n");
  ASSERT_TRUE(r.ok()) << r.error().detail;
  EXPECT_EQ(r->cpus[0].find_cpuid(1), nullptr);
  EXPECT_TRUE(has_note(*r, "skipped 3 lines not understood (first at line 2)")) << ::testing::PrintToString(r->notes);
}

// ---- AIDA64 family ----------------------------------------------------------------------------

constexpr char kAida64[] = R"(------[ Versions ]------

Program Version : AIDA64 Engineer v6.50.5819 Beta

------[ CPU Info ]------

CPUID Manufacturer: GenuineIntel
CPUID Revision    : 00050654h

------[ CPUID Registers / Logical CPU #0 ]------

CPUID 00000000: 00000016-756E6547-6C65746E-49656E69 [GenuineIntel]
CPUID 00000001: 00050654-00400800-7FFEFBFF-BFEBFBFF
CPUID 00000004: 7C004121-01C0003F-0000003F-00000000 [SL 00] [L1D: 32 KB]
CPUID 00000004: 7C004122-01C0003F-0000003F-00000000 [SL 01] [L1I: 32 KB]
CPUID 0000000D: 000002FF-00000A80-00000A88-00000000 [SL 00] [x87]
CPUID 0000000D: 0000000F-00000A80-00000100-00000000 [SL 01] [SSE]
CPUID 0000000D: 00000008-00000A80-00000000-00000000 [SL 09] [PKRU]
CPUID 80000000: 80000008-00000000-00000000-00000000
CPUID 80000006: 00000000-00000000-01006040-00000000 [L2: 256 KB] / L3: 0 KB]

------[ CPUID Registers / Logical CPU #1 Virtual ]------

CPUID 00000000: 00000016-756E6547-6C65746E-49656E69 [GenuineIntel]
CPUID 00000001: 00050654-01400800-7FFEFBFF-BFEBFBFF
CPUID 0000000D: 00000100-00000240-00000000-00000000 [SL 0A]

------[ MSR Registers / Logical CPU #0 ]------

MSR 0000003A: 0000-0000-0000-0005
MSR 000000E7: 0000-0007-329C-924A [S200]
MSR 000000E7: 0000-0007-32C7-8040
MSR 00000480: 00DA-0400-0000-0004
MSR 00000491: < FAILED >

------[ MSR Registers / Logical CPU #1 ]------

------[ MSR Registers / Logical CPU # Clock (TSC),3094 MHz ]------

MSR 00000480: 00DA-0400-0000-0004 [comment] [another]
MSR 0000048B: 025F-7FFF-0000-0000
)";

TEST(ImportDumpAida64, ReadsSubleavesCommentsAndMsrSections) {
  auto r = import_aida64(kAida64);
  ASSERT_TRUE(r.ok()) << r.error().detail;
  const Snapshot& s = *r;
  EXPECT_EQ(s.origin, "import:aida64");
  ASSERT_EQ(s.cpus.size(), 2u);
  const CpuRecord& c0 = s.cpus[0];
  EXPECT_EQ(c0.cpuid_reg(0xd, 9, Reg::eax), 0x8u);
  EXPECT_EQ(c0.cpuid_reg(0xd, 1, Reg::eax), 0xfu);
  EXPECT_EQ(c0.cpuid_reg(4, 1, Reg::eax), 0x7c004122u);
  EXPECT_EQ(c0.cpuid_reg(0x80000006, 0, Reg::ecx), 0x01006040u);
  EXPECT_EQ(s.cpus[1].cpuid_reg(0xd, 0xa, Reg::eax), 0x100u);  // "[SL 0A]" is hex
  ASSERT_NE(c0.find_msr(0x3a), nullptr);
  EXPECT_EQ(c0.find_msr(0x3a)->status, ReadStatus::value);
  EXPECT_EQ(c0.find_msr(0x3a)->value, 0x5u);
  EXPECT_EQ(c0.find_msr(0xe7)->value, 0x7'32c7'8040u);  // the last sample wins
  EXPECT_EQ(c0.find_msr(0x480)->value, 0x00da'0400'0000'0004u);
  EXPECT_EQ(c0.find_msr(0x491)->status, ReadStatus::fault);
  EXPECT_EQ(c0.find_msr(0x48b)->status, ReadStatus::unavailable);
  // CPU #1's MSRs continue under the numberless "Logical CPU # Clock" sub-header.
  EXPECT_EQ(s.cpus[1].find_msr(0x48b)->value, 0x025f'7fff'0000'0000u);
  EXPECT_EQ(s.cpus[1].find_msr(0x3a)->status, ReadStatus::unavailable);
  EXPECT_TRUE(has_note(s, "MSR sections on 2 of 2 CPUs"));
  EXPECT_TRUE(has_note(s, "AIDA64"));
}

TEST(ImportDumpAida64, EverestRepeatedLeavesAreSubleavesInOrder) {
  auto r = import_dump_auto(
      "CPUID Registers (CPU #1):\n"
      "CPUID 00000000  \t0000000B-756E6547-6C65746E-49656E69\n"
      "CPUID 00000004 :3C004121-01C0003F-0000003F-00000000\n"
      "CPUID 00000004 :3C004122-01C0003F-0000003F-00000000\n"
      "CPUID 00000004 :3C004143-01C0003F-000001FF-00000000\n"
      " \n"
      "CPUID Registers (CPU #2 Virtual):\n"
      "CPUID 00000000: 0000000B-756E6547-6C65746E-49656E69\n"
      "MSR Registers (CPU #0):\n"
      "MSR 0000003A  \t0000-0000-0000-0001\n");
  ASSERT_TRUE(r.ok()) << r.error().detail;
  ASSERT_EQ(r->cpus.size(), 2u);
  EXPECT_EQ(r->cpus[0].cpuid_reg(4, 2, Reg::eax), 0x3c004143u);
  EXPECT_TRUE(has_note(*r, "Everest"));
  // The MSR section names CPU #0, which no CPUID section has: ignored, with a note.
  EXPECT_EQ(r->cpus[0].find_msr(0x3a)->status, ReadStatus::unavailable);
  EXPECT_TRUE(has_note(*r, "ignored 1 MSR sections"));
}

TEST(ImportDumpAida64, BareLinesSplitCpusAtRepeatedLeafZero) {
  auto r = import_dump_auto(
      "CPUID 00000000: 00000001 68747541 444D4163 69746E65\n"
      "CPUID 00000001: 00000534-00000000-00000000-000021BF\n"
      "\n"
      "CPUID 00000000  \t00000001-68747541-444D4163-69746E65\n"
      "CPUID 00000001 : 00000534 00000001 00000000 000021BF\n");
  ASSERT_TRUE(r.ok()) << r.error().detail;
  ASSERT_EQ(r->cpus.size(), 2u);
  EXPECT_EQ(r->cpus[1].cpuid_reg(1, 0, Reg::ebx), 1u);
  EXPECT_TRUE(has_note(*r, "bare CPUID lines"));
}

TEST(ImportDumpAida64, InstLatHeadersAndEmptySectionsGiveOneCpuEach) {
  auto r = import_dump_auto(
      "CPU#000 AffMask: 0x0000000000000001\n"
      "CPUID 00000000: 0000000D-68747541-444D4163-69746E65\n"
      "CPU#001 AffMask: 0x0000000000000002\n"
      "CPU#002 AffMask: 0x0000000000000004\n"
      "CPUID 00000000: 0000000D-68747541-444D4163-69746E65\n"
      "Group: 0x00 Affinity mask: 0x0000000000000008\n"
      "CPUID 00000000: 0000000D-68747541-444D4163-69746E65\n");
  ASSERT_TRUE(r.ok()) << r.error().detail;
  EXPECT_EQ(r->cpus.size(), 3u);
}

TEST(ImportDumpAida64, MalformedLinesAreCountedNotFatal) {
  auto r = import_aida64(
      "------[ CPUID Registers / Logical CPU #0 ]------\n"
      "CPUID 00000000: 0000000D-68747541-444D4163-69746E65\n"
      "CPUID 00000001: 00000534-0000\n"
      "CPUID 00000007: 00000000-00000000-00000000-00000000 [SL zz]\n"
      "CPUID CPU Name : not a register line\n"
      "------[ MSR Registers / Logical CPU #0 ]------\n"
      "MSR 0000003A: 0000-0005\n");
  ASSERT_TRUE(r.ok()) << r.error().detail;
  EXPECT_TRUE(has_note(*r, "skipped 3 malformed CPUID/MSR lines (first at line 3)"));
}

// ---- detection, errors, limits, files ---------------------------------------------------------

TEST(ImportDump, DetectsEachFormat) {
  EXPECT_EQ(detect_dump_format(kLibcpuidTwoCpus), DumpFormat::libcpuid);
  EXPECT_EQ(detect_dump_format(kAida64), DumpFormat::aida64);
  EXPECT_EQ(detect_dump_format("CPUID 00000000: 00000001-68747541-444D4163-69746E65\n"),
            DumpFormat::aida64);
  EXPECT_EQ(detect_dump_format("hello\nworld\n"), std::nullopt);
}

TEST(ImportDump, BadInputsAreBadInput) {
  struct Case {
    std::string text;
    std::string message;
  } cases[] = {
      {"", "dump is empty"},
      {" \n\r\n", "dump is empty"},
      {std::string(80, '-') + "\nCPUID 00000000: 00000001-68747541-444D4163-69746E65\n", "dump is empty"},
      {"just some text\n", "not a CPUID dump"},
      {"------[ Versions ]------\nProgram Version : AIDA64\n", "no CPUID data found"},
  };
  for (const auto& c : cases) {
    auto r = import_dump_auto(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().kind, ErrorKind::bad_input);
    EXPECT_NE(r.error().detail.find(c.message), std::string::npos) << r.error().detail;
  }
  auto r = import_libcpuid("nothing here\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().detail.find("no CPUID data found"), std::string::npos);
}

TEST(ImportDump, LimitsOnCpusAndLeaves) {
  std::string many_cpus;
  for (int i = 0; i < 8193; ++i) many_cpus += "CPUID 00000000: 00000001-68747541-444D4163-69746E65\n";
  auto r = import_dump_auto(many_cpus);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::bad_input);
  EXPECT_NE(r.error().detail.find("more than 8192 logical CPUs"), std::string::npos);

  std::string many_leaves = "CPUID 00000000: 00000001-68747541-444D4163-69746E65\n";
  for (int i = 0; i < 4100; ++i) many_leaves += "CPUID 00000007: 00000000-00000000-00000000-00000000\n";
  r = import_dump_auto(many_leaves);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().detail.find("more than 4096 CPUID leaves"), std::string::npos);
}

TEST(ImportDump, RandomBytesNeverCrash) {
  std::mt19937 rng(12345);
  const std::string seeds[] = {kLibcpuidTwoCpus, kAida64};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  int runs = 0;
  while (std::chrono::steady_clock::now() < deadline && runs < 20000) {
    std::string t = seeds[runs % 2];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits && !t.empty(); ++e) {
      std::size_t pos = rng() % t.size();
      switch (rng() % 4) {
        case 0: t[pos] = static_cast<char>(rng()); break;
        case 1: t.erase(pos, rng() % 64); break;
        case 2: t.insert(pos, t.substr(rng() % t.size(), rng() % 128)); break;
        default: t.insert(pos, 1, "\n[]-:# ffSL"[rng() % 11]); break;
      }
    }
    auto r = import_dump_auto(t);
    if (!r.ok()) {
      EXPECT_EQ(r.error().kind, ErrorKind::bad_input) << r.error().detail;
    }
    ++runs;
  }
  EXPECT_GT(runs, 100);
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "kvmprobe-import-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  fs::path operator/(const std::string& name) const { return fs::path(path_) / name; }

 private:
  std::string path_;
};

TEST(ImportDump, FilesMayBeXzCompressed) {
  TempDir dir;
  const fs::path plain = dir / "dump.txt";
  std::ofstream(plain) << kAida64;
  ASSERT_EQ(std::system(("xz -kc '" + plain.string() + "' > '" + plain.string() + ".xz'").c_str()), 0);
  auto a = import_dump_file(plain.string());
  auto b = import_dump_file(plain.string() + ".xz");
  auto c = import_aida64_file(plain.string() + ".xz");
  ASSERT_TRUE(a.ok()) << a.error().detail;
  ASSERT_TRUE(b.ok()) << b.error().detail;
  ASSERT_TRUE(c.ok()) << c.error().detail;
  EXPECT_EQ(snapshot_to_text(*a), snapshot_to_text(*b));

  auto missing = import_dump_file((dir / "nope.txt").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::bad_input);
  EXPECT_NE(missing.error().detail.find("No such file or directory"), std::string::npos);

  const fs::path corrupt = dir / "corrupt.xz";
  std::string xz = read_text(plain.string() + ".xz");
  xz.resize(xz.size() / 2);
  std::ofstream(corrupt, std::ios::binary) << xz;
  auto bad = import_libcpuid_file(corrupt.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::bad_input);
  EXPECT_NE(bad.error().detail.find("not a valid xz file"), std::string::npos) << bad.error().detail;
}

TEST(ImportDump, CpuidToolSaveOutputOfThisHostImports) {
  KVMPROBE_REQUIRE_TOOL("cpuid_tool", "cpuidtool");
  TempDir dir;
  const fs::path raw = dir / "raw.txt";
  ASSERT_EQ(std::system(("cpuid_tool --quiet --save='" + raw.string() + "' >/dev/null 2>&1").c_str()), 0);
  auto r = import_dump_file(raw.string());
  ASSERT_TRUE(r.ok()) << r.error().detail;
  EXPECT_EQ(r->origin, "import:libcpuid");
  ASSERT_GE(r->cpus.size(), 1u);
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  __cpuid(0, eax, ebx, ecx, edx);
  for (const auto& c : r->cpus) {
    EXPECT_EQ(c.cpuid_reg(0, 0, Reg::eax), eax);
    EXPECT_EQ(c.cpuid_reg(0, 0, Reg::ebx), ebx);  // the vendor string
    EXPECT_NE(c.find_cpuid(1), nullptr);
  }
}

// ---- the real dumps in ../shared/data ---------------------------------------------------------

using Row = std::vector<std::string>;

std::vector<Row> read_tsv(const fs::path& p) {
  std::vector<Row> rows;
  std::istringstream in(read_text(p));
  std::string line;
  while (std::getline(in, line)) {
    Row row;
    std::size_t start = 0;
    for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1)
      row.push_back(line.substr(start, tab - start));
    row.push_back(line.substr(start));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::size_t column(const Row& header, const std::string& name) {
  for (std::size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return i;
  ADD_FAILURE() << "no column " << name;
  return 0;
}

class ImportDumpSharedData : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    dir_ = kvmprobe::testing::shared_data_dir();
    if (dir_.empty()) GTEST_SKIP() << "no shared data directory (../shared/data or $KVMPROBE_SHARED_DATA)";
  }
  fs::path dir_;
};

TEST_P(ImportDumpSharedData, EveryDumpImportsWithItsCpusAndVirtualizationBits) {
  const fs::path folder = dir_ / GetParam();
  auto rows = read_tsv(folder / "INDEX.tsv");
  ASSERT_GT(rows.size(), 1u);
  const Row& h = rows[0];
  const std::size_t c_file = column(h, "file"), c_format = column(h, "format"),
                    c_cpus = column(h, "logical_cpus_dumped"), c_vmx = column(h, "vmx"),
                    c_svm = column(h, "svm"), c_msr_cpus = column(h, "msr_cpus"), c_leaf1 = column(h, "leaf1_eax"),
                    c_max_basic = column(h, "max_basic_leaf"), c_leaf7_1 = column(h, "has_leaf7_sub1"),
                    c_leafd_1 = column(h, "has_leafD_sub1"), c_xcr0 = column(h, "xcr0_supported_mask"),
                    c_types = column(h, "distinct_core_types");
  std::map<std::string, int> per_format;
  std::size_t files = 0, cpus = 0, with_msrs = 0;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const Row& row = rows[i];
    if (row.size() < h.size()) continue;
    SCOPED_TRACE(row[c_file]);
    auto r = import_dump_file((folder / row[c_file]).string());
    ASSERT_TRUE(r.ok()) << r.error().detail;
    ++files;
    ++per_format[row[c_format]];
    cpus += r->cpus.size();
    EXPECT_EQ(r->cpus.size(), std::stoul(row[c_cpus])) << "format " << row[c_format];
    const CpuRecord* boot = r->boot_cpu();
    ASSERT_NE(boot, nullptr);
    EXPECT_EQ(boot->cpuid_bit(1, 0, Reg::ecx, 5).value_or(false), row[c_vmx] == "1");
    EXPECT_EQ(boot->cpuid_bit(0x80000001, 0, Reg::ecx, 2).value_or(false), row[c_svm] == "1");
    EXPECT_EQ(r->origin, row[c_format] == "libcpuid_native" ? "import:libcpuid" : "import:aida64");
    EXPECT_EQ(boot->cpuid_reg(1, 0, Reg::eax), std::stoul(row[c_leaf1], nullptr, 16));
    EXPECT_EQ(boot->cpuid_reg(0, 0, Reg::eax), std::stoul(row[c_max_basic], nullptr, 16));
    EXPECT_EQ(boot->find_cpuid(7, 1) != nullptr, row[c_leaf7_1] == "1");
    EXPECT_EQ(boot->find_cpuid(0xd, 1) != nullptr, row[c_leafd_1] == "1");
    if (!row[c_xcr0].empty()) {
      std::uint64_t mask = (std::uint64_t{boot->cpuid_reg(0xd, 0, Reg::edx).value_or(0)} << 32) |
                           boot->cpuid_reg(0xd, 0, Reg::eax).value_or(0);
      EXPECT_EQ(mask, std::stoull(row[c_xcr0], nullptr, 16));
    }
    // Hybrid parts (P/E cores) and mixed steppings: each CPU keeps its own CPUID.
    std::set<std::pair<std::uint32_t, std::uint32_t>> core_types;
    for (const auto& c : r->cpus)
      core_types.emplace(c.cpuid_reg(1, 0, Reg::eax).value_or(0), c.cpuid_reg(0x1a, 0, Reg::eax).value_or(0) >> 24);
    EXPECT_EQ(core_types.size(), std::stoul(row[c_types])) << "distinct core types";
    std::size_t msr_cpus = 0;
    for (const auto& c : r->cpus)
      msr_cpus += std::any_of(c.msrs.begin(), c.msrs.end(),
                              [](const MsrRead& m) { return m.status != ReadStatus::unavailable; });
    // INDEX.tsv counts 0 for two dumps whose MSR sections it did not recognise (Everest's
    // "MSR Registers (CPU #N):" and AIDA64's numberless "Logical CPU # Clock" sub-headers).
    if (c_msr_cpus < row.size() && !row[c_msr_cpus].empty() && row[c_msr_cpus] != "0") {
      EXPECT_EQ(msr_cpus, std::stoul(row[c_msr_cpus])) << "CPUs with MSRs";
    }
    with_msrs += msr_cpus > 0;
  }
  std::cout << "[ shared   ] " << GetParam() << ": " << files << " dumps, " << cpus
            << " logical CPUs, " << with_msrs << " with MSRs;";
  for (const auto& [format, n] : per_format) std::cout << " " << format << "=" << n;
  std::cout << "\n";
}

INSTANTIATE_TEST_SUITE_P(ImportDumpShared, ImportDumpSharedData,
                         ::testing::Values("libcpuid-tests", "libcpuid-tests-recovered", "instlatx64-cpuid"),
                         [](const ::testing::TestParamInfo<const char*>& p) {
                           std::string n = p.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

/// The MSR in a MSR_VALUES.tsv column ("MSR_48B" -> 0x48b).
std::uint32_t msr_of_column(const std::string& name) {
  return static_cast<std::uint32_t>(std::stoul(name.substr(4), nullptr, 16));
}

TEST(ImportDumpSharedMsrs, InstLatMsrValuesMatchTheTable) {
  const fs::path dir = kvmprobe::testing::shared_data_dir();
  if (dir.empty()) GTEST_SKIP() << "no shared data directory (../shared/data or $KVMPROBE_SHARED_DATA)";
  const fs::path folder = dir / "instlatx64-cpuid";
  auto rows = read_tsv(folder / "MSR_VALUES.tsv");
  ASSERT_GT(rows.size(), 1u);
  const Row& h = rows[0];
  const std::size_t c_file = column(h, "file"), c_cpu = column(h, "logical_cpu");
  std::map<std::string, std::vector<const Row*>> by_file;
  for (std::size_t i = 1; i < rows.size(); ++i)
    if (rows[i].size() == h.size()) by_file[rows[i][c_file]].push_back(&rows[i]);
  std::size_t checked = 0;
  for (const auto& [file, file_rows] : by_file) {
    SCOPED_TRACE(file);
    auto r = import_dump_file((folder / file).string());
    ASSERT_TRUE(r.ok()) << r.error().detail;
    // A row holds for its CPU and every later one until the next row (the table only adds a
    // row when a later logical CPU differs) ...
    for (std::size_t cpu = 0; cpu < r->cpus.size(); ++cpu) {
      const Row* expected = nullptr;
      for (const Row* row : file_rows)
        if (std::stoul((*row)[c_cpu]) <= cpu) expected = row;
      // ... among the CPUs that have an MSR section (a plain "MSR Registers" is the boot CPU's).
      const auto& msrs = r->cpus[cpu].msrs;
      bool dumped = std::any_of(msrs.begin(), msrs.end(),
                                [](const MsrRead& m) { return m.status != ReadStatus::unavailable; });
      if (!expected || !dumped) continue;
      for (std::size_t col = c_cpu + 1; col < h.size(); ++col) {
        const std::string& want = (*expected)[col];
        const MsrRead* got = r->cpus[cpu].find_msr(msr_of_column(h[col]));
        SCOPED_TRACE("CPU " + std::to_string(cpu) + " " + h[col]);
        if (want.empty()) {
          EXPECT_TRUE(!got || got->status == ReadStatus::unavailable);
        } else if (want == "FAILED") {
          ASSERT_NE(got, nullptr);
          EXPECT_EQ(got->status, ReadStatus::fault);
        } else {
          ASSERT_NE(got, nullptr);
          ASSERT_EQ(got->status, ReadStatus::value);
          EXPECT_EQ(got->value, std::stoull(want, nullptr, 16));
          ++checked;
        }
      }
    }
  }
  std::cout << "[ shared   ] MSR_VALUES.tsv: " << by_file.size() << " dumps, " << checked
            << " MSR values checked\n";
  EXPECT_GT(checked, 1000u);
}

// ---- recorded snapshot fixtures (tests/data/snapshots) ----------------------------------------

/// A fixture: a real dump, cut to its first two CPUs, plus MSR values from MSR_VALUES.tsv or set
/// by hand. Provenance is in tests/data/snapshots/README.md and in each fixture's notes.
struct FixtureSpec {
  const char* file;        ///< under tests/data/snapshots
  const char* source;      ///< under the shared data directory
  const char* vmx_row;     ///< MSR_VALUES.tsv "file" whose logical CPU 0 row gives 0x480.., or nullptr
  std::vector<std::pair<std::uint32_t, std::uint64_t>> msrs;  ///< set by hand on both CPUs
  const char* why;         ///< the note saying what was set by hand and why
};

const FixtureSpec kFixtures[] = {
    {"amd-epyc-7713-svm.json", "libcpuid-tests-recovered/from-history/amd/zen3/epyc-milan.test", nullptr,
     {{0xc0010114, 0x0}},
     "fixture: VM_CR (0xc0010114) = 0x0 set by hand (SVM allowed, not locked); no dump records VM_CR"},
    {"intel-xeon-8180-skylake-sp-vmx.json",
     "libcpuid-tests-recovered/from-history/intel/skylake/skylake-sp-xeon-platinum.test",
     "GenuineIntel/GenuineIntel0050654_SkylakeXeon_20_CPUID.txt.xz", {{0x3a, 0x5}},
     "fixture: IA32_FEATURE_CONTROL (0x3a) = 0x5 set by hand (locked, VMX outside SMX on); "
     "AIDA64 does not dump 0x3a on Intel"},
    {"intel-core-i7-8700k-vmx-locked-off.json", "libcpuid-tests/intel/x86-64/skylake/intel-core-i7-8700k-cpu.test",
     "GenuineIntel/GenuineIntel00906EA_Coffeelake_CPUID.txt.xz", {{0x3a, 0x1}},
     "fixture: IA32_FEATURE_CONTROL (0x3a) = 0x1 set by hand (locked with VMX off, as firmware "
     "leaves it when virtualization is disabled in its setup)"},
    {"amd-epyc-7742-svm-disabled-locked.json", "libcpuid-tests-recovered/from-history/amd/zen2/epyc-rome.test",
     nullptr, {{0xc0010114, 0x18}},
     "fixture: VM_CR (0xc0010114) = 0x18 set by hand (SVMDIS and LOCK: SVM disabled by firmware); "
     "no dump records VM_CR"},
};

Result<Snapshot> build_fixture(const FixtureSpec& spec, const fs::path& shared) {
  auto r = import_dump_file((shared / spec.source).string());
  if (!r) return r;
  Snapshot s = std::move(*r);
  const std::size_t dumped = s.cpus.size();
  s.cpus.resize(std::min<std::size_t>(dumped, 2));
  s.online_cpus.resize(s.cpus.size());
  s.hostname = std::string(spec.file).substr(0, std::string(spec.file).size() - 5);
  s.tool_version = "fixture";
  s.msr_backend = "msr";
  s.is_root = true;
  std::vector<std::string> notes;
  for (auto& n : s.notes)
    if (n.rfind("the dump has no MSRs", 0) != 0) notes.push_back(std::move(n));
  notes.push_back("fixture: kept logical CPUs 0 and 1 of " + std::to_string(dumped) + " (source: " +
                  spec.source + ")");
  if (spec.vmx_row) {
    auto rows = read_tsv(shared / "instlatx64-cpuid" / "MSR_VALUES.tsv");
    const Row& h = rows.at(0);
    const Row* row = nullptr;
    for (const Row& candidate : rows)
      if (candidate.size() == h.size() && candidate[0] == spec.vmx_row && candidate[column(h, "logical_cpu")] == "0")
        row = &candidate;
    if (!row) return make_error(ErrorKind::bad_input, std::string("no MSR_VALUES.tsv row for ") + spec.vmx_row);
    std::vector<std::uint32_t> copied;
    for (std::size_t col = column(h, "MSR_480"); col <= column(h, "MSR_10A"); ++col) {
      const std::string& v = (*row)[col];
      if (v.empty()) continue;
      std::uint32_t index = msr_of_column(h[col]);
      for (auto& cpu : s.cpus) {
        MsrRead* m = nullptr;
        for (auto& x : cpu.msrs)
          if (x.index == index) m = &x;
        if (!m) m = &cpu.msrs.emplace_back(MsrRead{index, ReadStatus::unavailable, 0, 0});
        *m = v == "FAILED" ? MsrRead{index, ReadStatus::fault, 0, 0}
                           : MsrRead{index, ReadStatus::value, std::stoull(v, nullptr, 16), 0};
      }
      copied.push_back(index);
    }
    char range[64];
    std::snprintf(range, sizeof range, "%zu MSRs (0x%x-0x%x)", copied.size(), copied.front(), copied.back());
    notes.push_back("fixture: " + std::string(range) + " copied from InstLatx64 MSR_VALUES.tsv, " +
                    (*row)[column(h, "brand")] + " (CPUID " + (*row)[column(h, "leaf1_eax")] +
                    "), logical CPU 0: same model and stepping, another machine; MSRs that "
                    "table lacks stay unavailable");
  }
  for (auto& cpu : s.cpus)
    for (auto [index, value] : spec.msrs)
      for (auto& m : cpu.msrs)
        if (m.index == index) m = MsrRead{index, ReadStatus::value, value, 0};
  notes.push_back(spec.why);
  s.notes = std::move(notes);
  for (auto& cpu : s.cpus)
    std::sort(cpu.msrs.begin(), cpu.msrs.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  return s;
}

// Set KVMPROBE_UPDATE_FIXTURES=1 to rewrite the fixtures from the shared data.
TEST(ImportDumpFixtures, RecordedSnapshotsMatchTheirSources) {
  const fs::path shared = kvmprobe::testing::shared_data_dir();
  if (shared.empty()) GTEST_SKIP() << "no shared data directory (../shared/data or $KVMPROBE_SHARED_DATA)";
  const char* update = std::getenv("KVMPROBE_UPDATE_FIXTURES");
  for (const auto& spec : kFixtures) {
    SCOPED_TRACE(spec.file);
    auto snap = build_fixture(spec, shared);
    ASSERT_TRUE(snap.ok()) << snap.error().detail;
    const fs::path path = kvmprobe::testing::test_data(std::string("snapshots/") + spec.file);
    // The fixtures stay in format 1: they are also the recorded format-1 files that every
    // later reader must keep loading (SnapshotCompact tests).
    const std::string text = snapshot_to_text(*snap, 1);
    if (update && std::string(update) == "1") {
      std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
      continue;
    }
    EXPECT_EQ(read_text(path), text) << "stale fixture: rerun with KVMPROBE_UPDATE_FIXTURES=1";
  }
}

// The fixtures against facts from outside the importer: tests/data/snapshots/fixtures.reviewed.tsv
// (written by hand from INDEX.tsv, MSR_VALUES.tsv and the README's hand-set values; never written
// by the importer, so KVMPROBE_UPDATE_FIXTURES=1 cannot move it), every row on both CPUs.
TEST(ImportDumpFixtures, RecordedSnapshotsLoadWithTheirKeyFacts) {
  std::map<std::string, Snapshot> loaded;
  for (const auto& spec : kFixtures) {
    auto r = load_snapshot_file(kvmprobe::testing::test_data(std::string("snapshots/") + spec.file).string());
    ASSERT_TRUE(r.ok()) << spec.file << ": " << r.error().detail;
    loaded[spec.file] = std::move(*r);
  }
  std::ifstream in(kvmprobe::testing::test_data("snapshots/fixtures.reviewed.tsv"));
  ASSERT_TRUE(in) << "tests/data/snapshots/fixtures.reviewed.tsv";
  std::map<std::string, unsigned> facts;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string file, fact, want;
    std::getline(fields, file, '\t');
    std::getline(fields, fact, '\t');
    std::getline(fields, want, '\t');
    SCOPED_TRACE(file + " " + fact);
    auto it = loaded.find(file);
    ASSERT_NE(it, loaded.end()) << "not a fixture";
    const Snapshot& s = it->second;
    ++facts[file];
    if (fact == "cpus") {
      EXPECT_EQ(std::to_string(s.cpus.size()), want);
      continue;
    }
    for (const CpuRecord& cpu : s.cpus) {
      SCOPED_TRACE("CPU " + std::to_string(cpu.cpu));
      std::string got;
      if (fact == "vendor") {
        got = vendor_string(cpu);
      } else if (fact == "leaf1_eax") {
        got = fmt::format("{:#010x}", cpu.cpuid_reg(1, 0, Reg::eax).value_or(0));
      } else if (fact == "vmx" || fact == "svm" || fact == "hypervisor") {
        std::optional<bool> b = fact == "vmx" ? cpu.cpuid_bit(1, 0, Reg::ecx, 5)
                                : fact == "svm" ? cpu.cpuid_bit(0x80000001, 0, Reg::ecx, 2)
                                                : cpu.cpuid_bit(1, 0, Reg::ecx, 31);
        got = b ? (*b ? "1" : "0") : "unrecorded";
      } else if (fact.rfind("msr:", 0) == 0) {
        const MsrRead* m = cpu.find_msr(static_cast<std::uint32_t>(std::stoul(fact.substr(4), nullptr, 16)));
        got = !m                                     ? "absent"
              : m->ok()                                ? fmt::format("{:#x}", m->value)
              : m->status == ReadStatus::unavailable ? "unavailable"
                                                     : "fault or denied";
      } else {
        ADD_FAILURE() << "unknown fact";
      }
      EXPECT_EQ(got, want);
    }
  }
  for (const auto& spec : kFixtures) EXPECT_GE(facts[spec.file], 7u) << spec.file << ": reviewed facts";
  EXPECT_EQ(facts["intel-xeon-8180-skylake-sp-vmx.json"], 26u);  // 6 CPUID, 0x3a, 0x480-0x490, 0x491, 0x492
}

}  // namespace
}  // namespace kvmprobe::collect
