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
