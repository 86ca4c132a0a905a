// KVM's VMX capability negotiation (arch/x86/kvm/vmx/vmx.c: setup_vmcs_config() (6.1, 6.12)), as a
// pure function of one CPU's VMX capability MSRs and the kernel profile.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/model/kernel_profile.h"
#include "core/model/snapshot.h"

namespace kvmprobe {

/// MSR indices of the VMX capability MSRs.
namespace msr {
inline constexpr std::uint32_t kFeatureControl = 0x3a;
inline constexpr std::uint32_t kVmxBasic = 0x480, kVmxPinbased = 0x481, kVmxProcbased = 0x482,
    kVmxExit = 0x483, kVmxEntry = 0x484, kVmxMisc = 0x485, kVmxCr0Fixed0 = 0x486,
    kVmxCr0Fixed1 = 0x487, kVmxCr4Fixed0 = 0x488, kVmxCr4Fixed1 = 0x489, kVmxVmcsEnum = 0x48a,
    kVmxProcbased2 = 0x48b, kVmxEptVpidCap = 0x48c, kVmxTruePinbased = 0x48d,
    kVmxTrueProcbased = 0x48e, kVmxTrueExit = 0x48f, kVmxTrueEntry = 0x490, kVmxVmfunc = 0x491,
    kVmxProcbased3 = 0x492;
inline constexpr std::uint32_t kPat = 0x277, kXss = 0xda0, kArchCapabilities = 0x10a,
    kPerfCapabilities = 0x345, kVmCr = 0xc0010114, kEfer = 0xc0000080;
}  // namespace msr

/// One negotiated 32-bit control.
struct NegotiatedControl {
  std::uint64_t raw = 0;          ///< the capability MSR
  std::uint32_t value = 0;        ///< ((required | optional) & allowed-1) | allowed-0
  std::uint32_t missing = 0;      ///< required bits the CPU cannot set
};

/// The outcome of setup_vmcs_config on one CPU.
struct VmxConfig {
  bool evaluated = false;                  ///< false: MSRs missing, see `unreadable`
  std::vector<std::string> unreadable;     ///< "IA32_VMX_PROCBASED_CTLS (0x482): fault"
  NegotiatedControl pin, primary, secondary, exit, entry;
  std::uint64_t tertiary = 0;
  std::uint64_t basic = 0, misc = 0, ept_vpid_cap = 0;
  unsigned vmcs_size = 0;
  unsigned vmcs_memtype = 0;
  /// Why KVM would fail the load (-EIO), each one line; empty when negotiation succeeds.
  std::vector<std::string> failures;
  /// Lines KVM logs while negotiating (warnings, inconsistent pairs, errata).
  std::vector<std::string> log;

  // Capabilities KVM derives from the negotiated config.
  bool ept = false, vpid = false, unrestricted_guest = false, tsc_scaling = false,
       rdtscp = false, waitpkg = false, xsaves = false, mpx = false, intel_pt = false,
       pml = false, apicv = false, preemption_timer = false, posted_intr = false,
       shadow_vmcs = false, ipi_virt = false;

  bool ok() const { return evaluated && failures.empty(); }
  /// The words compared across CPUs (KVM compares the whole vmcs_config struct).
  std::vector<std::uint64_t> comparable() const;
};

/// Negotiate like the profile's KVM on this CPU. `error_on_inconsistent` is
/// kvm_intel.error_on_inconsistent_vmcs_config (6.1+, default on).
VmxConfig negotiate_vmx(const CpuRecord& cpu, const KernelProfile& profile,
                        bool error_on_inconsistent = true);

/// Names of the bits set in `mask` for a control MSR ("HLT_EXITING | CR8_LOAD_EXITING").
std::string control_bit_names(std::uint32_t msr_index, std::uint32_t mask);

/// CPUs in KVM's broken-VMX-preemption-timer list (arch/x86/kvm/vmx/vmx.c:
/// vmx_preemption_cpu_tfms[], cpu_has_broken_vmx_preemption_timer() (6.1, 6.12)).
bool has_broken_preemption_timer(std::uint32_t signature);

}  // namespace kvmprobe
