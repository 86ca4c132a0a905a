// Host XCR0 / XSS and KVM's supported masks (arch/x86/kvm/x86.c: kvm_x86_vendor_init():
// supported_xcr0 = host XCR0 & KVM_SUPPORTED_XCR0; supported_xss set in kvm_arch_hardware_setup()
// (6.1) / kvm_x86_vendor_init() (6.12)).
#include <fmt/format.h>

#include "core/analyse/step_util.h"
#include "core/analyse/steps.h"
#include "core/analyse/xcr0.h"

namespace kvmprobe {
namespace {

constexpr std::uint64_t kMpxMask = 0x18;  // BNDREGS | BNDCSR

}  // namespace

std::string xfeature_names(std::uint64_t mask) {
  static const char* names[] = {"x87",        "SSE",       "AVX",     "MPX-BNDREGS", "MPX-BNDCSR",
                                "AVX-512-opmask", "AVX-512-ZMM_Hi256", "AVX-512-Hi16_ZMM", "PT",
                                "PKRU",       "PASID",     "CET_U",   "CET_S",       "bit13",
                                "bit14",      "LBR",       "bit16",   "AMX-TILECFG", "AMX-TILEDATA",
                                "APX"};
  std::string out;
  for (unsigned b = 0; b < 64; ++b) {
    if (!((mask >> b) & 1)) continue;
    if (!out.empty()) out += " | ";
    out += b < std::size(names) ? std::string(names[b]) : fmt::format("bit{}", b);
  }
  return out.empty() ? "none" : out;
}

bool kernel_dropped_xsave(const CpuRecord& cpu) {
  // Linux sets CR4.OSXSAVE exactly when it keeps X86_FEATURE_XSAVE (fpu__init_cpu_xstate()), so
  // CPUID's XSAVE with OSXSAVE clear and no "xsave" among the kernel's flags means it booted
  // without XSAVE ("noxsave", or fpu__init_system_xstate() gave up, e.g. "XSAVE consistency
  // problem"): arch/x86/kernel/fpu/xstate.c (6.1, 6.12).
  return has(cpu, cpuid::kXsave).value_or(false) && has(cpu, cpuid::kOsxsave) == false &&
         cpu.has_linux_flag("xsave") == false;
}

std::optional<std::uint64_t> host_xcr0(const CpuRecord& cpu) {
  auto xsave = has(cpu, cpuid::kXsave);
  if (!xsave) return std::nullopt;
  if (!*xsave) return 0;
  if (cpu.xcr0) return cpu.xcr0;
  // KVM reads XCR0 only if boot_cpu_has(X86_FEATURE_XSAVE); else its host XCR0 and supported
  // XCR0 stay 0. arch/x86/kvm/x86.c: kvm_arch_init() (6.1), kvm_x86_vendor_init() (6.12)
  if (kernel_dropped_xsave(cpu)) return 0;
  return std::nullopt;  // XGETBV was not executed (no OSXSAVE seen, imported dump)
}

std::optional<std::uint64_t> supported_xcr0(const AnalysisContext& ctx) {
  if (!ctx.host_xcr0) return std::nullopt;
  std::uint64_t s = *ctx.host_xcr0 & ctx.profile.supported_xcr0_mask;
  bool mpx = ctx.module == VendorModule::kvm_intel && ctx.vmx.evaluated && ctx.vmx.mpx;
  if (!mpx) s &= ~kMpxMask;
  return s;
}

StepResult step_xcr0(const AnalysisContext& ctx) {
  StepResult s = make_step("xcr0", "Host XCR0 / XSS and supported masks");
  if (!ctx.boot) {
    s.status = Status::unknown;
    s.summary = "no CPU recorded";
    return s;
  }
  const CpuRecord& cpu = *ctx.boot;
  auto xsave = has(cpu, cpuid::kXsave);
  s.evidence.push_back({cpuid::kXsave.name, "cpu0", "", !xsave ? "unknown" : *xsave ? "set" : "clear"});
  if (!ctx.host_xcr0) {
    s.status = Status::unknown;
    s.summary = "host XCR0 unknown (XGETBV not recorded)";
    s.missing.push_back("XCR0 of cpu0 (xgetbv needs CPUID.1:ECX[27] OSXSAVE)");
    return s;
  }
  std::uint64_t host = *ctx.host_xcr0;
  s.evidence.push_back({"host XCR0", "cpu0", hex(host), xfeature_names(host)});
  s.evidence.push_back({fmt::format("KVM_SUPPORTED_XCR0 ({})", ctx.profile.id), "", hex(ctx.profile.supported_xcr0_mask),
                        xfeature_names(ctx.profile.supported_xcr0_mask)});
  std::uint64_t sup = ctx.supported_xcr0.value_or(0);
  s.evidence.push_back({"supported XCR0", "", hex(sup), xfeature_names(sup)});
  if ((host & kMpxMask) && !(sup & kMpxMask))
    s.evidence.push_back({"MPX state", "", "", ctx.module == VendorModule::kvm_amd
                              ? "dropped: SVM never supports MPX"
                              : "dropped: the VMX MPX controls (BNDCFGS load/clear) are missing"});
  // XSS.
  auto xsaves = has(cpu, cpuid::kXsaves);
  const MsrRead* xss = cpu.find_msr(0xda0);
  if (xsaves.value_or(false)) {
    if (xss && xss->ok()) {
      s.evidence.push_back({"host IA32_XSS (0xda0)", "cpu0", hex(xss->value), xfeature_names(xss->value)});
      std::uint64_t sxss = xss->value & ctx.profile.supported_xss_mask;
      if (sxss != ctx.profile.supported_xss_mask) sxss = 0;  // 7.3: both CET bits or none
      s.evidence.push_back({"supported XSS", "", hex(sxss),
                            ctx.profile.supported_xss_mask ? xfeature_names(sxss) : "always 0 in this version"});
    } else {
      s.evidence.push_back({"host IA32_XSS (0xda0)", "cpu0", "", "not readable"});
      if (!ctx.profile.supported_xss_mask)
        s.evidence.push_back({"supported XSS", "", "0x0", "always 0 in this version"});
    }
  }
  s.summary = fmt::format("host XCR0 {} → KVM supports {} ({})", hex(host), hex(sup), xfeature_names(sup));
  if (!xsave.value_or(false)) s.summary = "no XSAVE: host XCR0 0, KVM reports no XSAVE state";
  if (kernel_dropped_xsave(cpu)) {
    s.evidence.push_back({cpuid::kOsxsave.name, "cpu0", "", "clear, and no 'xsave' in the kernel's flags"});
    s.summary = "the kernel runs without XSAVE (CPUID has it, OSXSAVE clear): no XCR0, KVM reports no XSAVE state";
  }
  return s;
}

}  // namespace kvmprobe
