#include "core/render/compat.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/model/format.h"
#include "core/render/steps_text.h"

namespace kvmprobe::render {
namespace {

using compat::CompatReport;
using compat::CompatVerdict;

Status verdict_status(CompatVerdict v) {
  switch (v) {
    case CompatVerdict::compatible: return Status::ok;
    case CompatVerdict::conditional: return Status::warn;
    case CompatVerdict::incompatible: return Status::fail;
    case CompatVerdict::unknown: return Status::unknown;
  }
  return Status::unknown;
}

std::string side(const std::string& label, const std::string& kernel, const std::string& profile) {
  return fmt::format("{} (kernel {}, KVM profile {})", label, kernel.empty() ? "?" : kernel, profile);
}

}  // namespace

std::string compat_text(const CompatReport& r, const TextStyle& st) {
  std::string out;
  if (st.legend) {
    out += fmt::format("kvmprobe compat — can a guest move from the source to the destination?\n");
    out += fmt::format("  source:      {}\n", side(r.src_label, r.src_kernel, r.src_profile));
    out += fmt::format("  destination: {}\n\n", side(r.dst_label, r.dst_kernel, r.dst_profile));
  }
  out += steps_text(r.steps, st, SkippedDetail::shown);
  if (st.verbose && !r.msrs.empty()) {
    out += "\n  MSR          name                               source value         listed  accepts  reason\n";
    for (const auto& m : r.msrs)
      out += fmt::format("  {:#010x}   {:<34} {:<20} {:<7} {:<8} {}\n", m.index, m.name,
                         m.src_value ? fmt::format("{:#x}", *m.src_value) : "?", m.dst_listed ? "yes" : "no",
                         yes_no(m.dst_accepts), m.reason);
  }
  out += fmt::format("\nverdict: {}  — {}\n", paint(verdict_status(r.verdict), to_string(r.verdict), st.color),
                     r.reason);
  return out;
}

nlohmann::json compat_json(const CompatReport& r, int exit_code) {
  nlohmann::json j;
  j["schema"] = kCompatSchema;
  j["source"] = {{"label", r.src_label}, {"kernel", r.src_kernel}, {"profile", r.src_profile}};
  j["destination"] = {{"label", r.dst_label}, {"kernel", r.dst_kernel}, {"profile", r.dst_profile}};
  j["verdict"] = to_string(r.verdict);
  j["reason"] = r.reason;
  j["exit_code"] = exit_code;
  j["steps"] = nlohmann::json::array();
  for (const auto& s : r.steps) j["steps"].push_back(step_json(s));
  j["msrs"] = nlohmann::json::array();
  for (const auto& m : r.msrs)
    j["msrs"].push_back({{"index", fmt::format("{:#x}", m.index)},
                         {"name", m.name},
                         {"src_value", m.src_value ? nlohmann::json(fmt::format("{:#x}", *m.src_value)) : nlohmann::json()},
                         {"dst_listed", m.dst_listed},
                         {"dst_accepts", m.dst_accepts ? nlohmann::json(*m.dst_accepts) : nlohmann::json()},
                         {"reason", m.reason}});
  j["cpuid_lost"] = r.cpuid_lost;
  return j;
}

nlohmann::json compat_both_json(const std::vector<nlohmann::json>& directions) {
  return {{"schema", kCompatSchema}, {"directions", directions}};
}

}  // namespace kvmprobe::render

