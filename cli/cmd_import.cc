// kvmprobe import --libcpuid FILE | --aida64 FILE: turn a raw CPUID dump into a snapshot.
#include <fmt/format.h>

#include "cli/commands.h"
#include "core/collect/import_dump.h"
#include "core/collect/snapshot_json.h"

namespace kvmprobe::cli {

namespace {

ExitCode run_import(const GlobalOptions& g, const ImportOptions& o) {
  Result<Snapshot> snap = !o.libcpuid.empty() ? collect::import_libcpuid_file(o.libcpuid)
                          : !o.aida64.empty() ? collect::import_aida64_file(o.aida64)
                                              : collect::import_dump_file(o.any);
  if (!snap) return report_error(g, snap.error());
  if (!o.kernel_release.empty()) snap->kernel_release = o.kernel_release;
  if (auto err = collect::write_snapshot_file(*snap, o.output)) return report_error(g, *err);
  return ExitCode::ok;
}

}  // namespace

void register_import(CLI::App& app, GlobalOptions& g, ImportOptions& o, Runner& run) {
  auto* sub = app.add_subcommand("import", "turn a raw CPUID dump into a snapshot (CPUID only; MSRs unknown)");
  // Exactly one dump: CLI11 rejects none and two (a usage error, exit 2).
  auto* dump = sub->add_option_group("dump", "the dump to import, exactly one of");
  dump->add_option("--libcpuid", o.libcpuid, "a libcpuid raw dump (cpuid_tool --save)");
  dump->add_option("--aida64", o.aida64, "an AIDA64 CPUID dump (with MSR sections if present)");
  dump->add_option("--dump", o.any, "a dump in any supported format (detected)");
  dump->require_option(1);
  sub->add_option("-o,--output", o.output, "write the snapshot to FILE instead of stdout");
  sub->add_option("--release", o.kernel_release, "record this kernel release in the snapshot");
  sub->callback([&g, &o, &run] { run = [&g, &o] { return run_import(g, o); }; });
}

}  // namespace kvmprobe::cli
