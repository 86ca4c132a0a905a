// kvmprobe cpuid: KVM_GET_SUPPORTED_CPUID as the chosen kernel would answer it on this host
// (what a `-cpu host` guest can see); --qemu-cpu prints it as a QEMU -cpu string.
#include <fmt/format.h>

#include "cli/analysis.h"
#include "cli/commands.h"
#include "cli/provision_run.h"
#include "core/analyse/analyse.h"
#include "core/analyse/supported_cpuid.h"
#include "core/render/cpuid.h"

namespace kvmprobe::cli {

namespace {

ExitCode run_cpuid(const GlobalOptions& g, const CpuidOptions& o) {
  auto in = obtain_inputs(g);
  if (!in) return report_error(g, in.error());
  Analyzer a(in->snap, *in->profile.profile, in->overrides);
  const auto& ctx = a.ctx();
  // No KVM_GET_SUPPORTED_CPUID where the vendor module would not load (check's verdict).
  Report rep = a.report();
  if (rep.verdict.would_load == false && !rep.verdict.vendor_module.empty())
    return report_error_code(
        g, make_error(ErrorKind::missing, fmt::format("{} would not load ({}): there is no KVM_GET_SUPPORTED_CPUID",
                                                      rep.verdict.vendor_module, rep.verdict.reason),
                      "kvmprobe check says why"),
        exit_for(rep.verdict.refusal));
  SupportedCpuid s = compute_supported_cpuid(ctx);
  if (!s.evaluated) {
    auto code = ctx.boot && ctx.module == VendorModule::none ? ExitCode::no_support : ExitCode::cannot_tell;
    return report_error_code(g, make_error(ErrorKind::missing, s.not_evaluated), code);
  }
  render::CpuidHeader h{ctx.profile.id, module_name(ctx.module)};
  if (g.json_mode() != JsonMode::off)
    print_json(g, render::cpuid_json(s, h));
  else if (o.qemu_cpu)
    fmt::print("{}\n", render::qemu_cpu_string(s));
  else if (!g.quiet)
    fmt::print("{}", render::cpuid_text(s, h, g.text_style()));
  return ExitCode::ok;
}

}  // namespace

void register_cpuid(CLI::App& app, GlobalOptions& g, CpuidOptions& o, Runner& run) {
  auto* sub = app.add_subcommand("cpuid", "KVM_GET_SUPPORTED_CPUID for the kernel version: what a -cpu host guest sees");
  sub->add_flag("--qemu-cpu", o.qemu_cpu, "print a QEMU -cpu string: qemu64, +each supported feature it lacks, -each of its own KVM would not report");
  sub->callback([&g, &o, &run] { run = [&g, &o] { return run_cpuid(g, o); }; });
}

}  // namespace kvmprobe::cli
