#include "cli/completion_spec.h"

#include "cli/choices.h"
#include "core/profiles/profiles.h"

namespace kvmprobe::cli {
namespace {

/// Option groups are nameless subcommands; their options belong to the command they sit in.
bool is_option_group(const CLI::App* a) { return a->get_name().empty(); }

/// The visible options of `app` and of its option groups; sets `takes_files` when it has
/// positional arguments. An option of a group that takes at most one ("exactly one dump")
/// excludes the group's other options.
std::vector<render::CompletionOption> options_of(CLI::App& app, bool& takes_files) {
  std::vector<render::CompletionOption> out;
  for (CLI::App* group : app.get_subcommands(is_option_group)) {
    auto opts = options_of(*group, takes_files);
    if (group->get_require_option_max() == 1)
      for (auto& o : opts)
        for (const auto& other : opts)
          if (&other != &o) o.excludes.insert(o.excludes.end(), other.names.begin(), other.names.end());
    out.insert(out.end(), opts.begin(), opts.end());
  }
  const bool group = is_option_group(&app);
  for (CLI::Option* o : app.get_options([](CLI::Option* o) { return !o->get_group().empty(); })) {
    if (group && o == app.get_help_ptr()) continue;  // a group's copy of the command's --help
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
    if (c.takes_value) c.values = choice_words(o);
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
  for (CLI::App* s : sub->get_subcommands([](CLI::App* a) { return !a->get_group().empty() && !is_option_group(a); }))
    c.subcommands.push_back(command_of(s));
  return c;
}

}  // namespace

render::CompletionSpec completion_spec(CLI::App& app) {
  render::CompletionSpec spec;
  spec.program = app.get_name();
  bool unused = false;
  spec.global = options_of(app, unused);
  for (CLI::App* s : app.get_subcommands([](CLI::App* a) { return !a->get_group().empty() && !is_option_group(a); }))
    spec.commands.push_back(command_of(s));
  return spec;
}

}  // namespace kvmprobe::cli
