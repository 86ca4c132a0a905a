// kvmprobe profiles: the modelled KVM versions.
#include <fmt/format.h>

#include "cli/commands.h"

namespace kvmprobe::cli {

void register_profiles(CLI::App& app, GlobalOptions& g, Runner& run) {
  auto* sub = app.add_subcommand("profiles", "list the modelled KVM versions");
  sub->callback([&g, &run] {
    run = [&g] {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& p : all_profiles()) {
        list.push_back({{"id", p.id}, {"tree", p.tree.str()}, {"applies_from", p.applies_from.str()},
                        {"description", p.description}});
        if (g.json_mode() == JsonMode::off && !g.quiet)
          fmt::print("{:<8} from {:<9} {}\n", p.id, p.applies_from.str(), p.description);
      }
      if (g.json_mode() != JsonMode::off) print_json(g, {{"schema", "kvmprobe.profiles/1"}, {"profiles", list}});
      return ExitCode::ok;
    };
  });
}

}  // namespace kvmprobe::cli
