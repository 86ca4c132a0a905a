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

std::string feat_ctl::who_locked(std::uint64_t v, const BootBehaviour& boot, bool tboot) {
  const std::string& rel = boot.release;
  if (!boot.programs_feat_ctl)
    return fmt::format("firmware (kernel {} does not program this MSR)", rel.empty() ? "unknown" : rel);
  if (v & kLmce) return "firmware (LMCE is set; the kernel's boot-time programming never sets it)";
  if ((v & kVmxInsideSmx) && !tboot)
    return "firmware (VMX inside SMX is set without tboot; the kernel sets it only under tboot)";
  if (!(v & kVmxOutsideSmx))
    return "firmware (VMX off: a kernel built with KVM_INTEL always enables it before locking; "
           "only a kernel without CONFIG_KVM_INTEL locks it off)";
  return fmt::format("either: the value is what kernel {}'s feat_ctl.c writes when firmware leaves "
                     "the MSR unlocked, and firmware commonly writes the same bits",
                     rel);
}

bool tboot_active(const Snapshot& snap) {
  for (const auto& l : snap.kernel_log)
    if (l.find("tboot: ") != std::string::npos) return true;
  return false;
}

std::string vm_cr::describe(std::uint64_t v) {
  return fmt::format("SVMDIS {}, {}", (v & kSvmDisable) ? "set (SVM disabled)" : "clear",
                     (v & kLock) ? "locked" : "unlocked");
}

}  // namespace kvmprobe
