// Format 2 (compact) snapshots: round trips from format 1 and from every imported dump, what the
// compact form stores once, and the limits the streaming reader enforces while it reads.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/collect/import_dump.h"
#include "core/collect/snapshot_json.h"
#include "core/collect/snapshot_json_internal.h"
#include "core/collect/snapshot_json_names.h"
#include "tests/support/shared_data.h"
#include "tests/support/synthetic_snapshot.h"

namespace kvmprobe::collect {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using testing::read_text;

/// The first line where the format 1 texts of \a a and \a b differ (a readable diagnostic).
std::string first_difference(const Snapshot& a, const Snapshot& b) {
  std::istringstream x(snapshot_to_text(a, 1)), y(snapshot_to_text(b, 1));
  std::string lx, ly;
  for (int line = 1; bool(std::getline(x, lx)) | bool(std::getline(y, ly)); ++line) {
    if (lx != ly) return "line " + std::to_string(line) + ": " + lx + " | " + ly;
    lx.clear();
    ly.clear();
  }
  return "texts are equal (a field the format does not write differs)";
}

/// \a s and \a t are the same host (the file format they came from aside).
::testing::AssertionResult same_host(Snapshot s, const Snapshot& t) {
  s.format = t.format;
  if (s == t) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << first_difference(s, t);
}

std::uint32_t hex32(const json& v) { return static_cast<std::uint32_t>(std::stoul(v.get<std::string>(), nullptr, 16)); }

// ---- format 1 files still load, and convert to format 2 losslessly -------------------------------

TEST(SnapshotCompact, RecordedFormat1SnapshotsLoadAsWrittenAndRoundTripThroughFormat2) {
  std::size_t files = 0, bytes1 = 0, bytes2 = 0;
  for (const auto& e : fs::directory_iterator(kvmprobe::testing::test_data("snapshots"))) {
    if (e.path().extension() != ".json") continue;
    SCOPED_TRACE(e.path().filename().string());
    const std::string text1 = read_text(e.path());
    auto s1 = load_snapshot_file(e.path().string());
    ASSERT_TRUE(s1.ok()) << s1.error().detail;
    EXPECT_EQ(s1->format, 1);

    // Oracle for "loads identically": the file's own values, read with nlohmann's tree parser.
    const json doc = json::parse(text1);
    ASSERT_EQ(doc["cpus"].size(), s1->cpus.size());
    for (std::size_t i = 0; i < s1->cpus.size(); ++i) {
      const json& c = doc["cpus"][i];
      const CpuRecord& r = s1->cpus[i];
      EXPECT_EQ(c["cpu"].get<unsigned>(), r.cpu);
      ASSERT_EQ(c["cpuid"].size(), r.cpuid.size());
      for (const json& l : c["cpuid"]) {
        const CpuidLeaf* got = r.find_cpuid(hex32(l["leaf"]), hex32(l["subleaf"]));
        ASSERT_NE(got, nullptr);
        EXPECT_EQ(got->eax, hex32(l["eax"]));
        EXPECT_EQ(got->ebx, hex32(l["ebx"]));
        EXPECT_EQ(got->ecx, hex32(l["ecx"]));
        EXPECT_EQ(got->edx, hex32(l["edx"]));
      }
      ASSERT_EQ(c["msrs"].size(), r.msrs.size());
      for (const json& m : c["msrs"]) {
        const MsrRead* got = r.find_msr(hex32(m["index"]));
        ASSERT_NE(got, nullptr);
        EXPECT_EQ(std::string(name_of(got->status)), m["status"].get<std::string>());
        if (m.contains("value")) {
          EXPECT_EQ(got->value, std::stoull(m["value"].get<std::string>(), nullptr, 16));
        }
      }
      EXPECT_EQ(c.contains("linux_flags"), r.linux_flags.has_value());
    }
    EXPECT_EQ(doc["hostname"].get<std::string>(), s1->hostname);
    EXPECT_EQ(doc["kernel_version"].get<std::string>(), s1->kernel_version);

    // The format 1 writer reproduces the file byte for byte: nothing was lost or changed.
    EXPECT_EQ(snapshot_to_text(*s1, 1), text1);

    const std::string text2 = snapshot_to_text(*s1);
    EXPECT_EQ(text2.rfind("{\n  \"schema\": \"kvmprobe.snapshot/2\",\n", 0), 0u);
    auto s2 = parse_snapshot(text2);
    ASSERT_TRUE(s2.ok()) << s2.error().detail;
    EXPECT_EQ(s2->format, 2);
    EXPECT_TRUE(same_host(*s1, *s2));
    EXPECT_EQ(snapshot_to_text(*s2), text2);
    ++files;
    bytes1 += text1.size();
    bytes2 += text2.size();
  }
  EXPECT_GE(files, 16u);
  std::cout << "[ sizes    ] " << files << " recorded snapshots: format 1 " << bytes1 << " bytes, format 2 "
            << bytes2 << " bytes\n";
}

TEST(SnapshotCompact, EveryImportedSharedDumpRoundTripsThroughFormat2) {
  const fs::path dir = kvmprobe::testing::shared_data_dir();
  if (dir.empty()) GTEST_SKIP() << "no shared data directory (../shared/data or $KVMPROBE_SHARED_DATA)";
  std::size_t dumps = 0, cpus = 0, bytes2 = 0;
  for (const char* folder : {"libcpuid-tests", "libcpuid-tests-recovered", "instlatx64-cpuid"}) {
    std::ifstream index(dir / folder / "INDEX.tsv");
    ASSERT_TRUE(index) << folder << "/INDEX.tsv";
    std::string line;
    std::getline(index, line);  // header: the file is the first column
    ASSERT_EQ(line.substr(0, 5), "file\t");
    while (std::getline(index, line)) {
      const std::string file = line.substr(0, line.find('\t'));
      if (file.empty()) continue;
      SCOPED_TRACE(std::string(folder) + "/" + file);
      auto s = import_dump_file((dir / folder / file).string());
      ASSERT_TRUE(s.ok()) << s.error().detail;
      // Format 1 is what the recorded snapshots above cover; here the compact form's grouping
      // meets every real topology (hybrid parts, mixed steppings, odd dumps).
      const std::string text2 = snapshot_to_text(*s);
      auto r2 = parse_snapshot(text2);
      ASSERT_TRUE(r2.ok()) << r2.error().detail;
      EXPECT_TRUE(same_host(*s, *r2));
      ++dumps;
      cpus += s->cpus.size();
      bytes2 += text2.size();
    }
  }
  EXPECT_GT(dumps, 900u);
  std::cout << "[ shared   ] " << dumps << " dumps, " << cpus << " logical CPUs, format 2 " << bytes2 << " bytes\n";
}

// ---- what the compact form stores ------------------------------------------------------------------

Snapshot recorded(const std::string& name) {
  auto s = load_snapshot_file(kvmprobe::testing::test_data("snapshots/" + name).string());
  EXPECT_TRUE(s.ok()) << s.error().detail;
  return s.ok() ? *s : Snapshot{};
}

TEST(SnapshotCompact, IdenticalCpusShareOneSetAndKeepTheirApicIdLeaves) {
  const Snapshot host = kvmprobe::testing::replicate_cpus(recorded("amd-epyc-7713-svm.json"), 64);
  const json doc = snapshot_to_json(host);
  EXPECT_EQ(doc["schema"], "kvmprobe.snapshot/2");
  ASSERT_EQ(doc["cpuid_sets"].size(), 1u);
  ASSERT_EQ(doc["msr_sets"].size(), 1u);
  ASSERT_EQ(doc["cpus"].size(), 64u);
  for (std::size_t i = 0; i < 64; ++i) {
    const json& c = doc["cpus"][i];
    EXPECT_EQ(c["cpuid_set"], 0);
    EXPECT_EQ(c["msr_set"], 0);
    EXPECT_FALSE(c.contains("msrs"));
    for (const json& l : c["cpuid"]) {  // only the leaves that name the CPU
      const std::uint32_t leaf = hex32(l["leaf"]);
      EXPECT_TRUE(leaf == 0x1 || leaf == 0xb || leaf == 0x1f || leaf == 0x8000001e || leaf == 0x80000026)
          << std::hex << leaf;
      if (leaf == 0x1) {
        EXPECT_EQ(hex32(l["ebx"]) >> 24, i);
      }
    }
  }
  for (const json& l : doc["cpuid_sets"][0]) EXPECT_NE(hex32(l["leaf"]), 0x1u);

  const std::size_t size1 = snapshot_to_text(host, 1).size(), size2 = snapshot_to_text(host).size();
  std::cout << "[ sizes    ] 64 CPUs: format 1 " << size1 << " bytes, format 2 " << size2 << " bytes\n";
  EXPECT_LT(size2 * 4, size1);
  auto back = parse_snapshot(snapshot_to_text(host));
  ASSERT_TRUE(back.ok()) << back.error().detail;
  EXPECT_TRUE(same_host(host, *back));
}

TEST(SnapshotCompact, DifferentCpusGetTheirOwnSets) {
  Snapshot host = kvmprobe::testing::replicate_cpus(recorded("intel-xeon-8180-skylake-sp-vmx.json"), 4);
  host.cpus[3].cpuid.back().eax ^= 1;     // a different stepping or microcode
  host.cpus[2].msrs.front().value ^= 4;   // one MSR value differs
  host.cpus[1].linux_flags = std::vector<std::string>{"fpu"};
  host.cpus[0].linux_flags.reset();       // not read on CPU 0
  const json doc = snapshot_to_json(host);
  EXPECT_EQ(doc["cpuid_sets"].size(), 2u);
  EXPECT_EQ(doc["msr_sets"].size(), 2u);
  EXPECT_FALSE(doc["cpus"][0].contains("linux_flags_set"));
  auto back = snapshot_from_json(doc);
  ASSERT_TRUE(back.ok()) << back.error().detail;
  EXPECT_TRUE(same_host(host, *back));
}

// ---- bad format 2 documents -------------------------------------------------------------------------

void expect_bad(const Result<Snapshot>& r, const std::string& message) {
  ASSERT_FALSE(r.ok()) << "expected an error containing: " << message;
  EXPECT_EQ(r.error().kind, ErrorKind::bad_input) << r.error().detail;
  EXPECT_NE(r.error().detail.find(message), std::string::npos) << r.error().detail;
  EXPECT_EQ(r.error().detail.find('\n'), std::string::npos) << r.error().detail;
}

TEST(SnapshotCompact, BadReferencesAndOverlapsAreBadInputNamingThePath) {
  const Snapshot host = kvmprobe::testing::replicate_cpus(recorded("amd-epyc-7713-svm.json"), 3);
  const json good = snapshot_to_json(host);
  struct Case {
    const char* name;
    std::function<void(json&)> mutate;
    std::string message;
  };
  const Case cases[] = {
      {"set out of range", [](json& j) { j["cpus"][2]["cpuid_set"] = 1; },
       "cpus[2].cpuid_set: 1 is not an entry of cpuid_sets (1 entry)"},
      {"msr set out of range", [](json& j) { j["cpus"][1]["msr_set"] = 7; }, "cpus[1].msr_set: 7 is not an entry of msr_sets"},
      {"flags set without table", [](json& j) { j.erase("linux_flags_sets"); j["cpus"][0]["linux_flags_set"] = 0; },
       "cpus[0].linux_flags_set: 0 is not an entry of linux_flags_sets (0 entries)"},
      {"negative set", [](json& j) { j["cpus"][0]["cpuid_set"] = -1; }, "cpus[0].cpuid_set: expected a non-negative integer"},
      {"leaf in both", [](json& j) { j["cpus"][1]["cpuid"].push_back(j["cpuid_sets"][0][0]); },
       "cpus[1].cpuid: leaf 0x0 subleaf 0x0 is also in cpuid_sets[0]"},
      {"msr in both", [](json& j) { j["cpus"][0]["msrs"] = {j["msr_sets"][0][0]}; }, "cpus[0].msrs: MSR 0x3a is also in msr_sets[0]"},
      {"duplicate in a set", [](json& j) { j["cpuid_sets"][0].push_back(j["cpuid_sets"][0][2]); },
       "cpuid_sets[0]["},
      {"bad leaf in a set", [](json& j) { j["cpuid_sets"][0][3]["eax"] = "0x100000000"; },
       "cpuid_sets[0][3].eax: 0x100000000 does not fit in 32 bits"},
      {"set not an array", [](json& j) { j["msr_sets"][0] = json::object(); }, "msr_sets[0]: expected array"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    json j = good;
    c.mutate(j);
    expect_bad(snapshot_from_json(j), c.message);
    expect_bad(parse_snapshot(j.dump()), c.message);
  }
  // Keys may repeat in JSON text; a repeated known key is refused rather than half-merged.
  expect_bad(parse_snapshot(R"({"schema": "kvmprobe.snapshot/2", "cpus": [{"cpu": 0, "cpu": 1}]})"),
             "cpus[0].cpu: duplicate key");
  // Format 1 has no tables: the keys are unknown there and ignored.
  json f1 = snapshot_to_json(host, 1);
  f1["cpus"][0]["cpuid_set"] = 99;
  auto r = snapshot_from_json(f1);
  ASSERT_TRUE(r.ok()) << r.error().detail;
  EXPECT_TRUE(same_host(host, *r));
}

// ---- limits while reading ---------------------------------------------------------------------------

/// Runs \a fn and returns its wall time in milliseconds.
template <typename F>
double millis(F fn) {
  auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

TEST(SnapshotCompact, ASmallFileCannotExpandIntoHugeMemory) {
  // 8192 CPUs referencing one set of 4096 leaves: 33 million leaves (800 MB) from a 1 MB text.
  std::string text = R"({"schema": "kvmprobe.snapshot/2", "cpuid_sets": [[)";
  char leaf[128];
  for (int i = 0; i < 4096; ++i) {
    std::snprintf(leaf, sizeof leaf, R"(%s{"leaf": "0x4", "subleaf": "0x%x", "eax": "0x0", "ebx": "0x0", "ecx": "0x0", "edx": "0x0"})",
                  i ? "," : "", i);
    text += leaf;
  }
  text += "]], \"cpus\": [";
  for (int i = 0; i < 8192; ++i) text += std::string(i ? "," : "") + "{\"cpu\": " + std::to_string(i) + ", \"cpuid_set\": 0}";
  text += "]}";
  Result<Snapshot> r = make_error(ErrorKind::internal, "");
  double ms = millis([&] { r = parse_snapshot(text); });
  expect_bad(r, "more than 2097152 CPUID leaves in all (limit)");
  EXPECT_LT(ms, 2000.0);  // refused before anything is expanded
}

TEST(SnapshotCompact, ManyEmptyStringsHitTheMemoryBudget) {
  // Empty strings cost 2 bytes of text and 32 of memory each. With the real 96 MiB budget this
  // takes millions of them (tests/cli/snapshot_limits.test.sh has the 45 MB file); here the same
  // accounting with a 1 MiB budget: 40 CPUs of 4,096 empty flags.
  std::string cpu_flags = "[";
  for (int i = 0; i < 4096; ++i) cpu_flags += i ? ",\"\"" : "\"\"";
  cpu_flags += "]";
  std::string text = R"({"schema": "kvmprobe.snapshot/1", "cpus": [)";
  for (int i = 0; i < 40; ++i)
    text += std::string(i ? "," : "") + "{\"cpu\": " + std::to_string(i) + ", \"linux_flags\": " + cpu_flags + "}";
  text += "]}";
  auto r = parse_snapshot_text(text, "t.json", true, std::size_t{1} << 20);
  expect_bad(r, "t.json: cpus[7].linux_flags[");
  expect_bad(r, "]: the snapshot needs more than 1 MiB of memory (limit)");
  // The same text within the real budget is fine.
  auto ok = parse_snapshot(text);
  ASSERT_TRUE(ok.ok()) << ok.error().detail;
  EXPECT_EQ(ok->cpus[39].linux_flags->size(), 4096u);
  // Format 2 expansion is charged too: one flag set referenced by 40 CPUs.
  json doc = snapshot_to_json(*ok);
  ASSERT_EQ(doc["linux_flags_sets"].size(), 1u);
  expect_bad(parse_snapshot_text(doc.dump(), "t.json", true, std::size_t{1} << 20),
             "the snapshot needs more than 1 MiB of memory (limit)");
}

TEST(SnapshotCompact, ATopLevelArrayIsCheckedForDepthFirst) {
  expect_bad(parse_snapshot(std::string(70, '[') + std::string(70, ']')), "nested deeper than 64 levels (line 1)");
  expect_bad(parse_snapshot("[1, 2]"), "expected a JSON object at the top level");
  expect_bad(parse_snapshot("{\"schema\": \"kvmprobe.snapshot/2\", \"cpus\": [],\n\"x\": " + std::string(64, '[') +
                            std::string(64, ']') + "}"),
             "nested deeper than 64 levels (line 2)");
}

}  // namespace
}  // namespace kvmprobe::collect
