// The guest CPU definition against the programs that consume it, each the oracle for its
// part: QEMU 7.2 itself (qemu64's features from query-cpu-model-expansion, the recognised
// flags from `-cpu help`, and QEMU starting with the generated -cpu string) and libvirt 9.0's
// cpu_map (/usr/share/libvirt/cpu_map/x86_features.xml, Debian package libvirt0). Each test
// skips saying why when its program or file is absent.
#include "core/compat/guest_cpu.h"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/analyse/supported_cpuid.h"

namespace kvmprobe::compat {
namespace {

const char* const kQemu = "/usr/bin/qemu-system-x86_64";
const char* const kCpuMap = "/usr/share/libvirt/cpu_map/x86_features.xml";

bool have(const char* path) { return std::filesystem::exists(path); }

/// Run a shell command; its stdout and exit status.
std::pair<std::string, int> run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {"", -1};
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int st = pclose(p);
  return {out, WIFEXITED(st) ? WEXITSTATUS(st) : -1};
}

std::set<std::string> known_names() {
  std::set<std::string> out;
  for (const auto& f : known_cpuid_features()) out.insert(f.qemu_name);
  return out;
}

std::vector<std::string> all_known() {
  auto s = known_names();
  return {s.begin(), s.end()};
}

TEST(GuestCpu, Qemu64FeaturesAreQemu72sOwn) {
  if (!have(kQemu)) GTEST_SKIP() << kQemu << " not installed (Debian qemu-system-x86)";
  // Full expansion of the qemu64 model under TCG: every property with its value.
  auto [out, rc] = run(std::string("printf '%s\\n' '{\"execute\":\"qmp_capabilities\"}' "
                                   "'{\"execute\":\"query-cpu-model-expansion\",\"arguments\":{\"type\":\"full\","
                                   "\"model\":{\"name\":\"qemu64\"}}}' '{\"execute\":\"quit\"}' | timeout 30 ") +
                       kQemu + " -machine none -accel tcg -nodefaults -display none -qmp stdio 2>/dev/null");
  ASSERT_EQ(rc, 0) << out;
  std::set<std::string> on;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("return") || !j["return"].is_object() || !j["return"].contains("model"))
      continue;
    for (const auto& [k, v] : j["return"]["model"]["props"].items())
      if (v.is_boolean() && v.get<bool>()) on.insert(k);
  }
  ASSERT_FALSE(on.empty()) << out;
  std::set<std::string> expected;
  for (const auto& n : known_names())
    if (on.count(n)) expected.insert(n);
  // QEMU sets `hypervisor` on every model (x86_cpu_load_model), not as part of qemu64.
  EXPECT_TRUE(expected.erase("hypervisor"));
  std::set<std::string> ours(qemu64_features().begin(), qemu64_features().end());
  EXPECT_EQ(ours, expected);
  EXPECT_TRUE(std::is_sorted(qemu64_features().begin(), qemu64_features().end(),
                             [](const char* a, const char* b) { return std::string_view(a) < b; }));
}

std::set<std::string> qemu_flags() {
  auto [out, rc] = run(std::string(kQemu) + " -cpu help");
  EXPECT_EQ(rc, 0);
  auto at = out.find("Recognized CPUID flags:");
  EXPECT_NE(at, std::string::npos);
  std::set<std::string> flags;
  std::istringstream words(out.substr(at + 23));
  for (std::string w; words >> w;) flags.insert(w);
  return flags;
}

TEST(GuestCpu, QemuKnowsExactlyTheFlagsItsHelpLists) {
  if (!have(kQemu)) GTEST_SKIP() << kQemu << " not installed (Debian qemu-system-x86)";
  auto [ver, vrc] = run(std::string(kQemu) + " --version");
  if (ver.find("version 7.2.") == std::string::npos) GTEST_SKIP() << "not QEMU 7.2: " << ver.substr(0, 40);
  std::set<std::string> flags = qemu_flags();
  ASSERT_GT(flags.size(), 200u);
  for (const auto& n : known_names()) EXPECT_EQ(qemu72_knows(n), flags.count(n) == 1) << n;
}

TEST(GuestCpu, QemuStartsWithTheStringOfEveryFeatureItKnows) {
  if (!have(kQemu)) GTEST_SKIP() << kQemu << " not installed (Debian qemu-system-x86)";
  GuestCpu all = guest_cpu(all_known(), /*enforce=*/false);
  GuestCpu none = guest_cpu({}, false);
  EXPECT_EQ(all.qemu.find(",-"), std::string::npos) << "every qemu64 feature is in the set";
  EXPECT_EQ(none.qemu.find(",+"), std::string::npos);
  EXPECT_EQ(guest_cpu(all_known()).qemu, all.qemu + ",enforce");
  EXPECT_EQ(all.qemu.find("host"), std::string::npos);
  for (const auto& g : {all, none}) {
    // TCG cannot give every feature, so no ",enforce" here: QEMU warns about those and still
    // starts; an unknown flag stops it at once (exit 1). QMP "quit" ends a good start with 0.
    auto [out, rc] = run("printf '%s\\n' '{\"execute\":\"qmp_capabilities\"}' '{\"execute\":\"quit\"}' | timeout 60 " +
                         std::string(kQemu) + " -accel tcg -machine q35 -cpu '" + g.qemu +
                         "' -S -nodefaults -display none -qmp stdio 2>&1 >/dev/null");
    EXPECT_EQ(rc, 0) << "QEMU said: " << out << "\n" << g.qemu;
    EXPECT_EQ(out.find("not found"), std::string::npos) << out;
  }
}

