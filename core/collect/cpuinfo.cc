#include "core/collect/cpuinfo.h"

#include <charconv>

namespace kvmprobe::collect {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

std::vector<std::string> split_blank(std::string_view s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t start = s.find_first_not_of(" \t", pos);
    if (start == std::string_view::npos) break;
    std::size_t end = s.find_first_of(" \t", start);
    out.emplace_back(s.substr(start, end == std::string_view::npos ? end : end - start));
    pos = end == std::string_view::npos ? s.size() : end;
  }
  return out;
}

}  // namespace

std::map<unsigned, CpuinfoEntry> parse_cpuinfo(std::string_view text) {
  std::map<unsigned, CpuinfoEntry> out;
  std::optional<unsigned> current;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      if (trim(line).empty()) current.reset();  // a blank line ends the block
      continue;
    }
    std::string_view key = trim(line.substr(0, colon));
    std::string_view value = trim(line.substr(colon + 1));
    if (key == "processor") {
      unsigned n = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec == std::errc{} && p == value.data() + value.size()) {
        current = n;
        out[n];
      } else {
        current.reset();
      }
    } else if (current && key == "flags") {
      out[*current].flags = split_blank(value);
    } else if (current && key == "cpu MHz") {
      out[*current].mhz = std::string(value);
    }
  }
  return out;
}

}  // namespace kvmprobe::collect
