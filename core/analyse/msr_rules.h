// The filters of KVM's MSR lists as named predicates over the snapshot (arch/x86/kvm/x86.c:
// kvm_init_msr_list() (6.1) / kvm_probe_msr_to_save(), kvm_init_msr_lists() (6.12)): one function
// per rule code (F-MPX, F-TSCAUX, ..., E-SMBASE, ..., X-VMX), each answering keep / drop / cannot
// tell with the reason. msr_lists.cc applies them in KVM's order.
#pragma once

#include <cstdint>
#include <string>

#include "core/analyse/context.h"
#include "core/analyse/pmu.h"
#include "core/model/msr_profile.h"

namespace kvmprobe {

/// Why a candidate was dropped or could not be decided (stable snake_case names in JSON).
enum class MsrReason {
  none,            ///< kept
  rdmsr_fault,     ///< host RDMSR faulted on the loading CPU
  rdmsr_unknown,   ///< host RDMSR not recorded
  needs_feature,   ///< a CPUID feature or KVM capability is missing
  pmu_counter,     ///< counter number at or above the available count
  pmu_disabled,    ///< 6.6+: the PMU array is skipped because enable_pmu is off
  not_emulated,    ///< the vendor module's has_emulated_msr() says no
  param_off,       ///< a module parameter turns it off
  vendor_module,   ///< the vendor module does not provide this feature MSR
  fact_unknown,    ///< a fact the rule needs is not in the snapshot
};

/// One rule's answer for one candidate.
struct RuleOutcome {
  Tri keep = Tri::unknown;
  MsrReason code = MsrReason::fact_unknown;  ///< MsrReason::none when kept
  std::string reason;                         ///< "needs CPUID feature WAITPKG", "" when kept
};

/// What the predicates read: the analysis context, the version's list data and KVM's PMU state.
struct MsrRuleInputs {
  const AnalysisContext& ctx;
  const MsrListProfile& lists;
  KvmPmu pmu;
};

/// "F-MPX", "E-SMBASE", "X-ALWAYS", "—" for MsrRule::none.
const char* rule_code(MsrRule rule);
/// "rdmsr_fault", "needs_feature", ...
const char* to_string(MsrReason reason);

/// Apply the candidate's rule (not the host RDMSR, not the PMU-array skip).
RuleOutcome evaluate_rule(MsrRule rule, std::uint32_t index, const MsrRuleInputs& in);

/// The host RDMSR KVM does on the loading CPU: yes = reads, no = faults, unknown = not recorded.
RuleOutcome host_rdmsr(const AnalysisContext& ctx, std::uint32_t index);

/// For snapshots without MSR reads (imported dumps): does the vendor implement the MSR on this
/// CPU, judged from CPUID (architectural MSRs only; unknown where CPUID cannot tell).
RuleOutcome vendor_implements_msr(const AnalysisContext& ctx, std::uint32_t index);

namespace msr_rules {
// msrs_to_save filters (the switch in kvm_init_msr_list() (6.1) / kvm_probe_msr_to_save()
// (6.12)); `index` is the candidate.
RuleOutcome mpx(const MsrRuleInputs& in);                              ///< F-MPX
RuleOutcome tsc_aux(const MsrRuleInputs& in);                          ///< F-TSCAUX
RuleOutcome waitpkg(const MsrRuleInputs& in);                          ///< F-WAITPKG
RuleOutcome intel_pt(const MsrRuleInputs& in);                         ///< F-PT (KVM cap INTEL_PT)
RuleOutcome pt_cr3(const MsrRuleInputs& in);                           ///< F-PT-CR3
RuleOutcome pt_output(const MsrRuleInputs& in);                        ///< F-PT-OUT
RuleOutcome pt_addr(const MsrRuleInputs& in, std::uint32_t index);     ///< F-PT-ADDR
RuleOutcome gp_counter(const MsrRuleInputs& in, std::uint32_t index);  ///< F-GP
RuleOutcome fixed_counter(const MsrRuleInputs& in, std::uint32_t index);  ///< F-FIXED
RuleOutcome perfmon_v2(const MsrRuleInputs& in);                       ///< F-PMUV2
RuleOutcome xfd(const MsrRuleInputs& in);                              ///< F-XFD
RuleOutcome tsx_ctrl(const MsrRuleInputs& in);                         ///< F-TSXCTRL
RuleOutcome xss(const MsrRuleInputs& in);                              ///< F-XSS (7.3)
RuleOutcome cet(const MsrRuleInputs& in);                              ///< F-CET (7.3)
RuleOutcome shstk(const MsrRuleInputs& in);                            ///< F-SHSTK (7.3)
RuleOutcome ssptab(const MsrRuleInputs& in);                           ///< F-SSPTAB (7.3)
// emulated_msrs (vmx/vmx.c: vmx_has_emulated_msr(), svm/svm.c: svm_has_emulated_msr()).
RuleOutcome smbase(const MsrRuleInputs& in);                           ///< E-SMBASE
RuleOutcome vmx_msr_emulated(const MsrRuleInputs& in);                 ///< E-VMXMSR
RuleOutcome mcg_ext_ctl(const MsrRuleInputs& in);                      ///< E-MCGEXT
RuleOutcome amd_only(const MsrRuleInputs& in);                         ///< E-AMDONLY
// msr_based_features (vmx/vmx.c: vmx_get_msr_feature(), svm/svm.c: svm_get_msr_feature() (6.1);
// vmx_get_feature_msr(), svm_get_feature_msr() (6.12)).
RuleOutcome vmx_feature(const MsrRuleInputs& in);                      ///< X-VMX
RuleOutcome amd_feature(const MsrRuleInputs& in);                      ///< X-AMD

// KVM CPU capabilities the filters use (arch/x86/kvm/cpuid.c: kvm_set_cpu_caps(), vmx/vmx.c:
// vmx_set_cpu_caps(), svm/svm.c: svm_set_cpu_caps() (6.1, 6.12)): yes/no/unknown with the reason
// when not set.
RuleOutcome cap_rdtscp(const MsrRuleInputs& in);
RuleOutcome cap_rdpid(const MsrRuleInputs& in);
RuleOutcome cap_xsaves(const MsrRuleInputs& in);
RuleOutcome cap_shstk(const MsrRuleInputs& in);  ///< 7.3, after the supported-XSS check
RuleOutcome cap_ibt(const MsrRuleInputs& in);    ///< 7.3, after the supported-XSS check
}  // namespace msr_rules

}  // namespace kvmprobe
