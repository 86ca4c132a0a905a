#include "cli/terminal.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace kvmprobe::cli {

bool decide_color(ColorWhen when, JsonMode json) {
  if (json != JsonMode::off) return false;
  if (when == ColorWhen::always) return true;
  if (when == ColorWhen::never) return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color && *no_color) return false;
  const char* term = std::getenv("TERM");
  if (!term || std::strcmp(term, "dumb") == 0) return false;
  return isatty(STDOUT_FILENO) == 1;
}

bool stderr_is_tty() { return isatty(STDERR_FILENO) == 1; }

}  // namespace kvmprobe::cli
