// Snapshot <-> JSON: the recorded-host file format "kvmprobe.snapshot/2" (reads /1 too) (docs/snapshot-format.md).
//
// Writing is total: every Snapshot has a document. Reading is strict and safe on hostile input:
// any problem is an ErrorKind::bad_input whose one-line detail names the JSON path
// ("cpus[1].msrs[3].value: expected hex string"); unknown keys are ignored so that later
// versions of format 1 stay readable. No exception leaves these functions.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "core/model/result.h"
#include "core/model/snapshot.h"

namespace kvmprobe::collect {

/// The schema name every snapshot document carries, without the version ("kvmprobe.snapshot").
inline constexpr std::string_view kSnapshotSchema = "kvmprobe.snapshot";

/// Limits applied while reading (documented in docs/snapshot-format.md).
inline constexpr std::size_t kMaxSnapshotCpus = 8192;          ///< entries of "cpus"
inline constexpr std::size_t kMaxCpuidLeavesPerCpu = 4096;     ///< entries of "cpuid" per CPU
inline constexpr std::size_t kMaxMsrsPerCpu = 65536;           ///< entries of "msrs" per CPU
inline constexpr std::size_t kMaxSnapshotBytes = std::size_t{64} << 20;  ///< document size
inline constexpr int kMaxJsonDepth = 64;                       ///< nesting of arrays/objects
/// CPUID leaves and MSR reads held while reading, over all CPUs (format 2 sets count once
/// more for every CPU that references them).
inline constexpr std::size_t kMaxTotalCpuidLeaves = std::size_t{1} << 21;
inline constexpr std::size_t kMaxTotalMsrs = std::size_t{1} << 21;
/// Memory the decoded snapshot may take (every stored item is charged while reading); with the
/// text itself (kMaxSnapshotBytes) this keeps reading any file under 256 MiB.
inline constexpr std::size_t kMaxSnapshotMemory = std::size_t{96} << 20;

/// The document for \a snap: schema kvmprobe.snapshot/kSnapshotFormat (compact: per-CPU data
/// that several CPUs share stored once), or the older kvmprobe.snapshot/1 when \a format is 1.
nlohmann::json snapshot_to_json(const Snapshot& snap, int format = kSnapshotFormat);

/// \a snap as indented JSON text ending in a newline: one line per CPUID leaf and per MSR,
/// keys in a fixed order. Invalid UTF-8 in strings is replaced by U+FFFD.
std::string snapshot_to_text(const Snapshot& snap, int format = kSnapshotFormat);

/// Reads a parsed document (format 1 or 2). Checks the schema, every type, enum string, hex
/// value and limit.
Result<Snapshot> snapshot_from_json(const nlohmann::json& doc);

/// Parses JSON text straight into a Snapshot (no JSON tree), enforcing every limit while it
/// reads, so no document makes it use more than kMaxSnapshotMemory beyond the text.
Result<Snapshot> parse_snapshot(std::string_view text);

/// Loads a snapshot file (or stdin for "-"); errors name the file.
Result<Snapshot> load_snapshot_file(const std::string& path);

/// Writes snapshot_to_text(\a snap) to \a path ("-" = stdout), atomically for regular files:
/// a temporary file in the same directory, fsync, rename. Returns the error, or nullopt.
std::optional<Error> write_snapshot_file(const Snapshot& snap, const std::string& path);

}  // namespace kvmprobe::collect
