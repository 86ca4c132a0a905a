// apply(): the two-phase, all-or-nothing write engine of enable-vmx and provision.
//
//   phase 0  read every CPU again; any read failure or a value that differs from the plan
//            aborts before anything is written. Journal the old value of every CPU (fsync'd).
//   phase 1  on every CPU, set the enable bits (or clear SVMDIS) without the lock; then read
//            every CPU back. Any failure: put every CPU already changed back to its old value.
//   phase 2  set the lock bit on every CPU; then read every CPU back. A failure before the
//            first CPU is locked rolls phase 1 back; after that nothing can be undone (a locked
//            MSR is read-only until reset), so the engine reports every CPU's state.
//
// Idempotent: a CPU already at its target is never written. The engine never prints; the
// outcome, every write and every CPU's final value come back in ApplyResult.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/provision/journal.h"
#include "core/provision/msr_writer.h"
#include "core/provision/plan.h"

namespace kvmprobe::provision {

/// One CPU in scope: its value now, after phase 1 and after phase 2.
struct ApplyCpu {
  unsigned cpu = 0;
  std::uint64_t old_value = 0;
  std::uint64_t enabled_value = 0;
  std::uint64_t new_value = 0;
};

/// What to write: every CPU the plan covers (unchanged ones are checked, never written).
struct ApplyRequest {
  std::uint32_t msr = 0;
  std::uint64_t enable_set = 0, enable_clear = 0;  ///< phase 1 masks
  std::uint64_t lock_set = 0;                      ///< phase 2 mask (0: no phase 2)
  std::vector<ApplyCpu> cpus;
  std::string command;  ///< "enable-vmx", "provision": recorded in the journal
  std::string run_id;   ///< unique per run, recorded on every journal line
  std::string time;     ///< ISO 8601 UTC start time, recorded in the "begin" line
  std::string boot_id;  ///< /proc/sys/kernel/random/boot_id, recorded in the "begin" line (restore checks it)
};

/// The request for a plan whose verdict is PlanVerdict::apply (selected CPUs only).
ApplyRequest request_from_plan(const Plan& plan);

/// How a run ended. Each maps to one exit code (cli/exit_codes.h).
enum class ApplyOutcome {
  applied,        ///< every CPU holds its target (exit 0)
  nothing_to_do,  ///< every CPU already held its target: nothing written (exit 0)
  aborted,        ///< stopped before any write: a read failed, a value changed, no journal (exit 1)
  not_permitted,  ///< the first write was refused (lockdown, allow_writes); nothing changed (exit 16)
  rolled_back,    ///< a write failed or did not take effect; every CPU holds its old value (exit 14)
  partial,        ///< CPUs differ and could not all be put back (exit 15): needs attention
};

/// "applied", "rolled_back", ... (as in the journal and JSON).
const char* to_string(ApplyOutcome o);

/// Which step a write belonged to.
enum class Phase { enable, lock, restore };
/// "enable", "lock", "restore".
const char* to_string(Phase p);

/// One write attempt.
struct WriteRecord {
  unsigned cpu = 0;
  Phase phase = Phase::enable;
  std::uint64_t set = 0, clear = 0;
  std::string via;  ///< backend_name() of the writer used
  WriteOutcome outcome;
};

/// One CPU after the run.
struct CpuResult {
  unsigned cpu = 0;
  std::uint64_t old_value = 0, new_value = 0;
  std::optional<std::uint64_t> value;  ///< what it holds now; nullopt when it could not be read
};

/// Everything apply() did.
struct ApplyResult {
  ApplyOutcome outcome = ApplyOutcome::aborted;
  std::string summary;                  ///< one line
  std::string failure;                  ///< the first failure, one line ("" when none)
  std::vector<WriteRecord> writes;      ///< in order
  std::vector<CpuResult> cpus;          ///< every CPU in scope, in request order
  /// partial: the CPUs that need attention: not back at their old value after a failed
  /// roll-back, or not at their target after a lock phase that stopped half-way.
  std::vector<unsigned> needs_attention;
  std::vector<std::string> notes;       ///< e.g. a journal line that could not be written
  bool journaled = false;               ///< the "begin" line was written
};

/// Runs \a req through \a writer, journaling to \a journal. \a fallback, when given, is used
/// only to put a CPU back when \a writer refuses to (the driver can set 0x3a bits and clear
/// SVMDIS, never the reverse; /dev/cpu/N/msr can).
ApplyResult apply(const ApplyRequest& req, MsrWriter& writer, Journal& journal, MsrWriter* fallback = nullptr);

/// Puts CPU \a cpu's MSR back to \a old_value in the bits of \a mask, through \a writer and then
/// \a fallback when \a writer refuses. \a now is its value when known. Used by apply() and
/// restore.
WriteRecord put_back(unsigned cpu, std::uint32_t msr, std::uint64_t old_value, std::uint64_t mask,
                     std::optional<std::uint64_t> now, MsrWriter& writer, MsrWriter* fallback);

/// A journal "write" line for \a w.
nlohmann::json write_record_json(const std::string& run_id, std::uint32_t msr, const WriteRecord& w);

}  // namespace kvmprobe::provision
