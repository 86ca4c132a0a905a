// The MSRs collect() reads: a short set on every CPU, and on the boot CPU every MSR that any
// modelled kernel probes at KVM init.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace kvmprobe::collect {

/// MSRs read on every online CPU, sorted: IA32_FEATURE_CONTROL 0x3A, ARCH_CAPABILITIES 0x10A,
/// PAT 0x277, PERF_CAPABILITIES 0x345, the VMX capability MSRs 0x480–0x492, IA32_XSS 0xDA0,
/// EFER 0xC0000080 (SVME set = SVM held by someone) and AMD VM_CR 0xC0010114.
std::span<const std::uint32_t> per_cpu_msr_list();

/// Every MSR a modelled kernel reads on the CPU that loads KVM, sorted and unique: the
/// msrs_to_save candidates and the feature MSRs (core/profiles/msr_lists.cc), the MSRs of VMX
/// negotiation (vmx/vmx.c: setup_vmcs_config()) and "disabled by BIOS" (feat_ctl.c), IA32_XSS
/// (x86.c: kvm_arch_hardware_setup() (6.1) / kvm_x86_vendor_init() (6.12)) and PAT
/// (x86.c: kvm_x86_vendor_init() (6.1, 6.12)), S_CET (7.3 only; not in the 6.1 or 6.12
/// KVM source), plus per_cpu_msr_list().
const std::vector<std::uint32_t>& boot_cpu_msr_probe_list();

}  // namespace kvmprobe::collect
