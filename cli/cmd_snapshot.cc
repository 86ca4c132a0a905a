// kvmprobe snapshot [-o FILE]: record this host (or re-emit --from FILE) as a snapshot document.
#include <fmt/format.h>

#include "cli/commands.h"
#include "core/collect/snapshot_json.h"

namespace kvmprobe::cli {

void register_snapshot(CLI::App& app, GlobalOptions& g, Runner& run) {
  auto* sub = app.add_subcommand("snapshot", "record everything KVM's init would look at as JSON");
  auto* out = new std::string("-");  // owned for the process lifetime, like the App
  sub->add_option("-o,--output", *out, "write to FILE (atomically) instead of stdout");
  sub->callback([&g, &run, out] {
    run = [&g, out] {
      auto snap = obtain_snapshot(g);
      if (!snap) return report_error(g, snap.error());
      if (auto err = collect::write_snapshot_file(*snap, *out)) return report_error(g, *err);
      if (*out != "-" && !g.quiet)
        fmt::print(stderr, "kvmprobe: wrote {} ({} CPUs, MSR backend {})\n", *out, snap->cpus.size(),
                   snap->msr_backend.empty() ? "none" : snap->msr_backend);
      return ExitCode::ok;
    };
  });
}

}  // namespace kvmprobe::cli
