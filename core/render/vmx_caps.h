// `kvmprobe vmx-caps`: the decoded VMX capability MSRs per CPU as text or JSON
// (kvmprobe.vmx-caps/1).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/analyse/vmx_caps.h"

namespace kvmprobe::render {

/// JSON schema name and version of `vmx-caps --json`.
inline constexpr const char* kVmxCapsSchema = "kvmprobe.vmx-caps/1";

/// Per CPU: each control MSR's raw value and may-be-1 controls, what KVM misses, the VMCS.
std::string vmx_caps_text(const VmxCaps& c);
/// The document of schema kvmprobe.vmx-caps/1 (docs/schema/vmx-caps.schema.json).
nlohmann::json vmx_caps_json(const VmxCaps& c);

}  // namespace kvmprobe::render
