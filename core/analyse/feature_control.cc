#include "core/analyse/feature_control.h"

#include <fmt/format.h>

namespace kvmprobe {

std::string feat_ctl::describe(std::uint64_t v) {
  auto on = [&](std::uint64_t bit) { return (v & bit) ? "on" : "off"; };
  std::string s = fmt::format("{}, VMX outside SMX {}, VMX inside SMX {}", (v & kLocked) ? "locked" : "unlocked",
                              on(kVmxOutsideSmx), on(kVmxInsideSmx));
  if (v & (kSgx | kSgxLc)) s += fmt::format(", SGX {}, SGX LC {}", on(kSgx), on(kSgxLc));
  if (v & kLmce) s += ", LMCE on";
  return s;
}

std::string vm_cr::describe(std::uint64_t v) {
  return fmt::format("SVMDIS {}, {}", (v & kSvmDisable) ? "set (SVM disabled)" : "clear",
                     (v & kLock) ? "locked" : "unlocked");
}

}  // namespace kvmprobe
