// Options every subcommand takes, parsed into one plain struct that main() owns.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/exit_codes.h"
#include "cli/terminal.h"
#include "core/collect/collect.h"
#include "core/model/snapshot.h"
#include "core/profiles/profiles.h"
#include "core/render/render.h"

namespace kvmprobe::cli {

/// --format: what stdout carries.
enum class OutputFormat { text, json, prometheus };

struct GlobalOptions {
  OutputFormat format = OutputFormat::text;  ///< --format text|json|prometheus
  JsonMode json = JsonMode::off;     ///< --json[=pretty|short|off]
  bool json_flag = false;            ///< -j
  ColorWhen color = ColorWhen::automatic;  ///< --color auto|always|never
  bool quiet = false;                ///< -q
  bool no_legend = false;            ///< --no-legend
  bool verbose = false;              ///< -v: every evidence row
  std::string from;                  ///< --from FILE: analyse a recorded snapshot
  std::string kernel;                ///< --kernel VER
  std::vector<std::string> params;   ///< --param kvm_amd.nested=0
  collect::CollectOptions::Backend backend = collect::CollectOptions::Backend::automatic;  ///< --backend auto|driver|msr|none
  bool no_load_msr = false;          ///< --no-load-msr

  /// --json/-j, or --format json (pretty); off otherwise.
  JsonMode json_mode() const;
  /// --format prometheus: the node_exporter textfile format.
  bool prometheus() const { return format == OutputFormat::prometheus; }
  render::TextStyle text_style() const;
};

/// Add the global options to the top-level app (subcommands fall through to them).
void add_global_options(CLI::App& app, GlobalOptions& opts);

/// Usage error when --format prometheus was given to a command that does not write it
/// (only check, compat and fleet do); nullopt otherwise.
std::optional<Error> unsupported_format(const CLI::App& app, const GlobalOptions& opts);

/// A snapshot from --from FILE or from this host.
Result<Snapshot> obtain_snapshot(const GlobalOptions& opts);

/// The profile for --kernel, or for the snapshot's kernel when --kernel is not given.
Result<ProfileChoice> obtain_profile(const GlobalOptions& opts, const Snapshot& snap);

/// --param items as overrides; usage error on a malformed one.
Result<std::map<std::string, std::string>> obtain_overrides(const GlobalOptions& opts);

/// Print an error: one line on stderr (plus a hint line), and under --json an error document
/// on stdout. Returns the exit code for it.
ExitCode report_error(const GlobalOptions& opts, const Error& e);

/// Like report_error(), with the exit code \a code (a verdict such as "no VMX", or a command's
/// own failure code) and, under --json, \a doc plus an "error" member as the one document, whose
/// message is \a json_message when given (vmx-caps' "CPU has no VMX"), else e.detail.
ExitCode report_failure(const GlobalOptions& opts, const Error& e, ExitCode code,
                        nlohmann::json doc = {{"schema", "kvmprobe.error/1"}}, const std::string& json_message = {});

/// Print a JSON document per --json mode.
void print_json(const GlobalOptions& opts, const nlohmann::json& doc);

}  // namespace kvmprobe::cli
