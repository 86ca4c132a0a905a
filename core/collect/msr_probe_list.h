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
/// msrs_to_save candidates (kvm-init.md §6.2), the feature MSRs (§6.5), the MSRs of VMX
/// negotiation and "disabled by BIOS" (§2.4, §3), IA32_XSS (§4.3), PAT and S_CET (§7.1), plus
/// per_cpu_msr_list().
const std::vector<std::uint32_t>& boot_cpu_msr_probe_list();

}  // namespace kvmprobe::collect
