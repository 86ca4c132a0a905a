#include "core/driver/ko_search.h"

#include <array>

namespace kvmprobe::driver {

namespace {

constexpr std::array<const char*, 4> kSuffixes = {"", ".xz", ".zst", ".gz"};

bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

}  // namespace

bool KoCandidate::compressed() const {
  return ends_with(path, ".xz") || ends_with(path, ".zst") || ends_with(path, ".gz");
}

const char* to_string(KoOrigin o) {
  switch (o) {
    case KoOrigin::option: return "option";
    case KoOrigin::environment: return "environment";
    case KoOrigin::dkms: return "dkms";
    case KoOrigin::updates: return "updates";
    case KoOrigin::extra: return "extra";
    case KoOrigin::build_tree: return "build_tree";
  }
  return "build_tree";
}

std::vector<KoCandidate> ko_candidates(const KoSearch& search, collect::SysfsReader& fs) {
  std::vector<KoCandidate> out;
  auto add = [&](std::string path, KoOrigin origin) {
    bool exists = fs.exists(path);
    out.push_back(KoCandidate{std::move(path), origin, exists});
  };
  // An explicit choice is the only candidate: never load something else instead.
  if (!search.option_path.empty()) {
    add(search.option_path, KoOrigin::option);
    return out;
  }
  if (!search.env_path.empty()) {
    add(search.env_path, KoOrigin::environment);
    return out;
  }
  if (!search.kernel_release.empty()) {
    std::string base = "/lib/modules/" + search.kernel_release;
    for (auto [dir, origin] : {std::pair{"/updates/dkms", KoOrigin::dkms},
                               std::pair{"/updates", KoOrigin::updates},
                               std::pair{"/extra", KoOrigin::extra}})
      for (const char* suffix : kSuffixes)
        add(base + dir + "/kvmprobe.ko" + suffix, origin);
  }
  if (!search.build_tree_ko.empty()) add(search.build_tree_ko, KoOrigin::build_tree);
  return out;
}

std::optional<KoCandidate> first_existing(const std::vector<KoCandidate>& candidates) {
  for (const KoCandidate& c : candidates)
    if (c.exists) return c;
  return std::nullopt;
}

std::optional<std::string> ko_vermagic(std::string_view contents) {
  // .modinfo holds NUL-terminated "key=value" strings; "vermagic=" starts right after a NUL.
  constexpr std::string_view key("vermagic=");
  for (std::size_t at = contents.find(key); at != std::string_view::npos;
       at = contents.find(key, at + 1)) {
    if (at != 0 && contents[at - 1] != '\0') continue;
    std::size_t start = at + key.size();
    std::size_t end = contents.find('\0', start);
    if (end == std::string_view::npos) return std::nullopt;
    return std::string(contents.substr(start, end - start));
  }
  return std::nullopt;
}

std::string vermagic_release(std::string_view vermagic) {
  return std::string(vermagic.substr(0, vermagic.find(' ')));
}

}  // namespace kvmprobe::driver
