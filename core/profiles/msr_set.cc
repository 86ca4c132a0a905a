// KVM_SET_MSRS (host-initiated) and fresh-vCPU KVM_GET_MSRS per version, as data.
//
// Read from Debian's linux-source-6.1 (6.1.192) and linux-source-6.12 (6.12.117):
//  - arch/x86/kvm/x86.c: kvm_set_msr_common() — its default branch (6.1.192: "Userspace is
//    allowed to write '0' to MSRs that KVM reports as to-be-saved", kvm_is_msr_to_save();
//    6.12: kvm_do_msr_access() "write '0' to MSRs that KVM advertises", kvm_is_advertised_msr())
//    is the `listed` rule; every explicit case that takes a host-initiated value is `any`;
//  - arch/x86/kvm/svm/svm.c: svm_set_msr(), arch/x86/kvm/vmx/vmx.c: vmx_set_msr(), and
//    arch/x86/kvm/hyperv.c: kvm_hv_set_msr() / kvm_hv_set_msr_pw() for the Hyper-V MSRs;
//  - fresh values: x86.c kvm_arch_vcpu_create() (arch_capabilities, msr_platform_info,
//    6.12: perf_capabilities), kvm_vcpu_reset() (smbase 0x30000, PAT default,
//    MISC_ENABLE = PEBS_UNAVAIL | BTS_UNAVAIL), svm.c init_vmcb()/svm_vcpu_reset
//    (microcode_version 0x01000065, tsc_ratio_msr = default ratio), vmx.c
//    vmx_vcpu_reset() (microcode_version 0x100000000), hyperv.c kvm_hv_get_msr()
//    (TSC_FREQUENCY = virtual_tsc_khz * 1000, APIC_FREQUENCY = APIC_BUS_FREQUENCY 1 GHz).
// PMU MSRs stay `listed`: with the guest CPUID from KVM_GET_SUPPORTED_CPUID the guest PMU has
// exactly the counters KVM lists (kvm_pmu_is_valid_msr), the rest reach the default branch.
// The K7/P6 counters are the exception: kvm_set_msr_common() takes them even without a PMU
// ("if (data) kvm_pr_unimpl_wrmsr(...); break;").
#include "core/profiles/msr_set.h"

#include <algorithm>
#include <cstring>

