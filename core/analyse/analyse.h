// analyse(): Snapshot × KernelProfile → Report. Pure: no I/O, no clock, no globals.
#pragma once

#include <memory>

#include "core/analyse/context.h"
#include "core/analyse/params.h"
#include "core/model/kernel_profile.h"
#include "core/model/report.h"
#include "core/model/snapshot.h"

namespace kvmprobe {

/// The shared analysis state for one snapshot and profile; commands that need more than the
/// Report (tsc, msrs, vmx-caps) use its context. Keeps references to `snap` and `profile`.
class Analyzer {
 public:
  Analyzer(const Snapshot& snap, const KernelProfile& profile, const ParamOverrides& overrides = {});
  Analyzer(const Analyzer&) = delete;
  Analyzer& operator=(const Analyzer&) = delete;
  /// The precomputed facts every step sees.
  const AnalysisContext& ctx() const { return *ctx_; }
  /// Walk every step in the profile's order and decide the verdict.
  Report report() const;

 private:
  EffectiveParams params_;
  std::unique_ptr<AnalysisContext> ctx_;
};

/// Analyzer(snap, profile, overrides).report().
Report analyse(const Snapshot& snap, const KernelProfile& profile, const ParamOverrides& overrides = {});

}  // namespace kvmprobe
