// Kernel modules: which KVM and other-hypervisor modules are loaded (with their parameters),
// and which module parameters are configured on the kernel command line or in modprobe.d.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/collect/sources.h"

namespace kvmprobe::collect {

/// Modules whose parameters and presence matter to KVM's init.
std::span<const std::string_view> kvm_module_names();

/// Other hypervisors' modules that may hold VMX/SVM: VirtualBox (vboxdrv), VMware
/// Workstation (vmmon), Parallels (prl_hypervisor).
std::span<const std::string_view> other_hypervisor_module_names();

/// One configured parameter setting.
struct ConfiguredParam {
  std::string key;     ///< "kvm_amd.nested" ('-' in module and parameter names becomes '_')
  std::string value;   ///< as written; empty for the bare form ("kvm_intel.nested"), which
                       ///< sets a bool parameter to true
  std::string origin;  ///< "kernel command line" or "/etc/modprobe.d/kvm.conf:3"
};

/// Splits text into words at blanks, keeping "quoted strings" together (quotes removed), as
/// the kernel's next_arg() and kmod do.
std::vector<std::string> split_words(std::string_view text);

/// `module.param[=value]` words of the kernel command line for \a modules, in order; words
/// after "--" belong to init and are ignored.
std::vector<ConfiguredParam> parse_cmdline_params(std::string_view cmdline,
                                                  std::span<const std::string_view> modules);

/// `options MODULE param=value ...` lines of one modprobe.d file for \a modules, in order
/// ('#' comment lines, backslash continuations).
std::vector<ConfiguredParam> parse_modprobe_conf(std::string_view text, std::string_view path,
                                                 std::span<const std::string_view> modules);

/// The modprobe.d files kmod reads, in its order: *.conf from /etc/modprobe.d, /run/modprobe.d,
/// /usr/local/lib/modprobe.d and /lib/modprobe.d, sorted by file name, where a name in an
/// earlier directory hides the same name in a later one. A directory that exists but cannot be
/// listed adds a line to \a notes (when given).
std::vector<std::string> modprobe_conf_files(SysfsReader& fs,
                                             std::vector<std::string>* notes = nullptr);

/// Fills Snapshot::configured_params and param_origins for the KVM modules: modprobe.d first,
/// then the kernel command line (modprobe appends it, so it wins). Unreadable files → notes.
void collect_configured_params(SysfsReader& fs, Snapshot& snap);

/// Fills Snapshot::modules with every module of kvm_module_names() and
/// other_hypervisor_module_names() present in /sys/module, with its readable parameters
/// (unreadable ones are named in a note); adds a note when /sys/hypervisor/type names one.
void collect_loaded_modules(SysfsReader& fs, Snapshot& snap);

}  // namespace kvmprobe::collect
