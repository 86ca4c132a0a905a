// SecurityState: what decides whether the kernel accepts an out-of-tree, unsigned module:
// kernel lockdown, UEFI Secure Boot, module.sig_enforce, and kernel.modules_disabled.
#pragma once

#include <string>

#include "core/collect/sources.h"
#include "core/model/snapshot.h"

namespace kvmprobe::driver {

/// The kernel's lockdown mode (security/lockdown/lockdown.c; Documentation: kernel_lockdown.7).
enum class Lockdown { unknown, none, integrity, confidentiality };

/// Where an unsigned module stands on this system. Each fact may be unknown.
struct SecurityState {
  /// /sys/kernel/security/lockdown, "none [integrity] confidentiality" → the bracketed one;
  /// unknown when the file is absent (no lockdown LSM, or securityfs not mounted).
  Lockdown lockdown = Lockdown::unknown;
  /// UEFI Secure Boot: the SecureBoot EFI variable's data byte; no when not booted through
  /// EFI or the variable is absent; unknown when efivarfs cannot be read.
  Tri secure_boot = Tri::unknown;
  std::string secure_boot_evidence;  ///< which file decided it
  /// module.sig_enforce (/sys/module/module/parameters/sig_enforce Y/N): every module needs
  /// a trusted signature.
  Tri sig_enforce = Tri::unknown;
  /// /proc/sys/kernel/modules_disabled = 1: no module can be loaded until reboot.
  Tri modules_disabled = Tri::unknown;

  /// Whether the kernel refuses unsigned modules: lockdown, Secure Boot or sig_enforce.
  bool needs_signature() const;
};

/// The path of the SecureBoot EFI variable (EFI global variable GUID).
inline constexpr const char* kSecureBootVar =
    "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";

/// Reads the four facts through \a fs.
SecurityState read_security_state(collect::SysfsReader& fs);

/// "none", "integrity", "confidentiality", "unknown".
const char* to_string(Lockdown l);

}  // namespace kvmprobe::driver
