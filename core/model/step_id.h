// The steps of KVM's x86 init that analyse() walks, one per file core/analyse/step_<id>.cc.
// Profiles order them (KernelProfile::step_order) by this enum, so an order can only name
// steps that exist; the name is the id the report shows (StepResult::id; the vendor step
// reports as "vmx-config" or "svm-config").
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace kvmprobe {

enum class StepId : std::uint8_t {
  environment, support, bios_lock, generic, mmu, timer, xcr0, vendor_config, tsc_scaling, msr_lists,
  consistency,
};

inline constexpr std::size_t kStepCount = 11;

/// Every step's id as reports and profiles spell it, in enum order.
inline constexpr std::array<std::string_view, kStepCount> kStepNames = {
    "environment", "support", "bios-lock",   "generic",   "mmu",         "timer",
    "xcr0",        "vendor-config", "tsc-scaling", "msr-lists", "consistency",
};

inline constexpr std::string_view to_string(StepId id) { return kStepNames[static_cast<std::size_t>(id)]; }

/// The step named `name` ("bios-lock"); nullopt for an unknown name.
inline constexpr std::optional<StepId> step_id(std::string_view name) {
  for (std::size_t i = 0; i < kStepCount; ++i)
    if (kStepNames[i] == name) return static_cast<StepId>(i);
  return std::nullopt;
}

}  // namespace kvmprobe
