// kvm_amd svm_hardware_setup: NX, NPT and the optional SVM features, with the informational
// lines a successful load prints, in order (arch/x86/kvm/svm/svm.c:
// svm_hardware_setup() (6.1, 6.12)).
#include <fmt/format.h>

#include "core/analyse/step_util.h"
#include "core/analyse/steps.h"
#include "core/model/format.h"

namespace kvmprobe {

StepResult step_svm_config(const AnalysisContext& ctx) {
  StepResult s = make_step("svm-config", "SVM capabilities (svm_hardware_setup)");
  if (!ctx.boot || !has_or_false(*ctx.boot, cpuid::kSvm)) {
    s.status = Status::skipped;
    s.summary = "not applicable: no SVM";
    return s;
  }
  const CpuRecord& cpu = *ctx.boot;
  const auto& p = ctx.profile;
  const auto& m = p.msg;
  const auto& params = ctx.params;
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
  auto feat = [&](const CpuidBit& b) { return has_or_false(cpu, b); };
  auto log = [&](const std::string& line) {
    if (!line.empty()) s.kvm_log.push_back(line);
  };
  bool tsc = feat(cpuid::kTscRateMsr) && (!p.amd_tsc_scaling_param || params.flag("kvm_amd.tsc_scaling", true));
  bool nested = params.flag("kvm_amd.nested", true);
  bool npt = feat(cpuid::kNpt) && params.flag("kvm_amd.npt", true);
  bool lbrv = feat(cpuid::kLbrv) && params.flag("kvm_amd.lbrv", true);
  bool avic = params.flag("kvm_amd.avic", false) && npt && feat(cpuid::kAvic);
  bool vls = params.flag("kvm_amd.vls", true) && npt && feat(cpuid::kVVmsaveVmload);
  bool vgif = params.flag("kvm_amd.vgif", true) && feat(cpuid::kVgif);
  bool vnmi = vgif && params.flag("kvm_amd.vnmi", true) && feat(cpuid::kVnmi);

  if (tsc) log(m.svm_tsc_scaling);
  if (nested) log(m.svm_nested_enabled);
  log(npt ? m.svm_npt_enabled : m.svm_npt_disabled);
  if (lbrv) log(m.svm_lbrv_early);
  if (avic) {
    log(m.svm_avic);
    if (feat(cpuid::kX2avic)) log(m.svm_x2avic);
  }
  if (vls) log(m.svm_vls);
  if (vgif) log(m.svm_vgif);
  if (lbrv) log(m.svm_lbrv_late);
  if (vnmi) log(m.svm_vnmi);
  if (ctx.enable_pmu == false) log(m.svm_pmu_disabled);

  std::vector<std::string> on;
  auto add = [&](const char* n, bool v) {
    if (v) on.push_back(n);
  };
  add("NPT", npt);
  add("NRIPS", feat(cpuid::kNrips));
  add("nested", nested);
  add("TSC scaling", tsc);
  add("LBR virtualization", lbrv);
  add("AVIC", avic);
  add("vVMLOAD/VMSAVE", vls);
  add("vGIF", vgif);
  add("vNMI", vnmi);
  std::string joined = join(on, ", ");
  s.evidence.push_back({"features KVM would use", "", "", joined.empty() ? "none" : joined});
  s.summary = fmt::format("{}; {}", npt ? "nested paging" : "shadow paging (no NPT)",
                          joined.empty() ? "no optional features" : joined);
  return s;
}

}  // namespace kvmprobe
