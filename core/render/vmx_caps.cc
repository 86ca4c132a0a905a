#include "core/render/vmx_caps.h"

#include <fmt/format.h>

#include "core/model/format.h"

namespace kvmprobe::render {

std::string vmx_caps_text(const VmxCaps& caps) {
  std::string text;
  for (const auto& cpu : caps.cpus) {
    text += fmt::format("cpu{}\n", cpu.cpu);
    for (const auto& c : cpu.controls) {
      if (!c.raw) {
        text += fmt::format("  {:<26} unreadable\n", c.name);
        continue;
      }
      text += fmt::format("  {:<26} {}\n    may be 1: {}\n", c.name, hex(*c.raw), c.may_be_1);
      if (!c.kvm_required_missing.empty())
        text += fmt::format("    MISSING for KVM {}: {}\n", caps.profile_id, c.kvm_required_missing);
    }
    if (cpu.negotiated)
      text += fmt::format("  VMCS {} bytes, memory type {}, EPT/VPID cap {}\n", cpu.vmcs_size, cpu.vmcs_memtype,
                          hex(cpu.ept_vpid_cap));
  }
  return text;
}

nlohmann::json vmx_caps_json(const VmxCaps& caps) {
  nlohmann::json cpus = nlohmann::json::array();
  for (const auto& cpu : caps.cpus) {
    nlohmann::json j = {{"cpu", cpu.cpu}};
    for (const auto& c : cpu.controls) {
      if (!c.raw) {
        j[c.name] = nullptr;
        continue;
      }
      j[c.name] = {{"raw", hex(*c.raw)},
                   {"must_be_1", c.must_be_1},
                   {"may_be_1", c.may_be_1},
                   {"kvm_required_missing", c.kvm_required_missing},
                   {"kvm_optional_unavailable", c.kvm_optional_unavailable}};
      if (c.kvm_value) j[c.name]["kvm_value"] = hex(*c.kvm_value);
    }
    if (cpu.negotiated) {
      j["vmcs_size"] = cpu.vmcs_size;
      j["vmcs_memtype"] = cpu.vmcs_memtype;
      j["ept_vpid_cap"] = hex(cpu.ept_vpid_cap);
      j["kvm_failures"] = cpu.kvm_failures;
    }
    cpus.push_back(std::move(j));
  }
  return {{"schema", kVmxCapsSchema}, {"profile", caps.profile_id}, {"cpus", cpus}};
}

}  // namespace kvmprobe::render
