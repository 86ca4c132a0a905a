// KernelProfile: what one KVM version decides at init, as data (core/profiles/profiles.cc: one
// profile per kernel tree, named in `tree`).
// Checks read these fields; they never compare kernel versions themselves.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/model/step_id.h"

namespace kvmprobe {

struct MsrListProfile;  // core/model/msr_profile.h (MSR candidate lists and filters)

/// A kernel version, e.g. 6.1.192.
struct KernelVersion {
  int major = 0, minor = 0, patch = 0;
  auto operator<=>(const KernelVersion&) const = default;
  std::string str() const;
};

/// How KVM decides "VMX disabled by BIOS". 5.6+: arch/x86/kernel/cpu/feat_ctl.c:
/// init_ia32_feat_ctl() (6.1, 6.12) programs 0x3A at boot; KVM tests the flags it leaves in
/// arch/x86/kvm/vmx/vmx.c: vmx_disabled_by_bios() (6.1) / __kvm_is_vmx_supported() (6.12).
enum class VmxEnableModel {
  kvm_reads_feature_control,  ///< ≤5.5: KVM reads 0x3A itself, unlocked = usable (KVM locks it)
  boot_feat_ctl,              ///< 5.6+: feat_ctl.c programs 0x3A at boot; KVM trusts Linux flags
};

/// Where VM_CR.SVMDIS is tested: arch/x86/kvm/svm/svm.c: is_disabled() (6.1), called once from
/// arch/x86/kvm/x86.c: kvm_x86_vendor_init() (6.1); arch/x86/kernel/cpu/amd.c: init_amd() and
/// hygon.c: init_hygon() (6.12).
enum class SvmDisableCheck {
  kvm_loading_cpu,   ///< ≤6.1: kvm_amd on the CPU doing the load
  kvm_every_cpu,     ///< 6.6: __kvm_is_svm_supported per CPU
  boot_clears_svm,   ///< 6.8+: init_amd()/init_hygon() clear X86_FEATURE_SVM at boot
};

/// What the load-time VMX/SVM support check reads when the CPUs differ (the loading CPU has it,
/// another does not). At boot the kernel ANDs every CPU's feature flags into boot_cpu_data
/// (arch/x86/kernel/cpu/common.c: identify_cpu() (6.1, 6.12)); feat_ctl.c clears VMX on a CPU
/// whose IA32_FEAT_CTL leaves it off. kvmprobe takes the boot CPU as the loading CPU.
enum class SupportScope {
  /// boot_cpu_has(): any CPU lacking it fails the load, -EOPNOTSUPP, with the "common" message:
  /// arch/x86/kvm/vmx/vmx.c: vmx_disabled_by_bios() ("support for 'kvm_intel' disabled by bios"),
  /// arch/x86/include/asm/virtext.h: cpu_has_svm() ("has_svm: svm not available") (6.1).
  common_flags,
  /// The loading CPU's own flags (arch/x86/kvm/vmx/vmx.c: kvm_is_vmx_supported(), svm/svm.c:
  /// kvm_is_svm_supported() (6.12)); every online CPU, in order, in arch/x86/kvm/x86.c:
  /// kvm_x86_check_processor_compatibility() (6.12): the CR4 reserved-bit mask against
  /// boot_cpu_data's first (VMX is in it: the first CPU with VMX fails, -EIO, no log line), then
  /// the vendor check naming the CPU (SVM: "SVM not supported by CPU n", -EIO). 4.19 (no source
  /// here) reads CPUID and 0x3A on the loading CPU only.
  loading_cpu,
};

/// Where the per-CPU checks happen and what they compare: arch/x86/kvm/vmx/vmx.c:
/// vmx_check_processor_compat() (6.1, 6.12); arch/x86/kvm/svm/svm.c: svm_check_processor_compat()
/// (returns 0 in 6.1; __kvm_is_svm_supported() in 6.12).
enum class ConsistencyModel {
  vmcs_only,           ///< 4.x: setup_vmcs_config per CPU compared with the boot CPU
  feat_ctl_then_vmcs,  ///< 5.10–6.1: "VMX is disabled on CPU n", then feature inconsistency
  support_then_vmcs,   ///< 6.6+: full support check per CPU, then VMCS config compare
};

/// Required and optional bits of one 32-bit VMX control MSR.
struct VmxControl {
  std::uint32_t required = 0;
  std::uint32_t optional = 0;
};

/// The VMX controls KVM negotiates: arch/x86/kvm/vmx/vmx.c: setup_vmcs_config() (6.1, 6.12).
struct VmxControlProfile {
  VmxControl pin, primary, secondary, exit, entry;
  std::uint64_t tertiary_optional = 0;    ///< 0 = tertiary controls unknown to this version
  bool pairs_enforced = false;            ///< 6.1+: entry/exit pairs must match
  bool cap_consistency_fatal = false;     ///< 6.1+: EPT/VPID caps without the control = -EIO
  bool drop_cr3_cr8_after_negotiation = false;  ///< ≤5.15 post-negotiation adjustments
};

/// The exact kernel log lines of one version. `{cpu}` and `{module}` are placeholders.
struct KvmMessages {
  std::string already_loaded;        ///< "kvm: already loaded the other module"
  std::string vmx_no_support;        ///< "kvm: no hardware support" / "kvm_intel: VMX not supported by CPU {cpu}"
  std::string vmx_disabled_bios;     ///< "kvm: disabled by bios" / "... in MSR_IA32_FEAT_CTL on CPU {cpu}"
  std::string vmx_txt_warning;       ///< 4.x "disable TXT in the BIOS ..." ("" when absent)
  std::string vmx_not_fully_enabled; ///< 7.3 split message ("" when absent)
  std::string vmx_inconsistent_cpu;  ///< "kvm: CPU {cpu} feature inconsistency!" / "Inconsistent VMCS config on CPU {cpu}"
  std::string vmx_setup_failed_cpu;  ///< 6.6+: "kvm_intel: Failed to setup VMCS config on CPU {cpu}"
  std::string svm_not_amd;           ///< "has_svm: not amd" / "kvm_amd: CPU {cpu} isn't AMD or Hygon"
  std::string svm_no_ext_leaf;       ///< "has_svm: can't execute cpuid_8000000a" ("" when no such check)
  std::string svm_not_available;     ///< "has_svm: svm not available" / "kvm_amd: SVM not supported by CPU {cpu}"
  std::string svm_sev_guest;         ///< "... KVM is unsupported when running as an SEV guest" ("" when no check)
  std::string svm_no_support_tail;   ///< line following the has_svm line ("kvm: no hardware support"), "" in 6.6+
  std::string svm_disabled_bios;     ///< "kvm: disabled by bios" / "kvm_amd: SVM disabled (by BIOS) in MSR_VM_CR on CPU {cpu}"
  std::string svm_boot_disabled;     ///< 6.8+ boot line "SVM disabled (by BIOS) in MSR_VM_CR" ("" before)
  std::string inadequate_fpu;        ///< "kvm: inadequate fpu" ("" when no check)
  std::string pat_not_wb;            ///< "kvm: host PAT[0] is not WB" ("" when no check)
  std::string rt_needs_constant_tsc; ///< PREEMPT_RT without constant TSC ("" when no check)
  std::string vmx_nx_missing;        ///< "kvm: NX (Execute Disable) not supported" ("" when not required)
  std::string svm_nx_missing;        ///< "SVM: NX (Execute Disable) not supported" ("" when not required)
  std::string ept_cap_inconsistent;  ///< 6.1+ EPT CAP warning
  std::string vpid_cap_inconsistent; ///< 6.1+ VPID CAP warning
  std::string entry_exit_pair;       ///< 6.1+ "Inconsistent VM-Entry/VM-Exit pair, entry = {entry}, exit = {exit}"
  std::string perf_global_ctrl_workaround;  ///< Nehalem/Westmere erratum line
  std::string enable_failed_cpu;     ///< "kvm: enabling virtualization on CPU{cpu} failed"
  std::string feat_ctl_vmx_outside;  ///< 5.6+ boot "x86/cpu: VMX (outside TXT) disabled by BIOS"
  std::string feat_ctl_vmx_inside;   ///< 5.6+ boot "x86/cpu: VMX (inside TXT) disabled by BIOS"
  // Informational lines of a successful kvm_amd load, in print order: arch/x86/kvm/svm/svm.c:
  // svm_hardware_setup(), AVIC lines from svm/avic.c: avic_hardware_setup() (6.1, 6.12).
  std::string svm_tsc_scaling;       ///< "SVM: TSC scaling supported" ("" when never printed)
  std::string svm_nested_enabled;    ///< "kvm: Nested Virtualization enabled"
  std::string svm_npt_enabled;       ///< "SVM: kvm: Nested Paging enabled"
  std::string svm_npt_disabled;      ///< "SVM: kvm: Nested Paging disabled"
  std::string svm_lbrv_early;        ///< 6.12+: printed right after nested paging
  std::string svm_avic;              ///< "SVM: AVIC enabled"
  std::string svm_x2avic;            ///< "SVM: x2AVIC enabled" ("" before 6.1)
  std::string svm_vls;               ///< "SVM: Virtual VMLOAD VMSAVE supported"
  std::string svm_vgif;              ///< "SVM: Virtual GIF supported"
  std::string svm_lbrv_late;         ///< ≤6.1: printed after vGIF
  std::string svm_vnmi;              ///< 6.6+: "kvm_amd: Virtual NMI enabled"
  std::string svm_pmu_disabled;      ///< "SVM: PMU virtualization is disabled" ("" before 6.1)
};

/// One module parameter's default in this version.
struct ParamDefault {
  std::string name;   ///< "kvm_amd.nested"
  std::string value;  ///< "1", "Y", "0" as the kernel prints it
  std::string note;   ///< what it changes here
};

/// Everything version-specific that the analysis needs.
struct KernelProfile {
  std::string id;                 ///< "6.1"
  KernelVersion tree;             ///< the source tree the data was read from (6.1.192)
  KernelVersion applies_from;     ///< lowest version this profile is chosen for
  std::string description;        ///< "Debian 12 6.1.192 (stable backports of vendor init)"

