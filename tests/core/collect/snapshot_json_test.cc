#include "core/collect/snapshot_json.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <tuple>

namespace kvmprobe::collect {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

/// A snapshot with every field set to something other than its default.
Snapshot rich_snapshot() {
  Snapshot s;
  s.origin = "live";
  s.tool_version = "0.1.0";
  s.taken_at = "2026-11-28T13:00:00Z";
  s.hostname = "h\xc3\xb6st-1";  // UTF-8
  s.kernel_release = "6.1.0-26-amd64";
  s.kernel_cmdline = "BOOT_IMAGE=/vmlinuz \"quoted\" back\\slash\ttab kvm_amd.nested=0";
  s.msr_backend = "msr";
  s.is_root = true;
  s.online_cpus = {0, 2};

  CpuRecord c0;
  c0.cpu = 0;
  c0.cpuid = {{0x0, 0x0, 0x16, 0x756e6547, 0x6c65746e, 0x49656e69},
              {0x1, 0x0, 0x50654, 0x400800, 0x7ffefbff, 0xbfebfbff},
              {0xd, 0x3e, 0, 0, 0, 0},
              {0x80000008, 0x0, 0x3028, 0, 0, 0xffffffff}};
  c0.msrs = {{0x3a, ReadStatus::value, 0x5, 0},
             {0x480, ReadStatus::value, 0xffffffffffffffffULL, 0},
             {0xc0010114, ReadStatus::fault, 0, 5}};
  c0.xcr0 = 0x2e7;
  c0.cr0 = 0x80050033;
  c0.cr4 = 0x3726f0;
  c0.efer = 0xd01;
  c0.linux_flags = std::vector<std::string>{"fpu", "vmx", "constant_tsc"};
  c0.cpuid_view = CpuidView::kernel;
  c0.cpuid_instruction_differs = {{0x1, 0x0, 0x50654, 0x400800, 0x7ffefbff, 0xbfebfbfe}};

  CpuRecord c2;
  c2.cpu = 2;
  c2.cpuid = {{0x1, 0x0, 0x50654, 0x2400800, 0x7ffefbff, 0xbfebfbff}};
  c2.msrs = {{0x3a, ReadStatus::denied, 0, 13},
             {0x10a, ReadStatus::unavailable, 0, 0},
             {0x345, ReadStatus::fault, 0, 0},
             {0x480, ReadStatus::value, 0x00da040000000004ULL, 0}};
  c2.linux_flags = std::vector<std::string>{};
  c2.cpuid_view = CpuidView::instruction;
  s.cpus = {c0, c2};

  s.tsc = {{TscSource::kvm_vcpu, 2100000, true, "KVM_GET_TSC_KHZ"},
           {TscSource::kernel_log, 2099999, false, "tsc: Refined TSC clocksource calibration: 2099.999 MHz\n"},
           {TscSource::hypervisor_leaf, 0, false, ""}};
  s.perf = {Tri::yes, "skylake", "/sys/bus/event_source/devices/cpu/caps/pmu_name"};
  s.modules = {{"kvm", {{"nx_huge_pages", "auto"}, {"tdp_mmu", "Y"}}, true}, {"kvm_intel", {}}};
  s.configured_params = {{"kvm_intel.nested", "1"}, {"kvm.ignore_msrs", "Y"}};
  s.param_origins = {{"kvm_intel.nested", "/etc/modprobe.d/kvm.conf"}};
  s.kvm.present = true;
  s.kvm.openable = true;
  s.kvm.misc_registered = true;
  s.kvm.open_error = 13;
  s.kvm.api_version = 12;
  s.kvm.msr_index_list = std::vector<std::uint32_t>{0x10, 0x3a, 0xc0000080};
  s.kvm.feature_msr_list = std::vector<std::uint32_t>{};
  s.kvm.cap_tsc_control = -22;
  s.kvm.vcpu_tsc_khz = 2100000;
  s.kvm.supported_xcr0 = 0x2e7;
  s.kvm.error = "KVM_CREATE_VCPU: Cannot allocate memory";
  s.kernel_log = {"kvm: disabled by bios", "x86/fpu: Enabled xstate features 0x2e7"};
  s.kernel_log_read = true;
  s.notes = {"one", "two"};
  return s;
}

auto leaf_tuple(const CpuidLeaf& l) { return std::tie(l.leaf, l.subleaf, l.eax, l.ebx, l.ecx, l.edx); }
auto msr_tuple(const MsrRead& m) { return std::tie(m.index, m.status, m.value, m.error); }
auto tsc_tuple(const TscCandidate& t) { return std::tie(t.source, t.khz, t.exact, t.detail); }

void expect_same(const Snapshot& a, const Snapshot& b) {
  EXPECT_EQ(a.format, b.format);
  EXPECT_EQ(a.origin, b.origin);
  EXPECT_EQ(a.tool_version, b.tool_version);
  EXPECT_EQ(a.taken_at, b.taken_at);
  EXPECT_EQ(a.hostname, b.hostname);
  EXPECT_EQ(a.kernel_release, b.kernel_release);
  EXPECT_EQ(a.kernel_cmdline, b.kernel_cmdline);
  EXPECT_EQ(a.msr_backend, b.msr_backend);
  EXPECT_EQ(a.is_root, b.is_root);
  EXPECT_EQ(a.online_cpus, b.online_cpus);
  ASSERT_EQ(a.cpus.size(), b.cpus.size());
  for (std::size_t i = 0; i < a.cpus.size(); ++i) {
    const CpuRecord &x = a.cpus[i], &y = b.cpus[i];
    EXPECT_EQ(x.cpu, y.cpu);
    ASSERT_EQ(x.cpuid.size(), y.cpuid.size());
    for (std::size_t j = 0; j < x.cpuid.size(); ++j) EXPECT_TRUE(leaf_tuple(x.cpuid[j]) == leaf_tuple(y.cpuid[j]));
    ASSERT_EQ(x.msrs.size(), y.msrs.size());
    for (std::size_t j = 0; j < x.msrs.size(); ++j) EXPECT_TRUE(msr_tuple(x.msrs[j]) == msr_tuple(y.msrs[j]));
    EXPECT_EQ(x.xcr0, y.xcr0);
    EXPECT_EQ(x.cr0, y.cr0);
    EXPECT_EQ(x.cr4, y.cr4);
    EXPECT_EQ(x.efer, y.efer);
    EXPECT_EQ(x.linux_flags, y.linux_flags);
    EXPECT_EQ(x.cpuid_view, y.cpuid_view);
    ASSERT_EQ(x.cpuid_instruction_differs.size(), y.cpuid_instruction_differs.size());
    for (std::size_t j = 0; j < x.cpuid_instruction_differs.size(); ++j)
      EXPECT_TRUE(leaf_tuple(x.cpuid_instruction_differs[j]) == leaf_tuple(y.cpuid_instruction_differs[j]));
  }
  ASSERT_EQ(a.tsc.size(), b.tsc.size());
  for (std::size_t i = 0; i < a.tsc.size(); ++i) EXPECT_TRUE(tsc_tuple(a.tsc[i]) == tsc_tuple(b.tsc[i]));
  EXPECT_EQ(a.perf.hw_pmu, b.perf.hw_pmu);
  EXPECT_EQ(a.perf.pmu_name, b.perf.pmu_name);
  EXPECT_EQ(a.perf.evidence, b.perf.evidence);
  ASSERT_EQ(a.modules.size(), b.modules.size());
  for (std::size_t i = 0; i < a.modules.size(); ++i) {
    EXPECT_EQ(a.modules[i].name, b.modules[i].name);
    EXPECT_EQ(a.modules[i].params, b.modules[i].params);
    EXPECT_EQ(a.modules[i].builtin, b.modules[i].builtin);
  }
  EXPECT_EQ(a.configured_params, b.configured_params);
  EXPECT_EQ(a.param_origins, b.param_origins);
  EXPECT_EQ(a.kvm.present, b.kvm.present);
  EXPECT_EQ(a.kvm.openable, b.kvm.openable);
  EXPECT_EQ(a.kvm.misc_registered, b.kvm.misc_registered);
  EXPECT_EQ(a.kvm.open_error, b.kvm.open_error);
  EXPECT_EQ(a.kvm.api_version, b.kvm.api_version);
  EXPECT_EQ(a.kvm.msr_index_list, b.kvm.msr_index_list);
  EXPECT_EQ(a.kvm.feature_msr_list, b.kvm.feature_msr_list);
  EXPECT_EQ(a.kvm.cap_tsc_control, b.kvm.cap_tsc_control);
  EXPECT_EQ(a.kvm.vcpu_tsc_khz, b.kvm.vcpu_tsc_khz);
  EXPECT_EQ(a.kvm.supported_xcr0, b.kvm.supported_xcr0);
  EXPECT_EQ(a.kvm.error, b.kvm.error);
  EXPECT_EQ(a.kernel_log, b.kernel_log);
  EXPECT_EQ(a.kernel_log_read, b.kernel_log_read);
  EXPECT_EQ(a.notes, b.notes);
}

void expect_bad_input(const Result<Snapshot>& r, const std::string& message) {
  ASSERT_FALSE(r.ok()) << "expected an error containing: " << message;
  EXPECT_EQ(r.error().kind, ErrorKind::bad_input) << r.error().detail;
  EXPECT_NE(r.error().detail.find(message), std::string::npos) << r.error().detail;
  EXPECT_EQ(r.error().detail.find('\n'), std::string::npos) << "not one line: " << r.error().detail;
}

// ---- round trip -------------------------------------------------------------------------------

TEST(SnapshotJson, RichSnapshotRoundTripsThroughJsonAndText) {
  const Snapshot s = rich_snapshot();
  auto from_doc = snapshot_from_json(snapshot_to_json(s));
  ASSERT_TRUE(from_doc.ok()) << from_doc.error().detail;
  expect_same(s, *from_doc);
  const std::string text = snapshot_to_text(s);
  auto from_text = parse_snapshot(text);
  ASSERT_TRUE(from_text.ok()) << from_text.error().detail;
  expect_same(s, *from_text);
  EXPECT_EQ(snapshot_to_text(*from_text), text);
}

TEST(SnapshotJson, DefaultSnapshotRoundTrips) {
  auto r = parse_snapshot(snapshot_to_text(Snapshot{}));
  ASSERT_TRUE(r.ok()) << r.error().detail;
  expect_same(Snapshot{}, *r);
}

TEST(SnapshotJson, FormatIsSchemaSnakeCaseAndLowercaseHex) {
  json j = snapshot_to_json(rich_snapshot());
  EXPECT_EQ(j["schema"], "kvmprobe.snapshot/1");
  EXPECT_EQ(j["cpus"][0]["msrs"][0], json({{"index", "0x3a"}, {"status", "value"}, {"value", "0x5"}}));
  EXPECT_EQ(j["cpus"][0]["msrs"][2], json({{"index", "0xc0010114"}, {"status", "fault"}, {"error", 5}}));
  EXPECT_EQ(j["cpus"][0]["cpuid"][3]["edx"], "0xffffffff");
  EXPECT_EQ(j["cpus"][0]["xcr0"], "0x2e7");
  EXPECT_FALSE(j["cpus"][1].contains("xcr0"));  // absent stays absent
  EXPECT_EQ(j["kvm"]["supported_xcr0"], "0x2e7");
  EXPECT_EQ(j["kvm"]["msr_index_list"], json({"0x10", "0x3a", "0xc0000080"}));
  EXPECT_EQ(j["tsc"][0]["source"], "kvm_vcpu");
  EXPECT_EQ(j["perf"]["hw_pmu"], "yes");
}

TEST(SnapshotJson, TextPutsOneLeafAndOneMsrPerLine) {
  const std::string text = snapshot_to_text(rich_snapshot());
  EXPECT_EQ(text.rfind("{\n  \"schema\": \"kvmprobe.snapshot/1\",\n", 0), 0u) << text.substr(0, 80);
  EXPECT_NE(text.find("{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"eax\": \"0x50654\", \"ebx\": \"0x400800\", "
                      "\"ecx\": \"0x7ffefbff\", \"edx\": \"0xbfebfbff\"}"),
            std::string::npos);
  EXPECT_NE(text.find("{\"index\": \"0x3a\", \"status\": \"denied\", \"error\": 13}"), std::string::npos);
  EXPECT_EQ(text.back(), '\n');
}

TEST(SnapshotJson, InvalidUtf8IsReplacedNotThrown) {
  Snapshot s;
  s.kernel_cmdline = "bad \xff\xfe bytes";
  std::string text;
  ASSERT_NO_THROW(text = snapshot_to_text(s));
  auto r = parse_snapshot(text);
  ASSERT_TRUE(r.ok()) << r.error().detail;
  EXPECT_EQ(r->kernel_cmdline, "bad \xef\xbf\xbd\xef\xbf\xbd bytes");
}

TEST(SnapshotJson, UnknownKeysAreIgnoredAndListsAreSorted) {
  json j = snapshot_to_json(rich_snapshot());
  j["future_key"] = {{"nested", {1, 2, 3}}};
  j["cpus"][0]["future"] = "x";
  j["cpus"][0]["cpuid"][0]["future"] = 1;
  std::swap(j["cpus"][0]["cpuid"][0], j["cpus"][0]["cpuid"][3]);
  std::swap(j["cpus"][0]["msrs"][0], j["cpus"][0]["msrs"][2]);
  auto r = snapshot_from_json(j);
  ASSERT_TRUE(r.ok()) << r.error().detail;
  expect_same(rich_snapshot(), *r);
}

TEST(SnapshotJson, MinimalHandWrittenDocumentIsEnough) {
  auto r = parse_snapshot(R"({"schema": "kvmprobe.snapshot/1", "cpus": [{"cpu": 0,
      "cpuid": [{"leaf": "0x1", "subleaf": "0x0", "eax": "0x0", "ebx": "0x0", "ecx": "0x20", "edx": "0x0"}],
      "msrs": [{"index": "0x3A", "status": "value", "value": "0X5"}]}], "kvm": {"api_version": null}})");
  // Upper-case digits are fine; "0X" is not a prefix.
  expect_bad_input(r, "cpus[0].msrs[0].value: expected hex string");
  r = parse_snapshot(R"({"schema": "kvmprobe.snapshot/1", "cpus": [{"cpu": 0,
      "cpuid": [{"leaf": "0x1", "subleaf": "0x0", "eax": "0x0", "ebx": "0x0", "ecx": "0x20", "edx": "0x0"}],
      "msrs": [{"index": "0x3A", "status": "value", "value": "0x5"}]}], "kvm": {"api_version": null}})");
  ASSERT_TRUE(r.ok()) << r.error().detail;
  EXPECT_EQ(r->cpus[0].cpuid_bit(1, 0, Reg::ecx, 5), true);
  EXPECT_EQ(r->cpus[0].find_msr(0x3a)->value, 5u);
  EXPECT_FALSE(r->kvm.api_version.has_value());
  EXPECT_EQ(r->perf.hw_pmu, Tri::unknown);
}