namespace kvmprobe::render {
namespace {

std::string hex_list(const std::vector<std::uint32_t>& v) {
  return v.empty() ? "none" : fmt::format("{:#x}", fmt::join(v, " "));
}


std::string load_line(const compat::SideFacts& f) {
  const Verdict& v = f.report.verdict;
  return fmt::format("{} would load: {} — {}", v.vendor_module.empty() ? "vendor module" : v.vendor_module,
                     yes_no(v.would_load), v.reason);
}

nlohmann::json tsc_json(const compat::SideFacts& f) {
  return {{"tsc_khz", f.tsc_khz ? nlohmann::json(*f.tsc_khz) : nlohmann::json()},
          {"has_tsc_control", f.tsc.has_control},
          {"frac_bits", f.tsc.frac_bits},
          {"max_guest_tsc_khz", f.tsc.max_guest_khz ? nlohmann::json(*f.tsc.max_guest_khz) : nlohmann::json()}};
}

}  // namespace

std::string kernel_diff_text(const compat::KernelDiff& d, const TextStyle& st) {
  const auto& o = d.old_side;
  const auto& n = d.new_side;
  std::string out;
  if (st.legend)
    out += fmt::format("kvmprobe check --diff-kernel — {} on KVM {} → KVM {}\n\n", o.label, o.profile_id, n.profile_id);
  out += fmt::format("verdict    old: {}\n           new: {}\n", load_line(o), load_line(n));
  out += fmt::format("log        removed: {}\n", d.log_removed.empty() ? "none" : "");
  for (const auto& l : d.log_removed) out += fmt::format("             - {}\n", l);
  out += fmt::format("           added: {}\n", d.log_added.empty() ? "none" : "");
  for (const auto& l : d.log_added) out += fmt::format("             + {}\n", l);
  out += fmt::format("save list  {} → {} MSRs; removed: {}; added: {}\n", o.index_list.size(), n.index_list.size(),
                     hex_list(d.save_removed), hex_list(d.save_added));
  if (!o.undecided.empty() || !n.undecided.empty())
    out += fmt::format("           (incomplete: {})\n", !o.undecided.empty() ? o.index_list_missing : n.index_list_missing);
  out += fmt::format("features   removed: {}; added: {}\n", hex_list(d.feature_removed), hex_list(d.feature_added));
  out += fmt::format("XCR0       {} → {}\n", hex_or_unknown(o.supported_xcr0), hex_or_unknown(n.supported_xcr0));
  out += fmt::format("XSS        {} → {}\n", hex_or_unknown(o.supported_xss), hex_or_unknown(n.supported_xss));
  out += fmt::format("TSC        scaling {} → {}; max guest kHz {} → {}\n", o.tsc.has_control ? "yes" : "no",
                     n.tsc.has_control ? "yes" : "no",
                     o.tsc.max_guest_khz ? std::to_string(*o.tsc.max_guest_khz) : "unknown",
                     n.tsc.max_guest_khz ? std::to_string(*n.tsc.max_guest_khz) : "unknown");
  for (const auto& p : d.params)
    out += fmt::format("param      {}: {} → {}  ({})\n", p.name, p.old_value.empty() ? "(absent)" : p.old_value,
                       p.new_value.empty() ? "(absent)" : p.new_value, p.note);
  out += fmt::format("\nguests old → new: {} — {}\n", to_string(d.old_to_new.verdict), d.old_to_new.reason);
  out += fmt::format("guests new → old: {} — {}\n", to_string(d.new_to_old.verdict), d.new_to_old.reason);
  if (st.verbose) {
    out += "\n" + compat_text(d.old_to_new, st) + "\n" + compat_text(d.new_to_old, st);
  }
  return out;
}

nlohmann::json kernel_diff_json(const compat::KernelDiff& d, int exit_code, int old_to_new_code, int new_to_old_code) {
  const auto& o = d.old_side;
  const auto& n = d.new_side;
  nlohmann::json params = nlohmann::json::array();
  for (const auto& p : d.params)
    params.push_back({{"name", p.name},
                      {"old", p.old_value.empty() ? nlohmann::json() : nlohmann::json(p.old_value)},
                      {"new", p.new_value.empty() ? nlohmann::json() : nlohmann::json(p.new_value)},
                      {"note", p.note}});
  auto verdict = [](const compat::SideFacts& f) {
    const Verdict& v = f.report.verdict;
    return nlohmann::json{{"vendor_module", v.vendor_module},
                          {"would_load", v.would_load ? nlohmann::json(*v.would_load) : nlohmann::json()},
                          {"reason", v.reason}};
  };
  return {{"schema", kKernelDiffSchema},
          {"label", o.label},
          {"old", {{"profile", o.profile_id}, {"kernel", o.kernel}}},
          {"new", {{"profile", n.profile_id}}},
          {"exit_code", exit_code},
          {"verdict", {{"old", verdict(o)}, {"new", verdict(n)}}},
          {"kvm_log", {{"removed", d.log_removed}, {"added", d.log_added}}},
          {"index_list",
           {{"old_count", o.index_list.size()},
            {"new_count", n.index_list.size()},
            {"complete", o.undecided.empty() && n.undecided.empty() && o.index_list_known && n.index_list_known},
            {"removed", hex_array(d.save_removed)},
            {"added", hex_array(d.save_added)}}},
          {"feature_list", {{"removed", hex_array(d.feature_removed)}, {"added", hex_array(d.feature_added)}}},
          {"supported_xcr0", {{"old", hex_or_null(o.supported_xcr0)}, {"new", hex_or_null(n.supported_xcr0)}}},
          {"supported_xss", {{"old", hex_or_null(o.supported_xss)}, {"new", hex_or_null(n.supported_xss)}}},
          {"tsc", {{"old", tsc_json(o)}, {"new", tsc_json(n)}}},
          {"params", params},
          {"old_to_new", compat_json(d.old_to_new, old_to_new_code)},
          {"new_to_old", compat_json(d.new_to_old, new_to_old_code)}};
}

}  // namespace kvmprobe::render
