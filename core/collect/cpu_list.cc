#include "core/collect/cpu_list.h"

#include <algorithm>
#include <charconv>

namespace kvmprobe::collect {

namespace {

std::optional<unsigned> parse_number(std::string_view s) {
  unsigned v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || v > kMaxCpuNumber) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  std::vector<unsigned> cpus;
  if (text.empty()) return cpus;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    std::string_view item =
        text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    std::size_t dash = item.find('-');
    if (dash == std::string_view::npos) {
      auto v = parse_number(item);
      if (!v) return std::nullopt;
      cpus.push_back(*v);
    } else {
      auto lo = parse_number(item.substr(0, dash));
      auto hi = parse_number(item.substr(dash + 1));
      if (!lo || !hi || *lo > *hi) return std::nullopt;
      for (unsigned c = *lo; c <= *hi; ++c) cpus.push_back(c);
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

}  // namespace kvmprobe::collect
