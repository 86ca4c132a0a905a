#include "core/driver/security_state.h"

#include <cerrno>

namespace kvmprobe::driver {

namespace {

/// "Y"/"1" → yes, "N"/"0" → no, anything else unknown.
Tri yes_no(const Result<std::string>& text) {
  if (!text || text->empty()) return Tri::unknown;
  char c = (*text)[0];
  if (c == 'Y' || c == '1') return Tri::yes;
  if (c == 'N' || c == '0') return Tri::no;
  return Tri::unknown;
}

Lockdown parse_lockdown(const std::string& text) {
  auto open = text.find('['), close = text.find(']');
  if (open == std::string::npos || close == std::string::npos || close < open)
    return Lockdown::unknown;
  std::string mode = text.substr(open + 1, close - open - 1);
  if (mode == "none") return Lockdown::none;
  if (mode == "integrity") return Lockdown::integrity;
  if (mode == "confidentiality") return Lockdown::confidentiality;
  return Lockdown::unknown;
}

}  // namespace

bool SecurityState::needs_signature() const {
  return (lockdown != Lockdown::none && lockdown != Lockdown::unknown) ||
         secure_boot == Tri::yes || sig_enforce == Tri::yes;
}

const char* to_string(Lockdown l) {
  switch (l) {
    case Lockdown::none: return "none";
    case Lockdown::integrity: return "integrity";
    case Lockdown::confidentiality: return "confidentiality";
    case Lockdown::unknown: break;
  }
  return "unknown";
}

SecurityState read_security_state(collect::SysfsReader& fs) {
  SecurityState s;
  if (auto text = fs.read_file("/sys/kernel/security/lockdown", 256))
    s.lockdown = parse_lockdown(*text);
  s.sig_enforce = yes_no(fs.read_file("/sys/module/module/parameters/sig_enforce", 16));
  s.modules_disabled = yes_no(fs.read_file("/proc/sys/kernel/modules_disabled", 16));
  // efivarfs: 4 bytes of attributes, then the variable's one data byte (1 = enabled).
  if (!fs.exists("/sys/firmware/efi")) {
    s.secure_boot = Tri::no;
    s.secure_boot_evidence = "not booted through UEFI";
  } else if (auto var = fs.read_file(kSecureBootVar, 64); var && var->size() >= 5) {
    s.secure_boot = (*var)[4] == 1 ? Tri::yes : Tri::no;
    s.secure_boot_evidence = kSecureBootVar;
  } else if (auto vars = fs.list_dir("/sys/firmware/efi/efivars");
             !var && var.error().err == ENOENT && vars && !vars->empty()) {
    // efivarfs is mounted (it lists variables), and firmware without Secure Boot has none.
    s.secure_boot = Tri::no;
    s.secure_boot_evidence = "no SecureBoot EFI variable";
  } else {
    s.secure_boot_evidence = "efivarfs not readable";
  }
  return s;
}

}  // namespace kvmprobe::driver
