// Enum-valued options (--json, --color, --format, --backend, --assume-rdmsr, completion SHELL):
// CLI11's CheckedTransformer maps the accepted words onto the enum; anything else is a usage
// error naming the words. The words stay on the validator (its name) so that shell completion
// offers exactly them (cli/completion_spec.cc).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

namespace kvmprobe::cli {

/// The words an option accepts and the enum value of each, in the order help and completion show.
template <typename E>
using Choices = std::vector<std::pair<std::string, E>>;

/// Validator names that carry the accepted words: "choices:json,text,prometheus".
inline constexpr char kChoicesName[] = "choices:";

/// The validator for \a words: only the words themselves (not the enum's numbers, which a bare
/// CheckedTransformer also takes), mapped by CheckedTransformer. The help shows "{a,b,c}".
template <typename E>
CLI::Validator choice_validator(const Choices<E>& words) {
  std::string list;
  for (const auto& w : words) list += (list.empty() ? "" : ",") + w.first;
  CLI::CheckedTransformer map(words);
  CLI::Validator v(
      [words, map, list](std::string& in) -> std::string {
        for (const auto& w : words)
          if (w.first == in) return map(in);
        return "'" + in + "' is not one of " + list;
      },
      "{" + list + "}", kChoicesName + list);
  return v;
}

/// \a o takes one of \a words.
template <typename E>
CLI::Option* choices(CLI::Option* o, const Choices<E>& words) {
  return o->transform(choice_validator(words));
}

/// The words \a o accepts when choices() set them; empty otherwise.
std::vector<std::string> choice_words(CLI::Option* o);

}  // namespace kvmprobe::cli
