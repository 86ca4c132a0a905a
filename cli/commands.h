// One registration function per subcommand (cli/cmd_<name>.cc). Each adds its subcommand and
// options, binding them to the command's options struct (cli/options.h, owned by main() and
// alive until run() returns), and sets `run` to the function main() calls after parsing.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

#include "cli/exit_codes.h"
#include "cli/global_options.h"
#include "cli/options.h"

namespace kvmprobe::cli {

/// What main() runs after a successful parse.
using Runner = std::function<ExitCode()>;

void register_check(CLI::App& app, GlobalOptions& g, CheckOptions& o, Runner& run);
void register_snapshot(CLI::App& app, GlobalOptions& g, SnapshotOptions& o, Runner& run);
void register_import(CLI::App& app, GlobalOptions& g, ImportOptions& o, Runner& run);
void register_xcr0(CLI::App& app, GlobalOptions& g, Runner& run);
void register_tsc(CLI::App& app, GlobalOptions& g, TscOptions& o, Runner& run);
void register_vmx_caps(CLI::App& app, GlobalOptions& g, Runner& run);
void register_profiles(CLI::App& app, GlobalOptions& g, Runner& run);
void register_msrs(CLI::App& app, GlobalOptions& g, MsrsOptions& o, Runner& run);
void register_enable_vmx(CLI::App& app, GlobalOptions& g, EnableVmxOptions& o, Runner& run);
void register_provision(CLI::App& app, GlobalOptions& g, ProvisionOptions& o, Runner& run);
void register_restore(CLI::App& app, GlobalOptions& g, RestoreOptions& o, Runner& run);
void register_driver(CLI::App& app, GlobalOptions& g, DriverLoadOptions& o, Runner& run);
void register_cpuid(CLI::App& app, GlobalOptions& g, CpuidOptions& o, Runner& run);
void register_compat(CLI::App& app, GlobalOptions& g, CompatOptions& o, Runner& run);
void register_fleet(CLI::App& app, GlobalOptions& g, FleetOptions& o, Runner& run);
void register_completion(CLI::App& app, GlobalOptions& g, CompletionOptions& o, Runner& run);

}  // namespace kvmprobe::cli
