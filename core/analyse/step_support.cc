// Support check: VMX (Intel, Centaur, Zhaoxin) or SVM (AMD, Hygon) from CPUID on every CPU
// (arch/x86/kvm/vmx/vmx.c: cpu_has_kvm_support() (6.1) / __kvm_is_vmx_supported() (6.12);
// svm/svm.c: has_svm() (6.1) / __kvm_is_svm_supported() (6.12)). When only some CPUs lack it,
// what the kernel logs depends on KernelProfile::vmx_support_scope / svm_support_scope.
#include <fmt/format.h>

#include "core/analyse/step_util.h"
#include "core/analyse/steps.h"

namespace kvmprobe {
namespace {

/// Running as an SEV guest: the kernel log says so (the SEV_STATUS MSR is not collected).
bool sev_guest(const Snapshot& snap) {
  for (const auto& l : snap.kernel_log)
    if (l.find("Memory Encryption Features active: AMD SEV") != std::string::npos) return true;
  return false;
}

/// The CPUs with \a bit set, clear and not recorded, and the evidence row that counts them.
struct CpusByBit {
  std::vector<unsigned> with, without, unknown;
};

CpusByBit cpus_by_bit(const Snapshot& snap, const CpuidBit& bit, StepResult& s) {
  CpusByBit r;
  for (const auto& cpu : snap.cpus) {
    auto v = has(cpu, bit);
    (!v ? r.unknown : *v ? r.with : r.without).push_back(cpu.cpu);
  }
  s.evidence.push_back({bit.name, fmt::format("{} of {} CPUs", r.with.size(), snap.cpus.size()), "",
                        r.without.empty() ? "set on every CPU" : fmt::format("clear on CPUs {}", cpu_list(r.without))});
  return r;
}

void support_vmx(const AnalysisContext& ctx, StepResult& s) {
  const auto& m = ctx.profile.msg;
  auto [with, without, unknown] = cpus_by_bit(ctx.snap, cpuid::kVmx, s);
  if (!without.empty()) {
    bool all = with.empty();
    std::string summary =
        all ? "CPU has no VMX (CPUID.1:ECX[5] clear)" : fmt::format("VMX missing on CPUs {}", cpu_list(without));
    if (!has_or_false(*ctx.boot, cpuid::kVmx)) {
      // The loading CPU's own CPUID: vmx/vmx.c: cpu_has_kvm_support() (6.1), kvm_is_vmx_supported() (6.12).
      s.kvm_log.push_back(kvm_line(m.vmx_no_support, ctx.boot->cpu));
    } else if (ctx.profile.vmx_support_scope == SupportScope::common_flags) {
      // boot_cpu_has(X86_FEATURE_VMX), the AND over all CPUs: vmx/vmx.c: vmx_disabled_by_bios() (6.1).
      s.kvm_log.push_back(kvm_line(m.vmx_disabled_bios, ctx.boot->cpu));
      summary += ": KVM tests the features common to all CPUs and says 'disabled by bios'";
    } else {
      // x86.c: kvm_x86_check_processor_compatibility() (6.12): the first CPU with VMX has CR4.VMXE
      // allowed, boot_cpu_data (the AND) not: -EIO before any vendor check prints.
      summary += fmt::format(": CPU {}'s CR4 reserved bits differ from those common to all CPUs, "
                             "the per-CPU compatibility check fails with EIO (no log line)", with.front());
    }
    fail(s, all ? Refusal::no_support : Refusal::other, std::move(summary));
    std::string hv = ctx.boot ? hypervisor_vendor(*ctx.boot) : "";
    s.remedy = !hv.empty()
                   ? fmt::format("this is a guest of '{}': enable nested virtualization on the host "
                                 "(e.g. kvm_intel.nested=1 and a CPU model with vmx)", hv)
                   : "the processor has no VT-x; use a CPU with VMX";
    return;
  }
  if (!unknown.empty()) {
    s.status = Status::unknown;
    s.refusal = Refusal::cannot_tell;
    s.summary = fmt::format("CPUID leaf 1 not recorded for CPUs {}", cpu_list(unknown));
    s.missing.push_back("CPUID leaf 1");
    return;
  }
  s.summary = fmt::format("VMX present on all {} CPUs ({})", with.size(), to_string(ctx.vendor));
}

void support_svm(const AnalysisContext& ctx, StepResult& s) {
  const auto& p = ctx.profile;
  const auto& m = p.msg;
  const CpuRecord& boot = *ctx.boot;
  auto fail_with = [&](const std::string& first, std::string summary, Refusal why, unsigned cpu) {
    if (!first.empty()) s.kvm_log.push_back(kvm_line(first, cpu));
    if (!m.svm_no_support_tail.empty()) s.kvm_log.push_back(m.svm_no_support_tail);
    fail(s, why, std::move(summary));
  };
  if (ctx.vendor == Vendor::hygon && !p.svm_accepts_hygon) {
    fail_with(m.svm_not_amd, fmt::format("kvm_amd {} accepts AMD only, this is a Hygon CPU", p.id),
              Refusal::no_support, boot.cpu);
    s.remedy = "use a kernel from 5.10 on (Hygon support)";
    return;
  }
  if (p.svm_checks_ext_level && max_extended_leaf(boot) < 0x8000000a) {
    fail_with(m.svm_no_ext_leaf, "CPU has no CPUID leaf 0x8000000A", Refusal::no_support, boot.cpu);
    return;
  }
  auto [with, without, unknown] = cpus_by_bit(ctx.snap, cpuid::kSvm, s);
  if (!unknown.empty() && without.empty()) {
    s.status = Status::unknown;
    s.refusal = Refusal::cannot_tell;
    s.summary = fmt::format("CPUID leaf 0x80000001 not recorded for CPUs {}", cpu_list(unknown));
    s.missing.push_back("CPUID leaf 0x80000001");
    return;
  }
  if (!without.empty()) {
    bool all = with.empty();
    // 6.1: cpu_has_svm() reads boot_cpu_has(), the AND over all CPUs (arch/x86/include/asm/virtext.h
    // (6.1)); 6.12: the loading CPU in svm_init(), then each CPU in order in
    // svm_check_processor_compat(), which names the first CPU without SVM (svm/svm.c (6.12)).
    bool names_other = p.svm_support_scope == SupportScope::loading_cpu && has_or_false(boot, cpuid::kSvm);
    fail_with(m.svm_not_available,
              all ? "CPU has no SVM (CPUID.0x80000001:ECX[2] clear)"
                  : fmt::format("SVM missing on CPUs {}", cpu_list(without)),
              all ? Refusal::no_support : Refusal::other, names_other ? without.front() : boot.cpu);
    std::string hv = hypervisor_vendor(boot);
    s.remedy = !hv.empty() ? fmt::format("this is a guest of '{}': give it a CPU model with svm "
                                         "(nested virtualization on the host)", hv)
                           : "the processor has no AMD-V";
    return;
  }
  if (p.svm_checks_sev_guest && sev_guest(ctx.snap)) {
    fail_with(m.svm_sev_guest, "running as an SEV guest", Refusal::other, boot.cpu);
    return;
  }
  s.summary = fmt::format("SVM present on all {} CPUs ({})", with.size(), to_string(ctx.vendor));
}

}  // namespace

StepResult step_support(const AnalysisContext& ctx) {
  StepResult s = make_step("support", "VMX/SVM support");
  if (!ctx.boot) {
    s.status = Status::unknown;
    s.refusal = Refusal::cannot_tell;
    s.summary = "no CPU recorded";
    s.missing.push_back("CPUID");
    return s;
  }
  s.evidence.push_back({"vendor", "cpu0", vendor_string(*ctx.boot), to_string(ctx.vendor)});
  switch (ctx.module) {
    case VendorModule::kvm_intel: support_vmx(ctx, s); break;
    case VendorModule::kvm_amd: support_svm(ctx, s); break;
    case VendorModule::none:
      fail(s, Refusal::no_support,
           fmt::format("no KVM vendor module for {} CPUs without VMX", vendor_string(*ctx.boot)));
      s.remedy = "KVM on x86 needs Intel VT-x (VMX) or AMD-V (SVM)";
      break;
  }
  return s;
}

}  // namespace kvmprobe
