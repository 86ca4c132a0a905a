// `kvmprobe tsc`: KVM's TSC scaling on this host and, for a requested guest rate, what
// KVM_SET_TSC_KHZ would do (the arithmetic is in tsc_math.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/analyse/context.h"
#include "core/analyse/tsc_math.h"

namespace kvmprobe {

/// What `kvmprobe tsc` reports.
struct TscReport {
  std::string profile_id;
  std::string vendor_module;              ///< "kvm_intel", "kvm_amd" or "none"
  TscKhzChoice khz;                        ///< the host tsc_khz and where it came from
  std::optional<bool> has_tsc_control;     ///< nullopt: kvm_intel's VMX controls not evaluable
  std::string has_tsc_control_reason;
  TscCaps caps;
  std::uint64_t tolerance_ppm = 250;       ///< kvm.tsc_tolerance_ppm
  std::optional<std::uint64_t> guest_khz;  ///< the rate asked about (--guest-khz)
  std::optional<GuestTscAnswer> answer;    ///< for guest_khz, when the host tsc_khz is known
};

/// The TSC report for \a ctx; \a guest_khz (0 = none) is judged when the host tsc_khz is known.
TscReport tsc_report(const AnalysisContext& ctx, std::uint64_t guest_khz);

}  // namespace kvmprobe
