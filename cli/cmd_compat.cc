// kvmprobe compat SRC DST: can a guest running under KVM on SRC be moved to DST (live migration
// or snapshot restore), and what breaks or is lost? Exit 0 / 21 / 22 / 13 (cli/exit_codes.h).
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/compat_run.h"
#include "core/collect/snapshot_json.h"
#include "core/compat/compat.h"
#include "core/compat/kernel_diff.h"
#include "core/render/compat.h"
#include "core/render/prometheus.h"

namespace kvmprobe::cli {
namespace {

bool is_host(const std::string& s) { return s == "-" || s == "host"; }

/// The snapshot of one side: a file, or this host (collected once for both sides).
Result<Snapshot> load_side(const GlobalOptions& g, const std::string& what) {
  if (!is_host(what)) {
    GlobalOptions file = g;
    file.from = what;
    return obtain_snapshot(file);
  }
  GlobalOptions live = g;
  live.from.clear();
  return obtain_snapshot(live);
}

/// The side's profile: --src-kernel/--dst-kernel, else --kernel, else the snapshot's kernel.
Result<compat::CompatSide> make_side(const GlobalOptions& g, const Snapshot& snap, const std::string& what,
                                     const std::string& kernel, const std::map<std::string, std::string>& overrides) {
  GlobalOptions k = g;
  if (!kernel.empty()) k.kernel = kernel;
  auto chosen = obtain_profile(k, snap);
  if (!chosen) return chosen.error();
  compat::CompatSide side;
  side.snap = &snap;
  side.profile = chosen->profile;
  side.overrides = overrides;
  side.label = is_host(what) ? "this host" : what;
  auto own = snap.kernel_release.empty() ? Result<ProfileChoice>(make_error(ErrorKind::missing, ""))
                                         : choose_profile(snap.kernel_release, snap.kernel_version);
  side.own_kernel = own && own->profile == chosen->profile;
  return side;
}

ExitCode exit_for(compat::CompatVerdict v) {
  switch (v) {
    case compat::CompatVerdict::compatible: return ExitCode::ok;
    case compat::CompatVerdict::conditional: return ExitCode::moves_with_losses;
    case compat::CompatVerdict::incompatible: return ExitCode::incompatible;
    case compat::CompatVerdict::unknown: return ExitCode::cannot_tell;
  }
  return ExitCode::cannot_tell;
}

/// The worse of two directions: incompatible, then cannot tell, then conditional.
ExitCode worse(ExitCode a, ExitCode b) {
  auto rank = [](ExitCode c) {
    return c == ExitCode::incompatible ? 3 : c == ExitCode::cannot_tell ? 2 : c == ExitCode::moves_with_losses ? 1 : 0;
  };
  return rank(a) >= rank(b) ? a : b;
}

ExitCode run_compat(const GlobalOptions& g, const CompatOptions& o) {
  auto overrides = obtain_overrides(g);
  if (!overrides) return report_error(g, overrides.error());
  auto src_snap = load_side(g, o.src);
  if (!src_snap) return report_error(g, src_snap.error());
  Result<Snapshot> dst_snap = is_host(o.src) && is_host(o.dst) ? Result<Snapshot>(*src_snap) : load_side(g, o.dst);
  if (!dst_snap) return report_error(g, dst_snap.error());
  auto src = make_side(g, *src_snap, o.src, o.src_kernel, *overrides);
  if (!src) return report_error(g, src.error());
  auto dst = make_side(g, *dst_snap, o.dst, o.dst_kernel, *overrides);
  if (!dst) return report_error(g, dst.error());

  compat::SideFacts sf = compat::side_facts(*src), df = compat::side_facts(*dst);
  std::vector<compat::CompatReport> reports{compat::compat(sf, df)};
  if (o.both) reports.push_back(compat::compat(df, sf));
  ExitCode code = ExitCode::ok;
  std::vector<nlohmann::json> docs;
  for (const auto& r : reports) {
    ExitCode c = exit_for(r.verdict);
    code = worse(code, c);
    docs.push_back(render::compat_json(r, static_cast<int>(c)));
  }
  if (g.prometheus()) {
    fmt::print("{}", render::compat_prometheus(reports));
  } else if (g.json_mode() != JsonMode::off) {
    print_json(g, o.both ? render::compat_both_json(docs) : docs.front());
  } else if (!g.quiet) {
    for (size_t i = 0; i < reports.size(); ++i)
      fmt::print("{}{}", i ? "\n" : "", render::compat_text(reports[i], g.text_style()));
  } else {
    for (const auto& r : reports)
      if (r.verdict != compat::CompatVerdict::compatible)
        fmt::print(stderr, "kvmprobe: {} → {}: {}: {}\n", r.src_label, r.dst_label, to_string(r.verdict), r.reason);
  }
  return code;
}

}  // namespace

ExitCode run_diff_kernel(const GlobalOptions& g, const std::string& new_kernel) {
  auto overrides = obtain_overrides(g);
  if (!overrides) return report_error(g, overrides.error());
  auto snap = obtain_snapshot(g);
  if (!snap) return report_error(g, snap.error());
  std::string label = g.from.empty() ? "this host" : g.from;
  auto old_side = make_side(g, *snap, label, g.kernel, *overrides);
  if (!old_side) return report_error(g, old_side.error());
  auto new_side = make_side(g, *snap, label, new_kernel, *overrides);
  if (!new_side) return report_error(g, new_side.error());
  old_side->label = label + " (old kernel)";
  new_side->label = label + " (new kernel)";
  compat::KernelDiff d = compat::diff_kernels(*old_side, *new_side);
  ExitCode up = exit_for(d.old_to_new.verdict), down = exit_for(d.new_to_old.verdict);
  ExitCode code = worse(up, down);
  if (g.json_mode() != JsonMode::off) {
    print_json(g, render::kernel_diff_json(d, static_cast<int>(code), static_cast<int>(up), static_cast<int>(down)));
  } else if (!g.quiet) {
    fmt::print("{}", render::kernel_diff_text(d, g.text_style()));
  } else if (code != ExitCode::ok) {
    fmt::print(stderr, "kvmprobe: old → new: {}; new → old: {}\n", d.old_to_new.reason, d.new_to_old.reason);
  }
  return code;
}

void register_compat(CLI::App& app, GlobalOptions& g, CompatOptions& o, Runner& run) {
  auto* sub = app.add_subcommand("compat", "can a guest move from host SRC to host DST (migration, snapshot restore)");
  sub->add_option("SRC", o.src, "source snapshot file, or - / host for this host")->required();
  sub->add_option("DST", o.dst, "destination snapshot file, or - / host for this host")->required();
  sub->add_option("--src-kernel", o.src_kernel, "model the source running kernel VER");
  sub->add_option("--dst-kernel", o.dst_kernel, "model the destination running kernel VER");
  sub->add_flag("--both", o.both, "check both directions (compat is not symmetric)");
  sub->callback([&g, &o, &run] { run = [&g, &o] { return run_compat(g, o); }; });
}

}  // namespace kvmprobe::cli
