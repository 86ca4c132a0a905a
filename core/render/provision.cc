#include "core/render/provision.h"

#include <fmt/format.h>

#include "core/analyse/feature_control.h"
#include "core/model/format.h"

namespace kvmprobe::render {
namespace {

using namespace provision;


/// What the plan does to one CPU, in words.
std::string action_text(const Plan& plan, const CpuPlan& c) {
  switch (c.action) {
    case CpuAction::done: return "nothing: already done";
    case CpuAction::not_selected: return "left alone: not in --cpus";
    case CpuAction::unreadable: return "unknown: " + join(c.missing, ", ");
    case CpuAction::locked_off: return "none possible: locked without " + join(c.missing, ", ");
    case CpuAction::change: break;
  }
  if (plan.msr == kVmCr) return "clear SVMDIS";
  std::vector<std::string> parts;
  std::uint64_t added = c.new_value & ~c.old_value.value_or(0);
  const std::pair<std::uint64_t, const char*> names[] = {
      {feat_ctl::kVmxOutsideSmx, "VMX outside SMX"}, {feat_ctl::kVmxInsideSmx, "VMX inside SMX"},
      {feat_ctl::kSgx, "SGX"}, {feat_ctl::kSgxLc, "SGX launch control"}, {feat_ctl::kLmce, "LMCE"},
      {feat_ctl::kLocked, "lock"}};
  for (const auto& [bit, name] : names)
    if (added & bit) parts.push_back(name);
  return "set " + join(parts, ", ");
}

Status verdict_status(PlanVerdict v) {
  switch (v) {
    case PlanVerdict::nothing_to_do:
    case PlanVerdict::apply: return Status::ok;
    case PlanVerdict::cannot_tell: return Status::unknown;
    default: return Status::fail;
  }
}

Status outcome_status(ApplyOutcome o) {
  switch (o) {
    case ApplyOutcome::applied:
    case ApplyOutcome::nothing_to_do: return Status::ok;
    case ApplyOutcome::rolled_back:
    case ApplyOutcome::not_permitted: return Status::warn;
    default: return Status::fail;
  }
}

}  // namespace

std::string plan_text(const Plan& plan, const TextStyle& st) {
  std::string out;
  if (st.legend && plan.msr)
    out += plan.cpus.empty() ? fmt::format("{}, {} CPU\n", plan.msr_name, to_string(plan.vendor))
                             : fmt::format("{} on {} {} CPUs\n", plan.msr_name, plan.cpus.size(), to_string(plan.vendor));
  if (!plan.cpus.empty()) {
    struct Row {
      std::vector<unsigned> cpus;
      std::string now, after, action, state;
    };
    std::vector<Row> rows;
    for (const auto& c : plan.cpus) {
      Row r{{c.cpu}, c.old_value ? hex(*c.old_value) : "?",
            c.action == CpuAction::change ? hex(c.new_value) : "-", action_text(plan, c), c.state};
      if (!rows.empty() && rows.back().now == r.now && rows.back().after == r.after && rows.back().action == r.action &&
          rows.back().state == r.state)
        rows.back().cpus.push_back(c.cpu);
      else
        rows.push_back(r);
    }
    std::size_t w = 4, wn = 3, wa = 5, wact = 6;
    for (const auto& r : rows) {
      w = std::max(w, cpu_list(r.cpus).size());
      wn = std::max(wn, r.now.size());
      wa = std::max(wa, r.after.size());
      wact = std::max(wact, r.action.size());
    }
    auto line = [&](const std::string& a, const std::string& b, const std::string& c, const std::string& d,
                    const std::string& e) {
      std::string l = fmt::format("  {:<{}}  {:<{}}  {:<{}}  {:<{}}  {}", a, w, b, wn, c, wa, d, wact, e);
      while (!l.empty() && l.back() == ' ') l.pop_back();
      return l + "\n";
    };
    if (st.legend) out += line("CPUS", "NOW", "AFTER", "ACTION", "NOW MEANS");
    for (const auto& r : rows) out += line(cpu_list(r.cpus), r.now, r.after, r.action, r.state);
  }
  out += paint(verdict_status(plan.verdict), fmt::format("plan: {}", plan.summary), st.color) + "\n";
  if (!plan.who_locked.empty()) out += fmt::format("who locked it: {}\n", plan.who_locked);
  if (!plan.remedy.empty()) out += fmt::format("remedy: {}\n", plan.remedy);
  for (const auto& n : plan.notes) out += fmt::format("note: {}\n", n);
  for (const auto& w : plan.warnings) out += paint(Status::warn, fmt::format("warning: {}", w), st.color) + "\n";
  return out;
}

nlohmann::json plan_json(const Plan& plan) {
  nlohmann::json cpus = nlohmann::json::array();
  for (const auto& c : plan.cpus)
    cpus.push_back({{"cpu", c.cpu}, {"action", to_string(c.action)}, {"old", hex_or_null(c.old_value)},
                    {"enabled", c.old_value ? nlohmann::json(hex(c.enabled_value)) : nlohmann::json()},
                    {"new", c.old_value ? nlohmann::json(hex(c.new_value)) : nlohmann::json()}, {"state", c.state},
                    {"missing", c.missing}});
  return {{"verdict", to_string(plan.verdict)},
          {"vendor", to_string(plan.vendor)},
          {"msr", plan.msr ? nlohmann::json(hex(plan.msr)) : nlohmann::json()},
          {"enable_set", hex(plan.enable_set)},
          {"enable_clear", hex(plan.enable_clear)},
          {"lock_set", hex(plan.lock_set)},
          {"summary", plan.summary},
          {"who_locked", plan.who_locked},
          {"remedy", plan.remedy},
          {"notes", plan.notes},
          {"warnings", plan.warnings},
          {"cpus", cpus}};
}

std::string apply_text(const ApplyResult& r, const TextStyle& st) {
  std::string out;
  // Writes grouped by phase, status and path: "enable  CPUs 0-3  ok (driver)".
  struct Group {
    Phase phase;
    std::string status, via;
    std::vector<unsigned> cpus;
  };
  std::vector<Group> groups;
  for (const auto& w : r.writes) {
    std::string status = to_string(w.outcome.status);
    if (w.outcome.status == WriteStatus::mismatch)
      status = fmt::format("did not take effect (wrote {:#x}, read back {:#x})", w.outcome.written,
                           w.outcome.readback.value_or(0));
    else if (!w.outcome.succeeded() && !w.outcome.detail.empty())
      status += ": " + w.outcome.detail;
    if (!groups.empty() && groups.back().phase == w.phase && groups.back().status == status && groups.back().via == w.via)
      groups.back().cpus.push_back(w.cpu);
    else
      groups.push_back({w.phase, status, w.via, {w.cpu}});
  }
  for (const auto& g : groups)
    out += fmt::format("{:<8} CPUs {:<8} {} (through {})\n", to_string(g.phase), cpu_list(g.cpus), g.status, g.via);
  out += paint(outcome_status(r.outcome), fmt::format("{}: {}", to_string(r.outcome), r.summary), st.color) + "\n";
  if (r.outcome != ApplyOutcome::applied && r.outcome != ApplyOutcome::nothing_to_do && !r.cpus.empty()) {
    for (const auto& c : r.cpus) {
      std::string where = !c.value                ? "unknown (could not be read)"
                          : *c.value == c.old_value ? "old value"
                          : *c.value == c.new_value ? "target"
                                                    : "neither old nor target";
      out += fmt::format("  cpu{:<4} now {:<10} old {:<10} target {:<10} {}\n", c.cpu,
                         c.value ? hex(*c.value) : "?", hex(c.old_value), hex(c.new_value), where);
    }
  }
  for (const auto& n : r.notes) out += fmt::format("note: {}\n", n);
  return out;
}

nlohmann::json apply_json(const ApplyResult& r) {
  nlohmann::json writes = nlohmann::json::array();
  for (const auto& w : r.writes)
    writes.push_back({{"cpu", w.cpu}, {"phase", to_string(w.phase)}, {"via", w.via}, {"set", hex(w.set)},
                      {"clear", hex(w.clear)}, {"status", to_string(w.outcome.status)},
                      {"old", hex_or_null(w.outcome.old_value)},
                      {"written", w.outcome.old_value ? nlohmann::json(hex(w.outcome.written)) : nlohmann::json()},
                      {"readback", hex_or_null(w.outcome.readback)}, {"errno", w.outcome.err}, {"detail", w.outcome.detail}});
  nlohmann::json cpus = nlohmann::json::array();
  for (const auto& c : r.cpus)
    cpus.push_back({{"cpu", c.cpu}, {"old", hex(c.old_value)}, {"new", hex(c.new_value)}, {"value", hex_or_null(c.value)}});
  return {{"outcome", to_string(r.outcome)}, {"summary", r.summary}, {"failure", r.failure}, {"writes", writes},
          {"cpus", cpus}, {"needs_attention", r.needs_attention}, {"notes", r.notes}};
}

std::string restore_text(const RestoreResult& r, const TextStyle& st) {
  std::string out;
  if (st.legend)
    out += fmt::format("restoring run {} ({} {}, {}) on MSR {:#x}\n", r.run.run_id, r.run.command,
                       r.run.time.empty() ? "?" : r.run.time, r.run.outcome.empty() ? "unfinished" : r.run.outcome,
                       r.run.msr);
  for (const auto& c : r.cpus) {
    std::string l = fmt::format("  cpu{:<4} {:<12} found {:<10} old {:<10} {}", c.cpu, to_string(c.action),
                                c.before ? hex(*c.before) : "?", hex(c.old_value), c.detail);
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  }
  Status s = r.outcome == RestoreOutcome::partial ? Status::fail
             : r.outcome == RestoreOutcome::not_permitted ? Status::warn
                                                          : Status::ok;
  out += paint(s, fmt::format("{}: {}", to_string(r.outcome), r.summary), st.color) + "\n";
  for (const auto& n : r.notes) out += fmt::format("note: {}\n", n);
  return out;
}

nlohmann::json restore_json(const RestoreResult& r) {
  nlohmann::json cpus = nlohmann::json::array();
  for (const auto& c : r.cpus)
    cpus.push_back({{"cpu", c.cpu}, {"action", to_string(c.action)}, {"old", hex(c.old_value)},
                    {"found", hex_or_null(c.before)}, {"value", hex_or_null(c.after)}, {"detail", c.detail}});
  nlohmann::json writes = nlohmann::json::array();
  for (const auto& w : r.writes)
    writes.push_back({{"cpu", w.cpu}, {"via", w.via}, {"set", hex(w.set)}, {"clear", hex(w.clear)},
                      {"status", to_string(w.outcome.status)}, {"readback", hex_or_null(w.outcome.readback)},
                      {"errno", w.outcome.err}, {"detail", w.outcome.detail}});
  return {{"run", r.run.run_id}, {"command", r.run.command}, {"run_outcome", r.run.outcome},
          {"msr", hex(r.run.msr)}, {"outcome", to_string(r.outcome)}, {"summary", r.summary},
          {"cpus", cpus}, {"writes", writes}, {"notes", r.notes}};
}

std::string expectations_text(const std::vector<ExpectationResult>& results, const TextStyle& st) {
  std::string out;
  for (const auto& e : results) {
    Status s = e.status == ExpectStatus::met ? Status::ok : e.status == ExpectStatus::unmet ? Status::fail : Status::unknown;
    out += fmt::format("expect {:<20} {} want {}, got {}: {}\n", e.id, paint(s, fmt::format("{:<7}", to_string(e.status)), st.color),
                       e.want, e.got, e.detail);
  }
  return out;
}

nlohmann::json expectations_json(const std::vector<ExpectationResult>& results) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& e : results)
    a.push_back({{"id", e.id}, {"status", to_string(e.status)}, {"want", e.want}, {"got", e.got}, {"detail", e.detail}});
  return a;
}

}  // namespace kvmprobe::render
