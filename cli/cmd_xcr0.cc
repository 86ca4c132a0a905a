// kvmprobe xcr0: host XCR0/XSS decoded and KVM's supported masks for the kernel version.
#include <fmt/format.h>

#include "cli/analysis.h"
#include "cli/commands.h"
#include "core/analyse/analyse.h"
#include "core/analyse/steps.h"
#include "core/analyse/xcr0.h"

namespace kvmprobe::cli {

void register_xcr0(CLI::App& app, GlobalOptions& g, Runner& run) {
  auto* sub = app.add_subcommand("xcr0", "host XCR0/XSS and what KVM would report as supported");
  sub->callback([&g, &run] {
    run = [&g] {
      auto in = obtain_inputs(g);
      if (!in) return report_error(g, in.error());
      Analyzer a(in->snap, *in->profile.profile, in->overrides);
      const auto& ctx = a.ctx();
      StepResult step = step_xcr0(ctx);
      if (g.json_mode() != JsonMode::off) {
        auto opt_hex = [](std::optional<std::uint64_t> v) {
          return v ? nlohmann::json(hex(*v)) : nlohmann::json(nullptr);
        };
        // Without XSAVE (in the CPU, or in the running kernel) there is no XCR0: null here (KVM's
        // internal host_xcr0 is 0).
        std::optional<bool> xsave;
        if (ctx.boot) xsave = has(*ctx.boot, cpuid::kXsave);
        nlohmann::json j = {{"schema", "kvmprobe.xcr0/1"},
                            {"profile", ctx.profile.id},
                            {"xsave", xsave.has_value() ? nlohmann::json(xsave.value()) : nlohmann::json(nullptr)},
                            {"host_xcr0", (xsave.has_value() && !xsave.value()) ||
                                                      (ctx.boot && kernel_dropped_xsave(*ctx.boot))
                                                  ? nlohmann::json(nullptr)
                                                  : opt_hex(ctx.host_xcr0)},
                            {"host_xcr0_features", ctx.host_xcr0 ? xfeature_names(*ctx.host_xcr0) : ""},
                            {"kvm_supported_xcr0_mask", hex(ctx.profile.supported_xcr0_mask)},
                            {"supported_xcr0", opt_hex(ctx.supported_xcr0)},
                            {"supported_xcr0_features", ctx.supported_xcr0 ? xfeature_names(*ctx.supported_xcr0) : ""},
                            {"step", render::step_json(step)}};
        print_json(g, j);
      } else if (!g.quiet) {
        fmt::print("{}\n", step.summary);
        for (const auto& e : step.evidence)
          fmt::print("  {:<28} {:<12} {}\n", e.what, e.raw, e.meaning);
      }
      if (step.status != Status::unknown) return ExitCode::ok;
      if (g.quiet) fmt::print(stderr, "kvmprobe: {}\n", step.summary);
      return ExitCode::cannot_tell;
    };
  });
}

}  // namespace kvmprobe::cli
