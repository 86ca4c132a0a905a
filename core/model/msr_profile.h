// MsrListProfile: one KVM version's MSR lists as data (arch/x86/kvm/x86.c: kvm_init_msr_list()
// (6.1) / kvm_init_msr_lists() (6.12)): the ordered candidates of msrs_to_save, emulated_msrs
// and msr_based_features, the filter rule of each candidate, and the version differences of
// those rules and of KVM's PMU initialisation (arch/x86/kvm/pmu.h: kvm_init_pmu_capability()).
//
// The candidates live in three shared tables with one position column per version
// (core/profiles/msr_lists.cc, from the msrs_to_save, emulated_msrs_all and msr_based_features
// arrays of arch/x86/kvm/x86.c); a profile names its column. Position 0 = not a candidate in that
// version.
#pragma once

#include <cstdint>
#include <span>

namespace kvmprobe {

/// The filter KVM applies to one candidate. The codes (F-MPX, E-SMBASE, X-VMX, ...) are
/// kvmprobe's names for the cases of the functions cited below.
enum class MsrRule : std::uint8_t {
  none,       ///< save list: host RDMSR only; emulated: always kept
  // msrs_to_save, applied after a successful host RDMSR: arch/x86/kvm/x86.c:
  // kvm_init_msr_list() (6.1) / kvm_probe_msr_to_save() (6.12).
  f_mpx,      ///< F-MPX: BNDCFGS needs KVM's MPX support
  f_tscaux,   ///< F-TSCAUX: TSC_AUX needs RDTSCP (5.15+: or RDPID)
  f_waitpkg,  ///< F-WAITPKG: UMWAIT_CONTROL needs KVM cap WAITPKG
  f_pt,       ///< F-PT: RTIT_CTL/STATUS need KVM cap INTEL_PT
  f_pt_cr3,   ///< F-PT-CR3: INTEL_PT and CPUID 0x14.0:EBX[0]
  f_pt_out,   ///< F-PT-OUT: INTEL_PT and ToPA or single-range output
  f_pt_addr,  ///< F-PT-ADDR: INTEL_PT and (index - 0x580) < 2 * CPUID 0x14.1:EAX[2:0]
  f_gp,       ///< F-GP: PERFCTRn / EVENTSELn, n below the GP counter count
  f_fixed,    ///< F-FIXED: FIXED_CTRn, n below the fixed counter count (where filtered)
  pmu,        ///< PMU: other PMU MSRs, host RDMSR only (6.6+: in the skippable PMU array)
  f_pmuv2,    ///< F-PMUV2: AMD global perf MSRs need KVM cap PERFMON_V2
  f_xfd,      ///< F-XFD: XFD/XFD_ERR need KVM cap XFD
  f_tsxctrl,  ///< F-TSXCTRL: TSX_CTRL needs host ARCH_CAPABILITIES bit 7
  f_xss,      ///< F-XSS: XSS needs a non-zero supported XSS
  f_cet,      ///< F-CET: U_CET/S_CET need KVM cap SHSTK or IBT
  f_shstk,    ///< F-SHSTK: PL0..3_SSP need KVM cap SHSTK
  f_ssptab,   ///< F-SSPTAB: INT_SSP_TAB needs KVM caps LM and SHSTK
  // emulated_msrs: the vendor module's has_emulated_msr() (vmx/vmx.c: vmx_has_emulated_msr(),
  // svm/svm.c: svm_has_emulated_msr() (6.1, 6.12)).
  e_smbase,   ///< E-SMBASE
  e_vmxmsr,   ///< E-VMXMSR: kvm_intel nested; never on SVM
  e_mcgext,   ///< E-MCGEXT: MCG_EXT_CTL (SVM: only where svm_emulates_mcg_ext_ctl)
  e_amdonly,  ///< E-AMDONLY: SVM only
  // msr_based_features: does KVM's feature-MSR read succeed (arch/x86/kvm/x86.c:
  // kvm_get_msr_feature() (6.1) / kvm_get_feature_msr() (6.12)).
  x_vmx,      ///< X-VMX: kvm_intel with nested on
  x_amd,      ///< X-AMD: kvm_amd only
  x_always,   ///< X-ALWAYS: both vendor modules
};

/// The three lists KVM builds at init.
enum class MsrList : std::uint8_t {
  save,      ///< msrs_to_save: host-probed (first part of KVM_GET_MSR_INDEX_LIST)
  emulated,  ///< emulated_msrs: kept by the vendor's has_emulated_msr (second part)
  feature,   ///< msr_based_features: KVM_GET_MSR_FEATURE_INDEX_LIST
};

/// One MSR in a candidate table, with its 1-based position per version column (0 = absent).
struct MsrRow {
  std::uint32_t index = 0;
  const char* name = "";   ///< kernel name without MSR_ ("IA32_SYSENTER_CS")
  MsrRule rule = MsrRule::none;
  std::uint8_t pos[8] = {};
};

/// How BNDCFGS (F-MPX) is decided.
enum class MpxRule : std::uint8_t {
  host_xcr0_any_and_vendor,  ///< 4.19: host XCR0 has BNDREGS or BNDCSR, and VMX MPX controls
  supported_xcr0_both,       ///< 5.10+: KVM's supported XCR0 has BNDREGS and BNDCSR
};

/// How TSC_AUX (F-TSCAUX) is decided.
enum class TscAuxRule : std::uint8_t {
  rdtscp,            ///< 4.19, 5.10: RDTSCP (VMX: secondary RDTSCP control granted)
  rdtscp_or_rdpid,   ///< 5.15+: RDTSCP or RDPID
};

/// How perf counts Intel fixed counters from the CPUID.0AH:ECX bitmap (perfmon version ≥ 5),
/// arch/x86/events/intel/core.c: intel_pmu_init().
enum class PerfFixedCount : std::uint8_t {
  highest_bit,  ///< up to 6.10: num_counters_fixed = fls(ECX) (6.1)
  popcount,     ///< 6.11+: fixed_cntr_mask64 = ECX, counted with hweight64 (6.12)
};

/// KVM's PMU initialisation in one version (arch/x86/kvm/pmu.h: kvm_init_pmu_capability() (6.1,
/// 6.12)).
struct PmuProfile {
  bool enable_pmu_param = false;      ///< 6.1+: kvm.enable_pmu exists (else the vPMU is always on)
  bool hybrid_disables = false;       ///< 6.1.192, 6.6+: HYBRID_CPU forces enable_pmu off
  bool intel_version0_disables = false;  ///< 6.1+: Intel with perf version 0 forces it off
  bool gp0_disables = false;          ///< 6.1+: perf GP count 0 forces it off
  bool min_gp_disables = false;       ///< 6.6+: 0 < GP < vendor minimum (Intel 1, AMD 4) forces it off
  unsigned max_gp_intel = 0;          ///< 6.6+: GP count capped (8); 0 = not capped
  unsigned max_gp_amd = 0;            ///< 6.6+: GP count capped (6); 0 = not capped
  unsigned max_fixed = 0;             ///< 6.1+: fixed count capped (3); 0 = not capped
  bool amd_core_reduce = false;       ///< 6.6+: svm_set_cpu_caps: GP < 6 -> min(4, GP), no PERFCTR_CORE
  unsigned gp_filter_limit = 0;       ///< F-GP limit min(limit, GP): 32 (5.x), 8 (6.1); 0 = none
  bool fixed_filtered = false;        ///< 6.6+: F-FIXED applies (else host RDMSR only)
  bool pmu_array_skippable = false;   ///< 6.6+: the whole PMU array is skipped when enable_pmu is 0
  /// 5.x: perf's vendor init fills x86_pmu and a failed hardware check ("PMU not available due
  /// to virtualization") leaves it filled, so KVM filters with the vendor's counts although perf
  /// registered no hardware PMU (5.19+ clears x86_pmu on that path).
  bool failed_hw_check_keeps_counts = false;
  /// perf's fixed-counter count on perfmon version ≥ 5 (what KVM's PMU init starts from).
  PerfFixedCount perf_fixed = PerfFixedCount::highest_bit;
};

/// One KVM version's MSR lists.
struct MsrListProfile {
  const char* source = "";            ///< where the data was read ("arch/x86/kvm/x86.c ...")
  std::span<const MsrRow> save_rows;      ///< the msrs_to_save table
  std::span<const MsrRow> emulated_rows;  ///< the emulated_msrs table
  std::span<const MsrRow> feature_rows;   ///< the msr_based_features table
  unsigned save_col = 0, emulated_col = 0, feature_col = 0;  ///< this version's columns
  /// 6.6+: save positions from here on form msrs_to_save_pmu[]; 0 = one array (≤6.1).
  unsigned pmu_array_from = 0;

  MpxRule mpx = MpxRule::supported_xcr0_both;
  TscAuxRule tsc_aux = TscAuxRule::rdtscp_or_rdpid;
  bool svm_emulates_mcg_ext_ctl = false;  ///< 4.19: SVM keeps MCG_EXT_CTL
  bool pt_mode_param = false;         ///< kvm_intel.pt_mode exists (only with CONFIG_BROKEN in some trees)
  bool pt_needs_enable_pmu = false;   ///< pt_mode host-guest also needs enable_pmu (6.1.192, 6.6+)
  bool cet_caps = false;              ///< 7.3: SHSTK/IBT caps and supported XSS are modelled
  PmuProfile pmu;
};

}  // namespace kvmprobe
