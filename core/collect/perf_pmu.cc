#include "core/collect/perf_pmu.h"

#include <algorithm>
#include <array>
#include <string_view>

namespace kvmprobe::collect {

namespace {

constexpr std::array<std::string_view, 3> kCorePmus = {"cpu", "cpu_core", "cpu_atom"};

/// perf's boot line saying it has no hardware PMU (arch/x86/events/core.c), if logged.
const std::string* no_pmu_line(const std::vector<std::string>& lines) {
  for (const std::string& l : lines)
    if (l.find("Performance Events: PMU not available") != std::string::npos ||
        l.find("Performance Events: Broken PMU hardware") != std::string::npos ||
        l.find("Performance Events: no PMU driver") != std::string::npos)
      return &l;
  return nullptr;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

PerfPmuInfo detect_perf_pmu(SysfsReader& fs, const std::vector<std::string>& log_lines) {
  PerfPmuInfo info;
  const std::string* line = no_pmu_line(log_lines);
  auto names = fs.list_dir(kEventSourceDir);
  if (!names) {
    if (line) {
      info.hw_pmu = Tri::no;
      info.evidence = "kernel log: " + *line;
    } else {
      info.hw_pmu = Tri::unknown;
      info.evidence = names.error().detail;
    }
    return info;
  }
  for (std::string_view pmu : kCorePmus) {
    if (std::find(names->begin(), names->end(), pmu) == names->end()) continue;
    std::string dir = std::string(kEventSourceDir) + "/" + std::string(pmu);
    info.hw_pmu = Tri::yes;
    info.evidence = dir;
    if (auto name = fs.read_file(dir + "/caps/pmu_name", 256)) info.pmu_name = trim(*name);
    return info;
  }
  info.hw_pmu = Tri::no;
  info.evidence = std::string("no cpu, cpu_core or cpu_atom PMU in ") + kEventSourceDir;
  if (line) info.evidence += "; kernel log: " + *line;
  return info;
}

}  // namespace kvmprobe::collect
