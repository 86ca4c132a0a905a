// One plain options struct per command, all owned by main() (CommandOptions) for the whole run:
// CLI11 writes into them while parsing, the command's run function reads them afterwards.
// Enum-valued options are enums here; cli/choices.h maps the accepted words onto them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/analyse/msr_lists.h"
#include "core/provision/journal.h"

namespace kvmprobe::cli {

/// Options of the write commands (enable-vmx, provision).
struct WriteOptions {
  bool dry_run = false;                               ///< plan only
  bool yes = false;                                   ///< do not ask before writing
  std::string journal = provision::kDefaultJournal;   ///< --journal PATH
};

struct CheckOptions {
  std::string diff_kernel;  ///< --diff-kernel NEW
};

struct SnapshotOptions {
  std::string output = "-";  ///< -o FILE
};

struct ImportOptions {
  std::string libcpuid, aida64, any;  ///< exactly one of --libcpuid, --aida64, --dump
  std::string output = "-";           ///< -o FILE
  std::string kernel_release;         ///< --release
};

struct TscOptions {
  std::uint64_t guest_khz = 0;  ///< --guest-khz N; 0 = not asked
};

struct MsrsOptions {
  bool save_list = false, feature_list = false, compare = false;  ///< at most one of them
  bool names = false;                                             ///< --names
  UnrecordedRdmsr assume = UnrecordedRdmsr::unknown;              ///< --assume-rdmsr none|vendor
};

struct EnableVmxOptions {
  WriteOptions write;
  bool no_lock = false, smx = false;
  std::string cpus;  ///< --cpus LIST
};

struct ProvisionOptions {
  WriteOptions write;
  std::string profile;  ///< --profile FILE
};

struct RestoreOptions {
  std::string journal = provision::kDefaultJournal;
  bool journal_given = false;  ///< --journal was on the command line (a missing default is no error)
  bool dry_run = false;
};

struct DriverLoadOptions {
  std::string ko;          ///< --ko FILE
  bool read_only = false;  ///< --read-only
};

struct CpuidOptions {
  bool qemu_cpu = false;  ///< --qemu-cpu
};

struct CompatOptions {
  std::string src, dst, src_kernel, dst_kernel;
  bool both = false;
};

struct FleetOptions {
  std::vector<std::string> paths;
  bool baseline = false;
};

/// `kvmprobe completion SHELL`.
enum class Shell { bash, zsh, fish };

struct CompletionOptions {
  Shell shell = Shell::bash;
};

/// Every command's options; main() owns one for the whole run.
struct CommandOptions {
  CheckOptions check;
  SnapshotOptions snapshot;
  ImportOptions import;
  TscOptions tsc;
  MsrsOptions msrs;
  EnableVmxOptions enable_vmx;
  ProvisionOptions provision;
  RestoreOptions restore;
  DriverLoadOptions driver_load;
  CpuidOptions cpuid;
  CompatOptions compat;
  FleetOptions fleet;
  CompletionOptions completion;
};

}  // namespace kvmprobe::cli
