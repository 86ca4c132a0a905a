#include "core/analyse/host_metrics.h"

#include <algorithm>

#include "core/analyse/feature_control.h"
#include "core/analyse/msr_lists.h"

namespace kvmprobe {
namespace {

void count(EnableStateCounts& c, const MsrRead* m, std::uint64_t lock_bit, std::uint64_t bit, bool enabled_when_set) {
  if (!m || !m->ok()) {
    ++c.unreadable;
    return;
  }
  bool locked = m->value & lock_bit;
  bool enabled = ((m->value & bit) != 0) == enabled_when_set;
  ++(locked ? (enabled ? c.locked_enabled : c.locked_disabled) : (enabled ? c.unlocked_enabled : c.unlocked_disabled));
}

EnableStateCounts enable_states(const AnalysisContext& ctx) {
  EnableStateCounts c;
  if (ctx.module == VendorModule::kvm_intel) {
    // Bit 0 lock, bit 2 VMX outside SMX (what KVM needs without tboot).
    // arch/x86/kernel/cpu/feat_ctl.c: init_ia32_feat_ctl() (6.1)
    c.feature = "vmx";
    for (const auto& cpu : ctx.snap.cpus) count(c, cpu.find_msr(0x3a), feat_ctl::kLocked, feat_ctl::kVmxOutsideSmx, true);
  } else if (ctx.module == VendorModule::kvm_amd) {
    // Bit 3 lock, bit 4 SVMDIS: SVM is usable while it is clear.
    // arch/x86/kvm/svm/svm.c: is_disabled() (6.1)
    c.feature = "svm";
    for (const auto& cpu : ctx.snap.cpus) count(c, cpu.find_msr(0xc0010114), vm_cr::kLock, vm_cr::kSvmDisable, false);
  }
  return c;
}

void msr_lists(const AnalysisContext& ctx, bool own_kernel, HostMetrics& m) {
  const KvmDeviceInfo& kvm = ctx.snap.kvm;
  const char* module = module_name(ctx.module);
  if (own_kernel && *module && ctx.snap.find_module(module) && kvm.msr_index_list) {
    m.save_list = {kvm.msr_index_list, true, {}};
    if (kvm.feature_msr_list) m.feature_list = {kvm.feature_msr_list, true, {}};
    else m.feature_list.missing = "KVM_GET_MSR_FEATURE_INDEX_LIST not recorded";
    return;
  }
  MsrListsResult r = compute_msr_lists(ctx);
  if (!r.evaluated) {
    m.save_list.missing = m.feature_list.missing = r.not_evaluated;
    return;
  }
  std::string why = r.missing.empty() ? "some candidates are undecided" : r.missing.front();
  if (r.save.unknown == 0 && r.emulated.unknown == 0) m.save_list.indexes = r.index_list;
  else m.save_list.missing = why;
  if (r.feature.unknown == 0) m.feature_list.indexes = r.feature_list;
  else m.feature_list.missing = why;
}

}  // namespace

HostMetrics host_metrics(const AnalysisContext& ctx, bool own_kernel) {
  HostMetrics m;
  m.enable = enable_states(ctx);
  m.tsc_khz = choose_tsc_khz(ctx.snap);
  if (ctx.module != VendorModule::none && !(ctx.module == VendorModule::kvm_intel && !ctx.vmx.evaluated))
    m.tsc_scaling = has_tsc_control(ctx).first;
  m.tsc = tsc_caps(ctx, m.tsc_khz.khz);
  msr_lists(ctx, own_kernel, m);
  if (own_kernel && ctx.snap.kvm.supported_xcr0) {
    m.supported_xcr0 = ctx.snap.kvm.supported_xcr0;
    m.xcr0_from_kvm = true;
  } else {
    m.supported_xcr0 = ctx.supported_xcr0;
  }
  return m;
}

std::uint64_t msr_list_hash(std::vector<std::uint32_t> indexes) {
  std::sort(indexes.begin(), indexes.end());
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64 offset basis
  for (std::uint32_t i : indexes)
    for (int b = 0; b < 4; ++b) {
      h ^= (i >> (8 * b)) & 0xff;
      h *= 0x100000001b3ull;  // FNV 64 prime
    }
  return h;
}

}  // namespace kvmprobe
