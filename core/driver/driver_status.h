// DriverStatus: is the companion driver loaded, usable, where is its .ko, and what would stop
// the kernel from loading it (`kvmprobe driver status`). Collected, never decided here beyond
// the one summary flag `usable`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/driver/ko_search.h"
#include "core/driver/module_system.h"
#include "core/driver/security_state.h"
#include "core/model/result.h"

namespace kvmprobe::driver {

/// /sys/module/kvmprobe.
struct ModuleState {
  bool loaded = false;
  std::string initstate;                    ///< "live", "coming", "going"
  std::string taint;                        ///< "OE" for an out-of-tree unsigned module
  std::optional<int> refcnt;                ///< open files holding it
  std::optional<bool> allow_writes;         ///< parameters/allow_writes
};

/// The device node.
struct DeviceState {
  std::string path = "/dev/kvmprobe";
  bool present = false;
  NodeInfo node;           ///< valid when present
  std::string error;       ///< why stat failed, when it did for another reason than ENOENT
};

/// GET_VERSION, asked when the device is there.
struct AbiState {
  unsigned expected = 0;                    ///< KVMPROBE_ABI_VERSION of this kvmprobe
  std::optional<collect::DriverInfo> info;  ///< the driver's answer
  std::string error;                        ///< why it could not be asked (not root ...)
  int err = 0;
  bool matches() const { return info && info->abi_version == expected; }
};

/// DKMS, when installed.
struct DkmsState {
  bool available = false;           ///< a dkms program exists
  std::vector<std::string> lines;   ///< `dkms status kvmprobe` output lines
  std::string error;
};

/// Everything `driver status` reports.
struct DriverStatus {
  std::string kernel_release;
  ModuleState module;
  DeviceState device;
  AbiState abi;
  std::vector<KoCandidate> ko_searched;
  std::optional<KoCandidate> ko;           ///< the one `driver load` would take
  std::optional<std::string> ko_vermagic;  ///< of that .ko, when readable
  DkmsState dkms;
  SecurityState security;
  /// Loaded, device present, and the ABI matches (or this caller may not ask: not root).
  bool usable = false;
};

/// Why a driver in this state cannot be used (not loaded, no device node, another ABI, no
/// answer), or nullopt when it can; ErrorKind::missing with a hint.
std::optional<Error> driver_unusable(bool loaded, const DeviceState& dev, const AbiState& abi);

/// Reads it all through \a sys; \a search says where .ko files are looked for (its
/// kernel_release is filled in from \a sys when empty).
DriverStatus driver_status(ModuleSystem& sys, KoSearch search);

/// Reads /sys/module/kvmprobe.
ModuleState read_module_state(collect::SysfsReader& fs);

/// The vermagic of the .ko at \a path, when it is uncompressed and readable.
std::optional<std::string> read_ko_vermagic(collect::SysfsReader& fs, const std::string& path);

}  // namespace kvmprobe::driver
