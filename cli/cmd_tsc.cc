// kvmprobe tsc [--guest-khz N]: KVM's TSC scaling on this host, and whether a guest at N kHz can run.
#include <fmt/format.h>

#include "cli/analysis.h"
#include "cli/commands.h"
#include "core/analyse/analyse.h"
#include "core/analyse/tsc_report.h"
#include "core/render/tsc.h"

namespace kvmprobe::cli {

namespace {

ExitCode run_tsc(const GlobalOptions& g, const TscOptions& o) {
  auto in = obtain_inputs(g);
  if (!in) return report_error(g, in.error());
  Analyzer a(in->snap, *in->profile.profile, in->overrides);
  TscReport r = tsc_report(a.ctx(), o.guest_khz);
  if (r.guest_khz && !r.khz.khz)
    return report_error(g, make_error(ErrorKind::missing, "host tsc_khz unknown: cannot judge --guest-khz",
                                      "run where /dev/kvm is usable, or as root"));
  if (g.json_mode() != JsonMode::off)
    print_json(g, render::tsc_json(r));
  else if (!g.quiet)
    fmt::print("{}", render::tsc_text(r));
  if (r.answer && r.answer->kind == GuestTscAnswer::Kind::impossible) {
    if (g.quiet) fmt::print(stderr, "kvmprobe: guest at {} kHz: {}\n", *r.guest_khz, r.answer->explanation);
    return ExitCode::refused;
  }
  return ExitCode::ok;
}

}  // namespace

void register_tsc(CLI::App& app, GlobalOptions& g, TscOptions& o, Runner& run) {
  auto* sub = app.add_subcommand("tsc", "TSC scaling capabilities; can a guest at N kHz run here");
  sub->add_option("--guest-khz", o.guest_khz, "a guest TSC frequency to test, in kHz")->check(CLI::Range(1ull, 0xffffffffull));
  sub->callback([&g, &o, &run] { run = [&g, &o] { return run_tsc(g, o); }; });
}

}  // namespace kvmprobe::cli
