// kvmprobe import --libcpuid FILE | --aida64 FILE: turn a raw CPUID dump into a snapshot.
#include <fmt/format.h>

#include "cli/commands.h"
#include "core/collect/import_dump.h"
#include "core/collect/snapshot_json.h"

namespace kvmprobe::cli {

namespace {
struct ImportOptions {
  std::string libcpuid, aida64, any, output = "-", kernel_release;
};
}  // namespace

void register_import(CLI::App& app, GlobalOptions& g, Runner& run) {
  auto* o = new ImportOptions;
  auto* sub = app.add_subcommand("import", "turn a raw CPUID dump into a snapshot (CPUID only; MSRs unknown)");
  auto* a = sub->add_option("--libcpuid", o->libcpuid, "a libcpuid raw dump (cpuid_tool --save)");
  auto* b = sub->add_option("--aida64", o->aida64, "an AIDA64 CPUID dump (with MSR sections if present)");
  auto* c = sub->add_option("--dump", o->any, "a dump in any supported format (detected)");
  a->excludes(b)->excludes(c);
  b->excludes(c);
  sub->add_option("-o,--output", o->output, "write the snapshot to FILE instead of stdout");
  sub->add_option("--release", o->kernel_release, "record this kernel release in the snapshot");
  sub->callback([&g, &run, o] {
    run = [&g, o] {
      if (o->libcpuid.empty() && o->aida64.empty() && o->any.empty())
        return report_error(g, make_error(ErrorKind::usage, "import needs --libcpuid, --aida64 or --dump FILE"));
      Result<Snapshot> snap = !o->libcpuid.empty() ? collect::import_libcpuid_file(o->libcpuid)
                              : !o->aida64.empty() ? collect::import_aida64_file(o->aida64)
                                                   : collect::import_dump_file(o->any);
      if (!snap) return report_error(g, snap.error());
      if (!o->kernel_release.empty()) snap->kernel_release = o->kernel_release;
      if (auto err = collect::write_snapshot_file(*snap, o->output)) return report_error(g, *err);
      return ExitCode::ok;
    };
  });
}

}  // namespace kvmprobe::cli
