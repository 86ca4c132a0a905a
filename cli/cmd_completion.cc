// kvmprobe completion bash|zsh|fish (hidden): the shell completion script, generated from this
// very CLI11 definition, so it lists every command, option and enum value there is.
#include <fmt/format.h>

#include "cli/choices.h"
#include "cli/commands.h"
#include "cli/completion_spec.h"

namespace kvmprobe::cli {

void register_completion(CLI::App& app, GlobalOptions& g, CompletionOptions& o, Runner& run) {
  (void)g;
  auto* sub = app.add_subcommand("completion", "print the shell completion script for SHELL");
  sub->group("");  // hidden: packaging installs the scripts (packaging/debian)
  choices(sub->add_option("SHELL", o.shell, "bash, zsh or fish")->required(),
          Choices<Shell>{{"bash", Shell::bash}, {"zsh", Shell::zsh}, {"fish", Shell::fish}});
  sub->callback([&app, &o, &run] {
    run = [&app, &o] {
      fmt::print("{}", render::completion_script(completion_spec(app), o.shell == Shell::bash  ? "bash"
                                                                       : o.shell == Shell::zsh ? "zsh"
                                                                                               : "fish"));
      return ExitCode::ok;
    };
  });
}

}  // namespace kvmprobe::cli
