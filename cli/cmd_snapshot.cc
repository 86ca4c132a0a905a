// kvmprobe snapshot [-o FILE]: record this host (or re-emit --from FILE) as a snapshot document.
#include <fmt/format.h>

#include "cli/commands.h"
#include "core/collect/snapshot_json.h"

namespace kvmprobe::cli {

namespace {

ExitCode run_snapshot(const GlobalOptions& g, const SnapshotOptions& o) {
  auto snap = obtain_snapshot(g);
  if (!snap) return report_error(g, snap.error());
  if (auto err = collect::write_snapshot_file(*snap, o.output)) return report_error(g, *err);
  if (o.output != "-" && !g.quiet)
    fmt::print(stderr, "kvmprobe: wrote {} ({} CPUs, MSR backend {})\n", o.output, snap->cpus.size(),
               snap->msr_backend.empty() ? "none" : snap->msr_backend);
  return ExitCode::ok;
}

}  // namespace

void register_snapshot(CLI::App& app, GlobalOptions& g, SnapshotOptions& o, Runner& run) {
  auto* sub = app.add_subcommand("snapshot", "record everything KVM's init would look at as JSON");
  sub->add_option("-o,--output", o.output, "write to FILE (atomically) instead of stdout");
  sub->callback([&g, &o, &run] { run = [&g, &o] { return run_snapshot(g, o); }; });
}

}  // namespace kvmprobe::cli
