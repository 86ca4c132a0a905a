// `kvmprobe cpuid`: the predicted KVM_GET_SUPPORTED_CPUID as text, JSON (kvmprobe.cpuid/1) or a
// QEMU -cpu string.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/analyse/supported_cpuid.h"
#include "core/render/render.h"

namespace kvmprobe::render {

/// JSON schema name and version of `cpuid --json`.
inline constexpr const char* kCpuidSchema = "kvmprobe.cpuid/1";

/// What the prediction was made for.
struct CpuidHeader {
  std::string profile;        ///< kernel profile id ("6.12")
  std::string vendor_module;  ///< "kvm_amd", "kvm_intel" or ""
};

/// Per modelled register: host, KVM mask, supported, feature names; then unknowns.
std::string cpuid_text(const SupportedCpuid& s, const CpuidHeader& h, const TextStyle& style);
/// The document of schema kvmprobe.cpuid/1 (docs/cli.md).
nlohmann::json cpuid_json(const SupportedCpuid& s, const CpuidHeader& h);
/// "qemu64,+f,...,-g": qemu64 plus every supported feature QEMU names, minus qemu64's own
/// features KVM would not report. Model, vendor and the unmodelled leaves stay qemu64's.
std::string qemu_cpu_string(const SupportedCpuid& s);

}  // namespace kvmprobe::render
