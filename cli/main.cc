// kvmprobe: will KVM load on this host, and exactly what will it expose?
// main() wires the subcommands, parses, runs one, and maps every outcome to an exit code.
#include <fmt/format.h>

#include <csignal>
#include <exception>

#include "cli/commands.h"

using namespace kvmprobe::cli;

int main(int argc, char** argv) {
  CLI::App app{"kvmprobe: predict what Linux KVM's init decides on this host", "kvmprobe"};
  app.set_version_flag("--version", "kvmprobe " KVMPROBE_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  GlobalOptions opts;
  Runner run;
  add_global_options(app, opts);
  register_check(app, opts, run);
  register_snapshot(app, opts, run);
  register_import(app, opts, run);
  register_xcr0(app, opts, run);
  register_tsc(app, opts, run);
  register_vmx_caps(app, opts, run);
  register_profiles(app, opts, run);
  register_msrs(app, opts, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e) == 0 ? 0 : static_cast<int>(ExitCode::usage);
  } catch (const CLI::CallForVersion& e) {
    app.exit(e);
    return 0;
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "kvmprobe: error: {}\n", e.what());
    fmt::print(stderr, "kvmprobe: hint: see 'kvmprobe --help'\n");
    return static_cast<int>(ExitCode::usage);
  }
  try {
    return static_cast<int>(run());
  } catch (const std::exception& e) {
    fmt::print(stderr, "kvmprobe: internal error: {}\n", e.what());
    return static_cast<int>(ExitCode::internal);
  }
}
