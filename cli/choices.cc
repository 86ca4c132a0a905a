#include "cli/choices.h"

namespace kvmprobe::cli {

std::vector<std::string> choice_words(CLI::Option* o) {
  for (int i = 0;; ++i) {
    CLI::Validator* v = nullptr;
    try {
      v = o->get_validator(i);
    } catch (const CLI::OptionNotFound&) {
      return {};
    }
    const std::string& name = v->get_name();
    if (name.rfind(kChoicesName, 0) != 0) continue;
    std::vector<std::string> out;
    std::string list = name.substr(sizeof kChoicesName - 1);
    for (std::size_t at = 0; at <= list.size();) {
      std::size_t comma = std::min(list.find(',', at), list.size());
      out.push_back(list.substr(at, comma - at));
      at = comma + 1;
    }
    return out;
  }
}

}  // namespace kvmprobe::cli
