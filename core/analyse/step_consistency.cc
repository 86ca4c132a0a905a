// Per-CPU compatibility checks on every online CPU (arch/x86/kvm/x86.c:
// kvm_arch_check_processor_compat() (6.1) / kvm_x86_check_processor_compatibility() (6.12),
// vmx/vmx.c: vmx_check_processor_compat(), svm/svm.c: svm_check_processor_compat()): the CPUID
// bits that shape the CR4 reserved-bit mask, VMX support and the negotiated VMCS config, SVM
// support (6.12; svm_check_processor_compat() checks nothing in 6.1).
#include <fmt/format.h>

#include "core/analyse/step_util.h"
#include "core/analyse/steps.h"

namespace kvmprobe {
namespace {

// CPUID bits from which KVM derives the CR4 reserved-bit mask (__cr4_reserved_bits).
constexpr CpuidBit kCr4Bits[] = {
    {0x1, 0, Reg::edx, 1, "VME"},    {0x1, 0, Reg::edx, 2, "DE"},     {0x1, 0, Reg::edx, 3, "PSE"},
    {0x1, 0, Reg::edx, 4, "TSC"},    {0x1, 0, Reg::edx, 6, "PAE"},    {0x1, 0, Reg::edx, 7, "MCE"},
    {0x1, 0, Reg::edx, 13, "PGE"},   {0x1, 0, Reg::edx, 24, "FXSR"},  {0x1, 0, Reg::edx, 25, "XMM"},
    {0x1, 0, Reg::ecx, 5, "VMX"},    {0x1, 0, Reg::ecx, 6, "SMX"},    {0x1, 0, Reg::ecx, 17, "PCID"},
    {0x1, 0, Reg::ecx, 26, "XSAVE"}, {0x7, 0, Reg::ebx, 0, "FSGSBASE"}, {0x7, 0, Reg::ebx, 7, "SMEP"},
    {0x7, 0, Reg::ebx, 20, "SMAP"},  {0x7, 0, Reg::ecx, 2, "UMIP"},   {0x7, 0, Reg::ecx, 3, "PKU"},
    {0x7, 0, Reg::ecx, 16, "LA57"},
};

}  // namespace

StepResult step_consistency(const AnalysisContext& ctx) {
  StepResult s = make_step("consistency", "Per-CPU consistency");
  const auto& snap = ctx.snap;
  const auto& p = ctx.profile;
  if (snap.cpus.size() < 2 || !ctx.boot) {
    s.summary = snap.cpus.empty() ? "no CPU recorded" : "one CPU: nothing to compare";
    if (snap.cpus.empty()) s.status = Status::unknown;
    return s;
  }
  // CR4 reserved bits (5.10+ common check; silent EIO).
  for (const auto& cpu : snap.cpus) {
    for (const auto& b : kCr4Bits) {
      auto mine = has(cpu, b), boot = has(*ctx.boot, b);
      if (mine && boot && *mine != *boot) {
        fail(s, Refusal::other, fmt::format("CPU {} differs from CPU {} in CPUID {} (CR4 reserved bits): "
                                            "KVM fails with EIO", cpu.cpu, ctx.boot->cpu, b.name));
        return s;
      }
    }
  }
  if (ctx.module == VendorModule::kvm_intel && ctx.vmx.evaluated) {
    std::vector<unsigned> unreadable;
    for (const auto& cpu : snap.cpus) {
      if (&cpu == ctx.boot) continue;
      VmxConfig c = negotiate_vmx(cpu, p, ctx.params.flag("kvm_intel.error_on_inconsistent_vmcs_config", true));
      if (!c.evaluated) {
        unreadable.push_back(cpu.cpu);
        continue;
      }
      if (!c.failures.empty()) {
        if (!p.msg.vmx_setup_failed_cpu.empty()) s.kvm_log.push_back(kvm_line(p.msg.vmx_setup_failed_cpu, cpu.cpu));
        fail(s, Refusal::other, fmt::format("CPU {}: {}", cpu.cpu, c.failures.front()));
        return s;
      }
      if (c.comparable() != ctx.vmx.comparable()) {
        s.kvm_log.push_back(kvm_line(p.msg.vmx_inconsistent_cpu, cpu.cpu));
        fail(s, Refusal::other, fmt::format("CPU {} negotiates a different VMCS config than CPU {}",
                                            cpu.cpu, ctx.boot->cpu));
        s.remedy = "update the microcode and firmware so every CPU reports the same VMX capabilities";
        return s;
      }
    }
    if (!unreadable.empty()) {
      s.status = Status::unknown;
      s.refusal = Refusal::cannot_tell;
      s.summary = fmt::format("VMX capability MSRs not readable on CPUs {}", cpu_list(unreadable));
      s.missing.push_back(fmt::format("VMX capability MSRs on CPUs {}", cpu_list(unreadable)));
      return s;
    }
    s.summary = fmt::format("all {} CPUs negotiate the same VMCS config", snap.cpus.size());
    return s;
  }
  if (ctx.module == VendorModule::kvm_intel) {
    s.status = Status::unknown;
    s.summary = "VMX capability MSRs not readable: per-CPU VMCS configs not compared";
    return s;
  }
  s.summary = fmt::format("all {} CPUs agree on the features KVM compares", snap.cpus.size());
  return s;
}

}  // namespace kvmprobe
