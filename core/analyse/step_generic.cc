// Generic x86 checks of kvm_arch_init / kvm_x86_vendor_init: FPU+FXSR, host PAT[0] = WB,
// PREEMPT_RT needs a constant TSC (arch/x86/kvm/x86.c:
// kvm_x86_vendor_init() (6.1, 6.12)).
#include <fmt/format.h>

#include "core/analyse/step_util.h"
#include "core/analyse/steps.h"
#include "core/model/format.h"

namespace kvmprobe {
namespace {

bool constant_tsc(const CpuRecord& cpu) {
  if (auto f = cpu.has_linux_flag("constant_tsc")) return *f;
  return has_or_false(cpu, cpuid::kInvariantTsc);
}

}  // namespace

StepResult step_generic(const AnalysisContext& ctx) {
  StepResult s = make_step("generic", "FPU, PAT and RT checks");
  const auto& p = ctx.profile;
  if (!ctx.boot) {
    s.status = Status::unknown;
    s.summary = "no CPU recorded";
    return s;
  }
  const CpuRecord& cpu = *ctx.boot;
  std::vector<std::string> done;
  if (p.checks_fpu) {
    bool fpu = has_or_false(cpu, cpuid::kFpu), fxsr = has_or_false(cpu, cpuid::kFxsr);
    s.evidence.push_back({"CPUID.1:EDX[0] FPU, [24] FXSR", "cpu0", "", fmt::format("FPU {}, FXSR {}",
                          fpu ? "set" : "clear", fxsr ? "set" : "clear")});
    if (!fpu || !fxsr) {
      s.kvm_log.push_back(p.msg.inadequate_fpu);
      fail(s, Refusal::other, "CPU lacks FPU or FXSR");
      return s;
    }
    done.push_back("FPU/FXSR present");
  }
  if (p.checks_pat) {
    const MsrRead* pat = cpu.find_msr(0x277);
    if (pat && pat->ok()) {
      unsigned pa0 = pat->value & 0x7;
      s.evidence.push_back({"IA32_PAT (0x277)", "cpu0", hex(pat->value),
                            fmt::format("PA0 = {} ({})", pa0, pa0 == 6 ? "WB" : "not WB")});
      if (pa0 != 6) {
        s.kvm_log.push_back(p.msg.pat_not_wb);
        fail(s, Refusal::other, "host PAT entry 0 is not write-back");
        s.remedy = "boot without 'nopat' so Linux programs PAT; check firmware PAT setup";
        return s;
      }
    } else if (pat && pat->status == ReadStatus::fault) {
      s.kvm_log.push_back(p.msg.pat_not_wb);
      fail(s, Refusal::other, "IA32_PAT cannot be read (rdmsr faults)");
      return s;
    } else {
      // Not readable here; Linux's pat_init programs PA0 = WB on every CPU at boot.
      s.evidence.push_back({"IA32_PAT (0x277)", "cpu0", "", "not readable; Linux programs PA0 = WB at boot"});
    }
    done.push_back("PAT[0] is WB");
  }
  bool rt = ctx.snap.kernel_release.find("-rt") != std::string::npos ||
            ctx.snap.kernel_release.find("PREEMPT_RT") != std::string::npos;
  if (rt && !p.msg.rt_needs_constant_tsc.empty()) {
    if (!constant_tsc(cpu)) {
      s.kvm_log.push_back(p.msg.rt_needs_constant_tsc);
      fail(s, Refusal::other, "PREEMPT_RT kernel on a CPU without a constant TSC");
      return s;
    }
    done.push_back("RT kernel with constant TSC");
  }
  s.summary = done.empty() ? fmt::format("no generic checks in {}", p.id) : join(done, ", ");
  return s;
}

}  // namespace kvmprobe
