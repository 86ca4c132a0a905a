// kvmprobe: will KVM load on this host, and exactly what will it expose?
// main() wires the subcommands, parses, runs one, and maps every outcome to an exit code.
#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <set>
#include <string>
#include <vector>
#include <exception>

#include "cli/commands.h"

using namespace kvmprobe::cli;

namespace {

/// Edit distance, for "did you mean".
size_t distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t prev = row[0]++;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cur = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] != b[j - 1])});
      prev = cur;
    }
  }
  return row[b.size()];
}

/// The names of the options of \a app and its subcommands that take a value in the next word
/// ("--from FILE"; not flags, not --json whose value is optional and attached).
void value_options(const CLI::App& app, std::set<std::string>& out) {
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_items_expected_min() <= 0) continue;
    for (const auto& n : o->get_lnames()) out.insert("--" + n);
    for (const auto& n : o->get_snames()) out.insert("-" + n);
  }
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) value_options(*sub, out);
}

/// The first word that is neither an option nor an option's value, when it names no subcommand.
std::string unknown_command(const CLI::App& app, int argc, char** argv, std::string& suggestion) {
  std::set<std::string> with_value;
  value_options(app, with_value);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") return {};
    if (a.rfind("-", 0) == 0) {
      if (with_value.count(a)) ++i;  // skip its value
      continue;
    }
    size_t best = 3;
    for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
      if (sub->get_name() == a) return {};
      size_t d = distance(a, sub->get_name());
      if (d < best) {
        best = d;
        suggestion = sub->get_name();
      }
    }
    return a;
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kvmprobe: predict what Linux KVM's init decides on this host", "kvmprobe"};
  app.set_version_flag("--version", "kvmprobe " KVMPROBE_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  GlobalOptions opts;
  CommandOptions cmd;  // every command's options, alive until run() returns
  Runner run;
  add_global_options(app, opts);
  register_check(app, opts, cmd.check, run);
  register_snapshot(app, opts, cmd.snapshot, run);
  register_import(app, opts, cmd.import, run);
  register_xcr0(app, opts, run);
  register_tsc(app, opts, cmd.tsc, run);
  register_vmx_caps(app, opts, run);
  register_profiles(app, opts, run);
  register_msrs(app, opts, cmd.msrs, run);
  register_enable_vmx(app, opts, cmd.enable_vmx, run);
  register_provision(app, opts, cmd.provision, run);
  register_restore(app, opts, cmd.restore, run);
  register_driver(app, opts, cmd.driver_load, run);
  register_cpuid(app, opts, cmd.cpuid, run);
  register_compat(app, opts, cmd.compat, run);
  register_fleet(app, opts, cmd.fleet, run);
  register_completion(app, opts, cmd.completion, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e) == 0 ? 0 : static_cast<int>(ExitCode::usage);
  } catch (const CLI::CallForVersion& e) {
    app.exit(e);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::string suggestion, word = unknown_command(app, argc, argv, suggestion);
    if (!word.empty()) {
      fmt::print(stderr, "kvmprobe: error: unknown command '{}'\n", word);
      fmt::print(stderr, "kvmprobe: hint: {}\n", suggestion.empty() ? std::string("see 'kvmprobe --help'")
                                                                      : "did you mean '" + suggestion + "'?");
      return static_cast<int>(ExitCode::usage);
    }
    fmt::print(stderr, "kvmprobe: error: {}\n", e.what());
    fmt::print(stderr, "kvmprobe: hint: see 'kvmprobe --help'\n");
    return static_cast<int>(ExitCode::usage);
  }
  if (auto e = unsupported_format(app, opts)) return static_cast<int>(report_error(opts, *e));
  try {
    return static_cast<int>(run());
  } catch (const std::exception& e) {
    fmt::print(stderr, "kvmprobe: internal error: {}\n", e.what());
    return static_cast<int>(ExitCode::internal);
  }
}
