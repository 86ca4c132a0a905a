// kvmprobe fleet PATH...: group snapshot files (or directories of them) into migration pools,
// with each pool's baseline, one-way edges and why pools stand apart. A file that cannot be
// read is one error line; the rest is still analysed (exit 3 then).
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "cli/commands.h"
#include "core/collect/snapshot_json.h"
#include "core/compat/fleet.h"
#include "core/render/fleet.h"
#include "core/render/prometheus.h"

namespace kvmprobe::cli {
namespace {

/// The snapshot files named: a file as given, a directory's *.json sorted by name.
std::vector<std::string> expand(const std::vector<std::string>& paths, std::vector<render::FleetInputError>& errors) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const auto& p : paths) {
    std::error_code ec;
    if (!fs::is_directory(p, ec)) {
      out.push_back(p);
      continue;
    }
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(p, ec))
      if (e.path().extension() == ".json") files.push_back(e.path().string());
    if (ec) errors.push_back({p, ec.message()});
    std::sort(files.begin(), files.end());
    out.insert(out.end(), files.begin(), files.end());
  }
  return out;
}

ExitCode run_fleet(const GlobalOptions& g, const FleetOptions& o) {
  auto overrides = obtain_overrides(g);
  if (!overrides) return report_error(g, overrides.error());
  std::vector<render::FleetInputError> errors;
  std::vector<compat::FleetHost> hosts;
  for (const auto& path : expand(o.paths, errors)) {
    auto snap = collect::load_snapshot_file(path);
    if (snap && snap->cpus.empty()) snap = make_error(ErrorKind::bad_input, path + ": cpus: no CPU recorded");
    Result<ProfileChoice> profile = snap ? obtain_profile(g, *snap) : Result<ProfileChoice>(snap.error());
    if (!profile) {
      errors.push_back({path, profile.error().detail});
      continue;
    }
    compat::CompatSide side;
    side.snap = &*snap;
    side.profile = profile->profile;
    side.overrides = *overrides;
    side.label = path;
    side.own_kernel = g.kernel.empty();
    hosts.push_back({path, compat::side_facts(side)});
  }
  for (const auto& e : errors)
    fmt::print(stderr, "kvmprobe: error: {}\n",
               e.message.rfind(e.path, 0) == 0 ? e.message : fmt::format("{}: {}", e.path, e.message));
  compat::FleetReport r = compat::fleet(std::move(hosts));
  if (g.prometheus()) {
    fmt::print("{}", render::fleet_prometheus(r, errors));
  } else if (g.json_mode() != JsonMode::off) {
    print_json(g, render::fleet_json(r, errors, o.baseline));
  } else if (!g.quiet) {
    fmt::print("{}", render::fleet_text(r, o.baseline, g.text_style()));
  }
  return errors.empty() ? ExitCode::ok : ExitCode::bad_input;
}

}  // namespace

void register_fleet(CLI::App& app, GlobalOptions& g, FleetOptions& o, Runner& run) {
  auto* sub = app.add_subcommand("fleet", "group snapshots into migration pools: baselines, one-way moves, splits");
  sub->add_option("PATH", o.paths, "snapshot files, or directories of *.json snapshots")->required();
  sub->add_flag("--baseline", o.baseline, "print only each pool's common baseline");
  sub->callback([&g, &o, &run] { run = [&g, &o] { return run_fleet(g, o); }; });
}

}  // namespace kvmprobe::cli
