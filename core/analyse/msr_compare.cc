#include "core/analyse/msr_compare.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/analyse/context.h"

namespace kvmprobe {

MsrListDiff diff_msr_lists(const std::vector<std::uint32_t>& predicted, const std::vector<std::uint32_t>& live) {
  MsrListDiff d;
  for (auto i : predicted)
    if (std::find(live.begin(), live.end(), i) == live.end()) d.predicted_only.push_back(i);
  for (auto i : live)
    if (std::find(predicted.begin(), predicted.end(), i) == predicted.end()) d.live_only.push_back(i);
  d.order_differs = d.predicted_only.empty() && d.live_only.empty() && predicted != live;
  return d;
}

Result<MsrCompare> compare_msr_lists(const MsrListsResult& r, const Snapshot& snap) {
  if (!r.complete)
    return make_error(ErrorKind::missing,
                      fmt::format("the prediction is not exact, nothing to compare: {}",
                                  r.missing.empty() ? "some candidates are undecided" : r.missing.front()),
                      "record host MSRs as root (modprobe msr)");
  std::string loaded = registered_vendor_module(snap);
  if (!snap.kvm.msr_index_list)
    return make_error(ErrorKind::missing, "no live KVM answer to compare with (/dev/kvm not usable)",
                      "load the vendor module and run as a user who can open /dev/kvm");
  if (loaded != r.vendor_module)
    return make_error(ErrorKind::missing,
                      fmt::format("KVM here is {}, not {}: its MSR lists are not modelled",
                                  loaded.empty() ? "an unknown module" : loaded, r.vendor_module),
                      "--compare-kvm works where kvm_intel or kvm_amd is loaded");
  MsrCompare c;
  c.profile_id = r.profile_id;
  const auto& live = *snap.kvm.msr_index_list;
  c.index_list = {r.index_list.size(), live.size(), diff_msr_lists(r.index_list, live)};
  if (snap.kvm.feature_msr_list) {
    const auto& live_feat = *snap.kvm.feature_msr_list;
    c.feature_list = MsrListComparison{r.feature_list.size(), live_feat.size(), diff_msr_lists(r.feature_list, live_feat)};
  }
  return c;
}

}  // namespace kvmprobe