TEST(GuestCpu, LibvirtSpellingMatchesLibvirtsCpuMap) {
  if (!have(kCpuMap)) GTEST_SKIP() << kCpuMap << " absent (Debian package libvirt0)";
  std::ifstream in(kCpuMap);
  std::stringstream text;
  text << in.rdbuf();
  // <feature name='N'> [<alias .../>] <cpuid eax_in='0x07' ecx_in='0x00' ebx='0x00000020'/> </feature>
  std::map<std::tuple<unsigned, unsigned, Reg, unsigned>, std::string> by_bit;
  std::regex feat(R"(<feature name='([^']+)'[^>]*>(?:\s*<alias [^>]*>)*\s*<cpuid ([^/]*)/>)");
  std::regex attr(R"((\w+)='0x([0-9a-fA-F]+)')");
  std::string s = text.str();
  for (std::sregex_iterator it(s.begin(), s.end(), feat), end; it != end; ++it) {
    std::string attrs = (*it)[2];
    unsigned leaf = 0, sub = 0;
    std::vector<std::pair<Reg, std::uint32_t>> regs;
    for (std::sregex_iterator a(attrs.begin(), attrs.end(), attr); a != end; ++a) {
      std::string k = (*a)[1];
      auto v = static_cast<std::uint32_t>(std::stoul((*a)[2], nullptr, 16));
      if (k == "eax_in") leaf = v;
      else if (k == "ecx_in") sub = v;
      else if (k == "eax") regs.push_back({Reg::eax, v});
      else if (k == "ebx") regs.push_back({Reg::ebx, v});
      else if (k == "ecx") regs.push_back({Reg::ecx, v});
      else if (k == "edx") regs.push_back({Reg::edx, v});
    }
    for (auto [r, m] : regs)
      for (unsigned b = 0; b < 32; ++b)
        if ((m >> b) & 1u) by_bit[{leaf, sub, r, b}] = (*it)[1];
  }
  ASSERT_GT(by_bit.size(), 150u);
  for (const auto& f : known_cpuid_features()) {
    auto it = by_bit.find({f.leaf, f.subleaf, f.reg, f.bit});
    EXPECT_EQ(libvirt_name(f.qemu_name), it == by_bit.end() ? "" : it->second) << f.qemu_name;
  }
  // And the element itself: every name in it is one of the map's.
  GuestCpu g = guest_cpu(all_known());
  std::set<std::string> names;
  for (const auto& [k, n] : by_bit) names.insert(n);
  std::regex used(R"(name='([^']+)')");
  for (std::sregex_iterator it(g.libvirt.begin(), g.libvirt.end(), used), end; it != end; ++it)
    EXPECT_TRUE(names.count((*it)[1])) << (*it)[1];
}

TEST(GuestCpu, PlusForFeaturesQemu64LacksMinusForItsOwnTheSetLacks) {
  GuestCpu g = guest_cpu({"avx2", "fpu", "hypervisor", "lahf-lm", "sha512", "avx2"});
  EXPECT_EQ(g.add, std::vector<std::string>{"avx2"});
  EXPECT_EQ(g.not_in_qemu, std::vector<std::string>{"sha512"});
  EXPECT_EQ(g.remove.size(), qemu64_features().size() - 2);  // all but fpu and lahf-lm
  EXPECT_EQ(g.qemu.rfind("qemu64,+avx2,-apic,", 0), 0u) << g.qemu;
  EXPECT_EQ(g.qemu.substr(g.qemu.size() - 8), ",enforce");
  EXPECT_EQ(g.qemu.find("hypervisor"), std::string::npos) << "QEMU sets it itself";
  EXPECT_NE(g.libvirt.find("<model fallback='forbid'>qemu64</model>"), std::string::npos);
  EXPECT_NE(g.libvirt.find("<feature policy='require' name='avx2'/>"), std::string::npos);
  EXPECT_NE(g.libvirt.find("<feature policy='disable' name='svm'/>"), std::string::npos);
  EXPECT_EQ(g.libvirt.find("lahf"), std::string::npos) << "in the set and in qemu64: nothing to say";
  EXPECT_EQ(guest_cpu({}).libvirt.find("name='lahf-lm'"), std::string::npos);
  EXPECT_NE(guest_cpu({}).libvirt.find("<feature policy='disable' name='lahf_lm'/>"), std::string::npos);
}

}  // namespace
}  // namespace kvmprobe::compat
