// What one KVM version's KVM_SET_MSRS does with a host-initiated write, and what KVM_GET_MSRS
// returns on a fresh vCPU, for the MSRs of KVM_GET_MSR_INDEX_LIST (issue 8: kvmprobe compat).
// Data, transcribed per version and vendor from kvm_set_msr_common / svm_set_msr / vmx_set_msr
// and kvm_vcpu_reset / kvm_arch_vcpu_create / the vendor vcpu_reset of Debian's 6.1.192 and
// 6.12.117 sources; core/compat/ evaluates it.
#pragma once

#include <cstdint>
#include <span>

namespace kvmprobe {

/// How the set path treats a host-initiated write of KVM's fresh value.
enum class MsrSetRule : std::uint8_t {
  /// No handler of its own (x86.c default branch), or a handler gated on what this KVM
  /// supports (PMU counters, TSC_AUX, BNDCFGS, LBRs): the write succeeds when this KVM lists
  /// the MSR ("Userspace is allowed to write '0' to MSRs that KVM reports") and fails otherwise.
  listed,
  /// A handler takes the value host-initiated whether or not the MSR is listed.
  any,
  /// A feature MSR: the value must not set a bit this KVM does not support (its own fresh value).
  subset,
  /// vmx_set_vmx_msr(): nested VMX capability restore rules; values are host-derived.
  vmx_caps,
  /// A user-return MSR (TSC_AUX): __kvm_set_msr() fails unless kvm_is_supported_user_return_msr(),
  /// i.e. unless the host's RDMSR/WRMSR of it worked when the module loaded; listing is not asked.
  host_msr,
};

/// What KVM_GET_MSRS returns for the MSR on a fresh vCPU.
enum class MsrFreshKind : std::uint8_t {
  zero,          ///< 0
  constant,      ///< the row's value
  counting,      ///< a counter that runs from vCPU creation (IA32_TSC, Hyper-V runtime)
  host_derived,  ///< computed from the host at module load (ARCH_CAPABILITIES, VMX capabilities)
  host_derived_vmx,  ///< host-derived under kvm_intel; the row's svm_value under kvm_amd
  tsc_hz,        ///< the vCPU's TSC frequency in Hz (Hyper-V TSC_FREQUENCY)
  tsc_ratio,     ///< KVM's default TSC scaling ratio (AMD TSC_RATIO)
};

/// One MSR (or range) whose handling differs from the default: rule per vendor, fresh value.
struct MsrSetRow {
  std::uint32_t lo = 0, hi = 0;
  const char* name = "";
  MsrSetRule vmx = MsrSetRule::listed;  ///< under kvm_intel
  MsrSetRule svm = MsrSetRule::listed;  ///< under kvm_amd
  MsrFreshKind fresh = MsrFreshKind::zero;
  std::uint64_t vmx_value = 0;          ///< for constant: the value under kvm_intel
  std::uint64_t svm_value = 0;          ///< for constant: the value under kvm_amd
  const char* source = "";              ///< the kernel function deciding it
};

/// One version's set-path data: rows sorted by `lo`; MSRs in no row are `listed` and zero.
struct MsrSetProfile {
  const char* id = "";      ///< the kernel profile it belongs to ("6.1")
  const char* source = "";  ///< the source tree it was read from
  std::span<const MsrSetRow> rows;
};

/// The set-path data for a kernel profile id, or nullptr when that version is not modelled.
const MsrSetProfile* msr_set_profile(const char* profile_id);

/// The row covering `index`, or nullptr (then: listed, fresh value 0).
const MsrSetRow* find_msr_set_row(const MsrSetProfile& p, std::uint32_t index);

}  // namespace kvmprobe
