// restore(): put back the values the last enable-vmx/provision run found, where the MSR is
// still unlocked. A locked MSR is read-only until reset: those CPUs are named, not written.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/model/result.h"
#include "core/provision/apply.h"
#include "core/provision/journal.h"
#include "core/provision/msr_writer.h"

namespace kvmprobe::provision {

/// The last run of the journal that may have written, as restore needs it.
struct JournalRun {
  std::string run_id, command, time, via;
  std::uint32_t msr = 0;
  std::uint64_t mask = 0;  ///< the bits that run could change: the only bits restore writes
  std::vector<std::pair<unsigned, std::uint64_t>> old_values;  ///< (cpu, old value), in journal order
  std::string outcome;     ///< its "end" outcome; "" when the run never finished (killed, crashed)
};

/// The last run in \a journal not made by restore itself. ErrorKind::missing when there is none,
/// bad_input when its "begin" line is malformed.
Result<JournalRun> last_run(const JournalContents& journal);

/// What restore did for one CPU.
enum class RestoreAction {
  already_old,  ///< it holds the old value (in the run's bits): nothing written
  to_restore,   ///< differs and is unlocked: would be written (RestoreMode::dry_run)
  restored,     ///< written and verified
  locked,       ///< differs, but the MSR is locked: cannot be restored until reset
  failed,       ///< the write failed or did not take effect
  unreadable,   ///< its value could not be read: not written
};
/// "already_old", "restored", ...
const char* to_string(RestoreAction a);

/// One CPU.
struct RestoreCpu {
  unsigned cpu = 0;
  std::uint64_t old_value = 0;
  std::optional<std::uint64_t> before, after;  ///< value found, value left
  RestoreAction action = RestoreAction::unreadable;
  std::string detail;
};

/// How restore ended.
enum class RestoreOutcome {
  nothing_to_do,  ///< every CPU already held its old value (exit 0)
  planned,        ///< dry run: every CPU that differs can be put back (exit 0)
  restored,       ///< every CPU that differed was put back (exit 0)
  not_permitted,  ///< every write was refused; nothing changed (exit 16)
  partial,        ///< some CPUs are locked, unreadable or failed: named per CPU (exit 15)
};
/// "nothing_to_do", "restored", ...
const char* to_string(RestoreOutcome o);

/// Everything restore did.
struct RestoreResult {
  JournalRun run;
  RestoreOutcome outcome = RestoreOutcome::partial;
  std::vector<RestoreCpu> cpus;
  std::vector<WriteRecord> writes;
  std::vector<std::string> notes;
  std::string summary;
};

/// Whether restore writes.
enum class RestoreMode { write, dry_run };

/// Restores \a run through \a writer (\a fallback when \a writer refuses), journaling to
/// \a journal under \a run_id. RestoreMode::dry_run only reads: no write, no journal line.
RestoreResult restore(const JournalRun& run, MsrWriter& writer, Journal& journal, MsrWriter* fallback,
                      const std::string& run_id, const std::string& time, RestoreMode mode = RestoreMode::write);

}  // namespace kvmprobe::provision
