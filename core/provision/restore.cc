#include "core/provision/restore.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/analyse/feature_control.h"
#include "core/model/format.h"
#include "core/collect/whole_file.h"
#include "core/provision/plan.h"

namespace kvmprobe::provision {

const char* to_string(RestoreAction a) {
  switch (a) {
    case RestoreAction::already_old: return "already_old";
    case RestoreAction::to_restore: return "to_restore";
    case RestoreAction::restored: return "restored";
    case RestoreAction::locked: return "locked";
    case RestoreAction::failed: return "failed";
    case RestoreAction::unreadable: return "unreadable";
  }
  return "failed";
}

const char* to_string(RestoreOutcome o) {
  switch (o) {
    case RestoreOutcome::nothing_to_do: return "nothing_to_do";
    case RestoreOutcome::planned: return "planned";
    case RestoreOutcome::restored: return "restored";
    case RestoreOutcome::not_permitted: return "not_permitted";
    case RestoreOutcome::partial: return "partial";
  }
  return "partial";
}

std::uint64_t restorable_bits(std::uint32_t msr) {
  if (msr == kFeatureControl)
    return feat_ctl::kVmxInsideSmx | feat_ctl::kVmxOutsideSmx | feat_ctl::kSgxLc | feat_ctl::kSgx | feat_ctl::kLmce;
  if (msr == kVmCr) return vm_cr::kSvmDisable;
  return 0;
}

namespace {

/// The lock bit of \a msr.
std::uint64_t lock_bit(std::uint32_t msr) { return msr == kFeatureControl ? feat_ctl::kLocked : vm_cr::kLock; }

/// A string field of a record (read_journal() checked the types; this also holds for records
/// built in memory).
std::string text(const nlohmann::json& r, const char* key) {
  auto it = r.find(key);
  return it != r.end() && it->is_string() ? it->get<std::string>() : std::string();
}

constexpr std::size_t kMaxRunCpus = 8192;  // the snapshot reader's limit on CPUs

}  // namespace

Result<JournalRun> last_run(const JournalContents& journal) {
  const nlohmann::json* begin = nullptr;
  for (const auto& r : journal.records)
    if (r.is_object() && text(r, "event") == "begin" && text(r, "command") != "restore") begin = &r;
  if (!begin)
    return make_error(ErrorKind::missing, "the journal records no enable-vmx or provision run that wrote",
                      "nothing to restore");
  JournalRun run;
  run.run_id = text(*begin, "run");
  auto bad = [&](const std::string& what) {
    return make_error(ErrorKind::bad_input,
                      fmt::format("journal run {}: malformed 'begin' line ({})", run.run_id.empty() ? "?" : run.run_id,
                                  what),
                      "nothing was written; check who wrote the journal");
  };
  run.command = text(*begin, "command");
  run.time = text(*begin, "time");
  run.via = text(*begin, "via");
  run.boot_id = text(*begin, "boot");
  auto field = [&](const char* key) {
    auto it = begin->find(key);
    return it == begin->end() ? std::optional<std::uint64_t>() : parse_journal_hex(*it);
  };
  auto msr = field("msr");
  auto mask = field("mask");
  if (!msr || (*msr != kFeatureControl && *msr != kVmCr)) return bad("msr");
  if (!mask) return bad("mask");
  run.msr = static_cast<std::uint32_t>(*msr);
  // A run changes only the enable bits and may set the lock bit (0x3a); anything else in the
  // mask was not written by kvmprobe. The lock bit is never restored: a lock cannot be undone
  // and setting one would freeze the MSR until reset.
  std::uint64_t allowed = restorable_bits(run.msr) | (run.msr == kFeatureControl ? lock_bit(run.msr) : 0);
  if (*mask & ~allowed)
    return bad(fmt::format("mask {:#x} has bits {:#x} no run can change; {:#x} allows {:#x}", *mask, *mask & ~allowed,
                           run.msr, allowed));
  run.mask = *mask & restorable_bits(run.msr);
  if (run.mask == 0) return bad(fmt::format("mask {:#x} has no bit restore may write", *mask));
  auto cpus = begin->find("cpus");
  if (cpus == begin->end() || !cpus->is_array()) return bad("cpus");
  if (cpus->size() > kMaxRunCpus) return bad(fmt::format("more than {} CPUs", kMaxRunCpus));
  std::vector<bool> seen;
  for (const auto& c : *cpus) {
    if (!c.is_object()) return bad("cpus[]: not an object");
    auto old_it = c.find("old");
    auto cpu_it = c.find("cpu");
    auto old = old_it == c.end() ? std::nullopt : parse_journal_hex(*old_it);
    if (!old || cpu_it == c.end() || !cpu_it->is_number_integer() || cpu_it->get<std::int64_t>() < 0 ||
        cpu_it->get<std::int64_t>() > 65535)
      return bad("cpus[].cpu/old");
    auto cpu = static_cast<unsigned>(cpu_it->get<std::int64_t>());
    if (cpu >= seen.size()) seen.resize(cpu + 1);
    if (seen[cpu]) return bad(fmt::format("cpu {} appears twice", cpu));
    seen[cpu] = true;
    run.old_values.emplace_back(cpu, *old);
  }
  for (const auto& r : journal.records)
    if (r.is_object() && text(r, "run") == run.run_id && text(r, "event") == "end") run.outcome = text(r, "outcome");
  return run;
}

Result<std::string> current_boot_id(const std::string& path) {
  auto t = collect::read_whole_file(path, collect::Decompress::none, 4096);
  if (!t) return make_error(ErrorKind::io, fmt::format("cannot read the boot id: {}", t.error().detail));
  std::string id = *t;
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  if (id.empty()) return make_error(ErrorKind::io, fmt::format("cannot read the boot id: {} is empty", path));
  return id;
}

std::optional<Error> check_same_boot(const JournalRun& run, const std::string& boot_now) {
  if (run.boot_id.empty())
    return make_error(ErrorKind::bad_input,
                      fmt::format("journal run {} recorded no boot id: cannot tell whether it ran in this boot", run.run_id),
                      "a reset puts the MSRs back; restore only undoes runs of the current boot");
  if (run.boot_id != boot_now)
    return make_error(ErrorKind::bad_input,
                      fmt::format("journal run {} was made in another boot (boot id {}, now {}): the reset "
                                  "since then put the MSRs back",
                                  run.run_id, run.boot_id, boot_now),
                      "nothing to undo: restore only undoes runs of the current boot");
  return std::nullopt;
}

namespace {


bool is_locked(std::uint32_t msr, std::uint64_t v) { return (v & lock_bit(msr)) != 0; }

/// Reads one CPU and decides what restore can do for it.
RestoreCpu classify(const JournalRun& run, unsigned cpu, std::uint64_t old, MsrWriter& writer,
                    std::vector<std::string>& notes) {
  RestoreCpu c;
  c.cpu = cpu;
  c.old_value = old;
  MsrRead r = writer.read(cpu, run.msr);
  if (!r.ok()) {
    c.action = RestoreAction::unreadable;
    c.detail = fmt::format("cannot read {:#x} (errno {})", run.msr, r.error);
    return c;
  }
  c.before = c.after = r.value;
  if (((r.value ^ old) & run.mask) == 0) {
    c.action = RestoreAction::already_old;
  } else if (is_locked(run.msr, r.value)) {
    c.action = RestoreAction::locked;
    c.detail = fmt::format("locked at {:#x}: read-only until the next reset", r.value);
  } else {
    c.action = RestoreAction::to_restore;
  }
  if (((r.value ^ old) & ~run.mask) != 0)
    notes.push_back(fmt::format("cpu{}: bits {:#x} changed outside this run's bits {:#x}: left as they are", cpu,
                                (r.value ^ old) & ~run.mask, run.mask));
  return c;
}

std::vector<unsigned> cpus_where(const RestoreResult& res, std::initializer_list<RestoreAction> actions) {
  std::vector<unsigned> out;
  for (const auto& c : res.cpus)
    if (std::find(actions.begin(), actions.end(), c.action) != actions.end()) out.push_back(c.cpu);
  return out;
}

void summarize_dry_run(RestoreResult& res) {
  auto todo = cpus_where(res, {RestoreAction::to_restore});
  auto stuck = cpus_where(res, {RestoreAction::locked, RestoreAction::unreadable});
  res.outcome = !stuck.empty() ? RestoreOutcome::partial
                : todo.empty() ? RestoreOutcome::nothing_to_do
                               : RestoreOutcome::planned;
  res.summary = fmt::format("dry run: would restore CPUs {}{}", todo.empty() ? "none" : cpu_list(todo),
                            stuck.empty() ? "" : fmt::format("; CPUs {} cannot be restored", cpu_list(stuck)));
}

/// Puts one CPU back; returns whether the writer refused.
bool restore_cpu(const JournalRun& run, RestoreCpu& c, MsrWriter& writer, MsrWriter* fallback, Journal& journal,
                 const std::string& run_id, RestoreResult& res) {
  WriteRecord rec = put_back(c.cpu, run.msr, c.old_value, run.mask, c.before, writer, fallback);
  res.writes.push_back(rec);
  if (auto err = journal.append(write_record_json(run_id, run.msr, rec))) res.notes.push_back("journal: " + err->detail);
  const WriteOutcome& o = rec.outcome;
  if (o.succeeded()) {
    c.action = RestoreAction::restored;
    c.after = o.value_now().value_or((*c.before & ~run.mask) | (c.old_value & run.mask));
    return false;
  }
  c.action = RestoreAction::failed;
  c.after = o.value_now();
  c.detail = o.status == WriteStatus::mismatch
                 ? fmt::format("the write did not take effect (wrote {:#x}, read back {:#x})", o.written,
                               o.readback.value_or(0))
                 : fmt::format("{}{}", to_string(o.status), o.detail.empty() ? "" : ": " + o.detail);
  if (o.status == WriteStatus::refused && !fallback && writer.backend_name() == "driver")
    c.detail += "; the driver only sets 0x3a bits and clears SVMDIS: load the msr module (modprobe msr) to restore";
  return o.status == WriteStatus::refused;
}

void summarize(const JournalRun& run, bool refused_all, RestoreResult& res) {
  auto done = cpus_where(res, {RestoreAction::restored});
  auto locked = cpus_where(res, {RestoreAction::locked});
  auto bad = cpus_where(res, {RestoreAction::failed, RestoreAction::unreadable});
  if (bad.empty() && locked.empty()) {
    res.outcome = done.empty() ? RestoreOutcome::nothing_to_do : RestoreOutcome::restored;
    res.summary = done.empty() ? fmt::format("nothing to restore: every CPU holds the value run {} found", run.run_id)
                               : fmt::format("{:#x} put back on CPUs {} to the values run {} found", run.msr,
                                             cpu_list(done), run.run_id);
    return;
  }
  if (refused_all && locked.empty() && done.empty()) {
    res.outcome = RestoreOutcome::not_permitted;
    res.summary = fmt::format("every write was refused: nothing was restored ({})", res.cpus.front().detail);
    return;
  }
  res.outcome = RestoreOutcome::partial;
  std::vector<std::string> parts;
  if (!done.empty()) parts.push_back(fmt::format("restored CPUs {}", cpu_list(done)));
  if (!locked.empty())
    parts.push_back(fmt::format("CPUs {} are locked and cannot be restored until reset", cpu_list(locked)));
  if (!bad.empty()) parts.push_back(fmt::format("CPUs {} could not be restored", cpu_list(bad)));
  for (const auto& p : parts) res.summary += (res.summary.empty() ? "" : "; ") + p;
  if (!locked.empty() && !done.empty())
    res.notes.push_back("the restored CPUs now differ from the locked ones: KVM refuses CPUs that differ");
}

}  // namespace

RestoreResult restore(const JournalRun& run_in, MsrWriter& writer, Journal& journal, MsrWriter* fallback,
                      const std::string& run_id, const std::string& time, RestoreMode mode) {
  RestoreResult res;
  res.run = run_in;
  // Never more than a run can change, whoever built \a run_in: never a lock bit.
  res.run.mask &= restorable_bits(res.run.msr);
  const JournalRun& run = res.run;
  for (const auto& [cpu, old] : run.old_values) res.cpus.push_back(classify(run, cpu, old, writer, res.notes));
  if (mode == RestoreMode::dry_run) {
    summarize_dry_run(res);
    return res;
  }
  bool to_write = !cpus_where(res, {RestoreAction::to_restore}).empty();
  if (!to_write) {
    summarize(run, false, res);
    return res;
  }
  // Like apply(): the values found go to the journal before the first write.
  nlohmann::json cpus = nlohmann::json::array();
  for (const auto& c : res.cpus)
    if (c.before) cpus.push_back({{"cpu", c.cpu}, {"old", hex(*c.before)}, {"new", hex(c.old_value)}});
  if (auto err = journal.append({{"schema", kJournalSchema}, {"run", run_id}, {"event", "begin"}, {"time", time},
                                 {"command", "restore"}, {"of", run.run_id}, {"boot", run.boot_id}, {"via", std::string(writer.backend_name())},
                                 {"device", writer.device()}, {"msr", hex(run.msr)},
                                 {"mask", hex(run.mask)}, {"cpus", cpus}})) {
    for (auto& c : res.cpus)
      if (c.action == RestoreAction::to_restore) {
        c.action = RestoreAction::failed;
        c.detail = "not written: the journal could not be written";
      }
    summarize(run, false, res);
    res.summary = fmt::format("{}: nothing was written", err->detail);
    return res;
  }
  bool refused_all = true;
  for (auto& c : res.cpus)
    if (c.action == RestoreAction::to_restore)
      refused_all &= restore_cpu(run, c, writer, fallback, journal, run_id, res);
  summarize(run, refused_all, res);
  nlohmann::json after = nlohmann::json::array();
  for (const auto& c : res.cpus)
    after.push_back({{"cpu", c.cpu}, {"value", c.after ? nlohmann::json(hex(*c.after)) : nlohmann::json()}});
  if (auto err = journal.append({{"schema", kJournalSchema}, {"run", run_id}, {"event", "end"},
                                 {"outcome", to_string(res.outcome)}, {"cpus", after}}))
    res.notes.push_back("journal: " + err->detail);
  return res;
}

}  // namespace kvmprobe::provision
