// KVM's kvm_cpu_caps recipe per kernel version, transcribed from Debian's 6.1.192 and 6.12.117
// trees: arch/x86/kvm/cpuid.c kvm_set_cpu_caps() and __do_cpuid_func(),
// arch/x86/kvm/vmx/vmx.c vmx_set_cpu_caps(), arch/x86/kvm/svm/svm.c svm_set_cpu_caps().
// Bit numbers are the X86_FEATURE_* positions of arch/x86/include/asm/cpufeatures.h (same tree).
#include "core/profiles/cpuid_caps.h"

#include <initializer_list>

namespace kvmprobe {
namespace {

constexpr std::uint32_t bits(std::initializer_list<unsigned> list) {
  std::uint32_t m = 0;
  for (unsigned b : list) m |= 1u << b;
  return m;
}

constexpr CapWordDef kWords[] = {
    {CapWord::l1_ecx, 0x1, 0, Reg::ecx, "CPUID_1_ECX"},
    {CapWord::l1_edx, 0x1, 0, Reg::edx, "CPUID_1_EDX"},
    {CapWord::l7_0_ebx, 0x7, 0, Reg::ebx, "CPUID_7_0_EBX"},
    {CapWord::l7_0_ecx, 0x7, 0, Reg::ecx, "CPUID_7_ECX"},
    {CapWord::l7_0_edx, 0x7, 0, Reg::edx, "CPUID_7_EDX"},
    {CapWord::l7_1_eax, 0x7, 1, Reg::eax, "CPUID_7_1_EAX"},
    {CapWord::ld_1_eax, 0xd, 1, Reg::eax, "CPUID_D_1_EAX"},
    {CapWord::l8000_0001_ecx, 0x80000001, 0, Reg::ecx, "CPUID_8000_0001_ECX"},
    {CapWord::l8000_0001_edx, 0x80000001, 0, Reg::edx, "CPUID_8000_0001_EDX"},
    {CapWord::l8000_0008_ebx, 0x80000008, 0, Reg::ebx, "CPUID_8000_0008_EBX"},
    {CapWord::l8000_0021_eax, 0x80000021, 0, Reg::eax, "CPUID_8000_0021_EAX"},
};
static_assert(std::size(kWords) == kCapWords);

constexpr std::size_t w(CapWord x) { return static_cast<std::size_t>(x); }

// --- kvm_cpu_cap_mask() arguments, 6.1.192 -------------------------------------------------------

// F(XMM3) F(PCLMULQDQ) F(SSSE3) F(FMA) F(CX16) F(PDCM) F(PCID) F(XMM4_1) F(XMM4_2) F(X2APIC)
// F(MOVBE) F(POPCNT) F(AES) F(XSAVE) F(AVX) F(F16C) F(RDRAND); same in 6.12.
constexpr std::uint32_t k1Ecx = bits({0, 1, 9, 12, 13, 15, 17, 19, 20, 21, 22, 23, 25, 26, 28, 29, 30});
// FPU VME DE PSE TSC MSR PAE MCE CX8 APIC SEP MTRR PGE MCA CMOV PAT PSE36 CLFLUSH MMX FXSR XMM
// XMM2 SELFSNOOP; same in 6.12.
constexpr std::uint32_t k1Edx = bits({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 19,
                                      23, 24, 25, 26, 27});
// FSGSBASE SGX BMI1 HLE AVX2 FDP_EXCPTN_ONLY SMEP BMI2 ERMS INVPCID RTM ZERO_FCS_FDS AVX512F
// AVX512DQ RDSEED ADX SMAP AVX512IFMA CLFLUSHOPT CLWB AVX512PF AVX512ER AVX512CD SHA_NI AVX512BW
// AVX512VL (MPX and INTEL_PT left to vmx_set_cpu_caps); same in 6.12.
constexpr std::uint32_t k7Ebx = bits({0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 16, 17, 18, 19, 20, 21,
                                      23, 24, 26, 27, 28, 29, 30, 31});
// AVX512VBMI LA57 PKU RDPID AVX512_VPOPCNTDQ UMIP AVX512_VBMI2 GFNI VAES VPCLMULQDQ AVX512_VNNI
// AVX512_BITALG CLDEMOTE MOVDIRI MOVDIR64B SGX_LC BUS_LOCK_DETECT; same in 6.12.
constexpr std::uint32_t k7Ecx = bits({1, 2, 3, 6, 8, 9, 10, 11, 12, 14, 16, 22, 24, 25, 27, 28, 30});
// AVX512_4VNNIW AVX512_4FMAPS FSRM AVX512_VP2INTERSECT MD_CLEAR SERIALIZE TSXLDTRK AMX_BF16
// AVX512_FP16 AMX_TILE AMX_INT8 SPEC_CTRL INTEL_STIBP ARCH_CAPABILITIES SPEC_CTRL_SSBD.
constexpr std::uint32_t k7Edx_6_1 = bits({2, 3, 4, 8, 10, 14, 16, 22, 23, 24, 25, 26, 27, 29, 31});
// 6.12 adds FLUSH_L1D (bit 28).
constexpr std::uint32_t k7Edx_6_12 = k7Edx_6_1 | bits({28});
// AVX_VNNI AVX512_BF16.
constexpr std::uint32_t k71Eax_6_1 = bits({4, 5});
// 6.12 adds CMPCCXADD FZRM FSRS FSRC AMX_FP16 AVX_IFMA LAM.
constexpr std::uint32_t k71Eax_6_12 = k71Eax_6_1 | bits({7, 10, 11, 12, 21, 23, 26});
// XSAVEOPT XSAVEC XGETBV1 XSAVES XFD (64-bit); same in 6.12.
constexpr std::uint32_t kD1Eax = bits({0, 1, 2, 3, 4});
// LAHF_LM CMP_LEGACY CR8_LEGACY ABM SSE4A MISALIGNSSE 3DNOWPREFETCH OSVW XOP FMA4 TBM TOPOEXT
// (SVM and PERFCTR_CORE left to svm_set_cpu_caps); same in 6.12.
constexpr std::uint32_t k81Ecx = bits({0, 1, 4, 5, 6, 7, 8, 9, 11, 16, 21, 22});
// FPU..APIC SYSCALL MTRR PGE MCA CMOV PAT PSE36 NX MMXEXT MMX FXSR FXSR_OPT GBPAGES RDTSCP LM
// 3DNOWEXT 3DNOW; same in 6.12.
constexpr std::uint32_t k81Edx = bits({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 20,
                                       22, 23, 24, 25, 26, 27, 29, 30, 31});
// CLZERO XSAVEERPTR WBNOINVD AMD_IBPB AMD_IBRS AMD_STIBP AMD_STIBP_ALWAYS_ON AMD_SSBD VIRT_SSBD
// AMD_SSB_NO PSFD; same bits in 6.12 (PSFD named AMD_PSFD there).
constexpr std::uint32_t k88Ebx = bits({0, 2, 9, 12, 14, 15, 17, 24, 25, 26, 28});
// 6.1.192: BIT(0) NO_NESTED_DATA_BP, BIT(2) LFENCE, BIT(5) VERW (TSA backport), BIT(6)
// NULL_SEL_CLR_BASE.
constexpr std::uint32_t k821Eax_6_1 = bits({0, 2, 5, 6});
// 6.12.117: NO_NESTED_DATA_BP WRMSR_XX_BASE_NS LFENCE_RDTSC VERW_CLEAR NULL_SEL_CLR_BASE AUTOIBRS
// SRSO_USER_KERNEL_NO.
constexpr std::uint32_t k821Eax_6_12 = bits({0, 1, 2, 5, 6, 8, 30});

// --- the sets and clears after the masks ---------------------------------------------------------

using C = CapCond;
using W = CapWord;
constexpr CapOp S = CapOp::set;
constexpr CapOp X = CapOp::clear;

// kvm_set_cpu_caps(), 6.1.192, in source order (the masks are applied first: each set below
// follows its own word's mask in the source, so the order is the same).
constexpr CapStep kCommon_6_1[] = {
    {S, W::l1_ecx, 21, C::always, "X2APIC"},                 // KVM emulates x2apic in software
    {S, W::l7_0_ecx, 16, C::raw_has_same, "LA57"},
    {X, W::l7_0_ecx, 3, C::no_tdp_or_no_ospke, "PKU"},
    {S, W::l7_0_ebx, 1, C::always, "TSC_ADJUST"},            // emulated in software
    {S, W::l7_0_edx, 29, C::always, "ARCH_CAPABILITIES"},    // emulated in software
    {S, W::l7_0_edx, 26, C::boot_ibpb_and_ibrs, "SPEC_CTRL"},
    {S, W::l7_0_edx, 27, C::boot_stibp, "INTEL_STIBP"},
    {S, W::l7_0_edx, 31, C::boot_amd_ssbd, "SPEC_CTRL_SSBD"},
    {S, W::l8000_0001_edx, 26, C::no_tdp, "GBPAGES"},
    {S, W::l8000_0008_ebx, 12, C::boot_ibpb, "AMD_IBPB"},
    {S, W::l8000_0008_ebx, 14, C::boot_ibrs, "AMD_IBRS"},
    {S, W::l8000_0008_ebx, 15, C::boot_stibp, "AMD_STIBP"},
    {S, W::l8000_0008_ebx, 24, C::boot_spec_ctrl_ssbd, "AMD_SSBD"},
    {S, W::l8000_0008_ebx, 26, C::no_ssb_bug, "AMD_SSB_NO"},
    {S, W::l8000_0008_ebx, 25, C::ls_cfg_ssbd_not_amd_ssbd, "VIRT_SSBD"},
    {S, W::l8000_0021_eax, 2, C::lfence_rdtsc, "LFENCE always serializing"},
    {S, W::l8000_0021_eax, 6, C::no_null_seg_bug, "NULL_SEL_CLR_BASE"},
    {S, W::l8000_0021_eax, 9, C::always, "NO_SMM_CTL_MSR"},
    {S, W::l8000_0021_eax, 29, C::srso_no, "SRSO_NO"},
    {S, W::l8000_0021_eax, 5, C::boot_has_same, "VERW_CLEAR"},
};

// kvm_set_cpu_caps(), 6.12.117.
constexpr CapStep kCommon_6_12[] = {
    {S, W::l1_ecx, 21, C::always, "X2APIC"},
    {S, W::l7_0_ecx, 16, C::raw_has_same, "LA57"},
    {X, W::l7_0_ecx, 3, C::no_tdp_or_no_ospke, "PKU"},
    {S, W::l7_0_ebx, 1, C::always, "TSC_ADJUST"},
    {S, W::l7_0_edx, 29, C::always, "ARCH_CAPABILITIES"},
    {S, W::l7_0_edx, 26, C::boot_ibpb_and_ibrs, "SPEC_CTRL"},
    {S, W::l7_0_edx, 27, C::boot_stibp, "INTEL_STIBP"},
    {S, W::l7_0_edx, 31, C::boot_amd_ssbd, "SPEC_CTRL_SSBD"},
    {S, W::l8000_0001_edx, 26, C::no_tdp, "GBPAGES"},
    {S, W::l8000_0008_ebx, 12, C::boot_ibpb, "AMD_IBPB"},
    {S, W::l8000_0008_ebx, 14, C::boot_ibrs, "AMD_IBRS"},
    {S, W::l8000_0008_ebx, 15, C::boot_stibp, "AMD_STIBP"},
    {S, W::l8000_0008_ebx, 24, C::boot_spec_ctrl_ssbd, "AMD_SSBD"},
    {S, W::l8000_0008_ebx, 26, C::no_ssb_bug, "AMD_SSB_NO"},
    {S, W::l8000_0008_ebx, 25, C::ls_cfg_ssbd_not_amd_ssbd, "VIRT_SSBD"},
    {S, W::l8000_0021_eax, 27, C::boot_has_same, "SBPB"},
    {S, W::l8000_0021_eax, 28, C::boot_has_same, "IBPB_BRTYPE"},
    {S, W::l8000_0021_eax, 29, C::srso_no, "SRSO_NO"},
    {S, W::l8000_0021_eax, 5, C::boot_has_same, "VERW_CLEAR"},
    {S, W::l8000_0021_eax, 2, C::lfence_rdtsc, "LFENCE_RDTSC"},
    {S, W::l8000_0021_eax, 6, C::no_null_seg_bug, "NULL_SEL_CLR_BASE"},
    {S, W::l8000_0021_eax, 9, C::always, "NO_SMM_CTL_MSR"},
};

// 7.3 (UNCONFIRMED, 7.3.4 not read): 6.12's steps, plus the two bits the kvm_cpu_cap_init()
// rework (upstream 6.14) declares EMULATED_F in CPUID_1_ECX: TSC_DEADLINE_TIMER and HYPERVISOR.
constexpr CapStep kCommon_7_3[] = {
    {S, W::l1_ecx, 21, C::always, "X2APIC"},
    {S, W::l1_ecx, 24, C::always, "TSC_DEADLINE_TIMER"},
    {S, W::l1_ecx, 31, C::always, "HYPERVISOR"},
    {S, W::l7_0_ecx, 16, C::raw_has_same, "LA57"},
    {X, W::l7_0_ecx, 3, C::no_tdp_or_no_ospke, "PKU"},
    {S, W::l7_0_ebx, 1, C::always, "TSC_ADJUST"},
    {S, W::l7_0_edx, 29, C::always, "ARCH_CAPABILITIES"},
    {S, W::l7_0_edx, 26, C::boot_ibpb_and_ibrs, "SPEC_CTRL"},
    {S, W::l7_0_edx, 27, C::boot_stibp, "INTEL_STIBP"},
    {S, W::l7_0_edx, 31, C::boot_amd_ssbd, "SPEC_CTRL_SSBD"},
    {S, W::l8000_0001_edx, 26, C::no_tdp, "GBPAGES"},
    {S, W::l8000_0008_ebx, 12, C::boot_ibpb, "AMD_IBPB"},
    {S, W::l8000_0008_ebx, 14, C::boot_ibrs, "AMD_IBRS"},
    {S, W::l8000_0008_ebx, 15, C::boot_stibp, "AMD_STIBP"},
    {S, W::l8000_0008_ebx, 24, C::boot_spec_ctrl_ssbd, "AMD_SSBD"},
    {S, W::l8000_0008_ebx, 26, C::no_ssb_bug, "AMD_SSB_NO"},
    {S, W::l8000_0008_ebx, 25, C::ls_cfg_ssbd_not_amd_ssbd, "VIRT_SSBD"},
    {S, W::l8000_0021_eax, 27, C::boot_has_same, "SBPB"},
    {S, W::l8000_0021_eax, 28, C::boot_has_same, "IBPB_BRTYPE"},
    {S, W::l8000_0021_eax, 29, C::srso_no, "SRSO_NO"},
    {S, W::l8000_0021_eax, 5, C::boot_has_same, "VERW_CLEAR"},
    {S, W::l8000_0021_eax, 2, C::lfence_rdtsc, "LFENCE_RDTSC"},
    {S, W::l8000_0021_eax, 6, C::no_null_seg_bug, "NULL_SEL_CLR_BASE"},
    {S, W::l8000_0021_eax, 9, C::always, "NO_SMM_CTL_MSR"},
    // arch/x86/kvm/cpuid.c: kvm_set_cpu_caps() (7.2.13): EMULATED_F(GP_ON_USER_CPUID) in
    // CPUID_8000_0021_EAX (KVM emulates CPUID faulting); sid's 7.2.13 reports it on EPYC under
    // TCG, whose CPU lacks it (tests/data/cpuid/epyc-sid.*). Not in 6.12.
    {S, W::l8000_0021_eax, 17, C::always, "GP_ON_USER_CPUID"},
};

// vmx_set_cpu_caps(), identical in 6.1.192 and 6.12.117 for the modelled words (6.12 also clears
// SGX_EDECCSSA in leaf 0x12, not modelled). DS/DTES64 are outside the mask: check_and_set.
constexpr CapStep kVmx[] = {
    {S, W::l1_ecx, 5, C::nested, "VMX"},
    {S, W::l7_0_ebx, 14, C::vmx_mpx, "MPX"},
    {X, W::l7_0_ebx, 10, C::vmx_no_invpcid, "INVPCID"},
    {S, W::l7_0_ebx, 25, C::vmx_pt_host_guest, "INTEL_PT"},
    {S, W::l1_edx, 21, C::vmx_pebs, "DS"},
    {S, W::l1_ecx, 2, C::vmx_pebs, "DTES64"},
    {X, W::l1_ecx, 15, C::no_enable_pmu, "PDCM"},
    {X, W::l7_0_ebx, 2, C::no_enable_sgx, "SGX"},
    {X, W::l7_0_ecx, 30, C::no_enable_sgx, "SGX_LC"},
    {S, W::l7_0_ecx, 2, C::vmx_umip_emulated, "UMIP"},
    {X, W::ld_1_eax, 3, C::vmx_no_xsaves, "XSAVES"},
    {X, W::l8000_0001_edx, 27, C::vmx_no_rdtscp, "RDTSCP"},
    {X, W::l7_0_ecx, 22, C::vmx_no_rdtscp, "RDPID"},
    {S, W::l7_0_ecx, 5, C::vmx_waitpkg, "WAITPKG"},
};

// svm_set_cpu_caps(), 6.1.192 (leaf 0x8000000A and 0x8000001F steps not modelled).
constexpr CapStep kSvm_6_1[] = {
    {S, W::l8000_0001_ecx, 2, C::nested, "SVM"},
    {S, W::l8000_0008_ebx, 25, C::svm_ls_cfg_or_amd_ssbd, "VIRT_SSBD"},
    {S, W::l8000_0001_ecx, 23, C::svm_pmu_perfctr_core, "PERFCTR_CORE"},
    {X, W::l7_0_ecx, 24, C::always, "BUS_LOCK_DETECT"},
};

// svm_set_cpu_caps(), 6.12.117.
constexpr CapStep kSvm_6_12[] = {
    {S, W::l8000_0001_ecx, 2, C::nested, "SVM"},
    {S, W::l8000_0008_ebx, 25, C::svm_ls_cfg_or_amd_ssbd, "VIRT_SSBD"},
    {S, W::l8000_0001_ecx, 23, C::svm_pmu_core_counters, "PERFCTR_CORE"},
    {X, W::l7_0_ecx, 24, C::always, "BUS_LOCK_DETECT"},
};

constexpr std::array<bool, kCapWords> kNoKvmOnly{};

CpuidCapsProfile make_6_1() {
  CpuidCapsProfile p;
  p.source = "arch/x86/kvm/cpuid.c kvm_set_cpu_caps(), __do_cpuid_func(); vmx/vmx.c "
             "vmx_set_cpu_caps(); svm/svm.c svm_set_cpu_caps() (Debian 6.1.192)";
  p.confirmed = true;
  p.mask[w(W::l1_ecx)] = k1Ecx;
  p.mask[w(W::l1_edx)] = k1Edx;
  p.mask[w(W::l7_0_ebx)] = k7Ebx;
  p.mask[w(W::l7_0_ecx)] = k7Ecx;
  p.mask[w(W::l7_0_edx)] = k7Edx_6_1;
  p.mask[w(W::l7_1_eax)] = k71Eax_6_1;
  p.mask[w(W::ld_1_eax)] = kD1Eax;
  p.mask[w(W::l8000_0001_ecx)] = k81Ecx;
  p.mask[w(W::l8000_0001_edx)] = k81Edx;
  p.mask[w(W::l8000_0008_ebx)] = k88Ebx;
  p.mask[w(W::l8000_0021_eax)] = k821Eax_6_1;
  p.kvm_only = kNoKvmOnly;  // every modelled word is a kernel word in 6.1.192
  p.common = kCommon_6_1;
  p.vmx = kVmx;
  p.svm = kSvm_6_1;
  p.max_basic = 0x1f;
  p.max_extended = 0x80000021;
  p.max_leaf7_subleaf = 2;
  return p;
}

CpuidCapsProfile make_6_12() {
  CpuidCapsProfile p = make_6_1();
  p.source = "arch/x86/kvm/cpuid.c kvm_set_cpu_caps(), __do_cpuid_func(); vmx/vmx.c "
             "vmx_set_cpu_caps(); svm/svm.c svm_set_cpu_caps() (Debian 6.12.117)";
  p.mask[w(W::l7_0_edx)] = k7Edx_6_12;
  p.mask[w(W::l7_1_eax)] = k71Eax_6_12;
  p.mask[w(W::l8000_0021_eax)] = k821Eax_6_12;
  p.common = kCommon_6_12;
  p.svm = kSvm_6_12;
  p.max_basic = 0x24;
  p.max_extended = 0x80000022;
  p.xtilecfg_follows_xtiledata = true;
  return p;
}

CpuidCapsProfile unconfirmed(CpuidCapsProfile p, const char* source) {
  p.source = source;
  p.confirmed = false;
  return p;
}

}  // namespace

std::span<const CapWordDef> cap_words() { return kWords; }
const CapWordDef& cap_word(CapWord x) { return kWords[w(x)]; }

const CpuidCapsProfile* cpuid_caps_for(const std::string& profile_id) {
  static const CpuidCapsProfile k61 = make_6_1();
  static const CpuidCapsProfile k612 = make_6_12();
  static const CpuidCapsProfile k610 = unconfirmed(
      make_6_1(), "UNCONFIRMED: 6.1.0's source not read; 6.1.192's data is used (its "
                  "0x80000021 VERW/SRSO bits are stable backports 6.1.0 may lack)");
  static const CpuidCapsProfile k66 =
      unconfirmed(make_6_12(), "UNCONFIRMED: 6.6's source not read; 6.12.117's data is used");
  static const CpuidCapsProfile k68 =
      unconfirmed(make_6_12(), "UNCONFIRMED: 6.8's source not read; 6.12.117's data is used");
  static const CpuidCapsProfile k73 = [] {
    CpuidCapsProfile p = unconfirmed(
        make_6_12(), "UNCONFIRMED: 7.3's source not read; 6.12.117's data plus TSC_DEADLINE_TIMER "
                     "and HYPERVISOR, which upstream KVM emulates since the 6.14 rework");
    p.common = kCommon_7_3;
    return p;
  }();
  if (profile_id == "6.1") return &k61;
  if (profile_id == "6.12") return &k612;
  if (profile_id == "6.1.0") return &k610;
  if (profile_id == "6.6") return &k66;
  if (profile_id == "6.8") return &k68;
  if (profile_id == "7.3") return &k73;
  return nullptr;
}

}  // namespace kvmprobe
