// kvmprobe check: walk every KVM init step and say whether the vendor module would load.
#include <fmt/format.h>

#include "cli/analysis.h"
#include "cli/commands.h"
#include "cli/compat_run.h"
#include "core/analyse/analyse.h"

namespace kvmprobe::cli {

void register_check(CLI::App& app, GlobalOptions& g, Runner& run) {
  auto* sub = app.add_subcommand("check", "walk KVM's init steps: would the vendor module load, is KVM usable now");
  auto* diff_kernel = new std::string;
  sub->add_option("--diff-kernel", *diff_kernel,
                  "what changes when the host boots kernel NEW, and can guests move between old and new (exit as compat)");
  sub->callback([&g, &run, diff_kernel] {
    run = [&g, diff_kernel] {
      if (!diff_kernel->empty()) return run_diff_kernel(g, *diff_kernel);
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
    };
  });
}

}  // namespace kvmprobe::cli
