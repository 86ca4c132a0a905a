// The VMX capability MSRs KVM gives nested guests (0x480-0x491) and what a destination's KVM
// takes back on restore, as pure functions of the host's negotiated vmcs_config, the module
// parameters and the version's data (core/profiles/nested_vmx.h).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/analyse/context.h"
#include "core/profiles/nested_vmx.h"

namespace kvmprobe {

/// vmcs_config.nested of one host and kernel: KVM_GET_MSRS on /dev/kvm for 0x480-0x491, and
/// what every fresh vCPU starts from.
struct NestedVmx {
  bool evaluated = false;
  std::string missing;                  ///< why not evaluated (one line)
  const NestedVmxProfile* data = nullptr;
  std::array<std::uint64_t, 18> system{};  ///< 0x480 + i
  std::uint32_t vmcs_secondary = 0;     ///< vmcs_config's secondary word (the CPUID-following controls)
  /// The effective module parameters and host capabilities the values came from.
  bool ept = false, vpid = false, unrestricted_guest = false, ept_ad = false, flexpriority = false,
       apicv = false, sgx = false;

  std::uint64_t value(std::uint32_t index) const { return system[index - 0x480]; }
};

/// arch/x86/kvm/vmx/nested.c: nested_vmx_setup_ctls_msrs() (6.1, 6.12) on this context's host
/// (kvm_intel with nested=1 only; `missing` says why not otherwise).
NestedVmx nested_vmx(const AnalysisContext& ctx);

/// KVM_GET_MSRS of `index` on a fresh vCPU after KVM_SET_CPUID2 with `guest_features` (QEMU
/// names; nullopt: not known): the system value, with the secondary controls KVM follows the
/// guest's CPUID for (vmx.c: vmx_secondary_exec_control() (6.1, 6.12)) set or cleared.
/// nullopt with `why` when it depends on something unknown.
std::optional<std::uint64_t> nested_vcpu_value(const NestedVmx& n, std::uint32_t index,
                                               const std::optional<std::vector<std::string>>& guest_features,
                                               std::string& why);

/// What vmx_set_vmx_msr() does with a host-initiated write of `data` to `index` on `dst`.
struct NestedRestore {
  bool accepted = false;
  std::string reason;  ///< one line: the rule and, when refused, the offending bits
};
NestedRestore nested_vmx_restore(const NestedVmx& dst, std::uint32_t index, std::uint64_t data);

}  // namespace kvmprobe
