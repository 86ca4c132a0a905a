// kvmprobe check: walk every KVM init step and say whether the vendor module would load.
#include <fmt/format.h>

#include "cli/analysis.h"
#include "cli/commands.h"
#include "cli/compat_run.h"
#include "core/analyse/analyse.h"
#include "core/analyse/host_metrics.h"
#include "core/render/prometheus.h"

namespace kvmprobe::cli {
namespace {

/// --format prometheus: the report plus the host's gauges (TSC, MSR lists, XCR0, CPU states).
ExitCode run_prometheus(const GlobalOptions& g) {
  auto in = obtain_inputs(g);
  if (!in) return report_error(g, in.error());
  Analyzer a(in->snap, *in->profile.profile, in->overrides);
  Report r = a.report();
  // The snapshot's recorded /dev/kvm answers are this KVM's only when no other kernel is modelled.
  HostMetrics h = host_metrics(a.ctx(), g.kernel.empty());
  fmt::print("{}", render::check_prometheus({&r, &h, in->snap.taken_at}));
  return check_exit(r);
}

ExitCode run_check(const GlobalOptions& g, const CheckOptions& o) {
  if (!o.diff_kernel.empty() && g.prometheus())
    return report_error(g, make_error(ErrorKind::usage, "check --diff-kernel does not write --format prometheus",
                                      "use --format json or text with --diff-kernel"));
  if (!o.diff_kernel.empty()) return run_diff_kernel(g, o.diff_kernel);
  if (g.prometheus()) return run_prometheus(g);
  auto r = run_analysis(g);
  if (!r) return report_error(g, r.error());
  ExitCode code = check_exit(*r);
  if (g.json_mode() != JsonMode::off) {
    print_json(g, render::report_json(*r));
  } else if (!g.quiet) {
    fmt::print("{}", render::report_text(*r, g.text_style()));
  } else if (code != ExitCode::ok) {
    fmt::print(stderr, "kvmprobe: {}\n", r->verdict.reason);
  }
  return code;
}

}  // namespace

void register_check(CLI::App& app, GlobalOptions& g, CheckOptions& o, Runner& run) {
  auto* sub = app.add_subcommand("check", "walk KVM's init steps: would the vendor module load, is KVM usable now");
  sub->add_option("--diff-kernel", o.diff_kernel,
                  "what changes when the host boots kernel NEW, and can guests move between old and new (exit as compat)");
  sub->callback([&g, &o, &run] { run = [&g, &o] { return run_check(g, o); }; });
}

}  // namespace kvmprobe::cli
