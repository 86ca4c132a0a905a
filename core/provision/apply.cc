#include "core/provision/apply.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/model/format.h"

namespace kvmprobe::provision {

const char* to_string(ApplyOutcome o) {
  switch (o) {
    case ApplyOutcome::applied: return "applied";
    case ApplyOutcome::nothing_to_do: return "nothing_to_do";
    case ApplyOutcome::aborted: return "aborted";
    case ApplyOutcome::not_permitted: return "not_permitted";
    case ApplyOutcome::rolled_back: return "rolled_back";
    case ApplyOutcome::partial: return "partial";
  }
  return "partial";
}

const char* to_string(Phase p) {
  switch (p) {
    case Phase::enable: return "enable";
    case Phase::lock: return "lock";
    case Phase::restore: return "restore";
  }
  return "restore";
}

ApplyRequest request_from_plan(const Plan& plan) {
  ApplyRequest r;
  r.msr = plan.msr;
  r.enable_set = plan.enable_set;
  r.enable_clear = plan.enable_clear;
  r.lock_set = plan.lock_set;
  for (const auto& c : plan.cpus)
    if ((c.action == CpuAction::change || c.action == CpuAction::done) && c.old_value)
      r.cpus.push_back({c.cpu, *c.old_value, c.enabled_value, c.new_value});
  return r;
}

nlohmann::json write_record_json(const std::string& run_id, std::uint32_t msr, const WriteRecord& w) {
  auto opt = [](const std::optional<std::uint64_t>& v) { return v ? nlohmann::json(hex(*v)) : nlohmann::json(); };
  const WriteOutcome& o = w.outcome;
  return {{"schema", kJournalSchema}, {"run", run_id}, {"event", "write"}, {"phase", to_string(w.phase)},
          {"cpu", w.cpu}, {"msr", hex(msr)}, {"set", hex(w.set)}, {"clear", hex(w.clear)},
          {"via", w.via}, {"status", to_string(o.status)}, {"old", opt(o.old_value)},
          {"written", o.old_value ? nlohmann::json(hex(o.written)) : nlohmann::json()},
          {"readback", opt(o.readback)}, {"errno", o.err}, {"detail", o.detail}};
}

WriteRecord put_back(unsigned cpu, std::uint32_t msr, std::uint64_t old_value, std::uint64_t mask,
                     std::optional<std::uint64_t> now, MsrWriter& writer, MsrWriter* fallback) {
  WriteRecord rec;
  rec.cpu = cpu;
  rec.phase = Phase::restore;
  rec.set = now ? old_value & ~*now & mask : old_value & mask;
  rec.clear = now ? *now & ~old_value & mask : ~old_value & mask;
  rec.via = std::string(writer.backend_name());
  if (rec.set == 0 && rec.clear == 0) {
    rec.outcome.status = WriteStatus::unchanged;
    rec.outcome.old_value = now;
    rec.outcome.written = now.value_or(old_value);
    return rec;
  }
  rec.outcome = writer.modify(cpu, msr, rec.set, rec.clear);
  if (rec.outcome.status == WriteStatus::refused && fallback) {
    rec.via = std::string(fallback->backend_name());
    rec.outcome = fallback->modify(cpu, msr, rec.set, rec.clear);
  }
  return rec;
}

namespace {


/// One run of the engine: the request, the devices and what is known about every CPU.
class Run {
 public:
  Run(const ApplyRequest& req, MsrWriter& w, Journal& j, MsrWriter* fb)
      : req_(req), w_(w), j_(j), fb_(fb), known_(req.cpus.size()), touched_(req.cpus.size(), false) {}

  ApplyResult go();

