// Shared by tests/core/analyse/step_<id>_test.cc: recorded snapshots (tests/data) and what real
// KVM answered for them, analysed with a chosen profile, and one step of the report.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/analyse/analyse.h"
#include "core/collect/snapshot_json.h"
#include "core/profiles/profiles.h"
#include "tests/support/shared_data.h"

namespace kvmprobe::testing {

/// A snapshot under tests/data ("snapshots/qemu-6.12-epyc.json", "bochs/sky612.snapshot.json").
inline Snapshot load_recorded(const std::string& rel) {
  auto s = collect::load_snapshot_file(test_data(rel).string());
  EXPECT_TRUE(s.ok()) << rel << ": " << (s.ok() ? "" : s.error().detail);
  return s.ok() ? *s : Snapshot{};
}

/// analyse() with profile `id` ("6.1"); with "" the profile the snapshot's own kernel picks.
inline Report analyse_with(const Snapshot& s, const std::string& id = "", const ParamOverrides& o = {}) {
  const KernelProfile* p = nullptr;
  if (id.empty()) {
    auto choice = choose_profile(s.kernel_release, s.kernel_version);
    EXPECT_TRUE(choice) << s.kernel_release;
    if (choice) p = choice->profile;
  } else {
    p = find_profile(id);
  }
  EXPECT_NE(p, nullptr) << id;
  return p ? analyse(s, *p, o) : Report{};
}

/// The step `id` of a report, copied (so that it outlives a temporary report); an empty step,
/// and a failure, when it is not there.
inline StepResult step_of(const Report& r, const std::string& id) {
  const StepResult* s = r.find_step(id);
  EXPECT_NE(s, nullptr) << id;
  return s ? *s : StepResult{};
}

/// The evidence row `what` of a step, or nullptr.
inline const Evidence* evidence_of(const StepResult& s, const std::string& what, const std::string& where = "") {
  for (const Evidence& e : s.evidence)
    if (e.what == what && (where.empty() || e.where == where)) return &e;
  return nullptr;
}

/// What the Bochs guest's real KVM answered (tests/data/bochs/<run>.kvm.txt: "key value" lines,
/// README.md there), key -> values in file order.
inline std::multimap<std::string, std::string> bochs_kvm_answers(const std::string& run) {
  std::multimap<std::string, std::string> m;
  std::ifstream in(test_data("bochs/" + run + ".kvm.txt"));
  EXPECT_TRUE(in) << run;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto sp = line.find(' ');
    m.emplace(line.substr(0, sp), sp == std::string::npos ? "" : line.substr(sp + 1));
  }
  return m;
}

inline std::string first_answer(const std::multimap<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? std::string() : it->second;
}

/// The lines of a recorded kernel log, timestamps cut, that contain one of `needles`.
inline std::vector<std::string> log_lines_with(const Snapshot& s, const std::vector<std::string>& needles) {
  std::vector<std::string> out;
  for (const std::string& l : s.kernel_log) {
    std::size_t close = l.find("] ");
    std::string text = l.rfind("[", 0) == 0 && close != std::string::npos ? l.substr(close + 2) : l;
    for (const std::string& n : needles)
      if (text.find(n) != std::string::npos) {
        out.push_back(text);
        break;
      }
  }
  return out;
}

/// Short names for the step tests: a fixture of tests/data/snapshots, a profile run, a step.
inline Snapshot load(const std::string& name) { return load_recorded("snapshots/" + name); }
inline Report run(const Snapshot& s, const std::string& profile, const ParamOverrides& o = {}) {
  return analyse_with(s, profile, o);
}
inline StepResult step(const Report& r, const std::string& id) { return step_of(r, id); }

}  // namespace kvmprobe::testing
