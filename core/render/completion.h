// Shell completion scripts (bash, zsh, fish) from a plain description of the command line,
// which cli/completion_spec.cc reads off the CLI11 definition, so the scripts never drift.
#pragma once

#include <string>
#include <vector>

namespace kvmprobe::render {

/// One option as completion needs it.
struct CompletionOption {
  std::vector<std::string> names;   ///< "-q", "--quiet"
  std::string help;
  bool takes_value = false;         ///< an argument follows (--from FILE, --json[=MODE])
  bool value_optional = false;      ///< --json alone is valid too
  bool repeatable = false;          ///< --param may come many times
  std::vector<std::string> values;  ///< the values to offer (an enum option's words, profiles)
  std::vector<std::string> excludes;  ///< options that cannot come with it (the rest of its "one of" group)
  bool files = false;               ///< a free-form text value: complete file names
};

/// A subcommand, its own options and its own subcommands (driver status|load|unload).
struct CompletionCommand {
  std::string name, help;
  std::vector<CompletionOption> options;
  std::vector<CompletionCommand> subcommands;
  bool takes_files = false;         ///< positional arguments (snapshot files)
};

/// The whole command line.
struct CompletionSpec {
  std::string program;                   ///< "kvmprobe"
  std::vector<CompletionOption> global;  ///< options every subcommand takes
  std::vector<CompletionCommand> commands;
};

/// The script for `shell` ("bash", "zsh" or "fish").
std::string completion_script(const CompletionSpec& spec, const std::string& shell);

}  // namespace kvmprobe::render
