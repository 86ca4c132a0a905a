// `kvmprobe xcr0`: the host's XCR0 and KVM's supported XCR0 for the profile, with the step that
// decides it (step_xcr0).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/analyse/context.h"
#include "core/model/report.h"

namespace kvmprobe {

/// What `kvmprobe xcr0` reports.
struct Xcr0Report {
  std::string profile_id;
  std::optional<bool> xsave;                 ///< CPUID.1:ECX.XSAVE of the boot CPU; nullopt: no CPU recorded
  /// XGETBV(0); nullopt when unknown, or when there is no XCR0 (no XSAVE in the CPU or in the
  /// running kernel; KVM's internal host_xcr0 is then 0).
  std::optional<std::uint64_t> host_xcr0;
  std::string host_xcr0_features;            ///< names of the recorded XCR0's bits
  std::uint64_t kvm_supported_xcr0_mask = 0;  ///< KVM_SUPPORTED_XCR0 of the profile
  std::optional<std::uint64_t> supported_xcr0;
  std::string supported_xcr0_features;
  StepResult step;                            ///< the xcr0 step of the check
};

/// The XCR0 report for \a ctx.
Xcr0Report xcr0_report(const AnalysisContext& ctx);

}  // namespace kvmprobe
