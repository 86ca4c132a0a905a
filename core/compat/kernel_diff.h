// What changes when a host boots another kernel (kvmprobe check --diff-kernel NEW): the check
// verdict and KVM's log lines, the MSR lists, supported XCR0/XSS, TSC scaling, module
// parameter defaults, and whether guests move between the old and the new kernel both ways.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/compat/compat.h"

namespace kvmprobe::compat {

/// A module parameter whose default differs between the two kernels.
struct ParamChange {
  std::string name;
  std::string old_value, new_value;  ///< "" = the parameter does not exist in that version
  std::string note;                  ///< what it changes (from the newer profile when it has one)
};

/// Everything that differs between the host on its kernel and on the new one.
struct KernelDiff {
  SideFacts old_side, new_side;
  std::vector<std::string> log_removed, log_added;        ///< KVM's init log lines
  std::vector<std::uint32_t> save_removed, save_added;    ///< KVM_GET_MSR_INDEX_LIST
  std::vector<std::uint32_t> feature_removed, feature_added;  ///< KVM_GET_MSR_FEATURE_INDEX_LIST
  std::vector<ParamChange> params;
  CompatReport old_to_new, new_to_old;
};

/// Diff `old_side` (normally the snapshot's own kernel) against the same snapshot on `new_side`.
KernelDiff diff_kernels(const CompatSide& old_side, const CompatSide& new_side);

}  // namespace kvmprobe::compat
