#include <algorithm>
// The MSR candidate tables of kvm_init_msr_list / kvm_init_msr_lists, one position column per
// version: msrs_to_save, emulated_msrs and msr_based_features. The 6.1 and 6.12 columns were
// checked entry by entry against Debian's linux-source-6.1 6.1.192 and linux-source-6.12 6.12.117
// (arch/x86/kvm/x86.c: msrs_to_save_all[], msrs_to_save_base[] + msrs_to_save_pmu[],
// emulated_msrs_all[], msr_based_features_all[] / the VMX range + *_all_except_vmx[]); the
// candidate order test (tests/core/analyse/msr_lists_test.cc) pins them.
//
// Columns of kSaveRows:     4.19, 5.10.7, 5.10.262, 5.15, 6.1 (rc7 = .192), 6.6/6.8, 6.12, 7.3.
// Columns of kEmulatedRows: 4.19, 5.10, 5.15, 6.1, 6.6, 6.8–7.3.
// Columns of kFeatureRows:  4.19, 5.10–6.1, 6.6–6.12, 7.3.
// Kernel-config assumptions (Debian's): CONFIG_X86_64, CONFIG_KVM_HYPERV and CONFIG_KVM_SMM on.
#include "core/profiles/msr_lists.h"

namespace kvmprobe {
namespace {

constexpr MsrRow kSaveRows[] = {
    {0x10, "IA32_TSC", MsrRule::none, {9, 9, 9, 9, 9, 9, 9, 9}},
    {0x3a, "IA32_FEAT_CTL", MsrRule::none, {12, 12, 12, 12, 12, 12, 12, 12}},
    {0x48, "IA32_SPEC_CTRL", MsrRule::none, {15, 15, 15, 15, 15, 15, 15, 15}},
    {0xc1, "ARCH_PERFMON_PERFCTR0", MsrRule::f_gp, {0, 38, 37, 38, 40, 43, 47, 55}},
    {0xc2, "ARCH_PERFMON_PERFCTR1", MsrRule::f_gp, {0, 39, 38, 39, 41, 44, 48, 56}},
    {0xc3, "ARCH_PERFMON_PERFCTR2", MsrRule::f_gp, {0, 40, 39, 40, 42, 45, 49, 57}},
    {0xc4, "ARCH_PERFMON_PERFCTR3", MsrRule::f_gp, {0, 41, 40, 41, 43, 46, 50, 58}},
    {0xc5, "ARCH_PERFMON_PERFCTR4", MsrRule::f_gp, {0, 42, 41, 42, 44, 47, 51, 59}},
    {0xc6, "ARCH_PERFMON_PERFCTR5", MsrRule::f_gp, {0, 43, 42, 43, 45, 48, 52, 60}},
    {0xc7, "ARCH_PERFMON_PERFCTR6", MsrRule::f_gp, {0, 44, 43, 44, 46, 49, 53, 61}},
    {0xc8, "ARCH_PERFMON_PERFCTR7", MsrRule::f_gp, {0, 45, 44, 45, 47, 50, 54, 62}},
    {0xc9, "ARCH_PERFMON_PERFCTR8", MsrRule::f_gp, {0, 46, 45, 46, 0, 0, 0, 0}},
    {0xca, "ARCH_PERFMON_PERFCTR9", MsrRule::f_gp, {0, 47, 46, 47, 0, 0, 0, 0}},
    {0xcb, "ARCH_PERFMON_PERFCTR10", MsrRule::f_gp, {0, 48, 47, 48, 0, 0, 0, 0}},
    {0xcc, "ARCH_PERFMON_PERFCTR11", MsrRule::f_gp, {0, 49, 48, 49, 0, 0, 0, 0}},
    {0xcd, "ARCH_PERFMON_PERFCTR12", MsrRule::f_gp, {0, 50, 49, 50, 0, 0, 0, 0}},
    {0xce, "ARCH_PERFMON_PERFCTR13", MsrRule::f_gp, {0, 51, 50, 51, 0, 0, 0, 0}},
    {0xcf, "ARCH_PERFMON_PERFCTR14", MsrRule::f_gp, {0, 52, 51, 52, 0, 0, 0, 0}},
    {0xd0, "ARCH_PERFMON_PERFCTR15", MsrRule::f_gp, {0, 53, 52, 53, 0, 0, 0, 0}},
    {0xd1, "ARCH_PERFMON_PERFCTR16", MsrRule::f_gp, {0, 54, 53, 54, 0, 0, 0, 0}},
    {0xd2, "ARCH_PERFMON_PERFCTR17", MsrRule::f_gp, {0, 55, 54, 55, 0, 0, 0, 0}},
    {0xe1, "IA32_UMWAIT_CONTROL", MsrRule::f_waitpkg, {0, 29, 29, 29, 29, 30, 30, 30}},
    {0x10a, "IA32_ARCH_CAPABILITIES", MsrRule::none, {16, 0, 0, 0, 0, 0, 0, 0}},
    {0x122, "IA32_TSX_CTRL", MsrRule::f_tsxctrl, {0, 0, 0, 0, 0, 16, 16, 16}},
    {0x174, "IA32_SYSENTER_CS", MsrRule::none, {1, 1, 1, 1, 1, 1, 1, 1}},
    {0x175, "IA32_SYSENTER_ESP", MsrRule::none, {2, 2, 2, 2, 2, 2, 2, 2}},
    {0x176, "IA32_SYSENTER_EIP", MsrRule::none, {3, 3, 3, 3, 3, 3, 3, 3}},
    {0x186, "ARCH_PERFMON_EVENTSEL0", MsrRule::f_gp, {0, 56, 55, 56, 48, 51, 55, 63}},
    {0x187, "ARCH_PERFMON_EVENTSEL1", MsrRule::f_gp, {0, 57, 56, 57, 49, 52, 56, 64}},
    {0x188, "ARCH_PERFMON_EVENTSEL2", MsrRule::f_gp, {0, 58, 57, 58, 50, 53, 57, 65}},
    {0x189, "ARCH_PERFMON_EVENTSEL3", MsrRule::f_gp, {0, 59, 58, 59, 51, 54, 58, 66}},
    {0x18a, "ARCH_PERFMON_EVENTSEL4", MsrRule::f_gp, {0, 60, 59, 60, 52, 55, 59, 67}},
    {0x18b, "ARCH_PERFMON_EVENTSEL5", MsrRule::f_gp, {0, 61, 60, 61, 53, 56, 60, 68}},
    {0x18c, "ARCH_PERFMON_EVENTSEL6", MsrRule::f_gp, {0, 62, 61, 62, 54, 57, 61, 69}},
    {0x18d, "ARCH_PERFMON_EVENTSEL7", MsrRule::f_gp, {0, 63, 62, 63, 55, 58, 62, 70}},
    {0x18e, "ARCH_PERFMON_EVENTSEL8", MsrRule::f_gp, {0, 64, 63, 64, 0, 0, 0, 0}},
    {0x18f, "ARCH_PERFMON_EVENTSEL9", MsrRule::f_gp, {0, 65, 64, 65, 0, 0, 0, 0}},
    {0x190, "ARCH_PERFMON_EVENTSEL10", MsrRule::f_gp, {0, 66, 65, 66, 0, 0, 0, 0}},
    {0x191, "ARCH_PERFMON_EVENTSEL11", MsrRule::f_gp, {0, 67, 66, 67, 0, 0, 0, 0}},
    {0x192, "ARCH_PERFMON_EVENTSEL12", MsrRule::f_gp, {0, 68, 67, 68, 0, 0, 0, 0}},
    {0x193, "ARCH_PERFMON_EVENTSEL13", MsrRule::f_gp, {0, 69, 68, 69, 0, 0, 0, 0}},
    {0x194, "ARCH_PERFMON_EVENTSEL14", MsrRule::f_gp, {0, 70, 69, 70, 0, 0, 0, 0}},
    {0x195, "ARCH_PERFMON_EVENTSEL15", MsrRule::f_gp, {0, 71, 70, 71, 0, 0, 0, 0}},
    {0x196, "ARCH_PERFMON_EVENTSEL16", MsrRule::f_gp, {0, 72, 71, 72, 0, 0, 0, 0}},
    {0x197, "ARCH_PERFMON_EVENTSEL17", MsrRule::f_gp, {0, 73, 72, 73, 0, 0, 0, 0}},
    {0x1c4, "IA32_XFD", MsrRule::f_xfd, {0, 0, 0, 0, 76, 31, 31, 31}},
    {0x1c5, "IA32_XFD_ERR", MsrRule::f_xfd, {0, 0, 0, 0, 77, 32, 32, 32}},
    {0x1d9, "IA32_DEBUGCTLMSR", MsrRule::none, {0, 0, 0, 0, 0, 0, 33, 41}},
    {0x1db, "IA32_LASTBRANCHFROMIP", MsrRule::none, {0, 0, 0, 0, 0, 0, 34, 42}},
    {0x1dc, "IA32_LASTBRANCHTOIP", MsrRule::none, {0, 0, 0, 0, 0, 0, 35, 43}},
    {0x1dd, "IA32_LASTINTFROMIP", MsrRule::none, {0, 0, 0, 0, 0, 0, 36, 44}},
    {0x1de, "IA32_LASTINTTOIP", MsrRule::none, {0, 0, 0, 0, 0, 0, 37, 45}},
    {0x277, "IA32_CR_PAT", MsrRule::none, {10, 10, 10, 10, 10, 10, 10, 10}},
    {0x309, "ARCH_PERFMON_FIXED_CTR0", MsrRule::f_fixed, {0, 30, 30, 30, 30, 33, 38, 46}},
    {0x30a, "ARCH_PERFMON_FIXED_CTR1", MsrRule::f_fixed, {0, 31, 31, 31, 31, 34, 39, 47}},
    {0x30b, "ARCH_PERFMON_FIXED_CTR2", MsrRule::f_fixed, {0, 32, 32, 32, 32, 35, 40, 48}},
    {0x30c, "ARCH_PERFMON_FIXED_CTR3", MsrRule::f_fixed, {0, 33, 0, 33, 0, 0, 0, 0}},
    {0x38d, "CORE_PERF_FIXED_CTR_CTRL", MsrRule::pmu, {0, 34, 33, 34, 33, 36, 41, 49}},
    {0x38e, "CORE_PERF_GLOBAL_STATUS", MsrRule::pmu, {0, 35, 34, 35, 34, 37, 42, 50}},
    {0x38f, "CORE_PERF_GLOBAL_CTRL", MsrRule::pmu, {0, 36, 35, 36, 35, 38, 43, 51}},
    {0x390, "CORE_PERF_GLOBAL_OVF_CTRL", MsrRule::pmu, {0, 37, 36, 37, 36, 39, 0, 0}},
    {0x3f1, "IA32_PEBS_ENABLE", MsrRule::pmu, {0, 0, 0, 0, 37, 40, 44, 52}},
    {0x3f2, "PEBS_DATA_CFG", MsrRule::pmu, {0, 0, 0, 0, 39, 42, 46, 54}},
    {0x560, "IA32_RTIT_OUTPUT_BASE", MsrRule::f_pt_out, {0, 19, 19, 19, 19, 20, 20, 20}},
    {0x561, "IA32_RTIT_OUTPUT_MASK", MsrRule::f_pt_out, {0, 20, 20, 20, 20, 21, 21, 21}},
    {0x570, "IA32_RTIT_CTL", MsrRule::f_pt, {0, 16, 16, 16, 16, 17, 17, 17}},
    {0x571, "IA32_RTIT_STATUS", MsrRule::f_pt, {0, 17, 17, 17, 17, 18, 18, 18}},
    {0x572, "IA32_RTIT_CR3_MATCH", MsrRule::f_pt_cr3, {0, 18, 18, 18, 18, 19, 19, 19}},
    {0x580, "IA32_RTIT_ADDR0_A", MsrRule::f_pt_addr, {0, 21, 21, 21, 21, 22, 22, 22}},
    {0x581, "IA32_RTIT_ADDR0_B", MsrRule::f_pt_addr, {0, 22, 22, 22, 22, 23, 23, 23}},
    {0x582, "IA32_RTIT_ADDR1_A", MsrRule::f_pt_addr, {0, 23, 23, 23, 23, 24, 24, 24}},
    {0x583, "IA32_RTIT_ADDR1_B", MsrRule::f_pt_addr, {0, 24, 24, 24, 24, 25, 25, 25}},
    {0x584, "IA32_RTIT_ADDR2_A", MsrRule::f_pt_addr, {0, 25, 25, 25, 25, 26, 26, 26}},
    {0x585, "IA32_RTIT_ADDR2_B", MsrRule::f_pt_addr, {0, 26, 26, 26, 26, 27, 27, 27}},
    {0x586, "IA32_RTIT_ADDR3_A", MsrRule::f_pt_addr, {0, 27, 27, 27, 27, 28, 28, 28}},
    {0x587, "IA32_RTIT_ADDR3_B", MsrRule::f_pt_addr, {0, 28, 28, 28, 28, 29, 29, 29}},
    {0x600, "IA32_DS_AREA", MsrRule::pmu, {0, 0, 0, 0, 38, 41, 45, 53}},
    {0x6a0, "IA32_U_CET", MsrRule::f_cet, {0, 0, 0, 0, 0, 0, 0, 34}},
    {0x6a2, "IA32_S_CET", MsrRule::f_cet, {0, 0, 0, 0, 0, 0, 0, 35}},
    {0x6a4, "IA32_PL0_SSP", MsrRule::f_shstk, {0, 0, 0, 0, 0, 0, 0, 36}},
    {0x6a5, "IA32_PL1_SSP", MsrRule::f_shstk, {0, 0, 0, 0, 0, 0, 0, 37}},
    {0x6a6, "IA32_PL2_SSP", MsrRule::f_shstk, {0, 0, 0, 0, 0, 0, 0, 38}},
    {0x6a7, "IA32_PL3_SSP", MsrRule::f_shstk, {0, 0, 0, 0, 0, 0, 0, 39}},
    {0x6a8, "IA32_INT_SSP_TAB", MsrRule::f_ssptab, {0, 0, 0, 0, 0, 0, 0, 40}},
    {0xd90, "IA32_BNDCFGS", MsrRule::f_mpx, {13, 13, 13, 13, 13, 13, 13, 13}},
    {0xda0, "IA32_XSS", MsrRule::f_xss, {0, 0, 0, 0, 0, 0, 0, 33}},
    {0xc0000081, "STAR", MsrRule::none, {4, 4, 4, 4, 4, 4, 4, 4}},
    {0xc0000082, "LSTAR", MsrRule::none, {8, 8, 8, 8, 8, 8, 8, 8}},
    {0xc0000083, "CSTAR", MsrRule::none, {5, 5, 5, 5, 5, 5, 5, 5}},
    {0xc0000084, "SYSCALL_MASK", MsrRule::none, {7, 7, 7, 7, 7, 7, 7, 7}},
    {0xc0000102, "KERNEL_GS_BASE", MsrRule::none, {6, 6, 6, 6, 6, 6, 6, 6}},
    {0xc0000103, "TSC_AUX", MsrRule::f_tscaux, {14, 14, 14, 14, 14, 14, 14, 14}},
    {0xc0000300, "AMD64_PERF_CNTR_GLOBAL_STATUS", MsrRule::f_pmuv2, {0, 0, 0, 0, 0, 80, 84, 92}},
    {0xc0000301, "AMD64_PERF_CNTR_GLOBAL_CTL", MsrRule::f_pmuv2, {0, 0, 0, 0, 0, 79, 83, 91}},
    {0xc0000302, "AMD64_PERF_CNTR_GLOBAL_STATUS_CLR", MsrRule::f_pmuv2, {0, 0, 0, 0, 0, 81, 85, 93}},
    {0xc0000303, "AMD64_PERF_CNTR_GLOBAL_STATUS_SET", MsrRule::f_pmuv2, {0, 0, 0, 0, 0, 0, 86, 94}},
    {0xc0010000, "K7_EVNTSEL0", MsrRule::pmu, {0, 0, 73, 74, 56, 59, 63, 71}},
    {0xc0010001, "K7_EVNTSEL1", MsrRule::pmu, {0, 0, 74, 75, 57, 60, 64, 72}},
    {0xc0010002, "K7_EVNTSEL2", MsrRule::pmu, {0, 0, 75, 76, 58, 61, 65, 73}},
    {0xc0010003, "K7_EVNTSEL3", MsrRule::pmu, {0, 0, 76, 77, 59, 62, 66, 74}},
    {0xc0010004, "K7_PERFCTR0", MsrRule::pmu, {0, 0, 77, 78, 60, 63, 67, 75}},
    {0xc0010005, "K7_PERFCTR1", MsrRule::pmu, {0, 0, 78, 79, 61, 64, 68, 76}},
    {0xc0010006, "K7_PERFCTR2", MsrRule::pmu, {0, 0, 79, 80, 62, 65, 69, 77}},
    {0xc0010007, "K7_PERFCTR3", MsrRule::pmu, {0, 0, 80, 81, 63, 66, 70, 78}},
    {0xc0010117, "VM_HSAVE_PA", MsrRule::none, {11, 11, 11, 11, 11, 11, 11, 11}},
    {0xc0010200, "F15H_PERF_CTL0", MsrRule::pmu, {0, 0, 81, 82, 64, 67, 71, 79}},
    {0xc0010201, "F15H_PERF_CTR0", MsrRule::pmu, {0, 0, 87, 88, 70, 73, 77, 85}},
    {0xc0010202, "F15H_PERF_CTL1", MsrRule::pmu, {0, 0, 82, 83, 65, 68, 72, 80}},
    {0xc0010203, "F15H_PERF_CTR1", MsrRule::pmu, {0, 0, 88, 89, 71, 74, 78, 86}},
    {0xc0010204, "F15H_PERF_CTL2", MsrRule::pmu, {0, 0, 83, 84, 66, 69, 73, 81}},
    {0xc0010205, "F15H_PERF_CTR2", MsrRule::pmu, {0, 0, 89, 90, 72, 75, 79, 87}},
    {0xc0010206, "F15H_PERF_CTL3", MsrRule::pmu, {0, 0, 84, 85, 67, 70, 74, 82}},
    {0xc0010207, "F15H_PERF_CTR3", MsrRule::pmu, {0, 0, 90, 91, 73, 76, 80, 88}},
    {0xc0010208, "F15H_PERF_CTL4", MsrRule::pmu, {0, 0, 85, 86, 68, 71, 75, 83}},
    {0xc0010209, "F15H_PERF_CTR4", MsrRule::pmu, {0, 0, 91, 92, 74, 77, 81, 89}},
    {0xc001020a, "F15H_PERF_CTL5", MsrRule::pmu, {0, 0, 86, 87, 69, 72, 76, 84}},
    {0xc001020b, "F15H_PERF_CTR5", MsrRule::pmu, {0, 0, 92, 93, 75, 78, 82, 90}},
};
constexpr MsrRow kEmulatedRows[] = {
    {0x11, "KVM_WALL_CLOCK", MsrRule::none, {2, 2, 2, 2, 2, 2}},
    {0x12, "KVM_SYSTEM_TIME", MsrRule::none, {1, 1, 1, 1, 1, 1}},
    {0x34, "SMI_COUNT", MsrRule::none, {36, 46, 46, 46, 47, 47}},
    {0x3b, "IA32_TSC_ADJUST", MsrRule::none, {29, 37, 37, 37, 38, 38}},
    {0x8b, "IA32_UCODE_REV", MsrRule::none, {0, 51, 51, 52, 53, 53}},
    {0x9e, "IA32_SMBASE", MsrRule::e_smbase, {35, 45, 45, 45, 46, 46}},
    {0xce, "PLATFORM_INFO", MsrRule::none, {37, 47, 47, 47, 48, 48}},
    {0x10a, "IA32_ARCH_CAPABILITIES", MsrRule::none, {0, 39, 39, 39, 40, 40}},
    {0x140, "MISC_FEATURES_ENABLES", MsrRule::none, {38, 48, 48, 48, 49, 49}},
    {0x17a, "IA32_MCG_STATUS", MsrRule::none, {32, 42, 42, 42, 43, 43}},
    {0x17b, "IA32_MCG_CTL", MsrRule::none, {33, 43, 43, 43, 44, 44}},
    {0x1a0, "IA32_MISC_ENABLE", MsrRule::none, {31, 41, 41, 41, 42, 42}},
    {0x1fc, "IA32_POWER_CTL", MsrRule::none, {0, 50, 50, 51, 52, 52}},
    {0x345, "IA32_PERF_CAPABILITIES", MsrRule::none, {0, 40, 40, 40, 41, 41}},
    {0x480, "IA32_VMX_BASIC", MsrRule::e_vmxmsr, {0, 52, 52, 53, 54, 54}},
    {0x485, "IA32_VMX_MISC", MsrRule::e_vmxmsr, {0, 57, 57, 58, 59, 59}},
    {0x486, "IA32_VMX_CR0_FIXED0", MsrRule::e_vmxmsr, {0, 58, 58, 59, 60, 60}},
    {0x488, "IA32_VMX_CR4_FIXED0", MsrRule::e_vmxmsr, {0, 59, 59, 60, 61, 61}},
    {0x48a, "IA32_VMX_VMCS_ENUM", MsrRule::e_vmxmsr, {0, 60, 60, 61, 62, 62}},
    {0x48b, "IA32_VMX_PROCBASED_CTLS2", MsrRule::e_vmxmsr, {0, 61, 61, 62, 63, 63}},
    {0x48c, "IA32_VMX_EPT_VPID_CAP", MsrRule::e_vmxmsr, {0, 62, 62, 63, 64, 64}},
    {0x48d, "IA32_VMX_TRUE_PINBASED_CTLS", MsrRule::e_vmxmsr, {0, 53, 53, 54, 55, 55}},
    {0x48e, "IA32_VMX_TRUE_PROCBASED_CTLS", MsrRule::e_vmxmsr, {0, 54, 54, 55, 56, 56}},
    {0x48f, "IA32_VMX_TRUE_EXIT_CTLS", MsrRule::e_vmxmsr, {0, 55, 55, 56, 57, 57}},
    {0x490, "IA32_VMX_TRUE_ENTRY_CTLS", MsrRule::e_vmxmsr, {0, 56, 56, 57, 58, 58}},
    {0x491, "IA32_VMX_VMFUNC", MsrRule::e_vmxmsr, {0, 63, 63, 64, 65, 65}},
    {0x4d0, "IA32_MCG_EXT_CTL", MsrRule::e_mcgext, {34, 44, 44, 44, 45, 45}},
    {0x6e0, "IA32_TSC_DEADLINE", MsrRule::none, {30, 38, 38, 38, 39, 39}},
    {0x40000000, "HV_X64_GUEST_OS_ID", MsrRule::none, {5, 5, 5, 5, 5, 5}},
    {0x40000001, "HV_X64_HYPERCALL", MsrRule::none, {6, 6, 6, 6, 6, 6}},
    {0x40000002, "HV_X64_VP_INDEX", MsrRule::none, {18, 18, 18, 18, 18, 18}},
    {0x40000003, "HV_X64_RESET", MsrRule::none, {17, 17, 17, 17, 17, 17}},
    {0x40000010, "HV_X64_VP_RUNTIME", MsrRule::none, {19, 19, 19, 19, 19, 19}},
    {0x40000020, "HV_X64_TIME_REF_COUNT", MsrRule::none, {7, 7, 7, 7, 7, 7}},
    {0x40000021, "HV_X64_REFERENCE_TSC", MsrRule::none, {8, 8, 8, 8, 8, 8}},
    {0x40000022, "HV_X64_TSC_FREQUENCY", MsrRule::none, {9, 9, 9, 9, 9, 9}},
    {0x40000023, "HV_X64_APIC_FREQUENCY", MsrRule::none, {10, 10, 10, 10, 10, 10}},
    {0x40000073, "HV_X64_VP_ASSIST_PAGE", MsrRule::none, {22, 22, 22, 22, 22, 22}},
    {0x40000080, "HV_X64_SCONTROL", MsrRule::none, {20, 20, 20, 20, 20, 20}},
    {0x400000b0, "HV_X64_STIMER0_CONFIG", MsrRule::none, {21, 21, 21, 21, 21, 21}},
    {0x400000f1, "HV_X64_SYNDBG_CONTROL", MsrRule::none, {0, 27, 27, 27, 28, 28}},
    {0x400000f2, "HV_X64_SYNDBG_STATUS", MsrRule::none, {0, 28, 28, 28, 29, 29}},
    {0x400000f3, "HV_X64_SYNDBG_SEND_BUFFER", MsrRule::none, {0, 29, 29, 29, 30, 30}},
    {0x400000f4, "HV_X64_SYNDBG_RECV_BUFFER", MsrRule::none, {0, 30, 30, 30, 31, 31}},
    {0x400000f5, "HV_X64_SYNDBG_PENDING_BUFFER", MsrRule::none, {0, 31, 31, 31, 32, 32}},
    {0x400000ff, "HV_X64_SYNDBG_OPTIONS", MsrRule::none, {0, 26, 26, 26, 27, 27}},
    {0x40000100, "HV_X64_CRASH_P0", MsrRule::none, {11, 11, 11, 11, 11, 11}},
    {0x40000101, "HV_X64_CRASH_P1", MsrRule::none, {12, 12, 12, 12, 12, 12}},
    {0x40000102, "HV_X64_CRASH_P2", MsrRule::none, {13, 13, 13, 13, 13, 13}},
    {0x40000103, "HV_X64_CRASH_P3", MsrRule::none, {14, 14, 14, 14, 14, 14}},
    {0x40000104, "HV_X64_CRASH_P4", MsrRule::none, {15, 15, 15, 15, 15, 15}},
    {0x40000105, "HV_X64_CRASH_CTL", MsrRule::none, {16, 16, 16, 16, 16, 16}},
    {0x40000106, "HV_X64_REENLIGHTENMENT_CONTROL", MsrRule::none, {23, 23, 23, 23, 23, 23}},
    {0x40000107, "HV_X64_TSC_EMULATION_CONTROL", MsrRule::none, {24, 24, 24, 24, 24, 24}},
    {0x40000108, "HV_X64_TSC_EMULATION_STATUS", MsrRule::none, {25, 25, 25, 25, 25, 25}},
    {0x40000118, "HV_X64_TSC_INVARIANT_CONTROL", MsrRule::none, {0, 0, 0, 0, 26, 26}},
    {0x4b564d00, "KVM_WALL_CLOCK_NEW", MsrRule::none, {4, 4, 4, 4, 4, 4}},
    {0x4b564d01, "KVM_SYSTEM_TIME_NEW", MsrRule::none, {3, 3, 3, 3, 3, 3}},
    {0x4b564d02, "KVM_ASYNC_PF_EN", MsrRule::none, {26, 32, 32, 32, 33, 33}},
    {0x4b564d03, "KVM_STEAL_TIME", MsrRule::none, {27, 33, 33, 33, 34, 34}},
    {0x4b564d04, "KVM_PV_EOI_EN", MsrRule::none, {28, 34, 34, 34, 35, 35}},
    {0x4b564d05, "KVM_POLL_CONTROL", MsrRule::none, {0, 65, 65, 66, 67, 67}},
    {0x4b564d06, "KVM_ASYNC_PF_INT", MsrRule::none, {0, 35, 35, 35, 36, 36}},
    {0x4b564d07, "KVM_ASYNC_PF_ACK", MsrRule::none, {0, 36, 36, 36, 37, 37}},
    {0xc0000104, "AMD64_TSC_RATIO", MsrRule::e_amdonly, {0, 0, 0, 50, 51, 51}},
    {0xc0010015, "K7_HWCR", MsrRule::none, {0, 64, 64, 65, 66, 66}},
    {0xc001011f, "AMD64_VIRT_SPEC_CTRL", MsrRule::e_amdonly, {39, 49, 49, 49, 50, 50}},
};
constexpr MsrRow kFeatureRows[] = {
    {0x8b, "IA32_UCODE_REV", MsrRule::x_always, {20, 20, 20, 20}},
    {0xce, "PLATFORM_INFO", MsrRule::x_always, {0, 0, 0, 23}},
    {0x10a, "IA32_ARCH_CAPABILITIES", MsrRule::x_always, {21, 21, 21, 21}},
    {0x345, "IA32_PERF_CAPABILITIES", MsrRule::x_always, {0, 22, 22, 22}},
    {0x480, "IA32_VMX_BASIC", MsrRule::x_vmx, {1, 1, 1, 1}},
    {0x481, "IA32_VMX_PINBASED_CTLS", MsrRule::x_vmx, {3, 3, 2, 2}},
    {0x482, "IA32_VMX_PROCBASED_CTLS", MsrRule::x_vmx, {5, 5, 3, 3}},
    {0x483, "IA32_VMX_EXIT_CTLS", MsrRule::x_vmx, {7, 7, 4, 4}},
    {0x484, "IA32_VMX_ENTRY_CTLS", MsrRule::x_vmx, {9, 9, 5, 5}},
    {0x485, "IA32_VMX_MISC", MsrRule::x_vmx, {10, 10, 6, 6}},
    {0x486, "IA32_VMX_CR0_FIXED0", MsrRule::x_vmx, {11, 11, 7, 7}},
    {0x487, "IA32_VMX_CR0_FIXED1", MsrRule::x_vmx, {12, 12, 8, 8}},
    {0x488, "IA32_VMX_CR4_FIXED0", MsrRule::x_vmx, {13, 13, 9, 9}},
    {0x489, "IA32_VMX_CR4_FIXED1", MsrRule::x_vmx, {14, 14, 10, 10}},
    {0x48a, "IA32_VMX_VMCS_ENUM", MsrRule::x_vmx, {15, 15, 11, 11}},
    {0x48b, "IA32_VMX_PROCBASED_CTLS2", MsrRule::x_vmx, {16, 16, 12, 12}},
    {0x48c, "IA32_VMX_EPT_VPID_CAP", MsrRule::x_vmx, {17, 17, 13, 13}},
    {0x48d, "IA32_VMX_TRUE_PINBASED_CTLS", MsrRule::x_vmx, {2, 2, 14, 14}},
    {0x48e, "IA32_VMX_TRUE_PROCBASED_CTLS", MsrRule::x_vmx, {4, 4, 15, 15}},
    {0x48f, "IA32_VMX_TRUE_EXIT_CTLS", MsrRule::x_vmx, {6, 6, 16, 16}},
    {0x490, "IA32_VMX_TRUE_ENTRY_CTLS", MsrRule::x_vmx, {8, 8, 17, 17}},
    {0x491, "IA32_VMX_VMFUNC", MsrRule::x_vmx, {18, 18, 18, 18}},
    {0xc0011029, "AMD64_DE_CFG", MsrRule::x_amd, {19, 19, 19, 19}},
};

// MSRs that KVM's init reads but that are no list candidate, for msr_name().
constexpr MsrRow kOtherRows[] = {
    {0x492, "IA32_VMX_PROCBASED_CTLS3", MsrRule::none, {}},
    {0x6a2, "IA32_S_CET", MsrRule::none, {}},
    {0xc0000080, "EFER", MsrRule::none, {}},
    {0xc0010114, "VM_CR", MsrRule::none, {}},
};

// Column numbers of the tables above.
enum SaveCol : unsigned { s4_19, s5_10_7, s5_10_262, s5_15, s6_1, s6_6, s6_12, s7_3 };
enum EmuCol : unsigned { e4_19, e5_10, e5_15, e6_1, e6_6, e6_8 };
enum FeatCol : unsigned { x4_19, x5_10, x6_6, x7_3 };

constexpr const char* kSource =
    "arch/x86/kvm/x86.c msrs_to_save/emulated_msrs_all/msr_based_features arrays and "
    "arch/x86/kvm/pmu.h kvm_init_pmu_capability() (6.1 and 6.12 checked against Debian "
    "linux-source 6.1.192 / 6.12.117)";

// 5.10/5.15: no kvm.enable_pmu; F-GP limit min(32, perf GP count).
// arch/x86/events/core.c (5.10.262): init_hw_perf_events() returns after a failed
// check_hw_exists() without clearing x86_pmu, and perf_get_x86_pmu_capability() copies
// x86_pmu.num_counters as it is; kvm_init_msr_list() filters PERFCTR/EVENTSEL with that count.
// Measured: bullseye's 5.10.262 under QEMU/TCG -cpu EPYC ("PMU not available due to
// virtualization") keeps 0xc1-0xc4 and 0x186-0x189 (tests/data/snapshots/qemu-5.10-epyc-kvm.json).
// 6.1 clears x86_pmu there (init_hw_perf_events(): goto out_bad_pmu, memset(&x86_pmu, 0)), so the
// same guest on 6.1 keeps none. 5.15.0 predates that change too.
constexpr PmuProfile kPmu5x{.gp_filter_limit = 32, .failed_hw_check_keeps_counts = true};
// 6.1: enable_pmu forced off for Intel version 0 or GP 0; version ≤ 2, fixed ≤ 3
// (arch/x86/kvm/pmu.h: kvm_init_pmu_capability() (6.1)); F-GP limit
// min(KVM_INTEL_PMC_MAX_GENERIC = 8, GP) (arch/x86/kvm/x86.c: kvm_init_msr_list() (6.1)); fixed
// and other PMU rows host RDMSR only. 6.1.192 adds the hybrid rule (X86_FEATURE_HYBRID_CPU in
// kvm_init_pmu_capability() of linux-source-6.1 6.1.192; absent in 6.1-rc7).
constexpr PmuProfile kPmu6_1_0{.enable_pmu_param = true,
                               .intel_version0_disables = true,
                               .gp0_disables = true,
                               .max_fixed = 3,
                               .gp_filter_limit = 8};
constexpr PmuProfile kPmu6_1{.enable_pmu_param = true,
                             .hybrid_disables = true,
                             .intel_version0_disables = true,
                             .gp0_disables = true,
                             .max_fixed = 3,
                             .gp_filter_limit = 8};
// 6.6–7.3 (arch/x86/kvm/pmu.h: kvm_init_pmu_capability(), svm/svm.c: svm_set_cpu_caps() (6.12)).
constexpr PmuProfile kPmu6_6{.enable_pmu_param = true,
                             .hybrid_disables = true,
                             .intel_version0_disables = true,
                             .gp0_disables = true,
                             .min_gp_disables = true,
                             .max_gp_intel = 8,
                             .max_gp_amd = 6,
                             .max_fixed = 3,
                             .amd_core_reduce = true,
                             .fixed_filtered = true,
                             .pmu_array_skippable = true};
// 6.12 (arch/x86/events/intel/core.c: intel_pmu_init() (6.12)): as 6.6, and perf takes the
// fixed counters as the CPUID.0AH:ECX bitmap (fixed_cntr_mask64, counted with hweight64;
// 6.11's "perf/x86: Support counter mask"), where 6.1 counted fls(ECX).
constexpr PmuProfile kPmu6_12 = [] {
  PmuProfile p = kPmu6_6;
  p.perf_fixed = PerfFixedCount::popcount;
  return p;
}();

}  // namespace

// 4.19.1: 16 save candidates (no PMU, no PT), ARCH_CAPABILITIES host-probed; SVM keeps
// MCG_EXT_CTL; F-MPX and F-TSCAUX ask the vendor module.
constexpr MsrListProfile kMsrLists_4_19{
    .source = kSource, .save_rows = kSaveRows, .emulated_rows = kEmulatedRows,
    .feature_rows = kFeatureRows, .save_col = s4_19, .emulated_col = e4_19, .feature_col = x4_19,
    .mpx = MpxRule::host_xcr0_any_and_vendor, .tsc_aux = TscAuxRule::rdtscp,
    .svm_emulates_mcg_ext_ctl = true};

// 5.10.7: PT and Intel PMU rows, no AMD PMU rows; kvm_intel.pt_mode is a normal parameter.
constexpr MsrListProfile kMsrLists_5_10_7{
    .source = kSource, .save_rows = kSaveRows, .emulated_rows = kEmulatedRows,
    .feature_rows = kFeatureRows, .save_col = s5_10_7, .emulated_col = e5_10, .feature_col = x5_10,
    .mpx = MpxRule::supported_xcr0_both, .tsc_aux = TscAuxRule::rdtscp, .pt_mode_param = true,
    .pmu = kPmu5x};

// 5.10.262 (Debian 11): AMD K7/F15H rows backported, FIXED_CTR3 gone; pt_mode only with
// CONFIG_BROKEN.
constexpr MsrListProfile kMsrLists_5_10{
    .source = kSource, .save_rows = kSaveRows, .emulated_rows = kEmulatedRows,
    .feature_rows = kFeatureRows, .save_col = s5_10_262, .emulated_col = e5_10,
    .feature_col = x5_10, .mpx = MpxRule::supported_xcr0_both, .tsc_aux = TscAuxRule::rdtscp,
    .pmu = kPmu5x};

// 5.15.0: TSC_AUX also for RDPID.
constexpr MsrListProfile kMsrLists_5_15{
    .source = kSource, .save_rows = kSaveRows, .emulated_rows = kEmulatedRows,
    .feature_rows = kFeatureRows, .save_col = s5_15, .emulated_col = e5_15, .feature_col = x5_10,
    .mpx = MpxRule::supported_xcr0_both, .tsc_aux = TscAuxRule::rdtscp_or_rdpid,
    .pt_mode_param = true, .pmu = kPmu5x};

// 6.1-rc7: lists identical to 6.1.192; no hybrid rule. pt_mode as a normal parameter and
// PT needing enable_pmu are taken from 6.1.192's neighbours (UNCONFIRMED for rc7).
constexpr MsrListProfile kMsrLists_6_1_0{
    .source = kSource, .save_rows = kSaveRows, .emulated_rows = kEmulatedRows,
    .feature_rows = kFeatureRows, .save_col = s6_1, .emulated_col = e6_1, .feature_col = x5_10,
    .mpx = MpxRule::supported_xcr0_both, .tsc_aux = TscAuxRule::rdtscp_or_rdpid,
    .pt_mode_param = true, .pt_needs_enable_pmu = true, .pmu = kPmu6_1_0};

// 6.1.192 (Debian 12): vmx.c hardware_setup "if (!enable_ept || !enable_pmu ||
// !cpu_has_vmx_intel_pt()) pt_mode = PT_MODE_SYSTEM"; pt_mode only with CONFIG_BROKEN.
constexpr MsrListProfile kMsrLists_6_1{
    .source = kSource, .save_rows = kSaveRows, .emulated_rows = kEmulatedRows,
    .feature_rows = kFeatureRows, .save_col = s6_1, .emulated_col = e6_1, .feature_col = x5_10,
    .mpx = MpxRule::supported_xcr0_both, .tsc_aux = TscAuxRule::rdtscp_or_rdpid,
    .pt_needs_enable_pmu = true, .pmu = kPmu6_1};

// 6.6.57: base + PMU arrays (PMU from position 33), TSX_CTRL, PerfMonV2 rows.
constexpr MsrListProfile kMsrLists_6_6{
    .source = kSource, .save_rows = kSaveRows, .emulated_rows = kEmulatedRows,
    .feature_rows = kFeatureRows, .save_col = s6_6, .emulated_col = e6_6, .feature_col = x6_6,
    .pmu_array_from = 33, .mpx = MpxRule::supported_xcr0_both,
    .tsc_aux = TscAuxRule::rdtscp_or_rdpid, .pt_mode_param = true, .pt_needs_enable_pmu = true,
    .pmu = kPmu6_6};

// 6.8.0: save list as 6.6; emulated list as 6.12 (Hyper-V rows under CONFIG_KVM_HYPERV).
constexpr MsrListProfile kMsrLists_6_8{
    .source = kSource, .save_rows = kSaveRows, .emulated_rows = kEmulatedRows,
    .feature_rows = kFeatureRows, .save_col = s6_6, .emulated_col = e6_8, .feature_col = x6_6,
    .pmu_array_from = 33, .mpx = MpxRule::supported_xcr0_both,
    .tsc_aux = TscAuxRule::rdtscp_or_rdpid, .pt_mode_param = true, .pt_needs_enable_pmu = true,
    .pmu = kPmu6_6};

// 6.12.117: DEBUGCTL and LBR rows, no GLOBAL_OVF_CTRL, PMU array from 38; pt_mode only with
// CONFIG_BROKEN.
constexpr MsrListProfile kMsrLists_6_12{
    .source = kSource, .save_rows = kSaveRows, .emulated_rows = kEmulatedRows,
    .feature_rows = kFeatureRows, .save_col = s6_12, .emulated_col = e6_8, .feature_col = x6_6,
    .pmu_array_from = 38, .mpx = MpxRule::supported_xcr0_both,
    .tsc_aux = TscAuxRule::rdtscp_or_rdpid, .pt_needs_enable_pmu = true, .pmu = kPmu6_12};

// 7.3.4: XSS and CET rows, PMU array from 46, PLATFORM_INFO a feature MSR.
constexpr MsrListProfile kMsrLists_7_3{
    .source = kSource, .save_rows = kSaveRows, .emulated_rows = kEmulatedRows,
    .feature_rows = kFeatureRows, .save_col = s7_3, .emulated_col = e6_8, .feature_col = x7_3,
    .pmu_array_from = 46, .mpx = MpxRule::supported_xcr0_both,
    .tsc_aux = TscAuxRule::rdtscp_or_rdpid, .pt_needs_enable_pmu = true, .cet_caps = true,
    .pmu = kPmu6_12};

std::span<const MsrRow> msr_table(MsrList list) {
  switch (list) {
    case MsrList::save: return kSaveRows;
    case MsrList::emulated: return kEmulatedRows;
    case MsrList::feature: return kFeatureRows;
  }
  return {};
}

std::span<const MsrRow> msr_other_names() { return kOtherRows; }

std::vector<std::uint32_t> msr_list_host_probes() {
  std::vector<std::uint32_t> out;
  for (const MsrRow& r : msr_table(MsrList::save)) out.push_back(r.index);
  // Read by the filters: ARCH_CAPABILITIES (F-TSXCTRL), XSS (F-XSS), UCODE_REV (feature value).
  for (std::uint32_t extra : {0x8bu, 0x10au, 0xda0u}) out.push_back(extra);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace kvmprobe