// ---- bad documents ----------------------------------------------------------------------------

struct DocCase {
  const char* name;
  std::function<void(json&)> mutate;
  std::string message;
};

TEST(SnapshotJson, EveryBadValueIsBadInputNamingItsPath) {
  const DocCase cases[] = {
      {"no schema", [](json& j) { j.erase("schema"); }, "schema: missing"},
      {"schema type", [](json& j) { j["schema"] = 1; }, "schema: expected string"},
      {"other schema", [](json& j) { j["schema"] = "kvmprobe.check/1"; },
       "schema: \"kvmprobe.check/1\" is not a kvmprobe snapshot (expected kvmprobe.snapshot/1)"},
      {"newer", [](json& j) { j["schema"] = "kvmprobe.snapshot/2"; },
       "schema: written by a newer kvmprobe (format 2 > 1)"},
      {"version 0", [](json& j) { j["schema"] = "kvmprobe.snapshot/0"; }, "has no valid format version"},
      {"version x", [](json& j) { j["schema"] = "kvmprobe.snapshot/x"; }, "has no valid format version"},
      {"huge version", [](json& j) { j["schema"] = "kvmprobe.snapshot/99999999999999999999"; },
       "has no valid format version"},
      {"no cpus", [](json& j) { j.erase("cpus"); }, "cpus: missing"},
      {"cpus type", [](json& j) { j["cpus"] = json::object(); }, "cpus: expected array"},
      {"cpu type", [](json& j) { j["cpus"][0] = 5; }, "cpus[0]: expected object"},
      {"msr value number", [](json& j) { j["cpus"][1]["msrs"][3]["value"] = 5; },
       "cpus[1].msrs[3].value: expected hex string"},
      {"eax overflow", [](json& j) { j["cpus"][0]["cpuid"][0]["eax"] = "0x100000000"; },
       "cpus[0].cpuid[0].eax: 0x100000000 does not fit in 32 bits"},
      {"msr index overflow", [](json& j) { j["cpus"][0]["msrs"][0]["index"] = "0x1ffffffff"; },
       "cpus[0].msrs[0].index: 0x1ffffffff does not fit in 32 bits"},
      {"64-bit overflow", [](json& j) { j["cpus"][0]["xcr0"] = "0x10000000000000000"; },
       "cpus[0].xcr0: expected hex string"},
      {"no prefix", [](json& j) { j["cpus"][0]["cpuid"][0]["ebx"] = "3a"; }, "cpus[0].cpuid[0].ebx: expected hex string"},
      {"empty hex", [](json& j) { j["cpus"][0]["cpuid"][0]["ebx"] = "0x"; }, "expected hex string"},
      {"bad digit", [](json& j) { j["cpus"][0]["cpuid"][0]["ebx"] = "0x3g"; }, "expected hex string"},
      {"negative hex", [](json& j) { j["cpus"][0]["cpuid"][0]["ebx"] = "-0x1"; }, "expected hex string"},
      {"blank hex", [](json& j) { j["cpus"][0]["cpuid"][0]["ebx"] = " 0x1"; }, "expected hex string"},
      {"missing edx", [](json& j) { j["cpus"][0]["cpuid"][1].erase("edx"); }, "cpus[0].cpuid[1].edx: missing"},
      {"unknown status", [](json& j) { j["cpus"][0]["msrs"][0]["status"] = "maybe"; },
       "cpus[0].msrs[0].status: unknown value \"maybe\" (expected value|fault|denied|unavailable)"},
      {"value with fault", [](json& j) { j["cpus"][0]["msrs"][2]["value"] = "0x0"; },
       "cpus[0].msrs[2].value: not allowed when status is \"fault\""},
      {"value missing", [](json& j) { j["cpus"][0]["msrs"][0].erase("value"); }, "cpus[0].msrs[0].value: missing"},
      {"errno range", [](json& j) { j["cpus"][0]["msrs"][2]["error"] = 5000; }, "cpus[0].msrs[2].error: 5000 is out of range"},
      {"unknown tsc source", [](json& j) { j["tsc"][1]["source"] = "guess"; }, "tsc[1].source: unknown value \"guess\""},
      {"negative khz", [](json& j) { j["tsc"][0]["khz"] = -5; }, "tsc[0].khz: expected a non-negative integer"},
      {"unknown tri", [](json& j) { j["perf"]["hw_pmu"] = "perhaps"; }, "perf.hw_pmu: unknown value \"perhaps\" (expected no|yes|unknown)"},
      {"negative cpu", [](json& j) { j["cpus"][0]["cpu"] = -1; }, "cpus[0].cpu: expected a non-negative integer"},
      {"float cpu", [](json& j) { j["cpus"][0]["cpu"] = 1.5; }, "cpus[0].cpu: expected a non-negative integer"},
      {"huge cpu", [](json& j) { j["cpus"][0]["cpu"] = 99999999999ULL; }, "cpus[0].cpu: 99999999999 is out of range (0..8191)"},
      {"duplicate cpu", [](json& j) { j["cpus"][1]["cpu"] = 0; }, "cpus[1].cpu: duplicate CPU 0"},
      {"duplicate online", [](json& j) { j["online_cpus"] = {0, 0}; }, "online_cpus[1]: duplicate CPU 0"},
      {"duplicate leaf", [](json& j) { j["cpus"][0]["cpuid"].push_back(j["cpus"][0]["cpuid"][1]); },
       "cpus[0].cpuid[4]: duplicate leaf 0x1 subleaf 0x0"},
      {"duplicate msr", [](json& j) { j["cpus"][1]["msrs"].push_back(j["cpus"][1]["msrs"][0]); },
       "cpus[1].msrs[4]: duplicate MSR 0x3a"},
      {"bool type", [](json& j) { j["is_root"] = "yes"; }, "is_root: expected true or false"},
      {"string type", [](json& j) { j["hostname"] = 7; }, "hostname: expected string"},
      {"flags type", [](json& j) { j["cpus"][0]["linux_flags"] = {1}; }, "cpus[0].linux_flags[0]: expected string"},
      {"param type", [](json& j) { j["modules"][0]["params"]["x"] = 1; }, "modules[0].params[\"x\"]: expected string"},
      {"module name", [](json& j) { j["modules"][1].erase("name"); }, "modules[1].name: missing"},
      {"hostile key", [](json& j) { j["configured_params"]["a\nb"] = false; }, "configured_params[\"a?b\"]: expected string"},
      {"api version", [](json& j) { j["kvm"]["api_version"] = -3; }, "kvm.api_version: expected a non-negative integer"},
      {"cap range", [](json& j) { j["kvm"]["cap_tsc_control"] = 18446744073709551615ULL; }, "kvm.cap_tsc_control: out of range"},
      {"msr list", [](json& j) { j["kvm"]["msr_index_list"][1] = "0x123456789"; }, "kvm.msr_index_list[1]: 0x123456789 does not fit in 32 bits"},
      {"kvm type", [](json& j) { j["kvm"] = json::array(); }, "kvm: expected object"},
      {"top array", [](json& j) { j = json::array(); }, "expected a JSON object at the top level"},
      {"many cpus", [](json& j) { j["cpus"] = json::array(); for (int i = 0; i < 8193; ++i) j["cpus"].push_back({{"cpu", i}}); },
       "cpus: more than 8192 CPUs"},
      {"many leaves", [](json& j) {
         json& a = j["cpus"][0]["cpuid"];
         for (int i = 0; i < 4097; ++i)
           a.push_back({{"leaf", "0x7"}, {"subleaf", "0x" + std::to_string(i + 1)}, {"eax", "0x0"}, {"ebx", "0x0"}, {"ecx", "0x0"}, {"edx", "0x0"}});
       }, "cpus[0].cpuid: more than 4096 leaves"},
      {"many msrs", [](json& j) {
         json& a = j["cpus"][0]["msrs"];
         for (int i = 0; i < 65537; ++i) a.push_back({{"index", "0x0"}, {"status", "unavailable"}});
       }, "cpus[0].msrs: more than 65536 MSRs"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    json j = snapshot_to_json(rich_snapshot());
    c.mutate(j);
    expect_bad_input(snapshot_from_json(j), c.message);
  }
}

TEST(SnapshotJson, BadTextIsBadInput) {
  const std::string good = snapshot_to_text(rich_snapshot());
  expect_bad_input(parse_snapshot(""), "snapshot is empty");
  expect_bad_input(parse_snapshot(" \n\t\r\n"), "snapshot is empty");
  expect_bad_input(parse_snapshot(good.substr(0, good.size() / 2)), "snapshot is not valid JSON (line ");
  expect_bad_input(parse_snapshot("{\n  \"schema\": tru\n}"),
                   "snapshot is not valid JSON (line 2, column 16): invalid literal");
  expect_bad_input(parse_snapshot("{\"a\": 1} trailing"), "snapshot is not valid JSON (line 1, column ");
  expect_bad_input(parse_snapshot("{\"a\": \"\xff\"}"), "snapshot is not valid JSON");
  expect_bad_input(parse_snapshot("{\"a\": 1e999}"), "snapshot is not valid JSON");
  expect_bad_input(parse_snapshot(std::string("{\"a\"\0: 1}", 9)), "snapshot is not valid JSON");
  expect_bad_input(parse_snapshot(std::string(100000, '[')), "snapshot is nested deeper than 64 levels (line 1)");
  expect_bad_input(parse_snapshot("\"just a string\""), "expected a JSON object at the top level");
}

// ---- random mutation ---------------------------------------------------------------------------

/// Replaces a random node of \a j with a random value (structural fuzzing).
void mutate_node(json& j, std::mt19937& rng) {
  static const json kPool[] = {nullptr, true, 0, -1, 1.5, 1e300, 18446744073709551615ULL, "", "0x",
                               "0xffffffffffffffffff", "0x80000000", "value", "fault", json::array(),
                               json::object(), json::array({1, "a"}), "kvmprobe.snapshot/1"};
  json* node = &j;
  for (int depth = 0; depth < 6 && node->is_structured() && !node->empty(); ++depth) {
    if (rng() % 3 == 0) break;
    auto it = node->begin();
    std::advance(it, static_cast<long>(rng() % node->size()));
    node = &*it;
  }
  if (rng() % 4 == 0 && node->is_object() && !node->empty()) {
    node->erase(node->begin().key());
    return;
  }
  *node = kPool[rng() % std::size(kPool)];
}

TEST(SnapshotJson, RandomMutationsNeverCrash) {
  const Snapshot base = rich_snapshot();
  const std::string text = snapshot_to_text(base);
  const json doc = snapshot_to_json(base);
  // A fixed seed and a fixed count: the same 2,000 inputs on every run, however busy the machine
  // (a wall-clock bound made the count depend on load).
  constexpr int kRuns = 2000;
  std::mt19937 rng(20261128);
  int runs = 0, accepted = 0;
  while (runs < kRuns) {
    Result<Snapshot> r = make_error(ErrorKind::internal, "");
    if (runs % 2 == 0) {  // bytes
      std::string t = text;
      for (int e = 1 + static_cast<int>(rng() % 4); e > 0 && !t.empty(); --e) {
        std::size_t pos = rng() % t.size();
        switch (rng() % 4) {
          case 0: t[pos] = static_cast<char>(rng()); break;
          case 1: t.erase(pos, rng() % 32); break;
          case 2: t.insert(pos, t.substr(rng() % t.size(), rng() % 64)); break;
          default: t.insert(pos, 1, "{}[]\",:0x-\\"[rng() % 11]); break;
        }
      }
      r = parse_snapshot(t);
    } else {  // structure
      json j = doc;
      for (int e = 1 + static_cast<int>(rng() % 3); e > 0; --e) mutate_node(j, rng);
      r = snapshot_from_json(j);
    }
    if (r.ok()) {
      ++accepted;  // whatever was accepted must write and read back the same
      auto again = parse_snapshot(snapshot_to_text(*r));
      ASSERT_TRUE(again.ok()) << again.error().detail;
      EXPECT_EQ(snapshot_to_text(*again), snapshot_to_text(*r));
    } else {
      EXPECT_EQ(r.error().kind, ErrorKind::bad_input) << r.error().detail;
      EXPECT_FALSE(r.error().detail.empty());
      EXPECT_EQ(r.error().detail.find('\n'), std::string::npos) << r.error().detail;
    }
    ++runs;
  }
  EXPECT_EQ(runs, kRuns);
  EXPECT_GT(accepted, 0);
}

// ---- files -----------------------------------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "kvmprobe-snapshot-XXXXXX").string();
    if (::mkdtemp(tmpl.data())) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  fs::path path() const { return path_; }
  std::string operator/(const std::string& name) const { return (fs::path(path_) / name).string(); }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::string path_;
};