 private:
  std::uint64_t mask() const { return req_.enable_set | req_.enable_clear | req_.lock_set; }
  std::string msr_hex() const { return hex(req_.msr); }
  void journal(const nlohmann::json& rec);
  bool phase0();
  bool write_all(Phase phase);
  bool verify_all(Phase phase);
  void reread_touched();
  void roll_back();
  void after_lock_failure();
  void finish();
  /// CPUs not known to hold their target (\a target) or their old value (!\a target).
  std::vector<unsigned> not_at(bool target) const;
  /// CPUs this run locked (or may have locked: value unknown after a lock write).
  std::vector<unsigned> locked_by_us() const;

  const ApplyRequest& req_;
  MsrWriter& w_;
  Journal& j_;
  MsrWriter* fb_;
  std::vector<std::optional<std::uint64_t>> known_;  ///< each CPU's value as far as known
  std::vector<bool> touched_;                        ///< a write was attempted on it
  bool changed_any_ = false;                         ///< some write took effect
  bool refused_ = false;                             ///< the failing write was refused
  ApplyResult res_;
};

void Run::journal(const nlohmann::json& rec) {
  if (auto err = j_.append(rec)) res_.notes.push_back("journal: " + err->detail);
}

bool Run::phase0() {
  bool all_done = true;
  for (std::size_t i = 0; i < req_.cpus.size(); ++i) {
    const ApplyCpu& c = req_.cpus[i];
    MsrRead r = w_.read(c.cpu, req_.msr);
    if (!r.ok()) {
      res_.failure = fmt::format("cpu{}: cannot read {} (errno {}): nothing was written", c.cpu, msr_hex(), r.error);
      return false;
    }
    known_[i] = r.value;
    if (r.value != c.old_value && r.value != c.new_value) {
      res_.failure = fmt::format("cpu{}: {} is {:#x} now, {:#x} when planned: nothing was written, run again",
                                 c.cpu, msr_hex(), r.value, c.old_value);
      return false;
    }
    all_done &= r.value == c.new_value;
  }
  if (all_done) {
    res_.outcome = ApplyOutcome::nothing_to_do;
    return false;
  }
  nlohmann::json cpus = nlohmann::json::array();
  for (std::size_t i = 0; i < req_.cpus.size(); ++i)
    cpus.push_back({{"cpu", req_.cpus[i].cpu}, {"old", hex(*known_[i])},
                    {"enabled", hex(req_.cpus[i].enabled_value)}, {"new", hex(req_.cpus[i].new_value)}});
  nlohmann::json begin = {{"schema", kJournalSchema}, {"run", req_.run_id}, {"event", "begin"}, {"time", req_.time},
                          {"boot", req_.boot_id}, {"command", req_.command}, {"via", std::string(w_.backend_name())}, {"device", w_.device()},
                          {"msr", msr_hex()}, {"mask", hex(mask())}, {"cpus", cpus}};
  if (auto err = j_.append(begin)) {
    res_.failure = fmt::format("{}: nothing was written", err->detail);
    return false;
  }
  res_.journaled = true;
  return true;
}

bool Run::write_all(Phase phase) {
  for (std::size_t i = 0; i < req_.cpus.size(); ++i) {
    const ApplyCpu& c = req_.cpus[i];
    std::uint64_t target = phase == Phase::enable ? c.enabled_value : c.new_value;
    if (known_[i] == target || known_[i] == c.new_value) continue;
    WriteRecord rec;
    rec.cpu = c.cpu;
    rec.phase = phase;
    rec.set = phase == Phase::enable ? req_.enable_set : req_.lock_set;
    rec.clear = phase == Phase::enable ? req_.enable_clear : 0;
    rec.via = std::string(w_.backend_name());
    rec.outcome = w_.modify(c.cpu, req_.msr, rec.set, rec.clear);
    // Refused, a faulting read or a faulting WRMSR write nothing (msr.c and the driver check
    // and read before writing): the CPU keeps the value known before this call.
    WriteStatus st = rec.outcome.status;
    bool wrote_nothing = st == WriteStatus::refused || st == WriteStatus::read_fault ||
                         st == WriteStatus::write_fault || st == WriteStatus::unchanged;
    std::optional<std::uint64_t> now = rec.outcome.value_now();
    known_[i] = now || !wrote_nothing ? now : known_[i];
    touched_[i] = touched_[i] || !wrote_nothing;
    res_.writes.push_back(rec);
    journal(write_record_json(req_.run_id, req_.msr, rec));
    const WriteOutcome& o = rec.outcome;
    if (o.succeeded() && known_[i] == target) {
      changed_any_ |= o.status == WriteStatus::ok;
      continue;
    }
    refused_ = o.status == WriteStatus::refused;
    res_.failure = o.status == WriteStatus::mismatch
                       ? fmt::format("cpu{}: the write did not take effect (wrote {:#x} to {}, read back {:#x})", c.cpu,
                                     o.written, msr_hex(), o.readback.value_or(0))
                       : fmt::format("cpu{}: {} phase: {}{}", c.cpu, to_string(phase), to_string(o.status),
                                     o.detail.empty() ? "" : " (" + o.detail + ")");
    return false;
  }
  return true;
}

bool Run::verify_all(Phase phase) {
  for (std::size_t i = 0; i < req_.cpus.size(); ++i) {
    const ApplyCpu& c = req_.cpus[i];
    std::uint64_t target = phase == Phase::enable ? c.enabled_value : c.new_value;
    MsrRead r = w_.read(c.cpu, req_.msr);
    if (!r.ok()) {
      res_.failure = fmt::format("cpu{}: cannot verify {} after the {} phase (errno {})", c.cpu, msr_hex(),
                                 to_string(phase), r.error);
      return false;
    }
    known_[i] = r.value;
    if (r.value != target && r.value != c.new_value) {
      touched_[i] = true;
      res_.failure = fmt::format("cpu{}: {} holds {:#x} after the {} phase, {:#x} expected", c.cpu, msr_hex(),
                                 r.value, to_string(phase), target);
      return false;
    }
  }
  return true;
}

void Run::reread_touched() {
  for (std::size_t i = 0; i < req_.cpus.size(); ++i) {
    if (!touched_[i]) continue;  // never written: still the value phase 0 read
    MsrRead r = w_.read(req_.cpus[i].cpu, req_.msr);
    if (r.ok()) known_[i] = r.value;
  }
}

void Run::roll_back() {
  for (std::size_t k = req_.cpus.size(); k-- > 0;) {
    const ApplyCpu& c = req_.cpus[k];
    if (!touched_[k] || known_[k] == c.old_value) continue;
    WriteRecord rec = put_back(c.cpu, req_.msr, c.old_value, mask(), known_[k], w_, fb_);
    known_[k] = rec.outcome.succeeded() ? rec.outcome.value_now().value_or(c.old_value) : rec.outcome.value_now();
    res_.writes.push_back(rec);
    journal(write_record_json(req_.run_id, req_.msr, rec));
  }
  reread_touched();
  res_.needs_attention = not_at(false);
  if (!res_.needs_attention.empty()) {
    res_.outcome = ApplyOutcome::partial;
    res_.summary = fmt::format("{}; CPUs {} could not be put back: they differ from the others", res_.failure,
                               cpu_list(res_.needs_attention));
  } else if (refused_ && !changed_any_) {
    res_.outcome = ApplyOutcome::not_permitted;
    res_.summary = fmt::format("{}; nothing was changed", res_.failure);
  } else {
    res_.outcome = ApplyOutcome::rolled_back;
    res_.summary = fmt::format("{}; rolled back: every CPU holds its old value", res_.failure);
  }
}

void Run::after_lock_failure() {
  reread_touched();
  bool any_locked = false, all_new = true;
  for (std::size_t i = 0; i < req_.cpus.size(); ++i) {
    const ApplyCpu& c = req_.cpus[i];
    all_new &= known_[i] == c.new_value;
    bool was_locked = (c.old_value & req_.lock_set) != 0;
    any_locked |= !was_locked && (!known_[i] || (*known_[i] & req_.lock_set));
  }
  if (all_new) {  // the failing step left no trace: a transient read or write error
    res_.outcome = ApplyOutcome::applied;
    res_.notes.push_back(res_.failure + "; the values read back show every CPU at its target");
    res_.failure.clear();
    return;
  }
  if (!any_locked) return roll_back();  // nothing locked yet: phase 1 can still be undone
  // Locked CPUs are read-only until reset. The others keep the phase-1 bits, so VMX stays
  // enabled on every CPU; running enable-vmx again locks the rest.
  res_.outcome = ApplyOutcome::partial;
  res_.needs_attention = not_at(true);
  res_.summary = fmt::format("{}; CPUs {} are locked and cannot be undone, CPUs {} are not at their target: run "
                             "enable-vmx again to lock them",
                             res_.failure, cpu_list(locked_by_us()), cpu_list(res_.needs_attention));
}

std::vector<unsigned> Run::not_at(bool target) const {
  std::vector<unsigned> out;
  for (std::size_t i = 0; i < req_.cpus.size(); ++i) {
    const ApplyCpu& c = req_.cpus[i];
    if (known_[i] != (target ? c.new_value : c.old_value)) out.push_back(c.cpu);
  }
  return out;
}

std::vector<unsigned> Run::locked_by_us() const {
  std::vector<unsigned> out;
  for (std::size_t i = 0; i < req_.cpus.size(); ++i) {
    const ApplyCpu& c = req_.cpus[i];
    if (!(c.old_value & req_.lock_set) && touched_[i] && (!known_[i] || (*known_[i] & req_.lock_set)))
      out.push_back(c.cpu);
  }
  return out;
}

void Run::finish() {
  for (std::size_t i = 0; i < req_.cpus.size(); ++i)
    res_.cpus.push_back({req_.cpus[i].cpu, req_.cpus[i].old_value, req_.cpus[i].new_value, known_[i]});
  if (!res_.journaled) return;
  nlohmann::json cpus = nlohmann::json::array();
  for (const auto& c : res_.cpus)
    cpus.push_back({{"cpu", c.cpu}, {"value", c.value ? nlohmann::json(hex(*c.value)) : nlohmann::json()}});
  journal({{"schema", kJournalSchema}, {"run", req_.run_id}, {"event", "end"}, {"outcome", to_string(res_.outcome)},
           {"failure", res_.failure}, {"cpus", cpus}});
}

ApplyResult Run::go() {
  if (!phase0()) {
    if (res_.outcome == ApplyOutcome::nothing_to_do) {
      res_.summary = "nothing to do: every CPU already holds its target";
    } else {
      res_.outcome = ApplyOutcome::aborted;
      res_.summary = res_.failure;
    }
    finish();
    return std::move(res_);
  }
  if (!write_all(Phase::enable) || !verify_all(Phase::enable)) {
    roll_back();
  } else if (req_.lock_set && (!write_all(Phase::lock) || !verify_all(Phase::lock))) {
    after_lock_failure();
  } else {
    res_.outcome = ApplyOutcome::applied;
  }
  if (res_.outcome == ApplyOutcome::applied) {
    std::vector<unsigned> written;
    for (std::size_t i = 0; i < req_.cpus.size(); ++i)
      if (touched_[i]) written.push_back(req_.cpus[i].cpu);
    res_.summary = written.empty() ? fmt::format("every CPU holds its target ({} verified)", msr_hex())
                                   : fmt::format("{} written on CPUs {} and verified", msr_hex(), cpu_list(written));
  }
  finish();
  return std::move(res_);
}

}  // namespace

ApplyResult apply(const ApplyRequest& req, MsrWriter& writer, Journal& journal, MsrWriter* fallback) {
  return Run(req, writer, journal, fallback).go();
}

}  // namespace kvmprobe::provision
