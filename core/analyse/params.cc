#include "core/analyse/params.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace kvmprobe {

const ParamValue* EffectiveParams::find(const std::string& name) const {
  auto it = values.find(name);
  return it == values.end() ? nullptr : &it->second;
}

bool EffectiveParams::flag(const std::string& name, bool fallback) const {
  const ParamValue* v = find(name);
  if (!v || v->value.empty()) return fallback;
  std::string s = v->value;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "y" || s == "1" || s == "on" || s == "true" || s == "yes") return true;
  if (s == "n" || s == "0" || s == "off" || s == "false" || s == "no") return false;
  return fallback;
}

long EffectiveParams::number(const std::string& name, long fallback) const {
  const ParamValue* v = find(name);
  if (!v) return fallback;
  try {
    size_t pos = 0;
    long n = std::stol(v->value, &pos, 0);
    return pos == v->value.size() ? n : fallback;
  } catch (...) {
    return fallback;
  }
}

bool parse_param_override(const std::string& text, std::string& name, std::string& value) {
  auto eq = text.find('=');
  auto dot = text.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot == 0 || dot + 1 >= eq) return false;
  name = text.substr(0, eq);
  value = text.substr(eq + 1);
  for (char& c : name)
    if (c == '-') c = '_';  // the kernel treats - and _ alike in parameter names
  return !value.empty();
}

EffectiveParams resolve_params(const Snapshot& snap, const KernelProfile& profile,
                               const ParamOverrides& overrides) {
  EffectiveParams out;
  for (const auto& d : profile.params)
    out.values[d.name] = {d.value, fmt::format("default ({})", profile.id)};
  for (const auto& [name, value] : snap.configured_params) {
    auto it = snap.param_origins.find(name);
    out.values[name] = {value, it != snap.param_origins.end() ? it->second : "configured"};
  }
  for (const auto& mod : snap.modules) {
    if (mod.name != "kvm" && mod.name != "kvm_intel" && mod.name != "kvm_amd") continue;
    for (const auto& [p, value] : mod.params) {
      std::string name = mod.name + "." + p;
      if (out.values.count(name))  // only parameters the profile models or were configured
        out.values[name] = {value, fmt::format("loaded module (/sys/module/{}/parameters/{})", mod.name, p)};
    }
  }
  for (const auto& [name, value] : overrides) out.values[name] = {value, "--param"};
  return out;
}

}  // namespace kvmprobe
