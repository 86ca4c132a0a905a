#include "core/render/tsc.h"

#include <fmt/format.h>

#include "core/model/format.h"
#include "core/render/render.h"

namespace kvmprobe::render {

const char* to_string(GuestTscAnswer::Kind k) {
  switch (k) {
    case GuestTscAnswer::Kind::within_tolerance: return "within_tolerance";
    case GuestTscAnswer::Kind::scaled: return "scaled";
    case GuestTscAnswer::Kind::catchup: return "catchup";
    case GuestTscAnswer::Kind::impossible: return "impossible";
  }
  return "impossible";
}

std::string tsc_text(const TscReport& r) {
  const TscKhzChoice& khz = r.khz;
  std::string out = fmt::format("tsc_khz            {}{}\n", khz.khz ? fmt::format("{}", *khz.khz) : "unknown",
                                khz.khz ? fmt::format(" ({}{})", to_string(khz.source), khz.exact ? "" : ", estimate") : "");
  out += fmt::format("has_tsc_control    {} ({})\n", yes_no(r.has_tsc_control), r.has_tsc_control_reason);
  out += fmt::format("frac bits          {}\nmax ratio          {}\ndefault ratio      {}\n", r.caps.frac_bits,
                     hex(r.caps.max_ratio), hex(r.caps.default_ratio));
  out += fmt::format("max guest TSC kHz  {}\n",
                     r.caps.max_guest_khz ? fmt::format("{}", *r.caps.max_guest_khz) : "unknown");
  if (r.answer) out += fmt::format("guest at {} kHz:   {}\n", *r.guest_khz, r.answer->explanation);
  return out;
}

nlohmann::json tsc_json(const TscReport& r) {
  auto number = [](const std::optional<std::uint64_t>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  nlohmann::json j = {{"schema", kTscSchema},
                      {"profile", r.profile_id},
                      {"vendor_module", r.vendor_module},
                      {"tsc_khz", number(r.khz.khz)},
                      {"tsc_khz_source", r.khz.khz ? to_string(r.khz.source) : ""},
                      {"tsc_khz_exact", r.khz.exact},
                      {"has_tsc_control", r.has_tsc_control ? nlohmann::json(*r.has_tsc_control) : nlohmann::json(nullptr)},
                      {"has_tsc_control_reason", r.has_tsc_control_reason},
                      {"frac_bits", r.caps.frac_bits},
                      {"max_ratio", hex(r.caps.max_ratio)},
                      {"default_ratio", hex(r.caps.default_ratio)},
                      {"max_guest_tsc_khz", number(r.caps.max_guest_khz)},
                      {"tolerance_ppm", r.tolerance_ppm}};
  if (r.answer)
    j["guest"] = {{"khz", *r.guest_khz}, {"answer", to_string(r.answer->kind)}, {"ratio", hex(r.answer->ratio)},
                  {"explanation", r.answer->explanation}};
  return j;
}

}  // namespace kvmprobe::render
