// Why the kernel refused to load kvmprobe.ko, from finit_module's errno, the lines the attempt
// left in the kernel log and the system's module-signing state (kernel/module/main.c and
// signing.c, which print those lines, are cited at each case in load_failure.cc).
#pragma once

#include <string>
#include <vector>

#include "core/driver/security_state.h"

namespace kvmprobe::driver {

/// The kind of refusal; each has its own remedy.
enum class LoadCause {
  wrong_kernel,      ///< built for another kernel: vermagic, symbol versions, unknown symbols
  signature,         ///< unsigned or untrusted signature with module.sig_enforce / Secure Boot
  lockdown,          ///< kernel lockdown refuses unsigned modules
  not_root,          ///< no CAP_SYS_MODULE
  modules_disabled,  ///< kernel.modules_disabled = 1
  bad_parameter,     ///< a module parameter was refused
  not_found,         ///< the file could not be opened
  other,             ///< anything else: the errno and log lines say what
};

/// Everything known about one failed attempt.
struct LoadAttempt {
  int err = 0;                    ///< errno of finit_module (or what modprobe reported)
  std::vector<std::string> log;   ///< kernel log lines the attempt added
  SecurityState security;
  bool root = true;               ///< effective uid 0
  std::string ko_path;
  std::string ko_vermagic;        ///< "" when unknown
  std::string kernel_release;     ///< uname -r
};

/// The explanation: a cause, one line saying what happened, one line saying what to do.
struct LoadFailure {
  LoadCause cause = LoadCause::other;
  std::string detail;
  std::string hint;
};

/// Explains a failed load (pure).
LoadFailure explain_load_failure(const LoadAttempt& a);

/// "wrong_kernel", "signature", ... (the JSON value).
const char* to_string(LoadCause c);

/// The errno a modprobe/insmod message names ("...: Key was rejected by service" → EKEYREJECTED),
/// 0 when it names none (strerror texts of the errnos finit_module returns).
int errno_from_message(const std::string& message);

}  // namespace kvmprobe::driver
