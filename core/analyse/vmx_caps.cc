#include "core/analyse/vmx_caps.h"

#include "core/analyse/cpu_facts.h"
#include "core/analyse/vmx_config.h"

namespace kvmprobe {
namespace {

/// A control MSR, what the profile wants of it, and the word negotiation settles on.
struct ControlRow {
  std::uint32_t index;
  const char* name;
  const VmxControl VmxControlProfile::*want;
  NegotiatedControl VmxConfig::*used;
};

// The order vmxcap and the SDM (Appendix A.3-A.5) list them.
constexpr ControlRow kRows[] = {
    {0x481, "IA32_VMX_PINBASED_CTLS", &VmxControlProfile::pin, &VmxConfig::pin},
    {0x482, "IA32_VMX_PROCBASED_CTLS", &VmxControlProfile::primary, &VmxConfig::primary},
    {0x48b, "IA32_VMX_PROCBASED_CTLS2", &VmxControlProfile::secondary, &VmxConfig::secondary},
    {0x483, "IA32_VMX_EXIT_CTLS", &VmxControlProfile::exit, &VmxConfig::exit},
    {0x484, "IA32_VMX_ENTRY_CTLS", &VmxControlProfile::entry, &VmxConfig::entry}};

/// The allowed-0 half (bits that must be 1) is the low word, the allowed-1 half the high word
/// (SDM A.3.1); a required control whose allowed-1 bit is clear makes KVM fail the load.
VmxControlCaps decode(const ControlRow& row, std::uint64_t raw, const VmxControl& want) {
  auto allowed0 = static_cast<std::uint32_t>(raw), allowed1 = static_cast<std::uint32_t>(raw >> 32);
  VmxControlCaps c;
  c.index = row.index;
  c.name = row.name;
  c.raw = raw;
  c.must_be_1 = control_bit_names(row.index, allowed0);
  c.may_be_1 = control_bit_names(row.index, allowed1);
  c.kvm_required_missing = control_bit_names(row.index, want.required & ~allowed1);
  c.kvm_optional_unavailable = control_bit_names(row.index, want.optional & ~allowed1);
  return c;
}

}  // namespace

VmxCaps vmx_caps(const Snapshot& snap, const KernelProfile& p) {
  VmxCaps out;
  out.profile_id = p.id;
  bool any = false;
  for (const auto& cpu : snap.cpus) {
    VmxCpuCaps c;
    c.cpu = cpu.cpu;
    for (const auto& row : kRows) {
      const MsrRead* m = cpu.find_msr(row.index);
      if (!m || !m->ok()) {
        c.controls.push_back({row.index, row.name});
        continue;
      }
      any = true;
      c.controls.push_back(decode(row, m->value, p.vmx.*row.want));
    }
    VmxConfig vc = negotiate_vmx(cpu, p);
    if (vc.evaluated) {
      c.negotiated = true;
      for (std::size_t i = 0; i < std::size(kRows); ++i)
        if (c.controls[i].raw) c.controls[i].kvm_value = (vc.*kRows[i].used).value;
      c.vmcs_size = vc.vmcs_size;
      c.vmcs_memtype = vc.vmcs_memtype;
      c.ept_vpid_cap = vc.ept_vpid_cap;
      c.kvm_failures = vc.failures;
    }
    out.cpus.push_back(std::move(c));
  }
  const CpuRecord* boot = snap.boot_cpu();
  if (any)
    out.outcome = VmxCapsOutcome::decoded;
  else if (boot && has(*boot, cpuid::kVmx) == false)
    out.outcome = VmxCapsOutcome::no_vmx;
  if (boot) out.vendor = vendor_string(*boot);
  return out;
}

}  // namespace kvmprobe
