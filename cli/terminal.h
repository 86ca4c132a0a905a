// Terminal behaviour, decided once (style.md §4): colour, JSON mode.
#pragma once

#include <string>

namespace kvmprobe::cli {

/// --json=MODE.
enum class JsonMode { off, pretty, short_ };

/// --color=WHEN.
enum class ColorWhen { automatic, always, never };

/// Whether to colour stdout: --color always/never wins; then NO_COLOR (non-empty) turns it off;
/// otherwise only on a terminal with TERM other than "dumb". Never under JSON.
bool decide_color(ColorWhen when, JsonMode json);

/// Whether stderr is a terminal (progress is shown only then).
bool stderr_is_tty();

}  // namespace kvmprobe::cli
