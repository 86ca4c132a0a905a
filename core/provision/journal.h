// The provisioning journal: one JSON document per line (JSON Lines), appended and fsync'd.
//
// Every run that may write records, in this order: a "begin" line with the old value of every
// CPU it covers (written and fsync'd before the first write), one "write" line per write
// attempt, and an "end" line with the outcome and the value of every CPU afterwards. `kvmprobe
// restore` reads the last run back. Format: docs/provision-profile.md ("The journal").
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

/// A journal file opened for appending. The file is created with mode 0600 (its directory,
/// when missing, 0700); neither the file nor its directory may be a symlink (O_NOFOLLOW), the
/// file must be a regular file owned by the caller, and the directory must not be writable by
/// group or others unless it is sticky.
class FileJournal final : public Journal {
 public:
  /// Opens (creating when missing) \a path for appending.
  static Result<std::unique_ptr<FileJournal>> open(const std::string& path);
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

/// Reads \a path (without following a symlink). ErrorKind::missing when it does not exist.
Result<JournalContents> read_journal(const std::string& path);

/// "0x3a"-style hex, as every value in the journal is written.
std::string journal_hex(std::uint64_t v);
/// Parses journal_hex() text; nullopt when malformed.
std::optional<std::uint64_t> parse_journal_hex(const nlohmann::json& j);

}  // namespace kvmprobe::provision