/// Runs \a fn with file descriptor \a fd (0 or 1) redirected to \a path.
void with_fd_redirected(int fd, const std::string& path, int flags, const std::function<void()>& fn) {
  std::fflush(stdout);
  int saved = ::dup(fd);
  int f = ::open(path.c_str(), flags, 0644);
  ASSERT_GE(f, 0);
  ::dup2(f, fd);
  ::close(f);
  fn();
  ::dup2(saved, fd);
  ::close(saved);
}

TEST(SnapshotJsonFile, WritesAtomicallyAndLoadsBack) {
  TempDir dir;
  const std::string path = dir / "host.json";
  const mode_t mask = ::umask(027);  // a new file gets 0666 & ~umask, as with open(O_CREAT)
  auto written = write_snapshot_file(rich_snapshot(), path);
  ::umask(mask);
  ASSERT_EQ(written, std::nullopt);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"host.json"});  // no temporary left over
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  auto r = load_snapshot_file(path);
  ASSERT_TRUE(r.ok()) << r.error().detail;
  expect_same(rich_snapshot(), *r);

  // Replacing keeps the file's mode.
  ::chmod(path.c_str(), 0600);
  ASSERT_EQ(write_snapshot_file(Snapshot{}, path), std::nullopt);
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"host.json"});
  ASSERT_TRUE(load_snapshot_file(path).ok());
}

