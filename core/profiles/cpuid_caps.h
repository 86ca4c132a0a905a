// KVM's CPUID capability masks (kvm_cpu_caps) per kernel version, as data: which bits of each
// feature register kvm_set_cpu_caps() lets through from the host, and the sets and clears that
// follow it there and in vmx_set_cpu_caps() / svm_set_cpu_caps(), in the kernel's order.
// analyse/supported_cpuid.cc evaluates them; the conditions are named, not coded, here.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "core/model/snapshot.h"

namespace kvmprobe {

/// The feature registers the model evaluates (one kvm_cpu_caps word each).
enum class CapWord : std::uint8_t {
  l1_ecx,         ///< CPUID_1_ECX
  l1_edx,         ///< CPUID_1_EDX
  l7_0_ebx,       ///< CPUID_7_0_EBX
  l7_0_ecx,       ///< CPUID_7_ECX
  l7_0_edx,       ///< CPUID_7_EDX
  l7_1_eax,       ///< CPUID_7_1_EAX
  ld_1_eax,       ///< CPUID_D_1_EAX
  l8000_0001_ecx, ///< CPUID_8000_0001_ECX
  l8000_0001_edx, ///< CPUID_8000_0001_EDX
  l8000_0008_ebx, ///< CPUID_8000_0008_EBX
  l8000_0021_eax, ///< CPUID_8000_0021_EAX
  count,
};
inline constexpr std::size_t kCapWords = static_cast<std::size_t>(CapWord::count);

/// Where a word lives in CPUID.
struct CapWordDef {
  CapWord word;
  std::uint32_t leaf, subleaf;
  Reg reg;
  const char* kernel_name;  ///< "CPUID_7_0_EBX"
};
/// Every CapWord, in enum order.
std::span<const CapWordDef> cap_words();
/// The definition of one word.
const CapWordDef& cap_word(CapWord w);

/// The condition under which the kernel sets or clears a bit after masking (each names the
/// source expression; analyse/supported_cpuid.cc decides it for a host).
enum class CapCond : std::uint8_t {
  always,                   ///< unconditional kvm_cpu_cap_set / _clear
  boot_has_same,            ///< kvm_cpu_cap_check_and_set(X): boot_cpu_has(X)
  raw_has_same,             ///< LA57: the raw CPUID bit (cpuid_ecx(7) & F(LA57))
  boot_ibpb_and_ibrs,       ///< boot_cpu_has(IBPB) && boot_cpu_has(IBRS)
  boot_ibpb,                ///< boot_cpu_has(IBPB)
  boot_ibrs,                ///< boot_cpu_has(IBRS)
  boot_stibp,               ///< boot_cpu_has(STIBP)
  boot_amd_ssbd,            ///< boot_cpu_has(AMD_SSBD)
  boot_spec_ctrl_ssbd,      ///< boot_cpu_has(SPEC_CTRL_SSBD)
  no_ssb_bug,               ///< !boot_cpu_has_bug(X86_BUG_SPEC_STORE_BYPASS)
  ls_cfg_ssbd_not_amd_ssbd, ///< boot_cpu_has(LS_CFG_SSBD) && !boot_cpu_has(AMD_SSBD)
  lfence_rdtsc,             ///< cpu_feature_enabled(LFENCE_RDTSC)
  no_null_seg_bug,          ///< !static_cpu_has_bug(X86_BUG_NULL_SEG)
  srso_no,                  ///< cpu_feature_enabled(SRSO_NO)
  no_tdp_or_no_ospke,       ///< !tdp_enabled || !boot_cpu_has(OSPKE)
  no_tdp,                   ///< !tdp_enabled (64-bit kernel)
  // vmx_set_cpu_caps()
  nested,                   ///< kvm_intel.nested / kvm_amd.nested
  vmx_mpx,                  ///< kvm_mpx_supported(): both MPX VMX controls and MPX XCR0 state
  vmx_no_invpcid,           ///< !cpu_has_vmx_invpcid()
  vmx_invpcid,              ///< 5.10: cpu_has_vmx_invpcid(), then check_and_set (boot_cpu_has)
  vmx_pt_host_guest,        ///< vmx_pt_mode_is_host_guest()
  vmx_pebs,                 ///< vmx_pebs_supported()
  no_enable_pmu,            ///< !enable_pmu
  no_enable_sgx,            ///< !enable_sgx
  vmx_umip_emulated,        ///< vmx_umip_emulated(): secondary DESC exiting granted
  vmx_no_xsaves,            ///< !cpu_has_vmx_xsaves()
  vmx_no_rdtscp,            ///< !cpu_has_vmx_rdtscp()
  vmx_waitpkg,              ///< cpu_has_vmx_waitpkg()
  // svm_set_cpu_caps()
  svm_ls_cfg_or_amd_ssbd,   ///< boot_cpu_has(LS_CFG_SSBD) || boot_cpu_has(AMD_SSBD)
  svm_pmu_perfctr_core,     ///< 6.1: enable_pmu && boot_cpu_has(PERFCTR_CORE)
  svm_pmu_core_counters,    ///< 6.12: enable_pmu && perf GP counters >= 6, then check_and_set
};

/// What a step does to its bit.
enum class CapOp : std::uint8_t { set, clear };

/// One kvm_cpu_cap_set/clear/check_and_set after the masks, in the kernel's order.
struct CapStep {
  CapOp op;
  CapWord word;
  unsigned bit;
  CapCond cond;
  const char* what;  ///< the kernel's feature name ("X2APIC")
};

/// Every bit of every word (the default of CpuidCapsProfile::leaf_mask).
inline constexpr std::array<std::uint32_t, kCapWords> kAllBits = [] {
  std::array<std::uint32_t, kCapWords> a{};
  a.fill(~0u);
  return a;
}();

/// One KVM version's kvm_cpu_caps recipe and the __do_cpuid_func limits that shape the answer.
struct CpuidCapsProfile {
  const char* source = "";  ///< where it was read ("arch/x86/kvm/cpuid.c ... (6.1.192)")
  /// false: not read from this version's source; the data is another version's (see source)
  bool confirmed = false;
  std::array<std::uint32_t, kCapWords> mask{};  ///< kvm_cpu_cap_mask F() bits per word
  /// kvm_cpu_cap_init_kvm_defined (KVM-only word: not ANDed with boot_cpu_data)
  std::array<bool, kCapWords> kvm_only{};
  /// The word is never passed to kvm_cpu_cap_mask(): kvm_cpu_caps keeps boot_cpu_data's word
  /// as kvm_set_cpu_caps() memcpy'd it (no F() mask, no AND with raw CPUID); `mask` is ~0 there.
  std::array<bool, kCapWords> boot_only{};
  /// __do_cpuid_func()'s own AND after cpuid_entry_override() (5.10's 0x80000021: "entry->eax
  /// &= BIT(0) | BIT(2) | BIT(5) | BIT(6)"), applied after every step; ~0 where there is none.
  std::array<std::uint32_t, kCapWords> leaf_mask = kAllBits;
  std::span<const CapStep> common;  ///< kvm_set_cpu_caps() after the masks
  std::span<const CapStep> vmx;     ///< vmx_set_cpu_caps()
  std::span<const CapStep> svm;     ///< svm_set_cpu_caps()
  std::uint32_t max_basic = 0;      ///< __do_cpuid_func(0): min(host, this)
  std::uint32_t max_extended = 0;   ///< __do_cpuid_func(0x80000000): min(host, this)
  std::uint32_t max_leaf7_subleaf = 0;  ///< case 7: min(eax, this)
  /// 6.1, 6.12: case 0x80000000 raises the limit to 0x80000021 when the host has 0x8000001d
  /// and KVM synthesizes LFENCE / NULL_SEL_CLR_BASE; 5.10.262 only takes min(host, 0x80000021).
  bool synthesizes_8000_0021 = true;
  /// 6.12 kvm_get_filtered_xcr0(): XTILE_CFG is dropped with XTILE_DATA when the asking
  /// process has no AMX guest permission (6.1 drops only XTILE_DATA).
  bool xtilecfg_follows_xtiledata = false;
};

/// The recipe of a kernel profile (core/profiles/profiles.cc ids), nullptr while not modelled:
/// 5.10, 6.1 and 6.12 read from Debian's 5.10.262, 6.1.192 and 6.12.117 sources; 6.1.0, 6.6,
/// 6.8 and 7.3 carry the nearest read version's data marked unconfirmed; 4.19, 5.10.7 (early
/// 5.10.y, before the 0x80000021 and TSA backports) and 5.15 are not modelled (not read).
const CpuidCapsProfile* cpuid_caps_for(const std::string& profile_id);

}  // namespace kvmprobe
