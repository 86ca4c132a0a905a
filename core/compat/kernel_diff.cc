#include "core/compat/kernel_diff.h"

#include <algorithm>

namespace kvmprobe::compat {
namespace {

template <typename T>
std::vector<T> minus(const std::vector<T>& a, const std::vector<T>& b) {
  std::vector<T> out;
  for (const auto& x : a)
    if (std::find(b.begin(), b.end(), x) == b.end()) out.push_back(x);
  return out;
}

const ParamDefault* find_param(const KernelProfile& p, const std::string& name) {
  for (const auto& d : p.params)
    if (d.name == name) return &d;
  return nullptr;
}

std::vector<ParamChange> param_changes(const KernelProfile& o, const KernelProfile& n) {
  std::vector<ParamChange> out;
  for (const auto& d : n.params) {
    const ParamDefault* od = find_param(o, d.name);
    if (!od || od->value != d.value) out.push_back({d.name, od ? od->value : "", d.value, d.note});
  }
  for (const auto& d : o.params)
    if (!find_param(n, d.name)) out.push_back({d.name, d.value, "", d.note});
  return out;
}

}  // namespace

KernelDiff diff_kernels(const CompatSide& old_side, const CompatSide& new_side) {
  KernelDiff d;
  d.old_side = side_facts(old_side);
  d.new_side = side_facts(new_side);
  d.log_removed = minus(d.old_side.kvm_log, d.new_side.kvm_log);
  d.log_added = minus(d.new_side.kvm_log, d.old_side.kvm_log);
  d.save_removed = minus(d.old_side.index_list, d.new_side.index_list);
  d.save_added = minus(d.new_side.index_list, d.old_side.index_list);
  d.feature_removed = minus(d.old_side.feature_list, d.new_side.feature_list);
  d.feature_added = minus(d.new_side.feature_list, d.old_side.feature_list);
  d.params = param_changes(*old_side.profile, *new_side.profile);
  d.old_to_new = compat(d.old_side, d.new_side);
  d.new_to_old = compat(d.new_side, d.old_side);
  return d;
}

}  // namespace kvmprobe::compat
