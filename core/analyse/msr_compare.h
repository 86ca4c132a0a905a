// `kvmprobe msrs --compare-kvm`: the predicted MSR lists against the ones the live KVM returned
// (KVM_GET_MSR_INDEX_LIST and KVM_GET_MSR_FEATURE_INDEX_LIST, recorded in the snapshot).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/analyse/msr_lists.h"
#include "core/model/result.h"
#include "core/model/snapshot.h"

namespace kvmprobe {

/// How a predicted list differs from the live one.
struct MsrListDiff {
  std::vector<std::uint32_t> predicted_only;  ///< in the prediction's order
  std::vector<std::uint32_t> live_only;       ///< in the live list's order
  bool order_differs = false;                 ///< the same entries, in another order
  bool same() const { return predicted_only.empty() && live_only.empty() && !order_differs; }
};

/// One predicted list against the live one.
struct MsrListComparison {
  std::size_t predicted = 0, live = 0;  ///< entries in each
  MsrListDiff diff;
};

/// The outcome of --compare-kvm.
struct MsrCompare {
  std::string profile_id;
  MsrListComparison index_list;                  ///< KVM_GET_MSR_INDEX_LIST
  std::optional<MsrListComparison> feature_list;  ///< when the live KVM answered that ioctl
  bool same() const { return index_list.diff.same() && (!feature_list || feature_list->diff.same()); }
};

/// \a predicted against \a live.
MsrListDiff diff_msr_lists(const std::vector<std::uint32_t>& predicted, const std::vector<std::uint32_t>& live);

/// Compares \a r with the live lists of \a snap. An ErrorKind::missing error when there is
/// nothing to compare: the prediction is not exact, no live answer, or another vendor module.
Result<MsrCompare> compare_msr_lists(const MsrListsResult& r, const Snapshot& snap);

}  // namespace kvmprobe
