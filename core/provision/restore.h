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
  std::string boot_id;     ///< /proc/sys/kernel/random/boot_id when it ran ("" when not recorded)
  std::uint32_t msr = 0;
  /// The bits restore may write: the run's bits, without the lock bit (restore never locks).
  std::uint64_t mask = 0;
  std::vector<std::pair<unsigned, std::uint64_t>> old_values;  ///< (cpu, old value), in journal order
  std::string outcome;     ///< its "end" outcome; "" when the run never finished (killed, crashed)
};

/// The bits of \a msr a run can change and restore may put back: IA32_FEATURE_CONTROL's
/// settable bits without LOCK, VM_CR's SVMDIS. 0 for any other MSR.
std::uint64_t restorable_bits(std::uint32_t msr);

/// The last run in \a journal not made by restore itself. ErrorKind::missing when there is none,
/// bad_input when its "begin" line is malformed or claims bits no run can change (a mask
/// beyond restorable_bits() and the lock bit), a CPU twice, or more than 8192 CPUs.
Result<JournalRun> last_run(const JournalContents& journal);

/// The boot_id of this boot (/proc/sys/kernel/random/boot_id), or an error when unreadable.
Result<std::string> current_boot_id(const std::string& path = "/proc/sys/kernel/random/boot_id");

/// Refuses (ErrorKind::bad_input) a run made in another boot than \a boot_now, or one that
/// recorded no boot: a reset put every MSR back, and writing the old values again would undo
/// what firmware or a later run set.
std::optional<Error> check_same_boot(const JournalRun& run, const std::string& boot_now);

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
