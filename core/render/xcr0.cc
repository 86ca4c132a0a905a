#include "core/render/xcr0.h"

#include <fmt/format.h>

#include "core/model/format.h"
#include "core/render/render.h"

namespace kvmprobe::render {

std::string xcr0_text(const Xcr0Report& r) {
  std::string out = r.step.summary + "\n";
  for (const auto& e : r.step.evidence) out += fmt::format("  {:<28} {:<12} {}\n", e.what, e.raw, e.meaning);
  return out;
}

nlohmann::json xcr0_json(const Xcr0Report& r) {
  return {{"schema", kXcr0Schema},
          {"profile", r.profile_id},
          {"xsave", r.xsave ? nlohmann::json(*r.xsave) : nlohmann::json(nullptr)},
          {"host_xcr0", hex_or_null(r.host_xcr0)},
          {"host_xcr0_features", r.host_xcr0_features},
          {"kvm_supported_xcr0_mask", hex(r.kvm_supported_xcr0_mask)},
          {"supported_xcr0", hex_or_null(r.supported_xcr0)},
          {"supported_xcr0_features", r.supported_xcr0_features},
          {"step", step_json(r.step)}};
}

}  // namespace kvmprobe::render
