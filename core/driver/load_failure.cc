#include "core/driver/load_failure.h"

#include <cerrno>
#include <cstring>

namespace kvmprobe::driver {

namespace {

/// The first log line containing any of \a needles, or "".
std::string find_line(const std::vector<std::string>& log, std::initializer_list<const char*> needles) {
  for (const std::string& line : log)
    for (const char* n : needles)
      if (line.find(n) != std::string::npos) return line;
  return "";
}

/// "[   12.345678] text" → "text".
std::string strip_stamp(const std::string& line) {
  if (line.empty() || line[0] != '[') return line;
  auto close = line.find("] ");
  return close == std::string::npos ? line : line.substr(close + 2);
}

std::string quoted_log(const std::string& line) {
  return line.empty() ? "" : " (kernel: \"" + strip_stamp(line) + "\")";
}

constexpr const char* kRebuildHint =
    "rebuild it for this kernel: 'make -C msr-driver' (needs the headers of the running "
    "kernel, e.g. linux-headers-$(uname -r)), or install it with DKMS "
    "(msr-driver/README.md), then 'kvmprobe driver load' again";
constexpr const char* kSignHint =
    "sign kvmprobe.ko with a Machine Owner Key the kernel trusts (DKMS signs with "
    "/var/lib/dkms/mok.key; enrol it with 'mokutil --import /var/lib/dkms/mok.pub' and reboot), "
    "or turn Secure Boot off";

LoadFailure wrong_kernel(const LoadAttempt& a, const std::string& line) {
  std::string built = a.ko_vermagic.empty() ? "" : a.ko_vermagic.substr(0, a.ko_vermagic.find(' '));
  std::string detail = "kvmprobe.ko was built for another kernel";
  if (!built.empty() && built != a.kernel_release)
    detail += " (" + built + "; this is " + a.kernel_release + ")";
  else
    detail += " (this is " + a.kernel_release + ")";
  return {LoadCause::wrong_kernel, detail + quoted_log(line), kRebuildHint};
}

/// EPERM: kernel/module/main.c: may_init_module() (CAP_SYS_MODULE, modules_disabled), then
/// kernel/module/signing.c: module_sig_check() asking lockdown.
LoadFailure not_permitted(const LoadAttempt& a) {
  // main.c may_init_module: CAP_SYS_MODULE and modules_disabled; then signing.c asks
  // lockdown (LOCKDOWN_MODULE_SIGNATURE), which logs "Lockdown: ...: unsigned module
  // loading is restricted".
  if (!a.root)
    return {LoadCause::not_root, "loading a kernel module needs root (CAP_SYS_MODULE)",
            "run it as root: sudo kvmprobe driver load"};
  if (a.security.modules_disabled == Tri::yes)
    return {LoadCause::modules_disabled,
            "module loading is switched off until the next reboot "
            "(/proc/sys/kernel/modules_disabled = 1)",
            "reboot, and load kvmprobe before whatever sets kernel.modules_disabled"};
  std::string line = find_line(a.log, {"Lockdown:", "lockdown"});
  bool locked = a.security.lockdown == Lockdown::integrity ||
                a.security.lockdown == Lockdown::confidentiality;
  if (!line.empty() || locked)
    return {LoadCause::lockdown,
            std::string("kernel lockdown (") + to_string(a.security.lockdown) + ")" +
                (a.security.secure_boot == Tri::yes ? ", on because of Secure Boot," : "") +
                " refuses unsigned modules" + quoted_log(line),
            kSignHint};
  return {LoadCause::other,
          "the kernel refused to load kvmprobe.ko: Operation not permitted (a security "
          "module, or a missing CAP_SYS_MODULE)" +
              quoted_log(find_line(a.log, {"kvmprobe"})),
          "see the kernel log (dmesg) for the refusal"};
}

}  // namespace

const char* to_string(LoadCause c) {
  switch (c) {
    case LoadCause::wrong_kernel: return "wrong_kernel";
    case LoadCause::signature: return "signature";
    case LoadCause::lockdown: return "lockdown";
    case LoadCause::not_root: return "not_root";
    case LoadCause::modules_disabled: return "modules_disabled";
    case LoadCause::bad_parameter: return "bad_parameter";
    case LoadCause::not_found: return "not_found";
    case LoadCause::other: break;
  }
  return "other";
}

LoadFailure explain_load_failure(const LoadAttempt& a) {
  const auto& log = a.log;
  std::string release = a.ko_vermagic.substr(0, a.ko_vermagic.find(' '));
  bool other_release = !release.empty() && !a.kernel_release.empty() && release != a.kernel_release;

  // main.c check_modinfo: "version magic '...' should be '...'" (ENOEXEC); check_version:
  // "disagrees about version of symbol X" (module_layout, up to 6.2: ENOEXEC; others: EINVAL
  // through resolve_symbol); simplify_symbols: "Unknown symbol X (err -N)"; since 6.4
  // elf_validity_check: ".gnu.linkonce.this_module section size must match the kernel's built
  // struct module size at run time" (ENOEXEC, what a 6.1 module gets from 6.12).
  std::string line = find_line(log, {"version magic", "disagrees about version of symbol",
                                     "Unknown symbol", "struct module size"});
  if (!line.empty() || a.err == ENOEXEC ||
      (other_release && (a.err == EINVAL || a.err == ENOENT)))
    return wrong_kernel(a, line);

  // signing.c module_sig_check: with sig_enforce "Loading of unsigned module is rejected"
  // (EKEYREJECTED); a bad or unknown signature gives EKEYREJECTED/ENOKEY/EBADMSG itself.
  line = find_line(log, {"is rejected", "Key was rejected", "module verification failed"});
  if (a.err == EKEYREJECTED || a.err == ENOKEY || a.err == EBADMSG || a.err == ENOPKG) {
    std::string why = a.security.secure_boot == Tri::yes ? "Secure Boot is on"
                      : a.security.sig_enforce == Tri::yes ? "module.sig_enforce=1"
                                                           : "the kernel enforces module signatures";
    return {LoadCause::signature,
            "the kernel refused kvmprobe.ko's signature: " + why +
                " and the module is unsigned or signed with a key it does not trust" +
                quoted_log(line),
            kSignHint};
  }

  if (a.err == EPERM) return not_permitted(a);
  if (a.err == ENOENT)
    return {LoadCause::not_found, "cannot open " + a.ko_path + ": No such file or directory",
            "pass the module with --ko PATH"};
  if (a.err == EINVAL && !(line = find_line(log, {"unknown parameter", "invalid for parameter"})).empty())
    return {LoadCause::bad_parameter, "the kernel refused a parameter" + quoted_log(line), ""};
  return {LoadCause::other,
          std::string("the kernel refused to load kvmprobe.ko: ") + std::strerror(a.err) +
              quoted_log(find_line(log, {"kvmprobe"})),
          "see the kernel log (dmesg) for the reason"};
}

int errno_from_message(const std::string& message) {
  for (int e : {ENOEXEC, EKEYREJECTED, ENOKEY, EBADMSG, EPERM, EINVAL, ENOENT, EEXIST, EBUSY,
                ENOMEM, ENOPKG}) {
    const char* text = std::strerror(e);
    if (message.find(text) != std::string::npos) return e;
  }
  return 0;
}

}  // namespace kvmprobe::driver
