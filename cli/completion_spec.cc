#include "cli/completion_spec.h"

#include <sstream>

#include "core/profiles/profiles.h"

namespace kvmprobe::cli {
namespace {

/// The accepted values, from a validator's description: IsMember describes itself as
/// "{a,b,c}", CheckedTransformer as "value in {a->x,b->y} OR {x,y}" (CLI/Validators.hpp, 2.1).
std::vector<std::string> validator_values(std::string desc) {
  if (desc.rfind("value in ", 0) == 0) desc = desc.substr(9);
  if (desc.empty() || desc.front() != '{' || desc.find('}') == std::string::npos) return {};
  std::string body = desc.substr(1, desc.find('}') - 1);
  std::vector<std::string> out;
  std::stringstream in(body);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item.substr(0, item.find("->")));
  return out;
}

std::vector<std::string> accepted_values(CLI::Option* o) {
  for (int i = 0;; ++i) {
    CLI::Validator* v = nullptr;
    try {
      v = o->get_validator(i);
    } catch (const CLI::OptionNotFound&) {
      return {};
    }
    if (auto values = validator_values(v->get_description()); !values.empty()) return values;
  }
}

/// The visible options of `app`; sets `takes_files` when it has positional arguments.
std::vector<render::CompletionOption> options_of(CLI::App& app, bool& takes_files) {
  std::vector<render::CompletionOption> out;
  for (CLI::Option* o : app.get_options([](CLI::Option* o) { return !o->get_group().empty(); })) {
    if (o->get_positional()) {
      takes_files = true;
      continue;
    }
    render::CompletionOption c;
    for (const auto& s : o->get_snames()) c.names.push_back("-" + s);
    for (const auto& l : o->get_lnames()) c.names.push_back("--" + l);
    c.help = o->get_description();
    c.takes_value = o->get_expected_max() > 0 && o->get_type_size_max() > 0;
    c.value_optional = c.takes_value && o->get_expected_min() == 0;
    c.repeatable = o->get_expected_max() > 1 || o->get_multi_option_policy() == CLI::MultiOptionPolicy::TakeAll;
    if (c.takes_value) c.values = accepted_values(o);
    // A kernel to model (--kernel, --diff-kernel, --src-kernel): any release is accepted; the
    // modelled versions are what to offer.
    const auto& l = o->get_lnames();
    if (c.takes_value && !l.empty() && l.front().size() >= 6 && l.front().substr(l.front().size() - 6) == "kernel")
      for (const auto& p : all_profiles()) c.values.push_back(p.id);
    // Files where the help says so (--from FILE, a dump, the module file); not --cpus or --param.
    const std::string& d = o->get_description();
    c.files = c.takes_value && c.values.empty() &&
              (d.find("FILE") != std::string::npos || d.find("file") != std::string::npos || d.find("dump") != std::string::npos);
    out.push_back(std::move(c));
  }
  return out;
}

render::CompletionCommand command_of(CLI::App* sub) {
  render::CompletionCommand c;
  c.name = sub->get_name();
  c.help = sub->get_description();
  c.options = options_of(*sub, c.takes_files);
  for (CLI::App* s : sub->get_subcommands([](CLI::App* a) { return !a->get_group().empty(); }))
    c.subcommands.push_back(command_of(s));
  return c;
}

}  // namespace

render::CompletionSpec completion_spec(CLI::App& app) {
  render::CompletionSpec spec;
  spec.program = app.get_name();
  bool unused = false;
  spec.global = options_of(app, unused);
  for (CLI::App* s : app.get_subcommands([](CLI::App* a) { return !a->get_group().empty(); }))
    spec.commands.push_back(command_of(s));
  return spec;
}

}  // namespace kvmprobe::cli