  // Generic checks: arch/x86/kvm/x86.c: kvm_x86_vendor_init() (6.1, 6.12).
  bool checks_fpu = false;        ///< 5.10+: FPU+FXSR required
  bool checks_pat = false;        ///< 6.1+: PAT[0] must be WB
  bool enable_virt_at_load = false;  ///< 6.12+: VMXON/EFER.SVME on every CPU at load

  // Support (VmxEnableModel, SvmDisableCheck, ConsistencyModel above).
  VmxEnableModel vmx_enable = VmxEnableModel::boot_feat_ctl;
  bool vmx_support_per_cpu_message = false;  ///< 6.6+: messages name the CPU
  SupportScope vmx_support_scope = SupportScope::common_flags;  ///< 5.6–6.1 common, 4.19 and 6.6+ loading CPU
  SupportScope svm_support_scope = SupportScope::common_flags;  ///< ≤6.1 common, 6.6+ loading CPU
  bool svm_accepts_hygon = true;
  bool svm_checks_ext_level = false;
  bool svm_checks_sev_guest = false;
  SvmDisableCheck svm_disable = SvmDisableCheck::kvm_loading_cpu;
  ConsistencyModel consistency = ConsistencyModel::feat_ctl_then_vmcs;
  bool nx_required = false;       ///< 6.1+: SVM always, VMX when EPT unusable

