#include "core/analyse/vmx_config.h"

#include <fmt/format.h>

#include <array>
#include <map>

#include "core/analyse/cpu_facts.h"
#include "core/profiles/vmx_bits.h"

namespace kvmprobe {
namespace {

using namespace vmx;

const char* status_text(ReadStatus s) {
  switch (s) {
    case ReadStatus::value: return "value";
    case ReadStatus::fault: return "fault (#GP)";
    case ReadStatus::denied: return "permission denied";
    case ReadStatus::unavailable: return "not read";
  }
  return "not read";
}

std::optional<std::uint64_t> read(const CpuRecord& cpu, std::uint32_t index, const char* name,
                                  std::vector<std::string>& unreadable) {
  const MsrRead* m = cpu.find_msr(index);
  if (m && m->ok()) return m->value;
  unreadable.push_back(fmt::format("{} ({:#x}): {}", name, index,
                                   status_text(m ? m->status : ReadStatus::unavailable)));
  return std::nullopt;
}

NegotiatedControl adjust(std::uint64_t raw, const VmxControl& c) {
  NegotiatedControl r;
  r.raw = raw;
  auto allowed0 = static_cast<std::uint32_t>(raw);        // 1 = must be 1
  auto allowed1 = static_cast<std::uint32_t>(raw >> 32);  // 0 = must be 0
  r.value = ((c.required | c.optional) & allowed1) | allowed0;
  r.missing = c.required & ~r.value;
  return r;
}

const std::map<std::uint32_t, std::map<unsigned, const char*>>& bit_names() {
  static const std::map<std::uint32_t, std::map<unsigned, const char*>> names = {
      {msr::kVmxPinbased,
       {{kExtIntrExiting, "EXT_INTR_MASK"}, {kNmiExiting, "NMI_EXITING"},
        {kVirtualNmis, "VIRTUAL_NMIS"}, {kPreemptionTimer, "VMX_PREEMPTION_TIMER"},
        {kPostedIntr, "POSTED_INTR"}}},
      {msr::kVmxProcbased,
       {{kIntrWindowExiting, "INTR_WINDOW_EXITING"}, {kUseTscOffsetting, "USE_TSC_OFFSETTING"},
        {kHltExiting, "HLT_EXITING"}, {kInvlpgExiting, "INVLPG_EXITING"},
        {kMwaitExiting, "MWAIT_EXITING"}, {kRdpmcExiting, "RDPMC_EXITING"},
        {kRdtscExiting, "RDTSC_EXITING"}, {kCr3LoadExiting, "CR3_LOAD_EXITING"},
        {kCr3StoreExiting, "CR3_STORE_EXITING"}, {kActivateTertiary, "ACTIVATE_TERTIARY_CONTROLS"},
        {kCr8LoadExiting, "CR8_LOAD_EXITING"}, {kCr8StoreExiting, "CR8_STORE_EXITING"},
        {kTprShadow, "TPR_SHADOW"}, {kNmiWindowExiting, "NMI_WINDOW_EXITING"},
        {kMovDrExiting, "MOV_DR_EXITING"}, {kUncondIoExiting, "UNCOND_IO_EXITING"},
        {kUseIoBitmaps, "USE_IO_BITMAPS"}, {kMonitorTrapFlag, "MONITOR_TRAP_FLAG"},
        {kUseMsrBitmaps, "USE_MSR_BITMAPS"}, {kMonitorExiting, "MONITOR_EXITING"},
        {kPauseExiting, "PAUSE_EXITING"}, {kActivateSecondary, "ACTIVATE_SECONDARY_CONTROLS"}}},
      {msr::kVmxProcbased2,
       {{kVirtApicAccesses, "VIRTUALIZE_APIC_ACCESSES"}, {kEnableEpt, "ENABLE_EPT"},
        {kDescExiting, "DESC"}, {kEnableRdtscp, "ENABLE_RDTSCP"},
        {kVirtX2apic, "VIRTUALIZE_X2APIC_MODE"}, {kEnableVpid, "ENABLE_VPID"},
        {kWbinvdExiting, "WBINVD_EXITING"}, {kUnrestrictedGuest, "UNRESTRICTED_GUEST"},
        {kApicRegisterVirt, "APIC_REGISTER_VIRT"}, {kVirtIntrDelivery, "VIRTUAL_INTR_DELIVERY"},
        {kPauseLoopExiting, "PAUSE_LOOP_EXITING"}, {kRdrandExiting, "RDRAND_EXITING"},
        {kEnableInvpcid, "ENABLE_INVPCID"}, {kEnableVmfunc, "ENABLE_VMFUNC"},
        {kShadowVmcs, "SHADOW_VMCS"}, {kEnclsExiting, "ENCLS_EXITING"},
        {kRdseedExiting, "RDSEED_EXITING"}, {kEnablePml, "ENABLE_PML"},
        {kEptViolationVe, "EPT_VIOLATION_VE"}, {kPtConcealVmx, "PT_CONCEAL_VMX"},
        {kEnableXsaves, "ENABLE_XSAVES"}, {kModeBasedEptExec, "MODE_BASED_EPT_EXEC"},
        {kPtUseGpa, "PT_USE_GPA"}, {kTscScaling, "TSC_SCALING"},
        {kUsrWaitPause, "ENABLE_USR_WAIT_PAUSE"}, {kBusLockDetection, "BUS_LOCK_DETECTION"},
        {kNotifyVmExiting, "NOTIFY_VM_EXITING"}}},
      {msr::kVmxExit,
       {{kExitSaveDebugControls, "SAVE_DEBUG_CONTROLS"},
        {kExitHostAddrSpaceSize, "HOST_ADDR_SPACE_SIZE"},
        {kExitLoadPerfGlobalCtrl, "LOAD_IA32_PERF_GLOBAL_CTRL"},
        {kExitAckIntrOnExit, "ACK_INTR_ON_EXIT"}, {kExitSavePat, "SAVE_IA32_PAT"},
        {kExitLoadPat, "LOAD_IA32_PAT"}, {kExitSaveEfer, "SAVE_IA32_EFER"},
        {kExitLoadEfer, "LOAD_IA32_EFER"}, {kExitSavePreemptionTimer, "SAVE_VMX_PREEMPTION_TIMER"},
        {kExitClearBndcfgs, "CLEAR_BNDCFGS"}, {kExitPtConcealPip, "PT_CONCEAL_PIP"},
        {kExitClearRtitCtl, "CLEAR_IA32_RTIT_CTL"}, {kExitLoadCetState, "LOAD_CET_STATE"},
        {kExitSavePerfGlobalCtrl, "SAVE_IA32_PERF_GLOBAL_CTRL"}}},
      {msr::kVmxEntry,
       {{kEntryLoadDebugControls, "LOAD_DEBUG_CONTROLS"}, {kEntryIa32eMode, "IA32E_MODE"},
        {kEntryLoadPerfGlobalCtrl, "LOAD_IA32_PERF_GLOBAL_CTRL"}, {kEntryLoadPat, "LOAD_IA32_PAT"},
        {kEntryLoadEfer, "LOAD_IA32_EFER"}, {kEntryLoadBndcfgs, "LOAD_BNDCFGS"},
        {kEntryPtConcealPip, "PT_CONCEAL_PIP"}, {kEntryLoadRtitCtl, "LOAD_IA32_RTIT_CTL"},
        {kEntryLoadCetState, "LOAD_CET_STATE"}}},
  };
  return names;
}

bool bit(std::uint32_t v, unsigned b) { return (v >> b) & 1u; }

}  // namespace

std::string control_bit_names(std::uint32_t msr_index, std::uint32_t mask) {
  std::string out;
  const auto& all = bit_names();
  auto it = all.find(msr_index);
  for (unsigned b = 0; b < 32; ++b) {
    if (!bit(mask, b)) continue;
    const char* name = nullptr;
    if (it != all.end()) {
      auto jt = it->second.find(b);
      if (jt != it->second.end()) name = jt->second;
    }
    if (!out.empty()) out += " | ";
    out += name ? std::string(name) : fmt::format("bit {}", b);
  }
  return out;
}

bool has_broken_preemption_timer(std::uint32_t sig) {
  static constexpr std::array<std::uint32_t, 8> broken = {
      0x000206E6, 0x00020652, 0x00020655, 0x000106E5, 0x000106A0, 0x000106A1, 0x000106A4, 0x000106A5};
  std::uint32_t masked = sig & ~((0x3u << 14) | (0xfu << 28));
  for (auto b : broken)
    if (b == masked) return true;
  return false;
}

std::vector<std::uint64_t> VmxConfig::comparable() const {
  return {pin.value, primary.value, secondary.value, exit.value, entry.value, tertiary,
          basic, misc, ept_vpid_cap};
}

namespace {

/// The controls, in setup_vmcs_config()'s order: primary, then secondary and tertiary only when
/// the primary controls activate them, EPT/VPID capabilities (rdmsr_safe: a fault leaves them
/// 0), then exit, pin-based and entry; each adjusted as adjust_vmx_controls() does.
/// arch/x86/kvm/vmx/vmx.c: setup_vmcs_config(), adjust_vmx_controls() (6.1, 6.12).
/// False when an MSR KVM reads is unreadable (c.unreadable names it).
bool adjust_controls(const CpuRecord& cpu, const VmxControlProfile& v, VmxConfig& c) {
  auto basic = read(cpu, msr::kVmxBasic, "IA32_VMX_BASIC", c.unreadable);
  auto pin = read(cpu, msr::kVmxPinbased, "IA32_VMX_PINBASED_CTLS", c.unreadable);
  auto primary = read(cpu, msr::kVmxProcbased, "IA32_VMX_PROCBASED_CTLS", c.unreadable);
  auto exit = read(cpu, msr::kVmxExit, "IA32_VMX_EXIT_CTLS", c.unreadable);
  auto entry = read(cpu, msr::kVmxEntry, "IA32_VMX_ENTRY_CTLS", c.unreadable);
  auto misc = read(cpu, msr::kVmxMisc, "IA32_VMX_MISC", c.unreadable);
  if (!c.unreadable.empty()) return false;

  c.primary = adjust(*primary, v.primary);
  // An optional control MSR: read only when the primary controls activate it.
  auto activated = [&](std::uint32_t index, const char* name) -> std::optional<std::uint64_t> {
    std::vector<std::string> why;
    auto value = read(cpu, index, name, why);
    if (!value) c.unreadable = why;
    return value;
  };
  if (bit(c.primary.value, kActivateSecondary)) {
    auto sec = activated(msr::kVmxProcbased2, "IA32_VMX_PROCBASED_CTLS2");
    if (!sec) return false;
    c.secondary = adjust(*sec, v.secondary);
  }
  if (v.tertiary_optional && bit(c.primary.value, kActivateTertiary)) {
    auto ter = activated(msr::kVmxProcbased3, "IA32_VMX_PROCBASED_CTLS3");
    if (!ter) return false;
    c.tertiary = v.tertiary_optional & *ter;
  }
  if (const MsrRead* cap = cpu.find_msr(msr::kVmxEptVpidCap); cap && cap->ok()) c.ept_vpid_cap = cap->value;
  c.exit = adjust(*exit, v.exit);
  c.pin = adjust(*pin, v.pin);
  c.entry = adjust(*entry, v.entry);
  c.basic = *basic;
  c.misc = *misc;
  return true;
}

/// Required controls the CPU does not allow, and IA32_VMX_BASIC's VMCS size, address width and
/// memory type. arch/x86/kvm/vmx/vmx.c: setup_vmcs_config() (6.1, 6.12).
void check_required(VmxConfig& c) {
  for (auto [ctl, index, name] : {std::tuple{&c.pin, msr::kVmxPinbased, "pin-based"},
                                  std::tuple{&c.primary, msr::kVmxProcbased, "primary processor-based"},
                                  std::tuple{&c.exit, msr::kVmxExit, "VM-exit"},
                                  std::tuple{&c.entry, msr::kVmxEntry, "VM-entry"}})
    if (ctl->missing)
      c.failures.push_back(fmt::format("required {} controls not allowed by the CPU: {}", name,
                                       control_bit_names(index, ctl->missing)));
  c.vmcs_size = static_cast<unsigned>((c.basic >> 32) & 0x1fff);
  c.vmcs_memtype = static_cast<unsigned>((c.basic >> 50) & 0xf);
  if (c.vmcs_size > 4096)
    c.failures.push_back(fmt::format("VMCS size {} bytes exceeds 4096 (IA32_VMX_BASIC[44:32])", c.vmcs_size));
  if ((c.basic >> 48) & 1)
    c.failures.push_back("IA32_VMX_BASIC[48] set: VMCS limited to 32-bit addresses on a 64-bit kernel");
  if (c.vmcs_memtype != 6)
    c.failures.push_back(fmt::format("VMCS memory type {} is not write-back (6)", c.vmcs_memtype));
}

/// EPT/VPID capabilities reported without the control that enables them: logged, fatal with
/// error_on_inconsistent where the profile says so (6.1+), and cleared.
/// arch/x86/kvm/vmx/vmx.c: setup_vmcs_config() ("EPT CAP should not exist ...") (6.1, 6.12).
void check_ept_vpid_caps(const KernelProfile& p, bool error_on_inconsistent, VmxConfig& c) {
  const auto& v = p.vmx;
  std::uint32_t ept_cap = static_cast<std::uint32_t>(c.ept_vpid_cap);
  std::uint32_t vpid_cap = static_cast<std::uint32_t>(c.ept_vpid_cap >> 32);
  if (!bit(c.secondary.value, kEnableEpt) && ept_cap) {
    if (!p.msg.ept_cap_inconsistent.empty()) c.log.push_back(p.msg.ept_cap_inconsistent);
    if (v.cap_consistency_fatal && error_on_inconsistent)
      c.failures.push_back("IA32_VMX_EPT_VPID_CAP reports EPT capabilities but EPT cannot be enabled");
    c.ept_vpid_cap &= ~0xffffffffull;
  }
  if (!bit(c.secondary.value, kEnableVpid) && vpid_cap) {
    if (!p.msg.vpid_cap_inconsistent.empty()) c.log.push_back(p.msg.vpid_cap_inconsistent);
    if (v.cap_consistency_fatal && error_on_inconsistent)
      c.failures.push_back("IA32_VMX_EPT_VPID_CAP reports VPID capabilities but VPID cannot be enabled");
    c.ept_vpid_cap &= 0xffffffffull;
  }
}

/// VM-entry/VM-exit controls that only work in pairs: one without the other is logged and both
/// dropped, or with error_on_inconsistent the first such pair fails setup.
/// arch/x86/kvm/vmx/vmx.c: setup_vmcs_config(), vmcs_entry_exit_pairs[] (6.1, 6.12).
void check_entry_exit_pairs(const KernelProfile& p, bool error_on_inconsistent, VmxConfig& c) {
  const auto& v = p.vmx;
  if (!v.pairs_enforced) return;
  std::vector<std::pair<unsigned, unsigned>> pairs = {
      {kEntryLoadPerfGlobalCtrl, kExitLoadPerfGlobalCtrl}, {kEntryLoadPat, kExitLoadPat},
      {kEntryLoadEfer, kExitLoadEfer}, {kEntryLoadBndcfgs, kExitClearBndcfgs},
      {kEntryLoadRtitCtl, kExitClearRtitCtl}};
  if (bit(v.entry.optional, kEntryLoadCetState)) pairs.push_back({kEntryLoadCetState, kExitLoadCetState});
  for (auto [n, x] : pairs) {
    bool en = bit(c.entry.value, n), ex = bit(c.exit.value, x);
    if (en == ex) continue;
    c.log.push_back(fmt::format(fmt::runtime(p.msg.entry_exit_pair),
                                fmt::arg("entry", fmt::format("{:x}", en ? 1u << n : 0u)),
                                fmt::arg("exit", fmt::format("{:x}", ex ? 1u << x : 0u))));
    if (error_on_inconsistent) {
      c.failures.push_back(fmt::format("inconsistent VM-entry/VM-exit pair: {} vs {}",
                                       control_bit_names(msr::kVmxEntry, 1u << n),
                                       control_bit_names(msr::kVmxExit, 1u << x)));
      return;  // KVM returns at the first inconsistent pair
    }
    c.entry.value &= ~(1u << n);
    c.exit.value &= ~(1u << x);
  }
}

/// What KVM derives from the negotiated controls: the cpu_has_vmx_*() predicates of
/// arch/x86/kvm/vmx/capabilities.h and their use in arch/x86/kvm/vmx/vmx.c: hardware_setup()
/// (6.1) / vmx_hardware_setup() (6.12).
void derive_capabilities(const VmxControlProfile& v, std::optional<std::uint32_t> sig, VmxConfig& c) {
  std::uint32_t ept_cap = static_cast<std::uint32_t>(c.ept_vpid_cap);
  std::uint32_t vpid_cap = static_cast<std::uint32_t>(c.ept_vpid_cap >> 32);
  std::uint32_t sec = c.secondary.value;
  c.ept = bit(sec, kEnableEpt) && bit(ept_cap, 6) && bit(ept_cap, 14) && bit(ept_cap, 26);
  c.vpid = bit(sec, kEnableVpid) && bit(vpid_cap, 0) && (bit(vpid_cap, 9) || bit(vpid_cap, 10));
  c.unrestricted_guest = bit(sec, kUnrestrictedGuest) && c.ept;
  c.tsc_scaling = bit(sec, kTscScaling);
  c.rdtscp = bit(sec, kEnableRdtscp);
  c.waitpkg = bit(sec, kUsrWaitPause);
  c.xsaves = bit(sec, kEnableXsaves);
  c.pml = bit(sec, kEnablePml) && c.ept;
  c.shadow_vmcs = bit(sec, kShadowVmcs);
  bool tpr = bit(c.primary.value, kTprShadow);
  bool vid = tpr && bit(sec, kVirtIntrDelivery);
  c.posted_intr = vid && bit(c.pin.value, kPostedIntr);
  c.apicv = tpr && bit(sec, kApicRegisterVirt) && vid && c.posted_intr;
  c.preemption_timer = bit(c.pin.value, kPreemptionTimer) && !(sig && has_broken_preemption_timer(*sig));
  c.ipi_virt = (c.tertiary >> kIpiVirt) & 1;
  c.mpx = v.pairs_enforced ? bit(c.entry.value, kEntryLoadBndcfgs)
                           : bit(c.entry.value, kEntryLoadBndcfgs) && bit(c.exit.value, kExitClearBndcfgs);
  c.intel_pt = bit(static_cast<std::uint32_t>(c.misc), 14) && bit(sec, kPtUseGpa) &&
               bit(c.entry.value, kEntryLoadRtitCtl) && (v.pairs_enforced || bit(c.exit.value, kExitClearRtitCtl));
}

}  // namespace

VmxConfig negotiate_vmx(const CpuRecord& cpu, const KernelProfile& p, bool error_on_inconsistent) {
  VmxConfig c;
  if (!adjust_controls(cpu, p.vmx, c)) return c;
  c.evaluated = true;
  check_required(c);
  check_ept_vpid_caps(p, error_on_inconsistent, c);
  check_entry_exit_pairs(p, error_on_inconsistent, c);
  auto sig = signature(cpu);
  // Nehalem/Westmere models with the IA32_PERF_GLOBAL_CTRL erratum: KVM logs its workaround.
  // arch/x86/kvm/vmx/vmx.c: cpu_has_perf_global_ctrl_bug() (6.1).
  if (sig && display_family(*sig) == 6) {
    unsigned model = display_model(*sig);
    if ((model == 26 || model == 30 || model == 37 || model == 44 || model == 46) &&
        !p.msg.perf_global_ctrl_workaround.empty())
      c.log.push_back(p.msg.perf_global_ctrl_workaround);
  }
  derive_capabilities(p.vmx, sig, c);
  return c;
}

}  // namespace kvmprobe
