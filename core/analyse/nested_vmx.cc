// Nested VMX capability MSRs: nested_vmx_setup_ctls_msrs() and vmx_set_vmx_msr() as functions.
#include "core/analyse/nested_vmx.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/analyse/vmx_config.h"
#include "core/model/format.h"
#include "core/profiles/vmx_bits.h"

namespace kvmprobe {
namespace {

bool has(std::uint32_t word, unsigned b) { return (word >> b) & 1; }

std::uint64_t control_msr(std::uint32_t low, std::uint32_t high) {
  return static_cast<std::uint64_t>(high) << 32 | low;
}

/// The 32-bit names of a control MSR's bits; TRUE MSRs are named like their plain MSR.
std::string names(std::uint32_t index, std::uint32_t mask) {
  static constexpr std::uint32_t plain[] = {0x481, 0x482, 0x483, 0x484};
  if (index >= msr::kVmxTruePinbased && index <= msr::kVmxTrueEntry) index = plain[index - msr::kVmxTruePinbased];
  return control_bit_names(index, mask);
}

}  // namespace

NestedVmx nested_vmx(const AnalysisContext& ctx) {
  using namespace vmx;
  NestedVmx n;
  n.data = nested_vmx_profile(ctx.profile.id.c_str());
  if (ctx.module != VendorModule::kvm_intel) {
    n.missing = "not kvm_intel";
    return n;
  }
  if (!ctx.params.flag("kvm_intel.nested")) {
    n.missing = "kvm_intel.nested=0: KVM exposes no VMX capability MSRs";
    return n;
  }
  if (!n.data) {
    n.missing = fmt::format("the nested VMX capability MSRs of KVM {} are not modelled (6.1 and 6.12 are)",
                            ctx.profile.id);
    return n;
  }
  const VmxConfig& c = ctx.vmx;
  if (!c.ok()) {
    n.missing = c.evaluated ? "setup_vmcs_config() fails on the boot CPU: kvm_intel does not load"
                            : "the boot CPU's VMX capability MSRs were not read";
    return n;
  }
  const NestedVmxProfile& p = *n.data;
  const auto ept_cap = static_cast<std::uint32_t>(c.ept_vpid_cap);
  const std::uint32_t sec = c.secondary.value;
  // arch/x86/kvm/vmx/vmx.c: hardware_setup() (6.1, 6.12) narrows each parameter to the host.
  n.ept = ctx.params.flag("kvm_intel.ept", true) && c.ept;
  n.vpid = ctx.params.flag("kvm_intel.vpid", true) && c.vpid;
  n.unrestricted_guest = ctx.params.flag("kvm_intel.unrestricted_guest", true) && has(sec, kUnrestrictedGuest) && n.ept;
  n.ept_ad = ctx.params.flag("kvm_intel.eptad", true) && has(ept_cap, 21) && n.ept;
  n.flexpriority = ctx.params.flag("kvm_intel.flexpriority", true) && has(c.primary.value, kTprShadow) &&
                   has(sec, kVirtApicAccesses);
  n.apicv = ctx.params.flag("kvm_intel.enable_apicv", true) && c.apicv;
  n.sgx = ctx.params.flag("kvm_intel.sgx", true) && has(sec, kEnclsExiting);
  n.vmcs_secondary = sec;

  auto control = [](const NestedControlRow& row, std::uint32_t word, std::uint32_t extra) {
    return control_msr(row.always_low, (word & (row.copy | extra)) | row.always);
  };
  auto& v = n.system;
  auto at = [&](std::uint32_t index) -> std::uint64_t& { return v[index - 0x480]; };
  at(msr::kVmxTruePinbased) = control(p.pin, c.pin.value, n.apicv ? p.pin_apicv : 0);
  at(msr::kVmxTrueExit) = control(p.exit, c.exit.value, 0);
  at(msr::kVmxTrueEntry) = control(p.entry, c.entry.value, 0);
  at(msr::kVmxTrueProcbased) = control(p.procbased, c.primary.value, 0);
  // vmx_get_vmx_msr(): the non-TRUE MSRs OR the default-1 controls into the low half.
  at(msr::kVmxPinbased) = at(msr::kVmxTruePinbased) | p.pin.non_true_low;
  at(msr::kVmxExit) = at(msr::kVmxTrueExit) | p.exit.non_true_low;
  at(msr::kVmxEntry) = at(msr::kVmxTrueEntry) | p.entry.non_true_low;
  at(msr::kVmxProcbased) = at(msr::kVmxTrueProcbased) | p.procbased.non_true_low;

  std::uint32_t sec_high = (sec & p.secondary_copy) | p.secondary_always;
  std::uint32_t ept = 0, vpid = 0, vmfunc = 0;
  if (n.ept) {
    sec_high |= 1u << kEnableEpt;
    ept = (p.ept_copy & ept_cap) | p.ept_always;
    if (n.ept_ad) {
      sec_high |= 1u << kEnablePml;
      ept |= p.ept_ad;
    }
    if (has(sec, kEnableVmfunc)) vmfunc = p.vmfunc_eptp_switching;
  }
  if (n.vpid) {
    sec_high |= 1u << kEnableVpid;
    vpid = p.vpid_caps;
  }
  if (n.unrestricted_guest) sec_high |= 1u << kUnrestrictedGuest;
  if (n.flexpriority) sec_high |= 1u << kVirtApicAccesses;
  if (n.sgx) sec_high |= 1u << kEnclsExiting;
  at(msr::kVmxProcbased2) = control_msr(0, sec_high);
  at(msr::kVmxEptVpidCap) = control_msr(ept, vpid);
  at(msr::kVmxVmfunc) = vmfunc;
  at(msr::kVmxMisc) = (static_cast<std::uint32_t>(c.misc) & p.misc_copy) | p.misc_always;
  at(msr::kVmxBasic) = p.basic | (c.basic & p.basic_inout);
  at(msr::kVmxCr0Fixed0) = p.cr0_fixed0;
  at(msr::kVmxCr4Fixed0) = p.cr4_fixed0;
  at(msr::kVmxVmcsEnum) = p.vmcs_enum;
  // CR0/CR4_FIXED1: the host's own (rdmsrl), CR4 with UMIP when KVM emulates it.
  const MsrRead* cr0 = ctx.boot->find_msr(msr::kVmxCr0Fixed1);
  const MsrRead* cr4 = ctx.boot->find_msr(msr::kVmxCr4Fixed1);
  if (!cr0 || !cr0->ok() || !cr4 || !cr4->ok()) {
    n.missing = "the boot CPU's IA32_VMX_CR0_FIXED1/CR4_FIXED1 (0x487, 0x489) were not read";
    return n;
  }
  at(msr::kVmxCr0Fixed1) = cr0->value;
  bool umip = has(sec, kDescExiting) &&
              !(p.umip_only_without_host_umip && ctx.boot->cpuid_bit(7, 0, Reg::ecx, 2).value_or(false));
  at(msr::kVmxCr4Fixed1) = cr4->value | (umip ? p.cr4_umip : 0);
  n.evaluated = true;
  return n;
}

std::optional<std::uint64_t> nested_vcpu_value(const NestedVmx& n, std::uint32_t index,
                                               const std::optional<std::vector<std::string>>& guest_features,
                                               std::string& why) {
  if (!n.evaluated) {
    why = n.missing;
    return std::nullopt;
  }
  if (index == msr::kVmxCr0Fixed1 || index == msr::kVmxCr4Fixed1) {
    why = "vmx.c: nested_vmx_cr_fixed1_bits_update() derives it from the vCPU's CPUID";
    return std::nullopt;
  }
  std::uint64_t v = n.value(index);
  if (index != msr::kVmxProcbased2) return v;
  for (const auto& ctl : n.data->cpuid_controls) {
    if (!has(n.vmcs_secondary, ctl.bit)) continue;  // cpu_has_vmx_*() false: left as it is
    if (!guest_features) {
      why = fmt::format("secondary control bit {} follows the guest's CPUID ({}), which is not predicted",
                        ctl.bit, ctl.features[0]);
      return std::nullopt;
    }
    bool on = false;
    for (const char* f : ctl.features)
      if (f && std::find(guest_features->begin(), guest_features->end(), f) != guest_features->end()) on = true;
    std::uint64_t b = 1ull << (32 + ctl.bit);
    v = on ? v | b : v & ~b;
  }
  return v;
}

NestedRestore nested_vmx_restore(const NestedVmx& dst, std::uint32_t index, std::uint64_t data) {
  NestedRestore r;
  const NestedVmxProfile& p = *dst.data;
  const std::uint64_t kvm = dst.value(index);
  auto refuse = [&](std::string why) {
    r.reason = std::move(why);
    return r;
  };
  switch (nested_restore_rule(p, index)) {
    case NestedRestoreRule::basic: {
      if (std::uint64_t extra = data & ~kvm & p.basic_feature_reserved)
        return refuse(fmt::format("vmx_restore_vmx_basic(): feature/reserved bits {} not in the destination's {}",
                                  hex(extra), hex(kvm)));
      if (data & (1ull << 48)) return refuse("vmx_restore_vmx_basic(): bit 48 (32-bit physical addresses) set");
      if ((data & 0x7fffffff) != (kvm & 0x7fffffff))
        return refuse(fmt::format("vmx_restore_vmx_basic(): VMCS revision {} is not the destination's {}",
                                  hex(data & 0x7fffffff), hex(kvm & 0x7fffffff)));
      if (((kvm >> 32) & 0x1fff) > ((data >> 32) & 0x1fff))
        return refuse("vmx_restore_vmx_basic(): VMCS size smaller than the destination's");
      break;
    }
    case NestedRestoreRule::control: {
      auto lo = static_cast<std::uint32_t>(kvm), hi = static_cast<std::uint32_t>(kvm >> 32);
      auto dlo = static_cast<std::uint32_t>(data), dhi = static_cast<std::uint32_t>(data >> 32);
      if (std::uint32_t lost = lo & ~dlo)
        return refuse(fmt::format("vmx_restore_control_msr(): must-be-1 controls {} ({}) of the destination are 0",
                                  hex(lost), names(index, lost)));
      if (std::uint32_t extra = dhi & ~hi)
        return refuse(fmt::format("vmx_restore_control_msr(): allowed-1 controls {} ({}) not supported by the "
                                  "destination (its allowed-1 {})",
                                  hex(extra), names(index, extra), hex(hi)));
      break;
    }
    case NestedRestoreRule::misc: {
      if (std::uint64_t extra = data & ~kvm & p.misc_feature_reserved)
        return refuse(fmt::format("vmx_restore_vmx_misc(): feature/reserved bits {} not in the destination's {}",
                                  hex(extra), hex(kvm)));
      bool timer = (dst.value(msr::kVmxTruePinbased) >> 32 >> vmx::kPreemptionTimer) & 1;
      if (timer && (data & 0x1f) != (kvm & 0x1f))
        return refuse("vmx_restore_vmx_misc(): preemption timer rate differs");
      if (((data >> 16) & 0x1ff) > ((kvm >> 16) & 0x1ff)) return refuse("vmx_restore_vmx_misc(): more CR3 targets");
      if (((data >> 25) & 0x7) > ((kvm >> 25) & 0x7)) return refuse("vmx_restore_vmx_misc(): larger MSR-list limit");
      if ((data >> 32) != (kvm >> 32)) return refuse("vmx_restore_vmx_misc(): MSEG revision differs");
      break;
    }
    case NestedRestoreRule::fixed0:
      if (std::uint64_t lost = kvm & ~data)
        return refuse(fmt::format("vmx_restore_fixed0_msr(): must-be-1 bits {} of the destination are 0", hex(lost)));
      break;
    case NestedRestoreRule::ept_vpid:
      if (std::uint64_t extra = data & ~kvm)
        return refuse(fmt::format("vmx_restore_vmx_ept_vpid_cap(): bits {} not supported by the destination ({})",
                                  hex(extra), hex(kvm)));
      break;
    case NestedRestoreRule::any:
      r.accepted = true;
      r.reason = "vmx_set_vmx_msr(): VMCS_ENUM is stored as given";
      return r;
    case NestedRestoreRule::vmfunc:
      if (std::uint64_t extra = data & ~kvm)
        return refuse(fmt::format("vmx_set_vmx_msr(): VM-function controls {} not supported by the destination ({})",
                                  hex(extra), hex(kvm)));
      break;
    case NestedRestoreRule::refused:
      return refuse("vmx_set_vmx_msr() does not restore it (derived from other MSRs or the vCPU's CPUID)");
  }
  r.accepted = true;
  r.reason = fmt::format("a subset of the destination's {} in vmx_set_vmx_msr()'s sense", hex(kvm));
  return r;
}

}  // namespace kvmprobe
