// kvmprobe completion bash|zsh|fish (hidden): the shell completion script, generated from this
// very CLI11 definition, so it lists every command, option and enum value there is.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/completion_spec.h"

namespace kvmprobe::cli {

void register_completion(CLI::App& app, GlobalOptions& g, Runner& run) {
  auto* shell = new std::string;
  auto* sub = app.add_subcommand("completion", "print the shell completion script for SHELL");
  sub->group("");  // hidden: packaging installs the scripts (packaging/debian)
  sub->add_option("SHELL", *shell, "bash, zsh or fish")->required()->check(CLI::IsMember({"bash", "zsh", "fish"}));
  sub->callback([&app, &g, &run, shell] {
    run = [&app, &g, shell] {
      (void)g;
      fmt::print("{}", render::completion_script(completion_spec(app), *shell));
      return ExitCode::ok;
    };
  });
}

}  // namespace kvmprobe::cli
