// ModuleSystem: the system calls and files `kvmprobe driver status|load|unload` use, behind
// one narrow interface so the logic in driver_status.cc and driver_load.cc is tested against
// a fake (tests/core/driver/) and never needs root or a real module.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/collect/sources.h"
#include "core/model/result.h"
#include "core/sys/run_program.h"

namespace kvmprobe::driver {

using sys::ProgramResult;
using sys::run_program;

/// What stat(2) says about a device node.
struct NodeInfo {
  bool char_device = false;
  unsigned mode = 0;  ///< permission bits (0600)
  unsigned uid = 0, gid = 0;
};

/// The module-related parts of the running system.
class ModuleSystem {
 public:
  virtual ~ModuleSystem() = default;
  /// Files: /sys/module, /sys/kernel/security/lockdown, efivars, /lib/modules, the .ko itself.
  virtual collect::SysfsReader& fs() = 0;
  /// uname -r.
  virtual std::string kernel_release() = 0;
  /// Whether the effective user id is 0.
  virtual bool is_root() = 0;
  /// stat(2) of \a path; the Error carries the errno (ENOENT: absent).
  virtual Result<NodeInfo> stat(const std::string& path) = 0;
  /// finit_module(2) of the file \a path with module parameters \a params: 0 or the errno.
  virtual int finit_module(const std::string& path, const std::string& params) = 0;
  /// delete_module(2) of \a name, O_NONBLOCK (refuse rather than wait while in use): 0 or errno.
  virtual int delete_module(const std::string& name) = 0;
  /// The full path of program \a name in /usr/sbin, /sbin, /usr/bin, /bin, if there.
  virtual std::optional<std::string> find_program(std::string_view name) = 0;
  /// Runs \a argv (argv[0] a full path, no shell) with stdin /dev/null, for at most 30 s.
  virtual Result<ProgramResult> run(const std::vector<std::string>& argv) = 0;
  /// The kernel log, oldest line first ("[    1.234567] text").
  virtual Result<std::vector<std::string>> kernel_log() = 0;
  /// GET_VERSION of the driver's device \a path (opened read-only, closed again).
  virtual Result<collect::DriverInfo> driver_version(const std::string& path) = 0;
};

/// The real system: the file tree from "/", uname, syscalls, posix_spawn, klogctl or /dev/kmsg.
class SystemModuleSystem final : public ModuleSystem {
 public:
  SystemModuleSystem();
  ~SystemModuleSystem() override;
  collect::SysfsReader& fs() override;
  std::string kernel_release() override;
  bool is_root() override;
  Result<NodeInfo> stat(const std::string& path) override;
  int finit_module(const std::string& path, const std::string& params) override;
  int delete_module(const std::string& name) override;
  std::optional<std::string> find_program(std::string_view name) override;
  Result<ProgramResult> run(const std::vector<std::string>& argv) override;
  Result<std::vector<std::string>> kernel_log() override;
  Result<collect::DriverInfo> driver_version(const std::string& path) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kvmprobe::driver
