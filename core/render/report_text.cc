#include <fmt/format.h>

#include <algorithm>

#include "core/render/render.h"
#include "core/render/steps_text.h"

namespace kvmprobe::render {

const char* yes_no(std::optional<bool> v) { return !v ? "unknown" : *v ? "yes" : "no"; }

std::string paint(Status s, const std::string& text, bool color) {
  if (!color) return text;
  const char* code = "";
  switch (s) {
    case Status::ok: code = "\x1b[32m"; break;
    case Status::warn: code = "\x1b[33m"; break;
    case Status::fail: code = "\x1b[31;1m"; break;
    case Status::unknown: code = "\x1b[35m"; break;
    case Status::skipped: code = "\x1b[2m"; break;
  }
  return fmt::format("{}{}\x1b[0m", code, text);
}

std::string steps_text(const std::vector<StepResult>& steps, const TextStyle& st, SkippedDetail skipped) {
  std::string out;
  size_t w = 0;
  for (const auto& s : steps) w = std::max(w, s.id.size());
  for (const auto& s : steps) {
    std::string tag = fmt::format("{:<7}", to_string(s.status));
    out += fmt::format("  {}  {:<{}}  {}\n", paint(s.status, tag, st.color), s.id, w, s.summary);
    bool detail = st.verbose || s.status == Status::fail || s.status == Status::unknown ||
                  s.status == Status::warn || (s.status == Status::skipped && skipped == SkippedDetail::shown);
    if (detail) {
      for (const auto& e : s.evidence) {
        std::string line = e.what;
        if (!e.where.empty()) line += fmt::format(" [{}]", e.where);
        if (!e.raw.empty()) line += fmt::format(" = {}", e.raw);
        if (!e.meaning.empty()) line += fmt::format(": {}", e.meaning);
        out += fmt::format("  {:<7}  {:<{}}    {}\n", "", "", w, line);
      }
      for (const auto& m : s.missing) out += fmt::format("  {:<7}  {:<{}}    missing: {}\n", "", "", w, m);
      for (const auto& l : s.kvm_log) out += fmt::format("  {:<7}  {:<{}}    log: {}\n", "", "", w, l);
    }
    if (!s.remedy.empty() && s.status != Status::ok)
      out += fmt::format("  {:<7}  {:<{}}    fix: {}\n", "", "", w, s.remedy);
  }
  return out;
}

namespace {

Status verdict_status(std::optional<bool> v) { return !v ? Status::unknown : *v ? Status::ok : Status::fail; }

}  // namespace

std::string report_text(const Report& r, const TextStyle& st) {
  std::string out;
  const Verdict& v = r.verdict;
  if (st.legend) {
    out += fmt::format("kvmprobe check — {} ({}, family {:#x} model {:#x} stepping {}{})\n",
                       r.cpu_name.empty() ? r.cpu_vendor : r.cpu_name, r.cpu_vendor, r.cpu_family, r.cpu_model,
                       r.cpu_stepping, r.cpu_codename.empty() ? "" : ", " + r.cpu_codename);
    out += fmt::format("kernel {} → KVM profile {}", r.kernel_release.empty() ? "?" : r.kernel_release, r.profile_id);
    if (!r.profile_note.empty()) out += fmt::format("  ({})", r.profile_note);
    out += "\n\n";
  }
  out += steps_text(r.steps, st, SkippedDetail::hidden);
  out += "\n";
  std::string module = v.vendor_module.empty() ? "vendor module" : v.vendor_module;
  out += fmt::format("{} would load: {}  — {}\n", module,
                     paint(verdict_status(v.would_load), yes_no(v.would_load), st.color), v.reason);
  out += fmt::format("KVM usable now:   {}  — {}\n", paint(verdict_status(v.kvm_usable), yes_no(v.kvm_usable), st.color),
                     v.usable_reason);
  return out;
}

}  // namespace kvmprobe::render
