// The provisioning journal: one JSON document per line (JSON Lines), appended and fsync'd.
//
// Every run that may write records, in this order: a "begin" line with the old value of every
// CPU it covers (written and fsync'd before the first write), one "write" line per write
// attempt, and an "end" line with the outcome and the value of every CPU afterwards. `kvmprobe
// restore` reads the last run back. Format: docs/provision-profile.md ("The journal").
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model/format.h"
#include "core/model/result.h"

namespace kvmprobe::provision {

/// Schema of every journal line.
inline constexpr const char* kJournalSchema = "kvmprobe.journal/1";
/// Default journal file.
inline constexpr const char* kDefaultJournal = "/var/lib/kvmprobe/journal.jsonl";

/// Where journal records go.
class Journal {
 public:
  virtual ~Journal() = default;
  /// Appends one record; it is durable (fsync'd) when this returns without an error.
  virtual std::optional<Error> append(const nlohmann::json& record) = 0;
  /// The file name, for messages ("" for a journal in memory).
  virtual std::string path() const { return {}; }
};

/// Discards every record (dry runs, which write nothing).
class NullJournal final : public Journal {
 public:
  std::optional<Error> append(const nlohmann::json&) override { return std::nullopt; }
};

/// A journal larger than this is rotated (to PATH.1) when a new run opens it, so a long-lived
/// host never reaches kMaxJournalBytes.
inline constexpr std::size_t kRotateJournalBytes = std::size_t{1} << 20;
/// Largest journal read_journal() reads.
inline constexpr std::size_t kMaxJournalBytes = std::size_t{16} << 20;
/// Longest journal line read_journal() accepts (a "begin" line of 8192 CPUs is ~600 KB).
inline constexpr std::size_t kMaxJournalLineBytes = std::size_t{1} << 20;
/// Deepest nesting of arrays/objects on one line (the snapshot reader's limit; a real line
/// nests 3 deep).
inline constexpr int kMaxJournalDepth = 64;
/// Most JSON values (objects, arrays, members, elements) in the whole journal: keeps the
/// parsed records of any file well inside kvmprobe's 256 MiB budget (a real run of 8192 CPUs
/// has ~50,000).
inline constexpr std::size_t kMaxJournalValues = std::size_t{1} << 20;

/// Whether FileJournal::open() may rotate a journal larger than kRotateJournalBytes. Only the
/// runs that start something new rotate: restore must keep the run it undoes in the file.
enum class Rotate { no, when_large };

/// A journal file opened for appending. The file is created with mode 0600 (its directory,
/// when missing, 0700). The file and directory checks of read_journal() apply: anything else is
/// refused (ErrorKind::bad_input), never repaired.
class FileJournal final : public Journal {
 public:
  /// Opens (creating when missing) \a path for appending.
  static Result<std::unique_ptr<FileJournal>> open(const std::string& path, Rotate rotate = Rotate::no);
  ~FileJournal() override;
  FileJournal(const FileJournal&) = delete;
  FileJournal& operator=(const FileJournal&) = delete;
  std::optional<Error> append(const nlohmann::json& record) override;
  std::string path() const override { return path_; }

 private:
  FileJournal(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

/// Journal lines read back, in file order.
struct JournalContents {
  std::vector<nlohmann::json> records;  ///< every line that parsed as an object with our schema
  std::vector<std::string> problems;    ///< "line 7: not JSON (torn write?)", one per skipped line
};

/// Reads \a path. ErrorKind::missing when it does not exist. ErrorKind::bad_input, naming the
/// problem, when the file cannot be trusted or holds a hostile line:
///   - neither the file nor its directory may be a symlink (never followed);
///   - the file must be a regular file owned by the caller, not writable by group or others,
///     with one link (a hard link could make it someone else's file), of at most 16 MiB;
///   - its directory must not be writable by group or others;
///   - a line longer than kMaxJournalLineBytes, nested deeper than kMaxJournalDepth, or whose
///     "schema", "run", "event", "command", ... is not a string; more than kMaxJournalValues
///     values in all.
/// A line that is not JSON (a torn last write) or not a journal record is skipped with a note.
Result<JournalContents> read_journal(const std::string& path);

/// Parses journal text (the lines of a journal file): the checks of read_journal() on every
/// line; \a path names the file in messages.
Result<JournalContents> parse_journal(std::string_view text, const std::string& path);

/// Parses a journal value, written "0x3a"-style by hex() (core/model/format.h); nullopt when
/// malformed.
std::optional<std::uint64_t> parse_journal_hex(const nlohmann::json& j);

}  // namespace kvmprobe::provision
