// kvmprobe vmx-caps: decode the VMX capability MSRs per CPU, like QEMU's vmxcap but for every
// CPU and against the kernel's required controls.
#include <fmt/format.h>

#include "cli/analysis.h"
#include "cli/commands.h"
#include "core/analyse/vmx_caps.h"
#include "core/render/vmx_caps.h"

namespace kvmprobe::cli {

void register_vmx_caps(CLI::App& app, GlobalOptions& g, Runner& run) {
  auto* sub = app.add_subcommand("vmx-caps", "decode the VMX capability MSRs of every CPU");
  sub->callback([&g, &run] {
    run = [&g] {
      auto in = obtain_inputs(g);
      if (!in) return report_error(g, in.error());
      VmxCaps caps = vmx_caps(in->snap, *in->profile.profile);
      if (caps.outcome == VmxCapsOutcome::no_vmx)
        return report_failure(g, make_error(ErrorKind::missing,
                                            fmt::format("this {} CPU has no VMX (CPUID.1:ECX[5] clear)", caps.vendor)),
                              ExitCode::no_support, {{"schema", "kvmprobe.error/1"}}, "CPU has no VMX");
      if (caps.outcome == VmxCapsOutcome::unreadable)
        return report_error(g, make_error(ErrorKind::missing, "no VMX capability MSR could be read",
                                          "needs an Intel CPU with VMX, root and /dev/cpu/N/msr (modprobe msr)"));
      if (g.json_mode() != JsonMode::off)
        print_json(g, render::vmx_caps_json(caps));
      else if (!g.quiet)
        fmt::print("{}", render::vmx_caps_text(caps));
      return ExitCode::ok;
    };
  });
}

}  // namespace kvmprobe::cli
