#include "core/analyse/analyse.h"

#include <fmt/format.h>

#include <map>

#include "core/analyse/context.h"
#include "core/analyse/cpu_identity.h"
#include "core/analyse/pmu.h"
#include "core/analyse/steps.h"
#include "core/analyse/xcr0.h"

namespace kvmprobe {
namespace {

/// Why there is no /dev/kvm, from what the kernel left: a vendor module built in that did not
/// bind, kvm loaded without a vendor module, or no KVM module at all.
std::string no_dev_kvm_reason(const Snapshot& snap) {
  for (const char* m : {"kvm_intel", "kvm_amd", "kvm_pvm"}) {
    if (vendor_module_state(snap, m) != ModuleState::unbound) continue;
    std::string line = module_log_line(snap, m);
    return fmt::format("no /dev/kvm: {} is built in but did not bind{}", m,
                       line.empty() ? std::string() : " (" + line + ")");
  }
  if (const LoadedModule* kvm = snap.find_module("kvm"))
    return fmt::format("no /dev/kvm: kvm is {} but no vendor module registered",
                       kvm->builtin ? "built in" : "loaded");
  return "no /dev/kvm: no KVM module is loaded";
}


using StepFn = StepResult (*)(const AnalysisContext&);

StepResult vendor_config(const AnalysisContext& ctx) {
  return ctx.module == VendorModule::kvm_amd ? step_svm_config(ctx) : step_vmx_config(ctx);
}

/// Every step, by id (the order comes from the profile).
const std::map<std::string, StepFn>& step_table() {
  static const std::map<std::string, StepFn> table = {
      {"environment", step_environment}, {"support", step_support},
      {"bios-lock", step_bios_lock},     {"generic", step_generic},
      {"mmu", step_mmu},                 {"timer", step_timer},
      {"xcr0", step_xcr0},               {"vendor-config", vendor_config},
      {"tsc-scaling", step_tsc_scaling}, {"msr-lists", step_msr_lists},
      {"consistency", step_consistency},
  };
  return table;
}

VendorModule choose_module(const CpuRecord* boot, Vendor vendor) {
  if (!boot) return VendorModule::none;
  if (has_or_false(*boot, cpuid::kVmx)) return VendorModule::kvm_intel;
  switch (vendor) {
    case Vendor::amd:
    case Vendor::hygon: return VendorModule::kvm_amd;
    case Vendor::intel:
    case Vendor::centaur:
    case Vendor::zhaoxin: return VendorModule::kvm_intel;
    default: return VendorModule::none;
  }
}

Verdict decide(const Report& r, const AnalysisContext& ctx) {
  Verdict v;
  v.vendor_module = module_name(ctx.module);
  v.would_load = true;
  for (const auto& s : r.steps) {
    if (s.status == Status::fail && s.refusal != Refusal::none) {
      v.would_load = false;
      v.refusal = s.refusal;
      v.reason = s.summary;
      v.failed_step = s.id;
      break;
    }
    if (s.status == Status::unknown && s.refusal == Refusal::cannot_tell && v.would_load) {
      v.would_load = std::nullopt;  // keep looking: a later certain failure still decides
      v.refusal = Refusal::cannot_tell;
      v.reason = s.summary;
      v.failed_step = s.id;
    }
  }
  if (ctx.module == VendorModule::none && v.would_load.value_or(false)) {
    v.would_load = false;
    v.refusal = Refusal::no_support;
    v.reason = "no KVM vendor module applies to this CPU";
  }
  if (v.would_load == true)
    v.reason = fmt::format("{} would load with kernel {}", v.vendor_module, r.profile_id);

  const auto& kvm = ctx.snap.kvm;
  std::string backing = registered_vendor_module(ctx.snap);
  if (ctx.snap.origin.rfind("import", 0) == 0) {
    v.usable_reason = "imported CPUID dump: /dev/kvm not recorded";
  } else if (kvm.openable && kvm.api_version == 12) {
    v.kvm_usable = true;
    v.usable_reason = backing.empty() ? "/dev/kvm answers (KVM API 12)"
                                      : fmt::format("/dev/kvm answers through {} (KVM API 12)", backing);
  } else if (kvm.present && !kvm.openable) {
    v.kvm_usable = false;
    v.usable_reason = fmt::format("/dev/kvm exists but cannot be opened: {}",
                                  kvm.open_error == 13 ? "permission denied (join the kvm group)"
                                                       : fmt::format("errno {}", kvm.open_error));
  } else if (kvm.present) {
    v.kvm_usable = false;
    v.usable_reason = kvm.error.empty() ? "/dev/kvm does not answer as KVM API 12" : kvm.error;
  } else {
    v.kvm_usable = false;
    v.usable_reason = no_dev_kvm_reason(ctx.snap);
  }
  return v;
}

}  // namespace

Analyzer::Analyzer(const Snapshot& snap, const KernelProfile& profile, const ParamOverrides& overrides)
    : params_(resolve_params(snap, profile, overrides)),
      ctx_(std::make_unique<AnalysisContext>(AnalysisContext{snap, profile, params_})) {
  AnalysisContext& ctx = *ctx_;
  ctx.boot = snap.boot_cpu();
  ctx.running_boot = boot_behaviour(snap.kernel_release);
  if (ctx.boot) ctx.vendor = cpu_vendor(*ctx.boot);
  ctx.module = choose_module(ctx.boot, ctx.vendor);
  if (ctx.boot && ctx.module == VendorModule::kvm_intel)
    ctx.vmx = negotiate_vmx(*ctx.boot, profile,
                            params_.flag("kvm_intel.error_on_inconsistent_vmcs_config", true));
  if (ctx.boot) {
    ctx.host_xcr0 = host_xcr0(*ctx.boot);
    ctx.supported_xcr0 = supported_xcr0(ctx);
  }
  auto [pmu, why] = effective_enable_pmu(snap, profile, params_);
  ctx.enable_pmu = pmu;
  ctx.enable_pmu_reason = why;
}

Report Analyzer::report() const {
  const AnalysisContext& ctx = *ctx_;
  Report r;
  r.profile_id = ctx.profile.id;
  r.kernel_release = ctx.snap.kernel_release;
  if (ctx.boot) {
    CpuIdentity id = identify_cpu(*ctx.boot);
    r.cpu_vendor = id.vendor;
    r.cpu_name = id.brand;
    r.cpu_codename = id.codename;
    r.cpu_family = id.family;
    r.cpu_model = id.model;
    r.cpu_stepping = id.stepping;
  }
  const auto& table = step_table();
  std::string stopped_at;  // KVM's init returns at the first failure: later steps never run
  for (const auto& id : ctx.profile.step_order) {
    auto it = table.find(id);
    if (it == table.end()) continue;
    StepResult s = it->second(ctx);
    if (!stopped_at.empty() && s.status != Status::skipped) {
      s.kvm_log.clear();
      s.summary += fmt::format(" (not reached: init stops at {})", stopped_at);
    }
    if (stopped_at.empty() && s.status == Status::fail && s.refusal != Refusal::none) stopped_at = s.id;
    r.steps.push_back(std::move(s));
  }
  r.verdict = decide(r, ctx);
  return r;
}

Report analyse(const Snapshot& snap, const KernelProfile& profile, const ParamOverrides& overrides) {
  return Analyzer(snap, profile, overrides).report();
}

}  // namespace kvmprobe
