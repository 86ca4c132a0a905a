// Reads the CLI11 definition into the plain description render/completion.h turns into scripts.
#pragma once

#include <CLI/CLI.hpp>

#include "core/render/completion.h"

namespace kvmprobe::cli {

/// Every visible subcommand and option of `app`, with the values its validators accept.
render::CompletionSpec completion_spec(CLI::App& app);

}  // namespace kvmprobe::cli