namespace kvmprobe {
namespace {

using R = MsrSetRule;
using F = MsrFreshKind;

constexpr std::uint64_t kPatDefault = 0x0007040600070406ull;  // MSR_IA32_CR_PAT_DEFAULT
constexpr std::uint64_t kMiscEnable = 0x1800;                 // PEBS_UNAVAIL | BTS_UNAVAIL

// Rows common to 6.1 and 6.12 (sorted by lo); KVM_HV_TSC_INVARIANT_CONTROL is 6.12 only.
#define KVMPROBE_COMMON_ROWS_LOW                                                                              \
  {0x10, 0x10, "IA32_TSC", R::any, R::any, F::counting, 0, 0, "kvm_set_msr_common: MSR_IA32_TSC"},            \
  {0x11, 0x12, "KVM_WALL_CLOCK/SYSTEM_TIME", R::any, R::any, F::zero, 0, 0, "kvm_set_msr_common (guest_pv_has)"}, \
  {0x34, 0x34, "SMI_COUNT", R::any, R::any, F::zero, 0, 0, "kvm_set_msr_common: host_initiated"},            \
  {0x3a, 0x3a, "IA32_FEAT_CTL", R::any, R::listed, F::zero, 0, 0, "vmx_set_msr: is_vmx_feature_control_msr_valid"}, \
  {0x3b, 0x3b, "IA32_TSC_ADJUST", R::any, R::any, F::zero, 0, 0, "kvm_set_msr_common"},                     \
  {0x48, 0x48, "IA32_SPEC_CTRL", R::any, R::any, F::zero, 0, 0, "vmx/svm_set_msr: kvm_spec_ctrl_test_value"}, \
  {0x8b, 0x8b, "IA32_UCODE_REV", R::any, R::any, F::constant, 0x100000000ull, 0x01000065ull,                \
   "kvm_set_msr_common: host_initiated; vmx_vcpu_reset / init_vmcb microcode_version"},                      \
  {0x9e, 0x9e, "IA32_SMBASE", R::any, R::any, F::constant, 0x30000, 0x30000, "kvm_set_msr_common (CONFIG_KVM_SMM)"}, \
  {0xc1, 0xc2, "ARCH_PERFMON_PERFCTR0-1", R::any, R::any, F::zero, 0, 0, "kvm_set_msr_common: MSR_P6_PERFCTR0..1"}, \
  {0xce, 0xce, "PLATFORM_INFO", R::any, R::any, F::constant, 0x80000000ull, 0x80000000ull,                  \
   "kvm_set_msr_common; kvm_arch_vcpu_create: MSR_PLATFORM_INFO_CPUID_FAULT"},                                \
  {0xe1, 0xe1, "IA32_UMWAIT_CONTROL", R::any, R::listed, F::zero, 0, 0, "vmx_set_msr"},                      \
  {0x10a, 0x10a, "IA32_ARCH_CAPABILITIES", R::any, R::any, F::host_derived, 0, 0,                           \
   "kvm_set_msr_common: host_initiated, any value; kvm_get_arch_capabilities()"},                            \
  {0x122, 0x122, "IA32_TSX_CTRL", R::any, R::listed, F::zero, 0, 0, "vmx_set_msr"},                          \
  {0x140, 0x140, "MISC_FEATURES_ENABLES", R::any, R::any, F::zero, 0, 0, "kvm_set_msr_common"},             \
  {0x174, 0x176, "IA32_SYSENTER_CS/ESP/EIP", R::any, R::any, F::zero, 0, 0, "vmx/svm_set_msr"},              \
  {0x17a, 0x17b, "IA32_MCG_STATUS/CTL", R::any, R::any, F::zero, 0, 0, "set_msr_mce"},                       \
  {0x186, 0x187, "ARCH_PERFMON_EVENTSEL0-1", R::any, R::any, F::zero, 0, 0, "kvm_set_msr_common: MSR_P6_EVNTSEL0..1"}, \
  {0x1a0, 0x1a0, "IA32_MISC_ENABLE", R::any, R::any, F::constant, kMiscEnable, kMiscEnable,                 \
   "kvm_set_msr_common: host_initiated; kvm_vcpu_reset"},                                                    \
  {0x1c4, 0x1c5, "IA32_XFD/XFD_ERR", R::any, R::any, F::zero, 0, 0, "kvm_set_msr_common: kvm_guest_supported_xfd"}, \
  {0x1d9, 0x1d9, "IA32_DEBUGCTLMSR", R::any, R::any, F::zero, 0, 0, "vmx/svm_set_msr"},                      \
  {0x1fc, 0x1fc, "IA32_POWER_CTL", R::any, R::any, F::zero, 0, 0, "kvm_set_msr_common"},                    \
  {0x277, 0x277, "IA32_CR_PAT", R::any, R::any, F::constant, kPatDefault, kPatDefault,                      \
   "kvm_set_msr_common / svm_set_msr: kvm_pat_valid; kvm_vcpu_reset"},                                       \
  {0x345, 0x345, "IA32_PERF_CAPABILITIES", R::subset, R::subset, F::host_derived_vmx, 0, 0,                 \
   "kvm_set_msr_common: data & ~supported_perf_cap fails; kvm_amd never sets supported_perf_cap"},                                                  \
  {0x480, 0x491, "IA32_VMX_*", R::vmx_caps, R::listed, F::host_derived, 0, 0,                               \
   "vmx_set_vmx_msr: nested_vmx_setup_ctls_msrs values"},                                                    \
  {0x4d0, 0x4d0, "IA32_MCG_EXT_CTL", R::any, R::listed, F::zero, 0, 0, "vmx_set_msr"},                       \
  {0x6e0, 0x6e0, "IA32_TSC_DEADLINE", R::any, R::any, F::zero, 0, 0, "kvm_set_msr_common"},                 \
  {0xda0, 0xda0, "IA32_XSS", R::any, R::any, F::zero, 0, 0, "kvm_set_msr_common: data & ~supported_xss"},   \
  {0x40000000, 0x40000003, "HV_X64_GUEST_OS_ID..RESET", R::any, R::any, F::zero, 0, 0, "kvm_hv_set_msr_pw / kvm_hv_set_msr"}, \
  {0x40000010, 0x40000010, "HV_X64_VP_RUNTIME", R::any, R::any, F::counting, 0, 0, "kvm_hv_set_msr: host"},  \
  {0x40000020, 0x40000020, "HV_X64_TIME_REF_COUNT", R::any, R::any, F::counting, 0, 0,                      \
   "kvm_hv_set_msr_pw: ignored if host-initiated"},                                                          \
  {0x40000021, 0x40000021, "HV_X64_REFERENCE_TSC", R::any, R::any, F::zero, 0, 0, "kvm_hv_set_msr_pw"},     \
  {0x40000022, 0x40000022, "HV_X64_TSC_FREQUENCY", R::any, R::any, F::tsc_hz, 0, 0,                         \
   "kvm_hv_set_msr: ignored if host-initiated; virtual_tsc_khz * 1000"},                                     \
  {0x40000023, 0x40000023, "HV_X64_APIC_FREQUENCY", R::any, R::any, F::constant, 1000000000ull, 1000000000ull, \
   "kvm_hv_set_msr: ignored if host-initiated; APIC_BUS_FREQUENCY"},                                          \
  {0x40000073, 0x40000073, "HV_X64_VP_ASSIST_PAGE", R::any, R::any, F::zero, 0, 0, "kvm_hv_set_msr"},       \
  {0x40000080, 0x40000080, "HV_X64_SCONTROL", R::any, R::any, F::zero, 0, 0, "synic_set_msr: host, 0"},      \
  {0x400000b0, 0x400000b0, "HV_X64_STIMER0_CONFIG", R::any, R::any, F::zero, 0, 0, "stimer_set_config"},    \
  {0x400000f1, 0x400000ff, "HV_X64_SYNDBG_*", R::any, R::any, F::zero, 0, 0, "syndbg_set_msr: host"},       \
  {0x40000100, 0x40000108, "HV_X64_CRASH_*/REENLIGHTENMENT/TSC_EMULATION", R::any, R::any, F::zero, 0, 0,   \
   "kvm_hv_set_msr_pw"}

#define KVMPROBE_COMMON_ROWS_HIGH                                                                             \
  {0x4b564d00, 0x4b564d07, "KVM_*_NEW/ASYNC_PF/STEAL_TIME/PV_EOI/POLL_CONTROL", R::any, R::any, F::zero, 0, 0, \
   "kvm_set_msr_common (guest_pv_has: true without KVM_CAP_ENFORCE_PV_FEATURE_CPUID)"},                       \
  {0xc0000081, 0xc0000084, "STAR/LSTAR/CSTAR/SYSCALL_MASK", R::any, R::any, F::zero, 0, 0, "vmx/svm_set_msr"}, \
  {0xc0000102, 0xc0000102, "KERNEL_GS_BASE", R::any, R::any, F::zero, 0, 0, "vmx/svm_set_msr"},             \
  {0xc0000103, 0xc0000103, "TSC_AUX", R::host_msr, R::host_msr, F::zero, 0, 0,                              \
   "__kvm_set_msr: kvm_is_supported_user_return_msr(MSR_TSC_AUX)"},                                          \
  {0xc0000104, 0xc0000104, "AMD64_TSC_RATIO", R::listed, R::any, F::tsc_ratio, 0, 0,                        \
   "svm_set_msr: host_initiated; svm_vcpu_reset tsc_ratio_msr = default_tsc_scaling_ratio"},                 \
  {0xc0010000, 0xc0010007, "K7_EVNTSEL0-3/PERFCTR0-3", R::any, R::any, F::zero, 0, 0,                       \
   "kvm_set_msr_common: MSR_K7_EVNTSEL0..3, MSR_K7_PERFCTR0..3"},                                            \
  {0xc0010015, 0xc0010015, "K7_HWCR", R::any, R::any, F::zero, 0, 0, "kvm_set_msr_common"},                 \
  {0xc0010117, 0xc0010117, "VM_HSAVE_PA", R::any, R::any, F::zero, 0, 0, "kvm_set_msr_common / svm_set_msr"}, \
  {0xc001011f, 0xc001011f, "AMD64_VIRT_SPEC_CTRL", R::listed, R::any, F::zero, 0, 0, "svm_set_msr"}

constexpr MsrSetRow kRows_6_1[] = {
    KVMPROBE_COMMON_ROWS_LOW,
    KVMPROBE_COMMON_ROWS_HIGH,
};

constexpr MsrSetRow kRows_6_12[] = {
    KVMPROBE_COMMON_ROWS_LOW,
    // hyperv.c (6.12): kvm_hv_set_msr_pw() case HV_X64_MSR_TSC_INVARIANT_CONTROL; 6.1 has no case.
    {0x40000118, 0x40000118, "HV_X64_TSC_INVARIANT_CONTROL", R::any, R::any, F::zero, 0, 0, "kvm_hv_set_msr_pw"},
    KVMPROBE_COMMON_ROWS_HIGH,
};

#undef KVMPROBE_COMMON_ROWS_LOW
#undef KVMPROBE_COMMON_ROWS_HIGH

constexpr MsrSetProfile kProfiles[] = {
    {"6.1", "Debian linux-source-6.1 6.1.192", kRows_6_1},
    {"6.12", "Debian linux-source-6.12 6.12.117", kRows_6_12},
};

}  // namespace

const MsrSetProfile* msr_set_profile(const char* profile_id) {
  for (const auto& p : kProfiles)
    if (std::strcmp(p.id, profile_id) == 0) return &p;
  return nullptr;
}

const MsrSetRow* find_msr_set_row(const MsrSetProfile& p, std::uint32_t index) {
  auto it = std::upper_bound(p.rows.begin(), p.rows.end(), index,
                             [](std::uint32_t i, const MsrSetRow& r) { return i < r.lo; });
  if (it == p.rows.begin()) return nullptr;
  --it;
  return index <= it->hi ? &*it : nullptr;
}

}  // namespace kvmprobe
