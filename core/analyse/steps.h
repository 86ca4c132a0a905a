// The KVM init steps, one file each (step_<id>.cc). Each is a pure function of the context.
#pragma once

#include "core/analyse/context.h"
#include "core/model/report.h"

namespace kvmprobe {

StepResult step_environment(const AnalysisContext& ctx);   ///< already-loaded module, other hypervisors, /dev/kvm
StepResult step_support(const AnalysisContext& ctx);       ///< VMX/SVM from CPUID on every CPU
StepResult step_bios_lock(const AnalysisContext& ctx);     ///< IA32_FEATURE_CONTROL / VM_CR on every CPU
StepResult step_generic(const AnalysisContext& ctx);       ///< FPU/FXSR, PAT[0], RT kernel
StepResult step_mmu(const AnalysisContext& ctx);           ///< physical address bits, MMIO SPTEs, SME C-bit
StepResult step_timer(const AnalysisContext& ctx);         ///< constant/nonstop TSC
StepResult step_xcr0(const AnalysisContext& ctx);          ///< host XCR0/XSS and KVM's supported masks
StepResult step_vmx_config(const AnalysisContext& ctx);    ///< setup_vmcs_config / hardware_setup (Intel)
StepResult step_svm_config(const AnalysisContext& ctx);    ///< svm_hardware_setup (AMD)
StepResult step_tsc_scaling(const AnalysisContext& ctx);   ///< has_tsc_control, ratios, max guest kHz
StepResult step_msr_lists(const AnalysisContext& ctx);     ///< kvm_init_msr_list summary
StepResult step_consistency(const AnalysisContext& ctx);   ///< per-CPU compatibility checks

}  // namespace kvmprobe
