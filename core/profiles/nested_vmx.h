// What one KVM version exposes to nested guests in the VMX capability MSRs 0x480-0x491, and
// which values KVM_SET_MSRS (host-initiated) takes back, as data per version (issue 8: compat).
// Transcribed from Debian's linux-source-6.1 (6.1.192) and linux-source-6.12 (6.12.117):
//  - arch/x86/kvm/vmx/nested.c: nested_vmx_setup_ctls_msrs() (6.1; 6.12 splits it into
//    nested_vmx_setup_{pinbased,exit,entry,cpubased,secondary}_ctls(), _misc_data(), _basic(),
//    _cr_fixed()): vmcs_config.nested, what KVM_GET_MSRS on /dev/kvm returns and what every
//    vCPU starts from;
//  - arch/x86/kvm/vmx/vmx.c: vmx_secondary_exec_control() / vmx_adjust_secondary_exec_control()
//    (6.1, 6.12): KVM_SET_CPUID2 then sets or clears some secondary controls in the vCPU's copy;
//  - arch/x86/kvm/vmx/nested.c: vmx_set_vmx_msr() and vmx_restore_vmx_basic(),
//    vmx_restore_control_msr(), vmx_restore_vmx_misc(), vmx_restore_fixed0_msr(),
//    vmx_restore_vmx_ept_vpid_cap() (6.1, 6.12): the acceptance rules, always against
//    vmcs_config.nested (the destination's /dev/kvm values), never the vCPU's own copy.
// core/analyse/nested_vmx.cc evaluates it.
#pragma once

#include <cstdint>
#include <span>

namespace kvmprobe {

/// One control MSR of nested_vmx_setup_ctls_msrs(): high = (vmcs_config word & copy) | always,
/// low = always_low.
struct NestedControlRow {
  std::uint32_t copy = 0;        ///< allowed-1 bits taken from vmcs_config when the host has them
  std::uint32_t always = 0;      ///< allowed-1 bits KVM sets regardless (emulated)
  std::uint32_t always_low = 0;  ///< must-be-1 bits (the TRUE MSR's low half)
  std::uint32_t non_true_low = 0;  ///< OR'ed into the non-TRUE MSR's low half (vmx_get_vmx_msr)
};

/// How vmx_set_vmx_msr() checks a restored value.
enum class NestedRestoreRule : std::uint8_t {
  basic,      ///< vmx_restore_vmx_basic
  control,    ///< vmx_restore_control_msr: must-be-1 (low) a superset, allowed-1 (high) a subset
  misc,       ///< vmx_restore_vmx_misc
  fixed0,     ///< vmx_restore_fixed0_msr: every must-be-1 bit of KVM's value still 1
  ept_vpid,   ///< vmx_restore_vmx_ept_vpid_cap: a bitwise subset of all 64 bits
  any,        ///< VMCS_ENUM: stored as given
  vmfunc,     ///< no bit outside KVM's vmfunc_controls
  refused,    ///< non-TRUE controls, CR0/CR4_FIXED1: "do not support restoring them directly"
};

/// One secondary control the vCPU's copy follows its guest CPUID for (set when the guest has
/// any of the features, cleared otherwise), when vmcs_config has the control.
struct NestedCpuidControl {
  unsigned bit = 0;                 ///< secondary execution control bit
  const char* features[2] = {};     ///< QEMU feature names; any of them enables it
};

/// One version's data.
struct NestedVmxProfile {
  const char* id = "";      ///< kernel profile id ("6.1")
  const char* source = "";  ///< source tree read
  NestedControlRow pin, exit, entry, procbased;
  std::uint32_t pin_apicv = 0;          ///< pin bits copied only with enable_apicv (POSTED_INTR)
  std::uint32_t secondary_copy = 0;     ///< secondary bits copied from vmcs_config
  std::uint32_t secondary_always = 0;   ///< SHADOW_VMCS: emulated
  std::uint32_t ept_copy = 0;           ///< EPT caps copied from the host's (with enable_ept)
  std::uint32_t ept_always = 0;         ///< EPT caps KVM emulates (with enable_ept)
  std::uint32_t ept_ad = 0;             ///< with enable_ept_ad_bits (and SECONDARY_EXEC_ENABLE_PML)
  std::uint32_t vpid_caps = 0;          ///< with enable_vpid
  std::uint32_t misc_copy = 0;          ///< IA32_VMX_MISC bits copied from the host (SAVE_EFER_LMA)
  std::uint32_t misc_always = 0;
  std::uint64_t basic = 0;              ///< VMCS12 revision, size, WB memory type, TRUE_CTLS
  std::uint64_t basic_inout = 0;        ///< copied from the host's IA32_VMX_BASIC
  std::uint64_t cr0_fixed0 = 0, cr4_fixed0 = 0;
  std::uint64_t cr4_umip = 0;           ///< OR'ed into CR4_FIXED1 when UMIP is emulated (DESC)
  bool umip_only_without_host_umip = false;  ///< vmx_umip_emulated() also needs the host to lack UMIP
  std::uint64_t vmcs_enum = 0;          ///< nested_vmx_calc_vmcs_enum_msr(): vmcs12's highest field index
  std::uint32_t vmfunc_eptp_switching = 0;
  std::uint64_t basic_feature_reserved = 0;  ///< bits of a restored BASIC that must be KVM's subset
  std::uint64_t misc_feature_reserved = 0;   ///< same for MISC
  std::span<const NestedCpuidControl> cpuid_controls;
  NestedRestoreRule restore[18] = {};   ///< vmx_set_vmx_msr()'s case for 0x480 + i
};

/// The restore rule of one VMX capability MSR (0x480-0x491) in this version.
NestedRestoreRule nested_restore_rule(const NestedVmxProfile& p, std::uint32_t index);

/// The data for a kernel profile id, or nullptr when that version is not transcribed.
const NestedVmxProfile* nested_vmx_profile(const char* profile_id);

}  // namespace kvmprobe
