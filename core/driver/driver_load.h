// Loading and unloading the companion driver (`kvmprobe driver load|unload`): find the .ko,
// hand it to the kernel, and when the kernel refuses, say why (load_failure.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/driver/driver_status.h"
#include "core/driver/load_failure.h"
#include "core/driver/module_system.h"

namespace kvmprobe::driver {

/// How to load.
struct LoadOptions {
  KoSearch search;         ///< where to look (kernel_release filled in when empty)
  bool read_only = false;  ///< load with allow_writes=0 (GUARDED_WRITE always refused), not allow_writes=1
};

/// How the module was handed to the kernel.
enum class LoadMethod {
  none,          ///< not attempted (already loaded)
  finit_module,  ///< finit_module(2) of an uncompressed .ko
  modprobe,      ///< `modprobe kvmprobe` (a compressed .ko under /lib/modules, or none found)
};

/// What happened.
struct LoadOutcome {
  bool loaded = false;          ///< the module is loaded now
  bool already_loaded = false;  ///< it was before this call (nothing was done)
  LoadMethod method = LoadMethod::none;
  std::vector<KoCandidate> searched;
  std::optional<KoCandidate> ko;           ///< the file handed to the kernel
  std::optional<std::string> ko_vermagic;  ///< its vermagic, when readable
  int err = 0;                             ///< errno of the refusal
  std::optional<LoadFailure> failure;      ///< why the kernel refused
  std::vector<std::string> kernel_log;     ///< the lines the attempt logged
  std::string program_output;              ///< modprobe's message, when it ran
  DeviceState device;                      ///< /dev/kvmprobe after loading
  AbiState abi;                            ///< GET_VERSION after loading
};

/// Loads kvmprobe.ko unless it is loaded already. A refusal by the kernel is an outcome
/// (failure set), not an Error; the Error is for "nothing to load" (ErrorKind::missing: an
/// explicit --ko / $KVMPROBE_DRIVER_KO that does not exist, or no .ko anywhere).
Result<LoadOutcome> load_driver(ModuleSystem& sys, LoadOptions opt);

/// What unloading did.
struct UnloadOutcome {
  bool was_loaded = false;
  bool unloaded = false;  ///< not loaded any more (true also when it was not loaded)
  int err = 0;            ///< errno of delete_module
  std::string detail;     ///< why it failed
  std::string hint;
};

/// delete_module("kvmprobe"), refusing rather than waiting while /dev/kvmprobe is open.
UnloadOutcome unload_driver(ModuleSystem& sys);

/// "none", "finit_module", "modprobe".
const char* to_string(LoadMethod m);

}  // namespace kvmprobe::driver