TEST(SnapshotJsonFile, WriteFailuresLeaveNothingBehind) {
  TempDir dir;
  auto e = write_snapshot_file(rich_snapshot(), dir / "missing-dir/host.json");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind, ErrorKind::io);
  EXPECT_NE(e->detail.find("No such file or directory"), std::string::npos) << e->detail;
  e = write_snapshot_file(rich_snapshot(), dir.path().string());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind, ErrorKind::io);
  EXPECT_TRUE(dir.entries().empty());
}

TEST(SnapshotJsonFile, SymlinksAndDevicesAreWrittenThrough) {
  TempDir dir;
  const std::string target = dir / "real.json", link = dir / "link.json";
  ASSERT_EQ(write_snapshot_file(Snapshot{}, target), std::nullopt);
  fs::create_symlink(target, link);
  ASSERT_EQ(write_snapshot_file(rich_snapshot(), link), std::nullopt);
  EXPECT_TRUE(fs::is_symlink(link));
  auto r = load_snapshot_file(target);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->hostname, rich_snapshot().hostname);

  ASSERT_EQ(write_snapshot_file(rich_snapshot(), "/dev/null"), std::nullopt);
  struct stat st {};
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

TEST(SnapshotJsonFile, DashMeansStdoutAndStdin) {
  TempDir dir;
  const std::string out = dir / "stdout.json";
  std::optional<Error> e;
  with_fd_redirected(1, out, O_WRONLY | O_CREAT | O_TRUNC, [&] { e = write_snapshot_file(rich_snapshot(), "-"); });
  ASSERT_EQ(e, std::nullopt);
  Result<Snapshot> r = make_error(ErrorKind::internal, "");
  with_fd_redirected(0, out, O_RDONLY, [&] { r = load_snapshot_file("-"); });
  ASSERT_TRUE(r.ok()) << r.error().detail;
  expect_same(rich_snapshot(), *r);
}

