// A scripted ModuleSystem over a FakeTree, for the `kvmprobe driver` logic in core/driver/.
#pragma once

#include <cerrno>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/collect/sysfs_reader.h"
#include "core/driver/module_system.h"
#include "tests/support/fake_sources.h"
#include "uapi/kvmprobe.h"

namespace kvmprobe::testing {

/// Files live in `tree`; everything else is a member the test sets. A successful
/// finit_module/modprobe "loads" the module: /sys/module/kvmprobe and /dev/kvmprobe appear.
class FakeModuleSystem : public driver::ModuleSystem {
 public:
  FakeTree tree;
  collect::RootedSysfsReader reader{tree.root()};
  std::string release = "6.1.0-56-amd64";
  bool root = true;
  int load_errno = 0;                        ///< what finit_module returns
  std::vector<std::string> log_after_load;   ///< lines a load attempt appends to the log
  std::vector<std::string> log = {"[    0.000000] Linux version 6.1.0-56-amd64"};
  int unload_errno = 0;
  std::map<std::string, std::string> programs;  ///< name -> path (find_program)
  std::function<driver::ProgramResult(const std::vector<std::string>&)> on_run;
  Result<collect::DriverInfo> version = collect::DriverInfo{KVMPROBE_ABI_VERSION, 7, 256, 2};
  std::vector<std::string> loaded_files;     ///< finit_module calls (path + " " + params)
  std::vector<std::vector<std::string>> runs;
  int unloads = 0;

  void mark_loaded() {
    tree.write("/sys/module/kvmprobe/initstate", "live\n");
    tree.write("/sys/module/kvmprobe/taint", "OE\n");
    tree.write("/sys/module/kvmprobe/refcnt", "0\n");
    tree.write("/sys/module/kvmprobe/parameters/allow_writes", "Y\n");
    device = true;
  }
  bool device = false;

  collect::SysfsReader& fs() override { return reader; }
  std::string kernel_release() override { return release; }
  bool is_root() override { return root; }
  Result<driver::NodeInfo> stat(const std::string& path) override {
    if (path == "/dev/kvmprobe" && device) return driver::NodeInfo{true, 0600, 0, 0};
    return make_error(ErrorKind::missing, path + ": No such file or directory", {}, ENOENT);
  }
  int finit_module(const std::string& path, const std::string& params) override {
    loaded_files.push_back(path + (params.empty() ? "" : " " + params));
    if (!reader.exists(path)) return ENOENT;
    return attempt();
  }
  int delete_module(const std::string&) override {
    ++unloads;
    if (unload_errno) return unload_errno;
    std::filesystem::remove_all(tree.real("/sys/module/kvmprobe"));
    device = false;
    return 0;
  }
  std::optional<std::string> find_program(std::string_view name) override {
    auto it = programs.find(std::string(name));
    if (it == programs.end()) return std::nullopt;
    return it->second;
  }
  Result<driver::ProgramResult> run(const std::vector<std::string>& argv) override {
    runs.push_back(argv);
    if (!on_run) return make_error(ErrorKind::io, "cannot run " + argv[0], {}, ENOENT);
    return on_run(argv);
  }
  Result<std::vector<std::string>> kernel_log() override { return log; }
  Result<collect::DriverInfo> driver_version(const std::string&) override { return version; }

  /// A load attempt: logs its lines, then loads or fails with load_errno.
  int attempt() {
    log.insert(log.end(), log_after_load.begin(), log_after_load.end());
    if (load_errno == 0) mark_loaded();
    return load_errno;
  }
};

}  // namespace kvmprobe::testing
