// The modelled KVM versions, as data. Each profile is the previous one plus the changes the
// kernel made, so a difference between two versions is one line here. Each profile's `tree` is
// the kernel source tree its facts were read from; comments cite that source as
// path: function() (version).
#include "core/profiles/profiles.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <string_view>

#include "core/profiles/msr_lists.h"
#include "core/profiles/vmx_bits.h"

namespace kvmprobe {
namespace {

using namespace vmx;

void set_param(KernelProfile& p, const std::string& name, const std::string& value,
               const std::string& note) {
  for (auto& d : p.params)
    if (d.name == name) {
      d.value = value;
      d.note = note;
      return;
    }
  p.params.push_back({name, value, note});
}

// 4.19.1. Debian 10. Long on purpose: the base profile is data (every field the later profiles
// inherit and change), one assignment a line.
KernelProfile profile_4_19() {
  KernelProfile p;
  p.id = "4.19";
  p.msr_lists = &kMsrLists_4_19;
  p.tree = {4, 19, 1};
  p.applies_from = {4, 19, 0};
  p.description = "4.19.1 (Debian 10 base; later 4.19.y stable backports not modelled)";
  p.vmx_enable = VmxEnableModel::kvm_reads_feature_control;
  p.vmx_support_scope = SupportScope::loading_cpu;
  p.svm_accepts_hygon = false;
  p.svm_checks_ext_level = true;
  p.svm_disable = SvmDisableCheck::kvm_loading_cpu;
  p.consistency = ConsistencyModel::vmcs_only;
  p.set_tsc_khz_bound_unconditional = true;

  auto& v = p.vmx;
  v.primary.required = bits({kUseTscOffsetting, kHltExiting, kInvlpgExiting, kMwaitExiting,
                             kRdpmcExiting, kCr3LoadExiting, kCr3StoreExiting, kCr8LoadExiting,
                             kCr8StoreExiting, kMovDrExiting, kUncondIoExiting, kMonitorExiting});
  v.primary.optional = bits({kTprShadow, kUseMsrBitmaps, kActivateSecondary});
  v.secondary.optional = bits({kVirtApicAccesses, kEnableEpt, kDescExiting, kEnableRdtscp,
                               kVirtX2apic, kEnableVpid, kWbinvdExiting, kUnrestrictedGuest,
                               kApicRegisterVirt, kVirtIntrDelivery, kPauseLoopExiting,
                               kRdrandExiting, kEnableInvpcid, kEnableVmfunc, kShadowVmcs,
                               kEnclsExiting, kRdseedExiting, kEnablePml, kEnableXsaves,
                               kTscScaling});
  v.pin.required = bits({kExtIntrExiting, kNmiExiting});
  v.pin.optional = bits({kVirtualNmis, kPreemptionTimer, kPostedIntr});
  v.exit.required = bits({kExitSaveDebugControls, kExitAckIntrOnExit, kExitHostAddrSpaceSize});
  v.exit.optional = bits({kExitSavePat, kExitLoadPat, kExitClearBndcfgs});
  v.entry.required = bits({kEntryLoadDebugControls});
  v.entry.optional = bits({kEntryLoadPat, kEntryLoadBndcfgs});
  v.drop_cr3_cr8_after_negotiation = true;

  p.supported_xcr0_mask = 0x2ff;
  // kvm_arch_init (already loaded, support, BIOS), then hardware_setup; the MSR lists are built
  // at the end of hardware_setup, before kvm_init's per-CPU compatibility loop.
  {
    using enum StepId;
    p.step_order = {environment, support, bios_lock, generic, mmu, timer, xcr0, vendor_config, tsc_scaling,
                    msr_lists, consistency};
  }

  p.params = {
      {"kvm_intel.nested", "N", "VMX MSRs in the feature list"},
      {"kvm_intel.ept", "Y", "EPT"},
      {"kvm_intel.unrestricted_guest", "Y", "unrestricted guest"},
      {"kvm_intel.emulate_invalid_guest_state", "Y", "SMBASE in the emulated list"},
      {"kvm_amd.nested", "1", "nested SVM"},
      {"kvm_amd.npt", "1", "nested paging"},
      {"kvm_amd.avic", "0", "AVIC"},
      {"kvm_amd.vls", "1", "virtual VMLOAD/VMSAVE"},
      {"kvm_amd.vgif", "1", "virtual GIF"},
      {"kvm.tsc_tolerance_ppm", "250", "TSC tolerance window"},
      {"kvm.ignore_msrs", "N", "does not change the lists"},
  };

  auto& m = p.msg;
  m.already_loaded = "kvm: already loaded the other module";
  m.vmx_no_support = "kvm: no hardware support";
  m.vmx_disabled_bios = "kvm: disabled by bios";
  m.vmx_txt_warning = "kvm: disable TXT in the BIOS or activate TXT before enabling KVM";
  m.vmx_inconsistent_cpu = "kvm: CPU {cpu} feature inconsistency!";
  m.svm_not_amd = "has_svm: not amd";
  m.svm_no_ext_leaf = "has_svm: can't execute cpuid_8000000a";
  m.svm_not_available = "has_svm: svm not available";
  m.svm_no_support_tail = "kvm: no hardware support";
  m.svm_disabled_bios = "kvm: disabled by bios";
  m.perf_global_ctrl_workaround =
      "kvm: VM_EXIT_LOAD_IA32_PERF_GLOBAL_CTRL does not work properly. Using workaround";
  m.enable_failed_cpu = "kvm: enabling virtualization on CPU{cpu} failed";
  m.svm_nested_enabled = "kvm: Nested Virtualization enabled";
  m.svm_npt_enabled = "kvm: Nested Paging enabled";
  m.svm_npt_disabled = "kvm: Nested Paging disabled";
  m.svm_avic = "SVM: AVIC enabled";
  m.svm_vls = "SVM: Virtual VMLOAD VMSAVE supported";
  m.svm_vgif = "SVM: Virtual GIF supported";
  return p;
}

// 5.10.7: early 5.10.y.
KernelProfile profile_5_10_early(const KernelProfile& prev) {
  KernelProfile p = prev;
  p.id = "5.10.7";
  p.msr_lists = &kMsrLists_5_10_7;
  p.tree = {5, 10, 7};
  p.applies_from = {5, 10, 0};
  p.description = "5.10.7 (early 5.10.y, before the stable backports read in 5.10.262)";
  p.checks_fpu = true;
  p.vmx_enable = VmxEnableModel::boot_feat_ctl;
  p.vmx_support_scope = SupportScope::common_flags;
  p.svm_accepts_hygon = true;
  p.consistency = ConsistencyModel::feat_ctl_then_vmcs;
  p.set_tsc_khz_bound_unconditional = false;

  auto& v = p.vmx;
  v.secondary.optional |= bits({kPtConcealVmx, kPtUseGpa, kUsrWaitPause});
  v.exit.optional = bits({kExitLoadPerfGlobalCtrl, kExitLoadPat, kExitLoadEfer, kExitClearBndcfgs,
                          kExitPtConcealPip, kExitClearRtitCtl});
  v.entry.optional = bits({kEntryLoadPerfGlobalCtrl, kEntryLoadPat, kEntryLoadEfer,
                           kEntryLoadBndcfgs, kEntryPtConcealPip, kEntryLoadRtitCtl});

  set_param(p, "kvm_intel.nested", "Y", "VMX MSRs in the emulated and feature lists");
  set_param(p, "kvm_intel.pt_mode", "0", "1 = host-guest: Intel PT MSRs");

  auto& m = p.msg;
  m.vmx_txt_warning.clear();
  m.svm_not_amd = "has_svm: not amd or hygon";
  m.inadequate_fpu = "kvm: inadequate fpu";
  m.svm_npt_enabled = "SVM: kvm: Nested Paging enabled";
  m.svm_npt_disabled = "SVM: kvm: Nested Paging disabled";
  m.feat_ctl_vmx_outside = "x86/cpu: VMX (outside TXT) disabled by BIOS";
  m.feat_ctl_vmx_inside = "x86/cpu: VMX (inside TXT) disabled by BIOS";
  return p;
}

// 5.10.262: Debian 11 (stable backports: no extended-level check, SEV-guest check).
KernelProfile profile_5_10(const KernelProfile& prev) {
  KernelProfile p = prev;
  p.id = "5.10";
  p.msr_lists = &kMsrLists_5_10;
  p.tree = {5, 10, 262};
  p.applies_from = {5, 10, 8};
  p.description = "5.10.262 (Debian 11; late 5.10.y with stable backports)";
  p.svm_checks_ext_level = false;
  p.svm_checks_sev_guest = true;
  p.msg.svm_no_ext_leaf.clear();
  p.msg.svm_sev_guest = "SVM: KVM is unsupported when running as an SEV guest";
  return p;
}

// 5.15.0: Ubuntu 22.04 GA.
KernelProfile profile_5_15(const KernelProfile& early_5_10) {
  KernelProfile p = early_5_10;
  p.id = "5.15";
  p.msr_lists = &kMsrLists_5_15;
  p.tree = {5, 15, 0};
  p.applies_from = {5, 15, 0};
  p.description = "5.15.0 (Ubuntu 22.04 GA; Ubuntu stable patches not modelled)";
  p.svm_checks_ext_level = true;
  p.svm_checks_sev_guest = true;
  p.msg.svm_no_ext_leaf = "has_svm: can't execute cpuid_8000000a";
  p.msg.svm_sev_guest = "SVM: KVM is unsupported when running as an SEV guest";
  p.vmx.secondary.optional |= bits({kBusLockDetection});
  return p;
}

// 6.1-rc7 / 6.1.0 (MSR lists identical to 6.1.192, init entry differs).
KernelProfile profile_6_1_early(const KernelProfile& prev) {
  KernelProfile p = prev;
  p.id = "6.1.0";
  p.msr_lists = &kMsrLists_6_1_0;
  p.tree = {6, 1, 0};
  p.applies_from = {6, 1, 0};
  p.description = "6.1.0 (read as v6.1-rc7; before the 6.1.y vendor-init backports)";
  p.checks_pat = true;
  p.nx_required = true;
  p.tsc_params_always = true;
  p.amd_tsc_scaling_param = true;
  p.supported_xcr0_mask = 0x602ff;

  auto& v = p.vmx;
  v.primary.required |= bits({kIntrWindowExiting});
  v.primary.optional = bits({kRdtscExiting, kActivateTertiary, kTprShadow, kNmiWindowExiting,
                             kUseIoBitmaps, kMonitorTrapFlag, kUseMsrBitmaps, kPauseExiting,
                             kActivateSecondary});
  v.secondary.optional |= bits({kNotifyVmExiting});
  v.tertiary_optional = 1ull << kIpiVirt;
  v.exit.optional = bits({kExitLoadPerfGlobalCtrl, kExitSavePat, kExitLoadPat, kExitSaveEfer,
                          kExitLoadEfer, kExitSavePreemptionTimer, kExitClearBndcfgs,
                          kExitPtConcealPip, kExitClearRtitCtl});
  v.entry.required |= bits({kEntryIa32eMode});
  v.pairs_enforced = true;
  v.cap_consistency_fatal = true;
  v.drop_cr3_cr8_after_negotiation = false;

  set_param(p, "kvm_amd.tsc_scaling", "1", "AMD TSC scaling");
  set_param(p, "kvm.enable_pmu", "Y", "PMU MSRs; forced off without a perf hardware PMU");
  set_param(p, "kvm_intel.error_on_inconsistent_vmcs_config", "Y",
            "inconsistent VMX MSRs fail the load");
  set_param(p, "kvm_amd.lbrv", "1", "LBR virtualization");

  auto& m = p.msg;
  m.already_loaded = "kvm: already loaded vendor module '{loaded}'";
  m.vmx_no_support = "kvm: no hardware support for 'kvm_intel'";
  m.vmx_disabled_bios = "kvm: support for 'kvm_intel' disabled by bios";
  m.svm_no_support_tail = "kvm: no hardware support for 'kvm_amd'";
  m.svm_disabled_bios = "kvm: support for 'kvm_amd' disabled by bios";
  m.pat_not_wb = "kvm: host PAT[0] is not WB";
  m.rt_needs_constant_tsc = "RT requires X86_FEATURE_CONSTANT_TSC";
  m.vmx_nx_missing = "kvm: NX (Execute Disable) not supported";
  m.svm_nx_missing = "SVM: NX (Execute Disable) not supported";
  m.ept_cap_inconsistent =
      "EPT CAP should not exist if not support 1-setting enable EPT VM-execution control";
  m.vpid_cap_inconsistent =
      "VPID CAP should not exist if not support 1-setting enable VPID VM-execution control";
  m.entry_exit_pair = "Inconsistent VM-Entry/VM-Exit pair, entry = {entry}, exit = {exit}";
  m.svm_tsc_scaling = "SVM: TSC scaling supported";
  m.svm_x2avic = "SVM: x2AVIC enabled";
  m.svm_lbrv_late = "SVM: LBR virtualization supported";
  m.svm_pmu_disabled = "SVM: PMU virtualization is disabled";
  return p;
}

// 6.1.192: Debian 12 (kvm_x86_vendor_init backport, no extended-level check).
KernelProfile profile_6_1(const KernelProfile& prev) {
  KernelProfile p = prev;
  p.id = "6.1";
  p.msr_lists = &kMsrLists_6_1;
  p.tree = {6, 1, 192};
  p.applies_from = {6, 1, 1};
  p.description = "6.1.192 (Debian 12; 6.1.y with the vendor-init stable backports)";
  p.svm_checks_ext_level = false;
  p.msg.svm_no_ext_leaf.clear();
  return p;
}

// 6.6.57 (stable).
KernelProfile profile_6_6(const KernelProfile& prev) {
  KernelProfile p = prev;
  p.id = "6.6";
  p.msr_lists = &kMsrLists_6_6;
  p.tree = {6, 6, 57};
  p.applies_from = {6, 2, 0};
  p.description = "6.6.57 (per-CPU support checks, kvm_intel:/kvm_amd: log prefixes)";
  p.vmx_support_per_cpu_message = true;
  p.svm_disable = SvmDisableCheck::kvm_every_cpu;
  p.consistency = ConsistencyModel::support_then_vmcs;
  p.vmx_support_scope = SupportScope::loading_cpu;
  p.svm_support_scope = SupportScope::loading_cpu;
  // vmx_init/svm_init check support on the loading CPU first (arch/x86/kvm/vmx/vmx.c:
  // vmx_init(), kvm_is_vmx_supported(); svm/svm.c: svm_init(), kvm_is_svm_supported() (6.12)),
  // then kvm_x86_vendor_init (__kvm_x86_vendor_init in 6.6): already loaded, FPU, PAT, MMU,
  // XCR0, hardware_setup, per-CPU compatibility (every other CPU's support check is here, in
  // vmx_check_processor_compat() / svm_check_processor_compat()), timers, TSC caps, MSR lists
  // (arch/x86/kvm/x86.c: kvm_x86_vendor_init() (6.12)).
  {
    using enum StepId;
    p.step_order = {support, bios_lock, environment, generic, mmu, xcr0, vendor_config, consistency, timer,
                    tsc_scaling, msr_lists};
  }
  set_param(p, "kvm_amd.vnmi", "1", "virtual NMI");

  auto& m = p.msg;
  m.vmx_no_support = "kvm_intel: VMX not supported by CPU {cpu}";
  m.vmx_disabled_bios = "kvm_intel: VMX not enabled (by BIOS) in MSR_IA32_FEAT_CTL on CPU {cpu}";
  m.vmx_setup_failed_cpu = "kvm_intel: Failed to setup VMCS config on CPU {cpu}";
  m.vmx_inconsistent_cpu = "kvm_intel: Inconsistent VMCS config on CPU {cpu}";
  m.svm_not_amd = "kvm_amd: CPU {cpu} isn't AMD or Hygon";
  m.svm_not_available = "kvm_amd: SVM not supported by CPU {cpu}";
  m.svm_sev_guest = "kvm_amd: KVM is unsupported when running as an SEV guest";
  m.svm_no_support_tail.clear();
  m.svm_disabled_bios = "kvm_amd: SVM disabled (by BIOS) in MSR_VM_CR on CPU {cpu}";
  m.rt_needs_constant_tsc = "kvm: RT requires X86_FEATURE_CONSTANT_TSC";
  m.vmx_nx_missing = "kvm_intel: NX (Execute Disable) not supported";
  m.svm_nx_missing = "kvm_amd: NX (Execute Disable) not supported";
  m.ept_cap_inconsistent = "kvm_intel: " + prev.msg.ept_cap_inconsistent;
  m.vpid_cap_inconsistent = "kvm_intel: " + prev.msg.vpid_cap_inconsistent;
  m.entry_exit_pair = "kvm_intel: " + prev.msg.entry_exit_pair;
  m.perf_global_ctrl_workaround =
      "kvm_intel: VM_EXIT_LOAD_IA32_PERF_GLOBAL_CTRL does not work properly. Using workaround";
  m.svm_tsc_scaling = "kvm_amd: TSC scaling supported";
  m.svm_nested_enabled = "kvm_amd: Nested Virtualization enabled";
  m.svm_npt_enabled = "kvm_amd: Nested Paging enabled";
  m.svm_npt_disabled = "kvm_amd: Nested Paging disabled";
  m.svm_avic = "kvm_amd: AVIC enabled";
  m.svm_x2avic = "kvm_amd: x2AVIC enabled";
  m.svm_vls = "kvm_amd: Virtual VMLOAD VMSAVE supported";
  m.svm_vgif = "kvm_amd: Virtual GIF supported";
  m.svm_lbrv_late = "kvm_amd: LBR virtualization supported";  // position in 6.6: UNCONFIRMED
  m.svm_vnmi = "kvm_amd: Virtual NMI enabled";
  m.svm_pmu_disabled = "kvm_amd: PMU virtualization is disabled";
  return p;
}

// 6.8.0 (Ubuntu 24.04 GA identical): VM_CR test moved to boot-time CPU init.
KernelProfile profile_6_8(const KernelProfile& prev) {
  KernelProfile p = prev;
  p.id = "6.8";
  p.msr_lists = &kMsrLists_6_8;
  p.tree = {6, 8, 0};
  p.applies_from = {6, 8, 0};
  p.description = "6.8.0 (Ubuntu 24.04 GA; VM_CR.SVMDIS decided at boot)";
  p.svm_disable = SvmDisableCheck::boot_clears_svm;
  p.msg.svm_boot_disabled = "SVM disabled (by BIOS) in MSR_VM_CR";
  p.msg.svm_disabled_bios.clear();
  return p;
}

// 6.12.117: Debian 13 / bookworm-backports (virtualization enabled at load).
KernelProfile profile_6_12(const KernelProfile& prev) {
  KernelProfile p = prev;
  p.id = "6.12";
  p.msr_lists = &kMsrLists_6_12;
  p.tree = {6, 12, 117};
  p.applies_from = {6, 9, 0};
  p.description = "6.12.117 (Debian 13; VMXON/EFER.SVME on every CPU at module load)";
  p.enable_virt_at_load = true;
  p.vmx.secondary.optional |= bits({kEptViolationVe});
  set_param(p, "kvm.enable_virt_at_load", "Y", "VMXON/SVME at load: failures surface at modprobe");
  p.msg.svm_lbrv_early = "kvm_amd: LBR virtualization supported";
  p.msg.svm_lbrv_late.clear();
  return p;
}

// 7.3.4: newest in the reference.
KernelProfile profile_7_3(const KernelProfile& prev) {
  KernelProfile p = prev;
  p.id = "7.3";
  p.msr_lists = &kMsrLists_7_3;
  p.tree = {7, 3, 4};
  p.applies_from = {6, 13, 0};
  p.description = "7.3.4 (newest modelled; CET state, supported XSS)";
  p.supported_xss_mask = 0x1800;
  p.vmx.secondary.optional |= bits({kModeBasedEptExec});
  p.vmx.exit.optional |= bits({kExitLoadCetState, kExitSavePerfGlobalCtrl});
  p.vmx.entry.optional |= bits({kEntryLoadCetState});
  set_param(p, "kvm_intel.cet", "Y", "CET MSRs");
  p.msg.vmx_not_fully_enabled =
      "kvm_intel: VMX not fully enabled on CPU {cpu}.  Check kernel logs and/or BIOS";
  p.msg.vmx_inconsistent_cpu = "kvm_intel: VMCS config on CPU {cpu} doesn't match reference config:";
  return p;
}

std::vector<KernelProfile> build_profiles() {
  std::vector<KernelProfile> v;
  v.push_back(profile_4_19());
  v.push_back(profile_5_10_early(v.back()));
  const KernelProfile early_5_10 = v.back();
  v.push_back(profile_5_10(early_5_10));
  v.push_back(profile_5_15(early_5_10));
  v.push_back(profile_6_1_early(v.back()));
  v.push_back(profile_6_1(v.back()));
  v.push_back(profile_6_6(v.back()));
  v.push_back(profile_6_8(v.back()));
  v.push_back(profile_6_12(v.back()));
  v.push_back(profile_7_3(v.back()));
  return v;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// Reads 1..max_digits decimal digits at t[i] into value (more digits are left unread, as a
/// bounded regex repetition leaves them). False when t[i] is not a digit.
bool scan_number(std::string_view t, std::size_t& i, int max_digits, int& value) {
  std::size_t start = i;
  value = 0;
  while (i < t.size() && is_digit(t[i]) && static_cast<int>(i - start) < max_digits) value = value * 10 + (t[i++] - '0');
  return i > start;
}

/// The first "Debian X.Y.Z" or "Ubuntu X.Y.Z" (blanks between) in a `uname -v` text: the
/// whole match, and the version part. Empty when there is none.
std::pair<std::string, std::string> distro_version(std::string_view v) {
  for (std::size_t at = 0; at < v.size(); ++at) {
    std::string_view rest = v.substr(at);
    if (rest.substr(0, 6) != "Debian" && rest.substr(0, 6) != "Ubuntu") continue;
    std::size_t i = at + 6, blanks = i;
    while (i < v.size() && std::isspace(static_cast<unsigned char>(v[i]))) ++i;
    if (i == blanks) continue;
    std::size_t num = i;
    int dots = 0;
    for (;;) {
      std::size_t d = i;
      while (i < v.size() && is_digit(v[i])) ++i;
      if (i == d) break;
      if (dots == 2) return {std::string(v.substr(at, i - at)), std::string(v.substr(num, i - num))};
      if (i >= v.size() || v[i] != '.') break;
      ++i, ++dots;
    }
  }
  return {};
}

/// "6.1.0-56-amd64": a distribution ABI release (digits.digits.0-digits at the start).
bool is_abi_release(std::string_view r) {
  std::size_t i = 0;
  for (int part = 0; part < 2; ++part) {
    std::size_t d = i;
    while (i < r.size() && is_digit(r[i])) ++i;
    if (i == d || i >= r.size() || r[i] != '.') return false;
    ++i;
  }
  return r.substr(i, 2) == "0-" && i + 2 < r.size() && is_digit(r[i + 2]);
}

}  // namespace

std::string KernelVersion::str() const { return fmt::format("{}.{}.{}", major, minor, patch); }

bool parse_kernel_version(const std::string& text, KernelVersion& out) {
  // "MAJOR.MINOR[.PATCH]" at the start (after blanks), at most 3/3/5 digits each; anything may
  // follow ("6.1.0-56-amd64", "7.2.13+deb14-amd64"). Scanned by hand: std::regex cost 3 M
  // instructions, 40 % of a whole `kvmprobe check` (docs/benchmarks.md).
  std::string_view t = text;
  std::size_t i = 0;
  while (i < t.size() && std::isspace(static_cast<unsigned char>(t[i]))) ++i;
  int major = 0, minor = 0, patch = 0;
  if (!scan_number(t, i, 3, major) || i >= t.size() || t[i] != '.') return false;
  ++i;
  if (!scan_number(t, i, 3, minor)) return false;
  if (i + 1 < t.size() && t[i] == '.' && is_digit(t[i + 1])) {
    ++i;
    scan_number(t, i, 5, patch);
  }
  out.major = major;
  out.minor = minor;
  out.patch = patch;
  return true;
}

const std::vector<KernelProfile>& all_profiles() {
  static const std::vector<KernelProfile> profiles = build_profiles();
  return profiles;
}

const KernelProfile* find_profile(const std::string& id) {
  for (const auto& p : all_profiles())
    if (p.id == id) return &p;
  return nullptr;
}

Result<ProfileChoice> choose_profile(const std::string& release, const std::string& uname_version) {
  if (const KernelProfile* exact = find_profile(release))
    return ProfileChoice{exact, fmt::format("profile {} chosen by name", exact->id)};
  KernelVersion v;
  if (!parse_kernel_version(release, v))
    return make_error(ErrorKind::usage, fmt::format("'{}' is not a kernel version", release),
                      "give a version such as 6.1, 6.1.192 or a release such as 6.1.0-56-amd64");
  std::string how = fmt::format("kernel {}", release);
  // Debian and Ubuntu releases hide the stable patch level: "6.1.0-56-amd64" is 6.1.192.
  if (auto [whole, number] = distro_version(uname_version); !whole.empty()) {
    KernelVersion real;
    if (parse_kernel_version(number, real) && real.major == v.major && real.minor == v.minor &&
        real.patch != v.patch) {
      how += fmt::format(" is {} ({})", real.str(), whole);
      v = real;
    }
  }
  // Without uname -v, a distribution ABI release such as 6.1.0-56-amd64 says nothing about the
  // stable patch level (it is not 6.1.0): take the series' newest modelled profile.
  if (uname_version.empty() && is_abi_release(release)) {
    v.patch = 9999;
    how += " (distribution ABI release: stable patch level unknown, the series' newest profile is used)";
  }
  const auto& all = all_profiles();
  const KernelProfile* best = nullptr;
  for (const auto& p : all)  // the newest profile that applies from this version or earlier
    if (p.applies_from <= v && (!best || p.applies_from > best->applies_from)) best = &p;
  if (!best)
    return make_error(ErrorKind::usage,
                      fmt::format("kernel {} is older than every modelled KVM (oldest: {})",
                                  release, all.front().id),
                      "kvmprobe models KVM from 4.19 on");
  std::string note = fmt::format("{}: profile {} (read from {})", how, best->id, best->tree.str());
  bool same_series = best->tree.major == v.major && best->tree.minor == v.minor;
  const KernelVersion& newest = all.back().tree;
  bool newer = v.major > newest.major || (v.major == newest.major && v.minor > newest.minor);
  if (newer)  // e.g. sid moving past the newest profile: say so, the model may be out of date
    note += fmt::format("; {}.{} is newer than every modelled KVM (newest: {}): profile {} is used, "
                        "changes since {}.{} are not modelled",
                        v.major, v.minor, all.back().id, best->id, newest.major, newest.minor);
  else if (!same_series)
    note += fmt::format("; {}.{} itself is not modelled, the nearest modelled profile is used", v.major, v.minor);
  else if (best->tree.patch != v.patch && v.patch != 9999)
    note += "; stable backports between the two patch levels may differ";
  return ProfileChoice{best, note};
}

}  // namespace kvmprobe
