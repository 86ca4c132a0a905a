// "Disabled by BIOS": IA32_FEATURE_CONTROL (0x3A) or AMD VM_CR (0xC0010114) on every CPU, and
// who most likely locked it (arch/x86/kernel/cpu/feat_ctl.c: init_ia32_feat_ctl() (6.1, 6.12)).
#include <fmt/format.h>

#include "core/analyse/feature_control.h"
#include "core/analyse/step_util.h"
#include "core/analyse/steps.h"

namespace kvmprobe {
namespace {

/// The vendor module is loaded and /dev/kvm answers: the firmware did not disable it.
bool module_proves_enabled(const AnalysisContext& ctx) {
  return vendor_module_state(ctx.snap, module_name(ctx.module)) == ModuleState::registered &&
         ctx.snap.kvm.openable &&
         ctx.snap.kvm.api_version == 12;
}

/// Cannot tell: the MSR \a name could not be read on \a cpus.
void unreadable(StepResult& s, const char* name, const char* name_and_index, const std::vector<unsigned>& cpus) {
  s.status = Status::unknown;
  s.refusal = Refusal::cannot_tell;
  s.summary = fmt::format("{} not readable on CPUs {}", name, cpu_list(cpus));
  s.missing.push_back(fmt::format("{} on CPUs {}", name_and_index, cpu_list(cpus)));
  s.remedy = "run as root with the msr module (modprobe msr) or the kvmprobe driver";
}

/// IA32_FEATURE_CONTROL on every CPU, as KVM (4.x: vmx_disabled_by_bios()) or the kernel's
/// boot-time programming (5.6+: arch/x86/kernel/cpu/feat_ctl.c: init_ia32_feat_ctl()) judges it.
struct FeatureControlScan {
  std::vector<unsigned> disabled, unlocked, unknown;
  unsigned first_disabled = 0;
  std::uint64_t first_value = 0;
  bool txt_only = false;  // 4.x: VMX enabled inside SMX only, and no tboot
  bool faulted = false;   // 0x3A faults: feat_ctl.c never sets X86_FEATURE_MSR_IA32_FEAT_CTL
};

FeatureControlScan scan_feature_control(const AnalysisContext& ctx, bool tboot, StepResult& s) {
  using namespace feat_ctl;
  FeatureControlScan r;
  for (const auto& cpu : ctx.snap.cpus) {
    const MsrRead* m = cpu.find_msr(0x3a);
    std::string where = fmt::format("cpu{}", cpu.cpu);
    if (!m || !m->ok()) {
      // The running kernel's verdict (5.6+): it clears the vmx flag when VMX is off or 0x3A faults.
      auto flag = cpu.has_linux_flag("vmx");
      if (ctx.running_boot.programs_feat_ctl && flag.has_value()) {
        if (!*flag) r.disabled.push_back(cpu.cpu);
        s.evidence.push_back({"Linux 'vmx' flag", where, "", *flag ? "kept by feat_ctl.c: VMX enabled"
                                                                   : "cleared by feat_ctl.c: VMX disabled"});
      } else if (m && m->status == ReadStatus::fault) {
        r.faulted = r.faulted || r.disabled.empty();
        r.disabled.push_back(cpu.cpu);  // feat_ctl.c clears VMX when 0x3A faults
        s.evidence.push_back({"IA32_FEATURE_CONTROL (0x3a)", where, "", "rdmsr faults: the kernel clears VMX"});
      } else {
        r.unknown.push_back(cpu.cpu);
      }
      continue;
    }
    std::uint64_t v = m->value;
    if (cpu.cpu == ctx.snap.cpus.front().cpu || s.evidence.size() < 8)
      s.evidence.push_back({"IA32_FEATURE_CONTROL (0x3a)", where, hex(v), describe(v)});
    if (!(v & kLocked)) {
      // 4.x: KVM locks it itself; 5.6+: feat_ctl.c enables and locks it at boot.
      r.unlocked.push_back(cpu.cpu);
      continue;
    }
    bool off = tboot ? !(v & kVmxInsideSmx) : !(v & kVmxOutsideSmx);
    if (!off) continue;
    if (!tboot && (v & kVmxInsideSmx) && ctx.profile.vmx_enable == VmxEnableModel::kvm_reads_feature_control)
      r.txt_only = true;
    if (r.disabled.empty()) {
      r.first_disabled = cpu.cpu;
      r.first_value = v;
    }
    r.disabled.push_back(cpu.cpu);
  }
  return r;
}

/// The lines the kernel logs when VMX is off, the refusal, who locked it and the remedy.
void report_vmx_disabled(const AnalysisContext& ctx, const FeatureControlScan& r, bool tboot, StepResult& s) {
  const auto& p = ctx.profile;
  unsigned cpu = r.disabled.front();
  bool boot_cpu = cpu == ctx.snap.cpus.front().cpu;
  // feat_ctl.c cleared X86_FEATURE_VMX on those CPUs, and so in boot_cpu_data (the AND over all
  // CPUs). 5.10–6.1: vmx_disabled_by_bios() reads boot_cpu_has() and fails the load, whichever CPU
  // it was (vmx/vmx.c (6.1)); 6.6+: only the loading CPU's check prints, another CPU fails the
  // CR4 reserved-bit comparison silently (x86.c: kvm_x86_check_processor_compatibility() (6.12)).
  bool silent = !boot_cpu && p.vmx_support_scope == SupportScope::loading_cpu;
  if (p.vmx_enable == VmxEnableModel::boot_feat_ctl) {
    s.kvm_log.push_back(tboot ? p.msg.feat_ctl_vmx_inside : p.msg.feat_ctl_vmx_outside);
    // 7.3 tells "FEAT_CTL feature missing" (0x3A faulted) from "FEAT_CTL set, VMX cleared".
    const std::string& bios = !r.faulted && !p.msg.vmx_not_fully_enabled.empty() ? p.msg.vmx_not_fully_enabled
                                                                                 : p.msg.vmx_disabled_bios;
    if (!silent) s.kvm_log.push_back(kvm_line(bios, cpu));
  } else {
    s.kvm_log.push_back(p.msg.vmx_disabled_bios);
    if (r.txt_only && !p.msg.vmx_txt_warning.empty()) s.kvm_log.push_back(p.msg.vmx_txt_warning);
  }
  fail(s, Refusal::disabled_by_firmware,
       fmt::format("VMX disabled by firmware on CPUs {} (IA32_FEATURE_CONTROL locked with VMX off){}",
                   cpu_list(r.disabled),
                   silent && p.vmx_enable == VmxEnableModel::boot_feat_ctl
                       ? "; the per-CPU compatibility check fails with EIO (no log line)"
                       : ""));
  if (r.first_value)
    s.evidence.push_back({"who locked it", fmt::format("cpu{}", r.first_disabled), hex(r.first_value),
                          feat_ctl::who_locked(r.first_value, ctx.running_boot, tboot)});
  s.remedy = r.txt_only ? "firmware enables VMX only inside TXT: enable 'VT-x' (not only 'VT-x with TXT') "
                          "in the firmware setup, or boot through tboot; then power-cycle"
                        : "enable 'Intel Virtualization Technology' (VT-x) in the firmware setup and "
                          "power-cycle: the MSR stays locked until reset";
}

void bios_lock_vmx(const AnalysisContext& ctx, StepResult& s) {
  const bool tboot = tboot_active(ctx.snap);
  FeatureControlScan r = scan_feature_control(ctx, tboot, s);
  if (!r.disabled.empty()) return report_vmx_disabled(ctx, r, tboot, s);
  if (!r.unknown.empty()) {
    if (module_proves_enabled(ctx)) {
      s.summary = fmt::format("{} is loaded and answers: VMX is enabled", module_name(ctx.module));
      return;
    }
    return unreadable(s, "IA32_FEATURE_CONTROL", "IA32_FEATURE_CONTROL (0x3a)", r.unknown);
  }
  if (!r.unlocked.empty()) {
    s.summary = ctx.profile.vmx_enable == VmxEnableModel::boot_feat_ctl
                    ? fmt::format("unlocked on CPUs {}: kernel {} enables VMX and locks it at boot",
                                  cpu_list(r.unlocked), ctx.profile.id)
                    : fmt::format("unlocked on CPUs {}: KVM enables VMX and locks it at first VM",
                                  cpu_list(r.unlocked));
    s.evidence.push_back({"who locks it", "", "", "the kernel (firmware left it unlocked)"});
    return;
  }
  const MsrRead* m0 = ctx.snap.cpus.front().find_msr(0x3a);
  if (m0 && m0->ok())
    s.evidence.push_back(
        {"who locked it", "cpu0", hex(m0->value), feat_ctl::who_locked(m0->value, ctx.running_boot, tboot)});
  s.summary = "locked with VMX enabled on every CPU";
}

/// VM_CR (0xC0010114) on every CPU, as the kernel reads it (arch/x86/kvm/svm/svm.c: is_disabled()
/// (6.1) on the loading CPU; arch/x86/kernel/cpu/amd.c: init_amd() (6.12) on each CPU at boot).
struct VmCrScan {
  std::vector<unsigned> disabled, locked_disabled, unknown;
};

VmCrScan scan_vm_cr(const AnalysisContext& ctx, StepResult& s) {
  using namespace vm_cr;
  const bool running_checks_at_boot = ctx.running_boot.clears_svm_on_svmdis;
  VmCrScan r;
  for (const auto& cpu : ctx.snap.cpus) {
    const MsrRead* m = cpu.find_msr(0xc0010114);
    std::string where = fmt::format("cpu{}", cpu.cpu);
    if (m && m->status == ReadStatus::fault) {
      // The kernel reads VM_CR with plain rdmsrl(): the #GP is fixed up ("unchecked MSR access
      // error") and the value reads as 0, so SVMDIS counts as clear.
      // arch/x86/kvm/svm/svm.c: is_disabled() (6.1); arch/x86/kernel/cpu/amd.c: init_amd() (6.12)
      s.evidence.push_back({"VM_CR (0xc0010114)", where, "",
                            "rdmsr faults: the kernel's rdmsrl() reads 0, SVMDIS counts as clear"});
      continue;
    }
    if (!m || !m->ok()) {
      auto flag = cpu.has_linux_flag("svm");
      if (running_checks_at_boot && flag.value_or(false)) {
        s.evidence.push_back({"Linux 'svm' flag", where, "", "kept at boot: VM_CR.SVMDIS was clear"});
        continue;
      }
      r.unknown.push_back(cpu.cpu);
      continue;
    }
    if (cpu.cpu == ctx.snap.cpus.front().cpu || s.evidence.size() < 8)
      s.evidence.push_back({"VM_CR (0xc0010114)", where, hex(m->value), describe(m->value)});
    if (m->value & kSvmDisable) {
      r.disabled.push_back(cpu.cpu);
      if (m->value & kLock) r.locked_disabled.push_back(cpu.cpu);
    }
  }
  return r;
}

/// The lines each version logs for SVMDIS set (SvmDisableCheck), the refusal and the remedy.
void report_svm_disabled(const AnalysisContext& ctx, const VmCrScan& r, StepResult& s) {
  const auto& p = ctx.profile;
  unsigned cpu = r.disabled.front();
  switch (p.svm_disable) {
    case SvmDisableCheck::kvm_loading_cpu:
      if (cpu == ctx.snap.cpus.front().cpu) s.kvm_log.push_back(p.msg.svm_disabled_bios);
      break;
    case SvmDisableCheck::kvm_every_cpu:
      s.kvm_log.push_back(kvm_line(p.msg.svm_disabled_bios, cpu));
      break;
    case SvmDisableCheck::boot_clears_svm:
      s.kvm_log.push_back(p.msg.svm_boot_disabled);
      s.kvm_log.push_back(kvm_line(p.msg.svm_not_available, cpu));
      break;
  }
  bool boot_only = p.svm_disable == SvmDisableCheck::kvm_loading_cpu;
  bool boot_disabled = cpu == ctx.snap.cpus.front().cpu;
  if (boot_only && !boot_disabled) {
    // ≤6.1 tests only the loading CPU; the others fail later when virtualization is enabled.
    s.status = Status::warn;
    s.summary = fmt::format("SVMDIS set on CPUs {} (not the loading CPU): VMs fail there", cpu_list(r.disabled));
    s.kvm_log.push_back(kvm_line(p.msg.enable_failed_cpu, cpu));
  } else {
    fail(s, Refusal::disabled_by_firmware,
         fmt::format("SVM disabled by firmware on CPUs {} (VM_CR.SVMDIS set{})", cpu_list(r.disabled),
                     r.locked_disabled.empty() ? ", not locked" : " and locked"));
  }
  s.remedy = r.locked_disabled.empty()
                 ? "VM_CR is not locked: `kvmprobe enable-vmx` can clear SVMDIS; or enable 'SVM Mode' in firmware"
                 : "enable 'SVM Mode' (AMD-V) in the firmware setup and power-cycle: VM_CR is locked until reset";
}

void bios_lock_svm(const AnalysisContext& ctx, StepResult& s) {
  VmCrScan r = scan_vm_cr(ctx, s);
  if (!r.disabled.empty()) return report_svm_disabled(ctx, r, s);
  if (!r.unknown.empty()) {
    if (module_proves_enabled(ctx)) {
      s.summary = "kvm_amd is loaded and answers: SVM is enabled";
      return;
    }
    return unreadable(s, "VM_CR", "VM_CR (0xc0010114)", r.unknown);
  }
  s.summary = "VM_CR.SVMDIS clear on every CPU";
}

}  // namespace

StepResult step_bios_lock(const AnalysisContext& ctx) {
  StepResult s = make_step("bios-lock", "Firmware enable/lock");
  bool has_feature = ctx.boot && (ctx.module == VendorModule::kvm_intel ? has_or_false(*ctx.boot, cpuid::kVmx)
                                                                       : has_or_false(*ctx.boot, cpuid::kSvm));
  if (!has_feature) {
    s.status = Status::skipped;
    s.summary = "not applicable: no VMX/SVM";
    return s;
  }
  if (ctx.module == VendorModule::kvm_intel)
    bios_lock_vmx(ctx, s);
  else
    bios_lock_svm(ctx, s);
  return s;
}

}  // namespace kvmprobe
