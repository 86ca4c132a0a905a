// kvmprobe tsc [--guest-khz N]: KVM's TSC scaling on this host, and whether a guest at N kHz can run.
#include <fmt/format.h>

#include "cli/analysis.h"
#include "cli/commands.h"
#include "core/analyse/analyse.h"
#include "core/analyse/steps.h"
#include "core/analyse/tsc_math.h"

namespace kvmprobe::cli {

void register_tsc(CLI::App& app, GlobalOptions& g, Runner& run) {
  auto* sub = app.add_subcommand("tsc", "TSC scaling capabilities; can a guest at N kHz run here");
  auto* guest = new std::uint64_t(0);
  sub->add_option("--guest-khz", *guest, "a guest TSC frequency to test, in kHz")->check(CLI::Range(1ull, 0xffffffffull));
  sub->callback([&g, &run, guest] {
    run = [&g, guest] {
      auto in = obtain_inputs(g);
      if (!in) return report_error(g, in.error());
      Analyzer a(in->snap, *in->profile.profile, in->overrides);
      const auto& ctx = a.ctx();
      TscKhzChoice khz = choose_tsc_khz(ctx.snap);
      auto [control, why] = has_tsc_control(ctx);
      TscCaps caps = tsc_caps(ctx, khz.khz);
      std::uint64_t ppm = static_cast<std::uint64_t>(ctx.params.number("kvm.tsc_tolerance_ppm", 250));
      std::optional<GuestTscAnswer> answer;
      if (*guest && khz.khz) answer = guest_tsc(caps, ctx.profile, *khz.khz, *guest, ppm);
      bool vmx_unknown = ctx.module == VendorModule::kvm_intel && !ctx.vmx.evaluated;
      if (*guest && !khz.khz)
        return report_error(g, make_error(ErrorKind::missing, "host tsc_khz unknown: cannot judge --guest-khz",
                                          "run where /dev/kvm is usable, or as root"));
      if (g.json_mode() != JsonMode::off) {
        nlohmann::json j = {{"schema", "kvmprobe.tsc/1"},
                            {"profile", ctx.profile.id},
                            {"vendor_module", module_name(ctx.module)},
                            {"tsc_khz", khz.khz ? nlohmann::json(*khz.khz) : nlohmann::json(nullptr)},
                            {"tsc_khz_source", khz.khz ? to_string(khz.source) : ""},
                            {"tsc_khz_exact", khz.exact},
                            {"has_tsc_control", vmx_unknown ? nlohmann::json(nullptr) : nlohmann::json(control)},
                            {"has_tsc_control_reason", why},
                            {"frac_bits", caps.frac_bits},
                            {"max_ratio", hex(caps.max_ratio)},
                            {"default_ratio", hex(caps.default_ratio)},
                            {"max_guest_tsc_khz", caps.max_guest_khz ? nlohmann::json(*caps.max_guest_khz) : nlohmann::json(nullptr)},
                            {"tolerance_ppm", ppm}};
        if (answer) {
          static const char* kinds[] = {"within_tolerance", "scaled", "catchup", "impossible"};
          j["guest"] = {{"khz", *guest}, {"answer", kinds[static_cast<int>(answer->kind)]},
                        {"ratio", hex(answer->ratio)}, {"explanation", answer->explanation}};
        }
        print_json(g, j);
      } else if (!g.quiet) {
        fmt::print("tsc_khz            {}{}\n", khz.khz ? fmt::format("{}", *khz.khz) : "unknown",
                   khz.khz ? fmt::format(" ({}{})", to_string(khz.source), khz.exact ? "" : ", estimate") : "");
        fmt::print("has_tsc_control    {} ({})\n", vmx_unknown ? "unknown" : control ? "yes" : "no", why);
        fmt::print("frac bits          {}\nmax ratio          {}\ndefault ratio      {}\n", caps.frac_bits,
                   hex(caps.max_ratio), hex(caps.default_ratio));
        fmt::print("max guest TSC kHz  {}\n", caps.max_guest_khz ? fmt::format("{}", *caps.max_guest_khz) : "unknown");
        if (answer) fmt::print("guest at {} kHz:   {}\n", *guest, answer->explanation);
      }
      if (answer && answer->kind == GuestTscAnswer::Kind::impossible) {
        if (g.quiet) fmt::print(stderr, "kvmprobe: guest at {} kHz: {}\n", *guest, answer->explanation);
        return ExitCode::refused;
      }
      return ExitCode::ok;
    };
  });
}

}  // namespace kvmprobe::cli
