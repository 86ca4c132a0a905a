// kvmprobe xcr0: host XCR0/XSS decoded and KVM's supported masks for the kernel version.
#include <fmt/format.h>

#include "cli/analysis.h"
#include "cli/commands.h"
#include "core/analyse/analyse.h"
#include "core/analyse/xcr0_report.h"
#include "core/render/xcr0.h"

namespace kvmprobe::cli {

void register_xcr0(CLI::App& app, GlobalOptions& g, Runner& run) {
  auto* sub = app.add_subcommand("xcr0", "host XCR0/XSS and what KVM would report as supported");
  sub->callback([&g, &run] {
    run = [&g] {
      auto in = obtain_inputs(g);
      if (!in) return report_error(g, in.error());
      Analyzer a(in->snap, *in->profile.profile, in->overrides);
      Xcr0Report r = xcr0_report(a.ctx());
      if (g.json_mode() != JsonMode::off)
        print_json(g, render::xcr0_json(r));
      else if (!g.quiet)
        fmt::print("{}", render::xcr0_text(r));
      if (r.step.status != Status::unknown) return ExitCode::ok;
      if (g.quiet) fmt::print(stderr, "kvmprobe: {}\n", r.step.summary);
      return ExitCode::cannot_tell;
    };
  });
}

}  // namespace kvmprobe::cli
