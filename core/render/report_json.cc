#include <nlohmann/json.hpp>

#include "core/model/format.h"
#include "core/render/render.h"

namespace kvmprobe::render {

nlohmann::json hex_or_null(const std::optional<std::uint64_t>& v) { return v ? nlohmann::json(hex(*v)) : nlohmann::json(); }

nlohmann::json hex_array(const std::vector<std::uint32_t>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (auto i : v) a.push_back(hex(i));
  return a;
}

nlohmann::json step_json(const StepResult& s) {
  nlohmann::json j;
  j["id"] = s.id;
  j["title"] = s.title;
  j["status"] = to_string(s.status);
  if (s.refusal != Refusal::none) j["refusal"] = to_string(s.refusal);
  j["summary"] = s.summary;
  j["evidence"] = nlohmann::json::array();
  for (const auto& e : s.evidence)
    j["evidence"].push_back({{"what", e.what}, {"where", e.where}, {"raw", e.raw}, {"meaning", e.meaning}});
  j["kvm_log"] = s.kvm_log;
  j["remedy"] = s.remedy;
  j["missing"] = s.missing;
  return j;
}

nlohmann::json report_json(const Report& r) {
  nlohmann::json j;
  j["schema"] = kCheckSchema;
  j["kernel"] = {{"release", r.kernel_release}, {"profile", r.profile_id}, {"profile_note", r.profile_note}};
  j["cpu"] = {{"vendor", r.cpu_vendor}, {"name", r.cpu_name}, {"codename", r.cpu_codename},
              {"family", r.cpu_family}, {"model", r.cpu_model}, {"stepping", r.cpu_stepping}};
  const Verdict& v = r.verdict;
  nlohmann::json verdict;
  verdict["vendor_module"] = v.vendor_module.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.vendor_module);
  verdict["would_load"] = v.would_load ? nlohmann::json(*v.would_load) : nlohmann::json(nullptr);
  verdict["refusal"] = to_string(v.refusal);
  verdict["reason"] = v.reason;
  verdict["failed_step"] = v.failed_step.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.failed_step);
  verdict["kvm_usable"] = v.kvm_usable ? nlohmann::json(*v.kvm_usable) : nlohmann::json(nullptr);
  verdict["kvm_usable_reason"] = v.usable_reason;
  j["verdict"] = verdict;
  j["steps"] = nlohmann::json::array();
  for (const auto& s : r.steps) j["steps"].push_back(step_json(s));
  return j;
}

}  // namespace kvmprobe::render
