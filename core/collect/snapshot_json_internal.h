// Shared by the writer and the reader of core/collect/snapshot_json; not a public interface.
#pragma once

#include <string>
#include <string_view>

#include "core/collect/snapshot_json.h"
#include "core/model/result.h"
#include "core/model/snapshot.h"

namespace kvmprobe::collect {

/// Parses snapshot text with the streaming reader. Errors about the text name it \a name
/// ("host.json is not valid JSON (line 3, column 7): ..."); with \a prefix_paths, errors about
/// a value are prefixed with it too ("host.json: cpus[1].cpu: duplicate CPU 0"). \a memory_limit
/// is kMaxSnapshotMemory except in tests.
Result<Snapshot> parse_snapshot_text(std::string_view text, const std::string& name, bool prefix_paths,
                                     std::size_t memory_limit = kMaxSnapshotMemory);

}  // namespace kvmprobe::collect
