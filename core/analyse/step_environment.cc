// Environment: another vendor module already registered, other hypervisors holding VMX/SVM, running
// as a guest, /dev/kvm for this caller (arch/x86/kvm/x86.c: kvm_x86_vendor_init() "already loaded";
// vmx/vmx.c: kvm_cpu_vmxon(); svm/svm.c: svm_hardware_enable() (6.1) /
// svm_enable_virtualization_cpu() (6.12): -EBUSY when EFER.SVME is set).
#include <fmt/format.h>

#include <algorithm>
#include <tuple>

#include "core/analyse/step_util.h"
#include "core/analyse/steps.h"
#include "core/model/format.h"

namespace kvmprobe {
namespace {

// Out-of-tree modules of other hypervisors that execute VMXON / set EFER.SVME themselves.
constexpr const char* kOtherHypervisors[] = {"vboxdrv", "vmmon", "prl_hypervisor", "hax", "aehd"};

/// "0x1, 0xb, 0x40000000" for a list of leaves (subleaf shown when not 0), each once, in order.
std::string leaf_list(std::vector<CpuidLeaf> leaves) {
  auto key = [](const CpuidLeaf& l) { return std::tie(l.leaf, l.subleaf); };
  std::sort(leaves.begin(), leaves.end(), [&](const CpuidLeaf& a, const CpuidLeaf& b) { return key(a) < key(b); });
  leaves.erase(std::unique(leaves.begin(), leaves.end(), [&](const CpuidLeaf& a, const CpuidLeaf& b) { return key(a) == key(b); }),
               leaves.end());
  std::vector<std::string> names;
  names.reserve(leaves.size());
  for (const CpuidLeaf& l : leaves)
    names.push_back(l.subleaf ? fmt::format("{:#x}.{}", l.leaf, l.subleaf) : fmt::format("{:#x}", l.leaf));
  return join(names, ", ");
}

/// Evidence on whose view of CPUID was recorded, and where the two views disagreed.
void cpuid_view_evidence(const Snapshot& snap, StepResult& s, std::vector<std::string>& notes) {
  std::vector<unsigned> kernel, insn, differ;
  std::vector<CpuidLeaf> leaves;
  for (const CpuRecord& c : snap.cpus) {
    if (c.cpuid_view == CpuidView::kernel) kernel.push_back(c.cpu);
    if (c.cpuid_view == CpuidView::instruction) insn.push_back(c.cpu);
    if (!c.cpuid_instruction_differs.empty()) {
      differ.push_back(c.cpu);
      leaves.insert(leaves.end(), c.cpuid_instruction_differs.begin(), c.cpuid_instruction_differs.end());
    }
  }
  if (!kernel.empty())
    s.evidence.push_back({"CPUID view", fmt::format("CPUs {}", cpu_list(kernel)), "/dev/cpu/N/cpuid",
                          "the kernel's, what KVM sees"});
  if (!insn.empty()) {
    s.evidence.push_back({"CPUID view", fmt::format("CPUs {}", cpu_list(insn)), "cpuid instruction",
                          "user mode: under some hypervisors it differs from the kernel's view, which KVM uses"});
    notes.push_back("CPUID read in user mode (no /dev/cpu/N/cpuid): it may differ from the kernel's view");
  }
  if (!differ.empty()) {
    std::string list = leaf_list(std::move(leaves));
    s.evidence.push_back({"CPUID instruction vs kernel", fmt::format("CPUs {}", cpu_list(differ)), list,
                          "differ; the kernel's values were used"});
    notes.push_back(fmt::format("user-mode CPUID differs from the kernel's on leaves {} (the kernel's were used)", list));
  }
}

/// Another vendor module already registered kvm_x86_ops (arch/x86/kvm/x86.c: kvm_x86_vendor_init()
/// (6.1, 6.12): "already loaded vendor module", -EEXIST); a built-in one that did not bind blocks
/// nothing.
void other_vendor_module(const AnalysisContext& ctx, StepResult& s, std::vector<std::string>& notes) {
  const Snapshot& snap = ctx.snap;
  const auto& p = ctx.profile;
  std::string want = module_name(ctx.module);
  for (const char* other : {"kvm_intel", "kvm_amd", "kvm_pvm"}) {
    if (want == other) continue;
    ModuleState state = vendor_module_state(snap, other);
    if (state == ModuleState::unbound) {
      // A built-in module that declined to bind left kvm_x86_ops unset: it blocks nothing.
      std::string line = module_log_line(snap, other);
      s.evidence.push_back({"built-in module", other, line, "built in but did not bind: blocks nothing"});
      notes.push_back(fmt::format("{} is built in but did not bind{}", other,
                                  line.empty() ? std::string(" (no /sys/class/misc/kvm)") : " (" + line + ")"));
      continue;
    }
    if (state != ModuleState::registered) continue;
    s.evidence.push_back({"loaded module", other, "", "another KVM vendor module is registered"});
    if (!want.empty()) {
      s.kvm_log.push_back(kvm_line(p.msg.already_loaded, 0, other));
      fail(s, Refusal::other, fmt::format("{} is loaded: {} would fail with EEXIST", other, want));
      s.remedy = fmt::format("unload it first (modprobe -r {})", other);
    }
  }
  if (!want.empty() && vendor_module_state(snap, want) == ModuleState::registered) {
    s.evidence.push_back({"loaded module", want, "", "already loaded"});
    notes.push_back(fmt::format("{} is already loaded", want));
  }
}

/// Another hypervisor holding VMX/SVM: CR4.VMXE / EFER.SVME already set (driver), so
/// vmx/vmx.c: kvm_cpu_vmxon() / svm/svm.c: svm_hardware_enable() (6.1) fail with -EBUSY, at load
/// where virtualization is enabled at load (6.12: kvm_init() with enable_virt_at_load); or its
/// module loaded.
void other_hypervisor(const AnalysisContext& ctx, StepResult& s) {
  const Snapshot& snap = ctx.snap;
  const auto& p = ctx.profile;
  std::string want = module_name(ctx.module);
  std::vector<unsigned> held;
  for (const auto& cpu : snap.cpus) {
    bool vmxe = cpu.cr4 && (*cpu.cr4 & (1ull << 13));
    bool svme = cpu.efer && (*cpu.efer & (1ull << 12));
    if ((ctx.module == VendorModule::kvm_intel && vmxe) || (ctx.module == VendorModule::kvm_amd && svme))
      held.push_back(cpu.cpu);
  }
  bool ours_loaded = !want.empty() && vendor_module_state(snap, want) == ModuleState::registered;
  if (!held.empty() && !ours_loaded) {
    std::string what = ctx.module == VendorModule::kvm_intel ? "CR4.VMXE" : "EFER.SVME";
    s.evidence.push_back({what, fmt::format("CPUs {}", cpu_list(held)), "set",
                          "another hypervisor has virtualization switched on"});
    s.kvm_log.push_back(kvm_line(p.msg.enable_failed_cpu, held.front()));
    if (p.enable_virt_at_load) {
      fail(s, Refusal::other, fmt::format("{} already set on CPUs {}: {} fails at load (EBUSY)", what,
                                          cpu_list(held), want));
    } else if (s.status == Status::ok) {
      s.status = Status::warn;
      s.summary = fmt::format("{} already set on CPUs {}: {} loads but creating a VM fails (EBUSY)", what,
                              cpu_list(held), want);
    }
    s.remedy = "stop the other hypervisor (VirtualBox, VMware) or unload its module first";
  }
  for (const char* hv : kOtherHypervisors) {
    if (!snap.find_module(hv)) continue;
    s.evidence.push_back({"loaded module", hv, "", "another hypervisor's driver"});
    if (s.status == Status::ok) {
      s.status = Status::warn;
      s.summary = fmt::format("{} is loaded: while its VMs run, VMX/SVM is taken and KVM {} fails", hv,
                              p.enable_virt_at_load ? "loading" : "VM creation");
      s.remedy = fmt::format("stop its VMs or unload {} before using KVM", hv);
    }
  }
}

/// Running as a guest (hypervisor leaf 0x40000000), or KVM through kvm_pvm.
void guest_notes(const AnalysisContext& ctx, StepResult& s, std::vector<std::string>& notes) {
  if (ctx.boot) {
    std::string hv = hypervisor_vendor(*ctx.boot);
    if (!hv.empty()) {
      s.evidence.push_back({"hypervisor leaf 0x40000000", "cpu0", "", fmt::format("running as a guest of '{}'", hv)});
      notes.push_back(fmt::format("guest of '{}': KVM here is nested", hv));
      if (hv == "Microsoft Hv") notes.push_back("on Hyper-V KVM may use the enlightened VMCS");
    }
  }
  if (vendor_module_state(ctx.snap, "kvm_pvm") == ModuleState::registered)
    notes.push_back("kvm_pvm provides KVM without VMX/SVM");
}

/// /dev/kvm as this caller sees it (not for imported dumps).
void dev_kvm_evidence(const Snapshot& snap, StepResult& s, std::vector<std::string>& notes) {
  const auto& kvm = snap.kvm;
  if (snap.origin.rfind("import", 0) != 0) {
    std::string meaning = !kvm.present ? "absent"
                          : !kvm.openable ? fmt::format("present, cannot open (errno {})", kvm.open_error)
                          : kvm.api_version ? fmt::format("usable, API version {}", *kvm.api_version)
                                            : "opens but does not answer";
    s.evidence.push_back({"/dev/kvm", "", "", meaning});
    if (kvm.present && !kvm.openable && kvm.open_error == 13) notes.push_back("add the user to the 'kvm' group");
  }
}

}  // namespace

StepResult step_environment(const AnalysisContext& ctx) {
  StepResult s = make_step("environment", "Environment");
  std::vector<std::string> notes;
  other_vendor_module(ctx, s, notes);
  other_hypervisor(ctx, s);
  cpuid_view_evidence(ctx.snap, s, notes);  // whose CPUID this analysis reads: KVM sees the kernel's
  guest_notes(ctx, s, notes);
  dev_kvm_evidence(ctx.snap, s, notes);
  if (s.summary.empty()) {
    s.summary = notes.empty() ? "no other vendor module or hypervisor in the way" : join(notes, "; ");
  }
  return s;
}

}  // namespace kvmprobe
