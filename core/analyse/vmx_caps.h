// `kvmprobe vmx-caps`: every CPU's VMX control capability MSRs against the controls the
// profile's KVM requires and would use (setup_vmcs_config()), like QEMU's vmxcap per CPU.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/model/kernel_profile.h"
#include "core/model/snapshot.h"

namespace kvmprobe {

/// One control capability MSR of one CPU (IA32_VMX_PINBASED_CTLS ...), decoded.
struct VmxControlCaps {
  std::uint32_t index = 0;                 ///< 0x481
  const char* name = "";                   ///< "IA32_VMX_PINBASED_CTLS"
  std::optional<std::uint64_t> raw;        ///< nullopt: not readable
  std::string must_be_1;                   ///< bit names of the allowed-0 half (low 32 bits)
  std::string may_be_1;                    ///< bit names of the allowed-1 half (high 32 bits)
  std::string kvm_required_missing;        ///< controls KVM requires that may not be 1
  std::string kvm_optional_unavailable;    ///< controls KVM would use that may not be 1
  std::optional<std::uint64_t> kvm_value;  ///< the control word KVM settles on (negotiated CPUs)
};

/// One CPU's VMX capabilities and what KVM's negotiation makes of them.
struct VmxCpuCaps {
  unsigned cpu = 0;
  std::vector<VmxControlCaps> controls;  ///< pin, primary, secondary, exit, entry
  bool negotiated = false;               ///< every MSR setup_vmcs_config() reads was readable
  unsigned vmcs_size = 0;                ///< IA32_VMX_BASIC (negotiated only)
  unsigned vmcs_memtype = 0;
  std::uint64_t ept_vpid_cap = 0;
  std::vector<std::string> kvm_failures;  ///< why KVM would fail the load on this CPU (-EIO)
};

/// Whether any capability MSR could be read.
enum class VmxCapsOutcome {
  decoded,     ///< at least one control MSR of one CPU
  no_vmx,      ///< none, and the boot CPU's CPUID says it has no VMX
  unreadable,  ///< none, for another reason (not root, no msr module, no snapshot MSRs)
};

/// The vmx-caps result.
struct VmxCaps {
  std::string profile_id;
  VmxCapsOutcome outcome = VmxCapsOutcome::unreadable;
  std::string vendor;  ///< the boot CPU's vendor string, for the no_vmx message
  std::vector<VmxCpuCaps> cpus;
};

/// Decodes every CPU's control capability MSRs against \a p's required and optional controls.
VmxCaps vmx_caps(const Snapshot& snap, const KernelProfile& p);

}  // namespace kvmprobe
