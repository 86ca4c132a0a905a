// kvm_intel hardware_setup: the VMX capability MSRs against the kernel's required controls,
// VMCS size/memory type, and the optional features KVM would use (arch/x86/kvm/vmx/vmx.c:
// setup_vmcs_config(), hardware_setup() (6.1) / vmx_hardware_setup() (6.12)).
#include <fmt/format.h>

#include "core/analyse/step_util.h"
#include "core/analyse/steps.h"
#include "core/model/format.h"

namespace kvmprobe {
namespace {

/// The capability MSRs setup_vmcs_config() reads on the loading CPU, and what it negotiated.
void control_evidence(const VmxConfig& c, StepResult& s) {
  s.evidence.push_back({"IA32_VMX_BASIC (0x480)", "cpu0", hex(c.basic),
                        fmt::format("revision {:#x}, VMCS {} bytes, memory type {}", c.basic & 0x7fffffff,
                                    c.vmcs_size, c.vmcs_memtype == 6 ? "WB" : std::to_string(c.vmcs_memtype))});
  auto ctl = [&](const char* name, std::uint32_t index, const NegotiatedControl& n) {
    s.evidence.push_back({fmt::format("{} ({:#x})", name, index), "cpu0", hex(n.raw),
                          n.missing ? fmt::format("missing required: {}", control_bit_names(index, n.missing))
                                    : fmt::format("KVM uses {:#010x}", n.value)});
  };
  ctl("IA32_VMX_PINBASED_CTLS", 0x481, c.pin);
  ctl("IA32_VMX_PROCBASED_CTLS", 0x482, c.primary);
  if (c.secondary.raw) ctl("IA32_VMX_PROCBASED_CTLS2", 0x48b, c.secondary);
  ctl("IA32_VMX_EXIT_CTLS", 0x483, c.exit);
  ctl("IA32_VMX_ENTRY_CTLS", 0x484, c.entry);
  if (c.ept_vpid_cap) s.evidence.push_back({"IA32_VMX_EPT_VPID_CAP (0x48c)", "cpu0", hex(c.ept_vpid_cap), ""});
}

/// The optional features hardware_setup() (6.1) / vmx_hardware_setup() (6.12) turns on or off.
void feature_evidence(const AnalysisContext& ctx, const VmxConfig& c, StepResult& s) {
  std::vector<std::string> on, off;
  auto feature = [&](const char* name, bool v) { (v ? on : off).push_back(name); };
  feature("EPT", c.ept && ctx.params.flag("kvm_intel.ept", true));
  feature("VPID", c.vpid);
  feature("unrestricted guest", c.unrestricted_guest && ctx.params.flag("kvm_intel.unrestricted_guest", true));
  feature("APICv", c.apicv);
  feature("posted interrupts", c.posted_intr);
  feature("PML", c.pml);
  feature("TSC scaling", c.tsc_scaling);
  feature("preemption timer", c.preemption_timer);
  feature("shadow VMCS", c.shadow_vmcs);
  feature("XSAVES", c.xsaves);
  feature("WAITPKG", c.waitpkg);
  feature("MPX", c.mpx);
  feature("Intel PT in VMX", c.intel_pt);
  if (ctx.profile.vmx.tertiary_optional) feature("IPI virtualization", c.ipi_virt);
  auto list = [](const std::vector<std::string>& v) { return v.empty() ? std::string("none") : join(v, ", "); };
  s.evidence.push_back({"features KVM would use", "", "", list(on)});
  s.evidence.push_back({"features unavailable", "", "", list(off)});
}

}  // namespace

StepResult step_vmx_config(const AnalysisContext& ctx) {
  StepResult s = make_step("vmx-config", "VMX capabilities (setup_vmcs_config)");
  if (skipped_without(ctx, cpuid::kVmx, "VMX", s)) return s;
  const VmxConfig& c = ctx.vmx;
  const auto& p = ctx.profile;
  if (!c.evaluated) {
    s.status = Status::unknown;
    s.refusal = Refusal::cannot_tell;
    s.summary = "VMX capability MSRs not readable";
    s.missing = c.unreadable;
    s.remedy = "run as root with the msr module (modprobe msr) or the kvmprobe driver";
    return s;
  }
  control_evidence(c, s);
  s.kvm_log = c.log;

  feature_evidence(ctx, c, s);

  if (!c.failures.empty()) {
    fail(s, Refusal::other, fmt::format("kvm_intel would fail with EIO: {}", c.failures.front()));
    if (p.vmx_support_per_cpu_message && !p.msg.vmx_setup_failed_cpu.empty() && c.log.empty())
      s.evidence.push_back({"log", "", "", "no message on the loading CPU: modprobe reports 'Input/output error'"});
    s.remedy = "the CPU (or the hypervisor under it) does not offer the VMX controls KVM requires; "
               "update firmware/microcode or, in a guest, use a CPU model with full VMX";
    return s;
  }
  bool ept = c.ept && ctx.params.flag("kvm_intel.ept", true);
  if (!ept && p.nx_required && !has_or_false(*ctx.boot, cpuid::kNx)) {  // arch/x86/kvm/vmx/vmx.c: hardware_setup() (6.1)
    s.kvm_log.push_back(p.msg.vmx_nx_missing);
    fail(s, Refusal::other, "no EPT and no NX: KVM needs NX for shadow paging");
    s.remedy = "enable NX/XD (Execute Disable) in the firmware setup";
    return s;
  }
  s.summary = fmt::format("all required controls present; {}", ept ? "EPT" : "shadow paging (no EPT)");
  return s;
}

}  // namespace kvmprobe
