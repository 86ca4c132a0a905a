#include "cli/global_options.h"

#include <fmt/format.h>

#include "cli/choices.h"
#include "core/analyse/params.h"
#include "core/collect/collect.h"
#include "core/collect/snapshot_json.h"

namespace kvmprobe::cli {

JsonMode GlobalOptions::json_mode() const {
  if (json == JsonMode::short_) return JsonMode::short_;
  if (json == JsonMode::pretty || json_flag || format == OutputFormat::json) return JsonMode::pretty;
  return JsonMode::off;
}

render::TextStyle GlobalOptions::text_style() const {
  render::TextStyle st;
  st.color = decide_color(color, json_mode());
  st.legend = !no_legend;
  st.verbose = verbose;
  return st;
}

void add_global_options(CLI::App& app, GlobalOptions& o) {
  auto* json = choices(app.add_option("--json", o.json, "JSON output: pretty, short or off (a bare --json means pretty)")
                           ->expected(0, 1)
                           ->default_str("pretty"),
                       Choices<JsonMode>{{"pretty", JsonMode::pretty}, {"short", JsonMode::short_}, {"off", JsonMode::off}});
  auto* json_flag = app.add_flag("-j", o.json_flag, "same as --json=pretty");
  choices(app.add_option("--format", o.format, "output format: text, json or prometheus (node_exporter textfile; check, compat, fleet)"),
          Choices<OutputFormat>{{"text", OutputFormat::text}, {"json", OutputFormat::json}, {"prometheus", OutputFormat::prometheus}})
      ->excludes(json)
      ->excludes(json_flag);
  choices(app.add_option("--color", o.color, "colour: auto, always or never"),
          Choices<ColorWhen>{{"auto", ColorWhen::automatic}, {"always", ColorWhen::always}, {"never", ColorWhen::never}});
  app.add_flag("-q,--quiet", o.quiet, "print nothing on success; failures still print one line");
  app.add_flag("--no-legend", o.no_legend, "no headers or closing hints in text output");
  app.add_flag("-v,--verbose", o.verbose, "show every evidence row");
  app.add_option("--from", o.from, "analyse a recorded snapshot FILE (- for stdin) instead of this host");
  app.add_option("--kernel", o.kernel, "model this kernel version (default: the snapshot's kernel)");
  app.add_option("--param", o.params, "module parameter override, e.g. kvm_amd.nested=0 (repeatable)");
  using B = collect::CollectOptions::Backend;
  choices(app.add_option("--backend", o.backend, "MSR access: auto, driver, msr or none"),
          Choices<B>{{"auto", B::automatic}, {"driver", B::driver}, {"msr", B::msr}, {"none", B::none}});
  app.add_flag("--no-load-msr", o.no_load_msr, "do not modprobe msr when /dev/cpu/0/msr is missing");
}

std::optional<Error> unsupported_format(const CLI::App& app, const GlobalOptions& o) {
  if (!o.prometheus()) return std::nullopt;
  for (const auto* sub : app.get_subcommands())
    if (sub->get_name() != "check" && sub->get_name() != "compat" && sub->get_name() != "fleet")
      return make_error(ErrorKind::usage, fmt::format("{} does not write --format prometheus", sub->get_name()),
                        "--format prometheus works with check, compat and fleet");
  return std::nullopt;
}

Result<Snapshot> obtain_snapshot(const GlobalOptions& o) {
  if (!o.from.empty()) {
    auto snap = collect::load_snapshot_file(o.from);
    if (snap && snap->cpus.empty())  // every step needs at least the boot CPU
      return make_error(ErrorKind::bad_input, fmt::format("{}: cpus: no CPU recorded", o.from));
    return snap;
  }
  collect::CollectOptions c;
  c.load_msr_module = !o.no_load_msr;
  c.backend = o.backend;
  return collect::collect(c);
}

Result<ProfileChoice> obtain_profile(const GlobalOptions& o, const Snapshot& snap) {
  if (!o.kernel.empty()) return choose_profile(o.kernel);
  if (snap.kernel_release.empty())
    return make_error(ErrorKind::usage, "the snapshot does not say which kernel it ran",
                      "choose one with --kernel VER (e.g. --kernel 6.1)");
  return choose_profile(snap.kernel_release, snap.kernel_version);
}

Result<std::map<std::string, std::string>> obtain_overrides(const GlobalOptions& o) {
  std::map<std::string, std::string> out;
  for (const auto& p : o.params) {
    std::string name, value;
    if (!parse_param_override(p, name, value))
      return make_error(ErrorKind::usage, fmt::format("--param '{}' is not MODULE.NAME=VALUE", p),
                        "e.g. --param kvm_amd.nested=0");
    out[name] = value;
  }
  return out;
}

ExitCode report_error(const GlobalOptions& o, const Error& e) { return report_failure(o, e, exit_for(e)); }

ExitCode report_failure(const GlobalOptions& o, const Error& e, ExitCode code, nlohmann::json doc,
                        const std::string& json_message) {
  // Failures print their one line even under --quiet.
  fmt::print(stderr, "kvmprobe: error: {}\n", e.detail);
  if (!e.hint.empty()) fmt::print(stderr, "kvmprobe: hint: {}\n", e.hint);
  if (o.json_mode() != JsonMode::off) {
    doc["error"] = {{"message", json_message.empty() ? e.detail : json_message},
                    {"hint", e.hint},
                    {"exit_code", static_cast<int>(code)}};
    print_json(o, doc);
  }
  return code;
}

void print_json(const GlobalOptions& o, const nlohmann::json& doc) {
  std::string s = o.json_mode() == JsonMode::short_ ? doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                                                    : doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  fmt::print("{}\n", s);
}

}  // namespace kvmprobe::cli