  // VMX: arch/x86/kvm/vmx/vmx.c: setup_vmcs_config() (6.1, 6.12).
  VmxControlProfile vmx;

  // XCR0/XSS: arch/x86/kvm/x86.c: KVM_SUPPORTED_XCR0, kvm_x86_vendor_init() (6.1, 6.12).
  std::uint64_t supported_xcr0_mask = 0x2ff;
  std::uint64_t supported_xss_mask = 0;

  // TSC: vmx/vmx.c: hardware_setup() (6.1) / vmx_hardware_setup() (6.12), svm/svm.c:
  // svm_hardware_setup(), x86.c: kvm_arch_hardware_setup() (6.1) / kvm_x86_vendor_init() (6.12).
  bool tsc_params_always = false;       ///< 6.1+: frac bits, max ratio, default ratio set without TSC control
  bool amd_tsc_scaling_param = false;   ///< 6.1+: kvm_amd.tsc_scaling gates TSC control
  bool set_tsc_khz_bound_unconditional = false;  ///< 4.19: KVM_SET_TSC_KHZ bound even without control

  // Module parameter defaults: the module_param() declarations of arch/x86/kvm/x86.c,
  // vmx/vmx.c and svm/svm.c.
  std::vector<ParamDefault> params;

  KvmMessages msg;

  /// The steps in the order this version's init runs them (analyse() walks this list).
  std::vector<StepId> step_order;

  /// MSR candidate lists and filters (issue 3); nullptr while not modelled.
  const MsrListProfile* msr_lists = nullptr;
};

/// Parse "6.1", "6.1.192", "6.1.0-56-amd64", "6.12.117+deb12-amd64"; false on garbage.
bool parse_kernel_version(const std::string& text, KernelVersion& out);

}  // namespace kvmprobe
