// kvm_amd svm_hardware_setup: NX, NPT and the optional SVM features, with the informational
// lines a successful load prints, in order (arch/x86/kvm/svm/svm.c:
// svm_hardware_setup() (6.1, 6.12)).
#include <fmt/format.h>

#include "core/analyse/step_util.h"
#include "core/analyse/steps.h"
#include "core/model/format.h"

namespace kvmprobe {
namespace {

/// What svm_hardware_setup() turns on: CPUID 0x8000000A features and the module parameters.
struct SvmFeatures {
  bool tsc, nested, npt, nrips, lbrv, avic, x2avic, vls, vgif, vnmi;
};

SvmFeatures svm_features(const AnalysisContext& ctx) {
  const auto& params = ctx.params;
  auto feat = [&](const CpuidBit& b) { return has_or_false(*ctx.boot, b); };
  SvmFeatures f{};
  f.tsc = feat(cpuid::kTscRateMsr) &&
          (!ctx.profile.amd_tsc_scaling_param || params.flag("kvm_amd.tsc_scaling", true));
  f.nested = params.flag("kvm_amd.nested", true);
  f.npt = feat(cpuid::kNpt) && params.flag("kvm_amd.npt", true);
  f.nrips = feat(cpuid::kNrips);
  f.lbrv = feat(cpuid::kLbrv) && params.flag("kvm_amd.lbrv", true);
  f.avic = params.flag("kvm_amd.avic", false) && f.npt && feat(cpuid::kAvic);
  f.x2avic = f.avic && feat(cpuid::kX2avic);
  f.vls = params.flag("kvm_amd.vls", true) && f.npt && feat(cpuid::kVVmsaveVmload);
  f.vgif = params.flag("kvm_amd.vgif", true) && feat(cpuid::kVgif);
  f.vnmi = f.vgif && params.flag("kvm_amd.vnmi", true) && feat(cpuid::kVnmi);
  return f;
}

/// The informational lines of a successful load, in the order svm_hardware_setup() prints them.
void setup_log(const AnalysisContext& ctx, const SvmFeatures& f, StepResult& s) {
  const auto& m = ctx.profile.msg;
  auto log = [&](const std::string& line) {
    if (!line.empty()) s.kvm_log.push_back(line);
  };
  if (f.tsc) log(m.svm_tsc_scaling);
  if (f.nested) log(m.svm_nested_enabled);
  log(f.npt ? m.svm_npt_enabled : m.svm_npt_disabled);
  if (f.lbrv) log(m.svm_lbrv_early);
  if (f.avic) log(m.svm_avic);
  if (f.x2avic) log(m.svm_x2avic);
  if (f.vls) log(m.svm_vls);
  if (f.vgif) log(m.svm_vgif);
  if (f.lbrv) log(m.svm_lbrv_late);
  if (f.vnmi) log(m.svm_vnmi);
  if (ctx.enable_pmu == false) log(m.svm_pmu_disabled);
}

std::vector<std::string> enabled_features(const SvmFeatures& f) {
  std::vector<std::string> on;
  auto add = [&](const char* n, bool v) {
    if (v) on.push_back(n);
  };
  add("NPT", f.npt);
  add("NRIPS", f.nrips);
  add("nested", f.nested);
  add("TSC scaling", f.tsc);
  add("LBR virtualization", f.lbrv);
  add("AVIC", f.avic);
  add("vVMLOAD/VMSAVE", f.vls);
  add("vGIF", f.vgif);
  add("vNMI", f.vnmi);
  return on;
}

}  // namespace

StepResult step_svm_config(const AnalysisContext& ctx) {
  StepResult s = make_step("svm-config", "SVM capabilities (svm_hardware_setup)");
  if (skipped_without(ctx, cpuid::kSvm, "SVM", s)) return s;
  const CpuRecord& cpu = *ctx.boot;
  const auto& p = ctx.profile;
  const auto& m = p.msg;
  auto edx = cpu.cpuid_reg(0x8000000a, 0, Reg::edx);
  auto ebx = cpu.cpuid_reg(0x8000000a, 0, Reg::ebx);
  if (edx) s.evidence.push_back({"CPUID.0x8000000A:EDX", "cpu0", hex(*edx), "SVM features"});
  if (ebx) s.evidence.push_back({"CPUID.0x8000000A:EBX", "cpu0", fmt::format("{}", *ebx), "ASIDs"});

  if (p.nx_required && !has_or_false(cpu, cpuid::kNx)) {  // arch/x86/kvm/svm/svm.c: svm_hardware_setup() (6.1)
    s.kvm_log.push_back(m.svm_nx_missing);
    fail(s, Refusal::other, "CPU lacks NX, which kvm_amd requires");
    s.remedy = "enable NX (Execute Disable) in the firmware setup";
    return s;
  }
  SvmFeatures f = svm_features(ctx);
  setup_log(ctx, f, s);
  std::string joined = join(enabled_features(f), ", ");
  s.evidence.push_back({"features KVM would use", "", "", joined.empty() ? "none" : joined});
  s.summary = fmt::format("{}; {}", f.npt ? "nested paging" : "shadow paging (no NPT)",
                          joined.empty() ? "no optional features" : joined);
  return s;
}

}  // namespace kvmprobe
