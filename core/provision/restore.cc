#include "core/provision/restore.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/analyse/feature_control.h"
#include "core/collect/cpu_list.h"
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

Result<JournalRun> last_run(const JournalContents& journal) {
  const nlohmann::json* begin = nullptr;
  for (const auto& r : journal.records)
    if (r.value("event", "") == "begin" && r.value("command", "") != "restore") begin = &r;
  if (!begin)
    return make_error(ErrorKind::missing, "the journal records no enable-vmx or provision run that wrote",
                      "nothing to restore");
  JournalRun run;
  auto bad = [&](const char* what) {
    return make_error(ErrorKind::bad_input, fmt::format("journal run {}: malformed 'begin' line ({})",
                                                        begin->value("run", "?"), what));
  };
  run.run_id = begin->value("run", "");
  run.command = begin->value("command", "");
  run.time = begin->value("time", "");
  run.via = begin->value("via", "");
  auto msr = parse_journal_hex(begin->value("msr", nlohmann::json()));
  auto mask = parse_journal_hex(begin->value("mask", nlohmann::json()));
  if (!msr || (*msr != kFeatureControl && *msr != kVmCr)) return bad("msr");
  if (!mask) return bad("mask");
  run.msr = static_cast<std::uint32_t>(*msr);
  run.mask = *mask;
  auto cpus = begin->find("cpus");
  if (cpus == begin->end() || !cpus->is_array()) return bad("cpus");
  for (const auto& c : *cpus) {
    auto old = c.is_object() ? parse_journal_hex(c.value("old", nlohmann::json())) : std::nullopt;
    if (!old || !c.contains("cpu") || !c["cpu"].is_number_integer() || c["cpu"].get<std::int64_t>() < 0 ||
        c["cpu"].get<std::int64_t>() > 65535)
      return bad("cpus[].cpu/old");
    run.old_values.emplace_back(static_cast<unsigned>(c["cpu"].get<std::int64_t>()), *old);
  }
  for (const auto& r : journal.records)
    if (r.value("run", "") == run.run_id && r.value("event", "") == "end") run.outcome = r.value("outcome", "");
  return run;
}

namespace {

using collect::format_cpu_list;

bool is_locked(std::uint32_t msr, std::uint64_t v) {
  return msr == kFeatureControl ? (v & feat_ctl::kLocked) != 0 : (v & vm_cr::kLock) != 0;
}

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
  res.summary = fmt::format("dry run: would restore CPUs {}{}", todo.empty() ? "none" : format_cpu_list(todo),
                            stuck.empty() ? "" : fmt::format("; CPUs {} cannot be restored", format_cpu_list(stuck)));
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
                                             format_cpu_list(done), run.run_id);
    return;
  }
  if (refused_all && locked.empty() && done.empty()) {
    res.outcome = RestoreOutcome::not_permitted;
    res.summary = fmt::format("every write was refused: nothing was restored ({})", res.cpus.front().detail);
    return;
  }
  res.outcome = RestoreOutcome::partial;
  std::vector<std::string> parts;
  if (!done.empty()) parts.push_back(fmt::format("restored CPUs {}", format_cpu_list(done)));
  if (!locked.empty())
    parts.push_back(fmt::format("CPUs {} are locked and cannot be restored until reset", format_cpu_list(locked)));
  if (!bad.empty()) parts.push_back(fmt::format("CPUs {} could not be restored", format_cpu_list(bad)));
  for (const auto& p : parts) res.summary += (res.summary.empty() ? "" : "; ") + p;
  if (!locked.empty() && !done.empty())
    res.notes.push_back("the restored CPUs now differ from the locked ones: KVM refuses CPUs that differ");
}

}  // namespace

RestoreResult restore(const JournalRun& run, MsrWriter& writer, Journal& journal, MsrWriter* fallback,
                      const std::string& run_id, const std::string& time, RestoreMode mode) {
  RestoreResult res;
  res.run = run;
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
    if (c.before) cpus.push_back({{"cpu", c.cpu}, {"old", journal_hex(*c.before)}, {"new", journal_hex(c.old_value)}});
  if (auto err = journal.append({{"schema", kJournalSchema}, {"run", run_id}, {"event", "begin"}, {"time", time},
                                 {"command", "restore"}, {"of", run.run_id}, {"via", std::string(writer.backend_name())},
                                 {"device", writer.device()}, {"msr", journal_hex(run.msr)},
                                 {"mask", journal_hex(run.mask)}, {"cpus", cpus}})) {
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
    after.push_back({{"cpu", c.cpu}, {"value", c.after ? nlohmann::json(journal_hex(*c.after)) : nlohmann::json()}});
  if (auto err = journal.append({{"schema", kJournalSchema}, {"run", run_id}, {"event", "end"},
                                 {"outcome", to_string(res.outcome)}, {"cpus", after}}))
    res.notes.push_back("journal: " + err->detail);
  return res;
}

}  // namespace kvmprobe::provision
