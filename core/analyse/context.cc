#include "core/analyse/context.h"

#include <fmt/format.h>

namespace kvmprobe {

const char* module_name(VendorModule m) {
  switch (m) {
    case VendorModule::kvm_intel: return "kvm_intel";
    case VendorModule::kvm_amd: return "kvm_amd";
    case VendorModule::none: return "";
  }
  return "";
}

ModuleState vendor_module_state(const Snapshot& snap, std::string_view name) {
  const LoadedModule* m = snap.find_module(std::string(name));
  if (!m) return ModuleState::absent;
  // virt/kvm/kvm_main.c: kvm_init() registers the "kvm" misc device last, after the vendor's
  // hardware setup; a built-in vendor module whose init returned an error stays in /sys/module
  // (its parameters are there from boot) but never registered.
  if (m->builtin && snap.kvm.misc_registered == false) return ModuleState::unbound;
  return ModuleState::registered;
}

std::string registered_vendor_module(const Snapshot& snap) {
  for (const char* m : {"kvm_intel", "kvm_amd", "kvm_pvm"})
    if (vendor_module_state(snap, m) == ModuleState::registered) return m;
  return {};
}

std::string module_log_line(const Snapshot& snap, std::string_view name) {
  std::string dashed(name);
  for (char& c : dashed)
    if (c == '_') c = '-';
  for (auto it = snap.kernel_log.rbegin(); it != snap.kernel_log.rend(); ++it) {
    // Lines carry pr_fmt's "name: " prefix, after an optional "[  0.277499] " time stamp.
    std::string_view line = *it;
    if (!line.empty() && line.front() == '[') {
      auto close = line.find("] ");
      if (close != std::string_view::npos) line.remove_prefix(close + 2);
    }
    if (line.rfind(dashed + ":", 0) == 0 || line.rfind(std::string(name) + ":", 0) == 0)
      return std::string(line);
  }
  return {};
}

std::string kvm_line(const std::string& pattern, unsigned cpu, const std::string& loaded) {
  std::string out;
  for (size_t i = 0; i < pattern.size();) {
    if (pattern.compare(i, 5, "{cpu}") == 0) {
      out += std::to_string(cpu);
      i += 5;
    } else if (pattern.compare(i, 8, "{loaded}") == 0) {
      out += loaded;
      i += 8;
    } else {
      out += pattern[i++];
    }
  }
  return out;
}

}  // namespace kvmprobe
