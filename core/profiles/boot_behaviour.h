// What the kernel that recorded a snapshot did at boot, before any KVM module loaded. This
// belongs to the running kernel's release, not to the profile being modelled (check --kernel
// 6.12 on a 5.4 host still reads flags a 5.4 kernel left), and its version boundaries do not
// fall on profile boundaries (5.6 lies inside the 4.19 profile's range), so it is its own
// small table (boot_behaviour.cc), asked once per analysis (AnalysisContext::running_boot).
#pragma once

#include <string>

namespace kvmprobe {

struct BootBehaviour {
  bool known = false;                 ///< the release parsed as a kernel version
  std::string release;                ///< as recorded ("" when not)
  /// arch/x86/kernel/cpu/feat_ctl.c: init_ia32_feat_ctl() (5.6+): on Intel-like CPUs the kernel
  /// enables VMX and locks IA32_FEATURE_CONTROL when firmware left it unlocked, and clears the
  /// 'vmx' flag when VMX ends up off or the MSR faults.
  bool programs_feat_ctl = false;
  /// arch/x86/kernel/cpu/amd.c: init_amd() (6.8+): clears the 'svm' flag when VM_CR.SVMDIS is
  /// set, so the flag tells VM_CR without reading it.
  bool clears_svm_on_svmdis = false;
};

/// The boot behaviour of the kernel `release` ("6.1.0-28-amd64"); known = false when the
/// release is empty or does not parse.
BootBehaviour boot_behaviour(const std::string& release);

}  // namespace kvmprobe
