// kvmprobe driver status|load|unload: get the companion driver (msr-driver/) running.
// The work is in core/driver/, the output in core/render/driver; this file wires options and
// picks the exit code.
#include <fmt/format.h>

#include <cstdlib>

#include "cli/commands.h"
#include "core/driver/driver_load.h"
#include "core/driver/driver_status.h"
#include "core/render/driver.h"

#ifndef KVMPROBE_BUILD_TREE_KO
#define KVMPROBE_BUILD_TREE_KO ""
#endif

namespace kvmprobe::cli {

namespace {

/// Where `load` and `status` look for kvmprobe.ko.
driver::KoSearch ko_search(const std::string& option_path) {
  driver::KoSearch s;
  s.option_path = option_path;
  if (const char* env = std::getenv("KVMPROBE_DRIVER_KO")) s.env_path = env;
  s.build_tree_ko = KVMPROBE_BUILD_TREE_KO;
  return s;
}

/// Under --json \a doc is the one document, with an "error" member when \a e is set; \a e's
/// lines go to stderr. Returns \a code.
ExitCode finish(const GlobalOptions& g, const nlohmann::json& doc, const std::optional<Error>& e, ExitCode code) {
  if (e) return report_failure(g, *e, code, doc);
  if (g.json_mode() != JsonMode::off) print_json(g, doc);
  return code;
}

ExitCode run_status(const GlobalOptions& g) {
  driver::SystemModuleSystem sys;
  driver::DriverStatus st = driver::driver_status(sys, ko_search(""));
  if (g.json_mode() == JsonMode::off && !g.quiet) fmt::print("{}", render::driver_status_text(st, !g.no_legend));
  auto e = driver::driver_unusable(st.module.loaded, st.device, st.abi);
  return finish(g, render::driver_status_json(st), e, e ? ExitCode::cannot_tell : ExitCode::ok);
}

ExitCode run_load(const GlobalOptions& g, const DriverLoadOptions& lo) {
  driver::SystemModuleSystem sys;
  driver::LoadOptions opt;
  opt.search = ko_search(lo.ko);
  opt.read_only = lo.read_only;
  auto o = driver::load_driver(sys, opt);
  if (!o) return report_error(g, o.error());
  if (o->failure) {
    Error e = make_error(ErrorKind::io, o->failure->detail, o->failure->hint, o->err);
    return finish(g, render::driver_load_json(*o), e, ExitCode::failed);
  }
  auto e = driver::driver_unusable(o->loaded, o->device, o->abi);
  if (!e && g.json_mode() == JsonMode::off && !g.quiet) fmt::print("{}", render::driver_load_text(*o));
  return finish(g, render::driver_load_json(*o), e, e ? ExitCode::cannot_tell : ExitCode::ok);
}

ExitCode run_unload(const GlobalOptions& g) {
  driver::SystemModuleSystem sys;
  driver::UnloadOutcome u = driver::unload_driver(sys);
  if (!u.unloaded)
    return finish(g, render::driver_unload_json(u), make_error(ErrorKind::io, u.detail, u.hint, u.err),
                  ExitCode::failed);
  if (g.json_mode() == JsonMode::off && !g.quiet) fmt::print("{}", render::driver_unload_text(u));
  return finish(g, render::driver_unload_json(u), std::nullopt, ExitCode::ok);
}

}  // namespace

void register_driver(CLI::App& app, GlobalOptions& g, DriverLoadOptions& o, Runner& run) {
  auto* sub = app.add_subcommand("driver", "the companion kernel module /dev/kvmprobe: status, load, unload");
  sub->require_subcommand(1);
  auto* status = sub->add_subcommand("status", "is it loaded and usable; where is its .ko; what would block loading");
  status->callback([&g, &run] { run = [&g] { return run_status(g); }; });

  auto* load = sub->add_subcommand("load", "load kvmprobe.ko (as root); say why the kernel refused it");
  load->add_option("--ko", o.ko, "the module file (default: $KVMPROBE_DRIVER_KO, DKMS, the build tree)");
  load->add_flag("--read-only", o.read_only, "load with allow_writes=0: the driver refuses every write");
  load->callback([&g, &o, &run] { run = [&g, &o] { return run_load(g, o); }; });

  auto* unload = sub->add_subcommand("unload", "unload kvmprobe (as root)");
  unload->callback([&g, &run] { run = [&g] { return run_unload(g); }; });
}

}  // namespace kvmprobe::cli