TEST(SnapshotJsonFile, BadFilesAreBadInputNamingTheFile) {
  TempDir dir;
  auto r = load_snapshot_file(dir / "nope.json");
  expect_bad_input(r, "cannot open " + dir / "nope.json" + ": No such file or directory");
  EXPECT_EQ(r.error().err, ENOENT);
  expect_bad_input(load_snapshot_file(dir.path().string()), dir.path().string() + " is a directory");

  const std::string empty = dir / "empty.json";
  std::ofstream(empty).close();
  expect_bad_input(load_snapshot_file(empty), empty + " is empty");

  const std::string truncated = dir / "truncated.json";
  std::ofstream(truncated) << snapshot_to_text(rich_snapshot()).substr(0, 300);
  expect_bad_input(load_snapshot_file(truncated), truncated + " is not valid JSON (line ");

  const std::string wrong = dir / "wrong.json";
  json j = snapshot_to_json(rich_snapshot());
  j["cpus"][1]["msrs"][3]["value"] = 5;
  std::ofstream(wrong) << j.dump();
  expect_bad_input(load_snapshot_file(wrong), wrong + ": cpus[1].msrs[3].value: expected hex string");

  const std::string newer = dir / "newer.json";
  j = snapshot_to_json(rich_snapshot());
  j["schema"] = "kvmprobe.snapshot/7";
  std::ofstream(newer) << j.dump();
  expect_bad_input(load_snapshot_file(newer), "written by a newer kvmprobe (format 7 > 1)");

  const std::string huge = dir / "huge.json";  // sparse: no disk space used, never read
  std::ofstream(huge).close();
  fs::resize_file(huge, kMaxSnapshotBytes + 1);
  expect_bad_input(load_snapshot_file(huge), huge + " is larger than 256 MiB");
}

}  // namespace
}  // namespace kvmprobe::collect
