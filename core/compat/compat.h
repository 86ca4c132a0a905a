// compat(): can a guest running under KVM on one host be moved to another (live migration or
// snapshot restore), and what breaks or is lost? Pure: two snapshots × two kernel profiles →
// CompatReport. One file per step (step_<id>.cc), like core/analyse/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/compat/side.h"
#include "core/model/report.h"

namespace kvmprobe::compat {

/// The overall answer; decides the exit code (0, 21, 22, 13).
enum class CompatVerdict { compatible, conditional, incompatible, unknown };

/// One MSR of the source's KVM_GET_MSR_INDEX_LIST and its fate on the destination.
struct CompatMsr {
  std::uint32_t index = 0;
  std::string name;                       ///< "IA32_TSC", "" when unnamed
  std::optional<std::uint64_t> src_value; ///< the source KVM's fresh-vCPU value; nullopt = cannot tell
  bool dst_listed = false;                ///< in the destination's KVM_GET_MSR_INDEX_LIST
  std::optional<bool> dst_accepts;        ///< would the destination's KVM_SET_MSRS take src_value
  std::string reason;                     ///< one line: why
};

/// Everything compat() decides for one direction.
struct CompatReport {
  std::string src_label, dst_label;
  std::string src_profile, dst_profile;   ///< kernel profile ids
  std::string src_kernel, dst_kernel;     ///< kernel releases of the snapshots
  std::vector<StepResult> steps;          ///< vendor, msrs, xcr0, tsc, cpuid
  std::vector<CompatMsr> msrs;            ///< in the source's list order
  /// CPUID features a -cpu host guest on the source may use that the destination's KVM does
  /// not support (QEMU names, sorted; empty when none or when either side is unknown).
  std::vector<std::string> cpuid_lost;
  CompatVerdict verdict = CompatVerdict::unknown;
  std::string reason;                     ///< one line

  const StepResult* find_step(const std::string& id) const {
    for (const auto& s : steps)
      if (s.id == id) return &s;
    return nullptr;
  }
};

/// The checks, each pure over the two sides' facts.
StepResult step_vendor(const SideFacts& src, const SideFacts& dst);
StepResult step_msrs(const SideFacts& src, const SideFacts& dst, const std::vector<CompatMsr>& msrs);
StepResult step_xcr0(const SideFacts& src, const SideFacts& dst);
StepResult step_tsc(const SideFacts& src, const SideFacts& dst);
StepResult step_cpuid(const SideFacts& src, const SideFacts& dst);

/// CPUID features the source's KVM supports and the destination's does not (QEMU names,
/// sorted; empty when either side's supported CPUID is unknown).
std::vector<std::string> cpuid_lost(const SideFacts& src, const SideFacts& dst);

/// Every MSR of the source's list with the destination's answer (the "msrs" member).
std::vector<CompatMsr> msr_moves(const SideFacts& src, const SideFacts& dst);

/// Walk every step for src → dst and decide the verdict.
CompatReport compat(const SideFacts& src, const SideFacts& dst);
/// side_facts() of both sides, then compat().
CompatReport compat(const CompatSide& src, const CompatSide& dst);

/// "compatible", "conditional", "incompatible", "unknown".
const char* to_string(CompatVerdict v);

}  // namespace kvmprobe::compat
