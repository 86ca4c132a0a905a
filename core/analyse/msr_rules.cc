// Filters of kvm_init_msr_list (≤6.1) / kvm_probe_msr_to_save (6.6+), the vendor modules'
// has_emulated_msr and get_msr_feature, and the KVM CPU caps behind them. Sources: Debian's
// linux-source 6.1.192 and 6.12.117 (arch/x86/kvm/{x86.c,cpuid.c,vmx/vmx.c,svm/svm.c}).
#include "core/analyse/msr_rules.h"

#include <fmt/format.h>

#include <initializer_list>

#include "core/analyse/cpu_facts.h"
#include "core/analyse/perfmon_leaf.h"
#include "core/profiles/vmx_bits.h"

namespace kvmprobe {
namespace {

constexpr std::uint32_t kPerfctr0 = 0xc1, kEventsel0 = 0x186, kFixedCtr0 = 0x309,
                        kRtitAddr0A = 0x580, kArchCaps = 0x10a, kXss = 0xda0;
constexpr std::uint64_t kXfeatureMpx = 0x18;     // BNDREGS | BNDCSR
constexpr std::uint64_t kXfeatureCet = 0x1800;   // CET_USER | CET_KERNEL
constexpr CpuidBit kXgetbv1{0xd, 1, Reg::eax, 2, "CPUID.0xD.1:EAX[2] XGETBV1"};

RuleOutcome kept() { return {Tri::yes, MsrReason::none, {}}; }
RuleOutcome dropped(MsrReason code, std::string why) { return {Tri::no, code, std::move(why)}; }
RuleOutcome unknown(std::string why) { return {Tri::unknown, MsrReason::fact_unknown, std::move(why)}; }

// AND of conditions: the first definite "no" decides, else the first unknown, else kept.
RuleOutcome all_of(std::initializer_list<RuleOutcome> parts) {
  const RuleOutcome* first_unknown = nullptr;
  for (const auto& p : parts) {
    if (p.keep == Tri::no) return p;
    if (p.keep == Tri::unknown && !first_unknown) first_unknown = &p;
  }
  return first_unknown ? *first_unknown : kept();
}

// OR of two conditions: kept when either is, dropped when both are (reason of `b` unless given).
RuleOutcome any_of(const RuleOutcome& a, const RuleOutcome& b, std::string both_why) {
  if (a.keep == Tri::yes || b.keep == Tri::yes) return kept();
  if (a.keep == Tri::no && b.keep == Tri::no) {
    std::string why = a.reason == b.reason ? a.reason : a.reason + "; " + b.reason;
    return dropped(a.code, fmt::format("{} ({})", both_why, why));
  }
  return a.keep == Tri::unknown ? a : b;
}

bool is_vmx(const MsrRuleInputs& in) { return in.ctx.module == VendorModule::kvm_intel; }
bool is_svm(const MsrRuleInputs& in) { return in.ctx.module == VendorModule::kvm_amd; }
const char* mod(const MsrRuleInputs& in) { return module_name(in.ctx.module); }

// "WAITPKG" from "CPUID.7.0:ECX[5] WAITPKG".
std::string short_name(const CpuidBit& b) {
  std::string n = b.name;
  auto sp = n.rfind(' ');
  return sp == std::string::npos ? n : n.substr(sp + 1);
}

// The host CPUID feature, as KVM's cap init sees it (kvm_cpu_cap_mask against raw CPUID).
RuleOutcome host_feature(const AnalysisContext& ctx, const CpuidBit& b) {
  if (!ctx.boot) return unknown("no CPU in the snapshot");
  auto v = has(*ctx.boot, b);
  if (!v) return unknown(fmt::format("CPUID leaf {:#x}.{} not recorded", b.leaf, b.subleaf));
  if (!*v) return dropped(MsrReason::needs_feature, fmt::format("needs CPUID feature {} ({})", short_name(b), b.name));
  return kept();
}

RuleOutcome vmx_known(const MsrRuleInputs& in) {
  if (in.ctx.vmx.evaluated) return kept();
  return unknown("VMX capability MSRs not recorded, so KVM's VMX controls are unknown");
}

// A VMX-derived capability (setup_vmcs_config result).
RuleOutcome vmx_control(const MsrRuleInputs& in, bool granted, const char* what) {
  RuleOutcome k = vmx_known(in);
  if (k.keep != Tri::yes) return k;
  if (!granted) return dropped(MsrReason::needs_feature, fmt::format("{} not granted by the VMX capability MSRs", what));
  return kept();
}

std::string param_origin(const AnalysisContext& ctx, const std::string& name) {
  const ParamValue* v = ctx.params.find(name);
  return v ? v->origin : "not a parameter of this kernel";
}

RuleOutcome param_on(const AnalysisContext& ctx, const std::string& name, bool fallback) {
  if (ctx.params.flag(name, fallback)) return kept();
  return dropped(MsrReason::param_off, fmt::format("parameter {} off ({})", name, param_origin(ctx, name)));
}

// kvm_intel's enable_unrestricted_guest after hardware_setup: param, EPT usable and enabled.
RuleOutcome unrestricted_guest(const MsrRuleInputs& in) {
  return all_of({param_on(in.ctx, "kvm_intel.unrestricted_guest", true),
                 param_on(in.ctx, "kvm_intel.ept", true),
                 vmx_control(in, in.ctx.vmx.unrestricted_guest, "unrestricted guest (EPT + UNRESTRICTED_GUEST)")});
}

std::optional<std::uint32_t> leaf_reg(const AnalysisContext& ctx, std::uint32_t leaf, std::uint32_t sub, Reg r) {
  if (!ctx.boot) return std::nullopt;
  if (auto v = ctx.boot->cpuid_reg(leaf, sub, r)) return v;
  if (ctx.boot->find_cpuid(0) && leaf < 0x40000000u && leaf > max_basic_leaf(*ctx.boot)) return 0u;
  return std::nullopt;
}

// 7.3 CET caps before the supported-XSS check (7.3 source not in the trees read here; SVM side
// UNCONFIRMED).
RuleOutcome cet_cap_raw(const MsrRuleInputs& in, const CpuidBit& bit) {
  RuleOutcome host = host_feature(in.ctx, bit);
  if (is_svm(in)) {
    if (&bit == &cpuid::kIbt) return dropped(MsrReason::needs_feature, "kvm_amd does not virtualize IBT");
    return host;
  }
  const VmxConfig& v = in.ctx.vmx;
  bool controls = ((v.entry.value >> vmx::kEntryLoadCetState) & 1) && ((v.exit.value >> vmx::kExitLoadCetState) & 1);
  return all_of({host, param_on(in.ctx, "kvm_intel.cet", true),
                 vmx_control(in, controls, "VM-entry/exit LOAD_CET_STATE"), unrestricted_guest(in),
                 vmx_control(in, (v.basic >> 56) & 1, "VMX_BASIC bit 56 (no error-code consistency check)")});
}

// 7.3 supported XSS: host XSS & CET bits, only with XSAVES and SHSTK or IBT, all or none.
RuleOutcome supported_xss_nonzero(const MsrRuleInputs& in) {
  RuleOutcome xs = msr_rules::cap_xsaves(in);
  if (xs.keep == Tri::no) return dropped(xs.code, "supported XSS is 0: " + xs.reason);
  RuleOutcome caps = any_of(cet_cap_raw(in, cpuid::kShstk), cet_cap_raw(in, cpuid::kIbt),
                            "supported XSS is 0: neither SHSTK nor IBT is a KVM cap");
  if (caps.keep == Tri::no) return caps;
  const MsrRead* r = in.ctx.boot ? in.ctx.boot->find_msr(kXss) : nullptr;
  std::uint64_t mask = in.ctx.profile.supported_xss_mask & kXfeatureCet;
  if (!r || !r->ok()) return all_of({xs, caps, unknown("host IA32_XSS (0xda0) not recorded")});
  if ((r->value & mask) != kXfeatureCet || mask != kXfeatureCet)
    return dropped(MsrReason::needs_feature,
                   fmt::format("supported XSS is 0: host XSS {:#x} lacks CET_USER|CET_KERNEL", r->value));
  return all_of({xs, caps});
}

// MSRs whose presence CPUID tells (for vendor_implements_msr).
struct Presence {
  std::uint32_t first, last;
  enum Kind { always, intel, amd, feature, feature_any2, intel_gp, intel_fixed, intel_v2, intel_unknown, lbr_legacy, arch_cap_bit7, unknown_ } kind;
  const CpuidBit* bit = nullptr;
  const CpuidBit* bit2 = nullptr;
};

constexpr CpuidBit kIntelIbrs{0x7, 0, Reg::edx, 26, "CPUID.7.0:EDX[26] IBRS"};
constexpr CpuidBit kIntelSsbd{0x7, 0, Reg::edx, 31, "CPUID.7.0:EDX[31] SSBD"};
constexpr CpuidBit kAmdIbrs{0x80000008, 0, Reg::ebx, 14, "CPUID.0x80000008:EBX[14] AMD_IBRS"};
constexpr CpuidBit kAmdSsbd{0x80000008, 0, Reg::ebx, 24, "CPUID.0x80000008:EBX[24] AMD_SSBD"};
constexpr CpuidBit kArchLbr{0x7, 0, Reg::edx, 19, "CPUID.7.0:EDX[19] ARCH_LBR"};
constexpr CpuidBit kDs{0x1, 0, Reg::edx, 21, "CPUID.1:EDX[21] DS"};

}  // namespace

const char* rule_code(MsrRule rule) {
  switch (rule) {
    case MsrRule::none: return "—";
    case MsrRule::f_mpx: return "F-MPX";
    case MsrRule::f_tscaux: return "F-TSCAUX";
    case MsrRule::f_waitpkg: return "F-WAITPKG";
    case MsrRule::f_pt: return "F-PT";
    case MsrRule::f_pt_cr3: return "F-PT-CR3";
    case MsrRule::f_pt_out: return "F-PT-OUT";
    case MsrRule::f_pt_addr: return "F-PT-ADDR";
    case MsrRule::f_gp: return "F-GP";
    case MsrRule::f_fixed: return "F-FIXED";
    case MsrRule::pmu: return "PMU";
    case MsrRule::f_pmuv2: return "F-PMUV2";
    case MsrRule::f_xfd: return "F-XFD";
    case MsrRule::f_tsxctrl: return "F-TSXCTRL";
    case MsrRule::f_xss: return "F-XSS";
    case MsrRule::f_cet: return "F-CET";
    case MsrRule::f_shstk: return "F-SHSTK";
    case MsrRule::f_ssptab: return "F-SSPTAB";
    case MsrRule::e_smbase: return "E-SMBASE";
    case MsrRule::e_vmxmsr: return "E-VMXMSR";
    case MsrRule::e_mcgext: return "E-MCGEXT";
    case MsrRule::e_amdonly: return "E-AMDONLY";
    case MsrRule::x_vmx: return "X-VMX";
    case MsrRule::x_amd: return "X-AMD";
    case MsrRule::x_always: return "X-ALWAYS";
  }
  return "?";
}

const char* to_string(MsrReason reason) {
  switch (reason) {
    case MsrReason::none: return "none";
    case MsrReason::rdmsr_fault: return "rdmsr_fault";
    case MsrReason::rdmsr_unknown: return "rdmsr_unknown";
    case MsrReason::needs_feature: return "needs_feature";
    case MsrReason::pmu_counter: return "pmu_counter";
    case MsrReason::pmu_disabled: return "pmu_disabled";
    case MsrReason::not_emulated: return "not_emulated";
    case MsrReason::param_off: return "param_off";
    case MsrReason::vendor_module: return "vendor_module";
    case MsrReason::fact_unknown: return "fact_unknown";
  }
  return "?";
}

RuleOutcome host_rdmsr(const AnalysisContext& ctx, std::uint32_t index) {
  if (!ctx.boot) return {Tri::unknown, MsrReason::rdmsr_unknown, "no CPU in the snapshot"};
  const MsrRead* r = ctx.boot->find_msr(index);
  if (r && r->status == ReadStatus::value) return kept();
  if (r && r->status == ReadStatus::fault)
    return dropped(MsrReason::rdmsr_fault, fmt::format("rdmsr faulted on CPU {}", ctx.boot->cpu));
  const char* why = !r ? "not recorded" : r->status == ReadStatus::denied ? "denied" : "unavailable";
  return {Tri::unknown, MsrReason::rdmsr_unknown, fmt::format("host RDMSR on CPU {} {} (unknown)", ctx.boot->cpu, why)};
}

namespace {

/// Which CPUs implement an MSR, where the host's RDMSR was not recorded: by vendor, CPUID
/// feature or PMU counter count. First matching range wins.
constexpr Presence kVendorMsrs[] = {
    {0x10, 0x10, Presence::always},
    {0x3a, 0x3a, Presence::intel},
    {0x48, 0x48, Presence::feature_any2, &kIntelIbrs, &kIntelSsbd},  // AMD: below
    {0xc1, 0xd2, Presence::intel_gp},
    {0xe1, 0xe1, Presence::feature, &cpuid::kWaitpkg},
    {0x10a, 0x10a, Presence::feature, &cpuid::kArchCapabilities},
    {0x122, 0x122, Presence::arch_cap_bit7},
    {0x174, 0x176, Presence::always},
    {0x186, 0x197, Presence::intel_gp},
    {0x1c4, 0x1c5, Presence::feature, &cpuid::kXfd},
    {0x1d9, 0x1d9, Presence::always},
    {0x1db, 0x1dc, Presence::lbr_legacy},  // Intel: gone with architectural LBRs
    {0x1dd, 0x1de, Presence::always},      // Intel: LER_FROM/TO_LIP
    {0x277, 0x277, Presence::always},
    {0x309, 0x30c, Presence::intel_fixed},
    {0x38d, 0x390, Presence::intel_v2},
    {0x3f1, 0x3f1, Presence::feature, &kDs},
    {0x3f2, 0x3f2, Presence::intel_unknown},  // adaptive PEBS: PERF_CAPABILITIES bit 14
    {0x560, 0x587, Presence::feature, &cpuid::kIntelPt},
    {0x600, 0x600, Presence::feature, &kDs},
    {0x6a0, 0x6a8, Presence::feature_any2, &cpuid::kShstk, &cpuid::kIbt},
    {0xd90, 0xd90, Presence::feature, &cpuid::kMpx},
    {0xda0, 0xda0, Presence::feature, &cpuid::kXsaves},
    {0xc0000081, 0xc0000084, Presence::always},
    {0xc0000102, 0xc0000102, Presence::always},
    {0xc0000103, 0xc0000103, Presence::feature_any2, &cpuid::kRdtscp, &cpuid::kRdpid},
    {0xc0000300, 0xc0000303, Presence::feature, &cpuid::kPerfmonV2},
    {0xc0010000, 0xc0010007, Presence::amd},
    {0xc0010117, 0xc0010117, Presence::feature, &cpuid::kSvm},
    {0xc0010200, 0xc001020b, Presence::feature, &cpuid::kPerfctrCore},
};

/// A guess presented as a host RDMSR result: a drop says the RDMSR is assumed to fault.
RuleOutcome assumed(RuleOutcome o) {
  if (o.keep == Tri::no) {
    o.code = MsrReason::rdmsr_fault;
    o.reason = "host RDMSR assumed to fault: " + o.reason;
  } else if (o.keep == Tri::unknown) {
    o.code = MsrReason::rdmsr_unknown;
  }
  return o;
}

/// Intel PMU MSRs: there as far as CPUID 0xA counts general-purpose and fixed counters.
RuleOutcome intel_pmu_presence(const AnalysisContext& ctx, Presence::Kind kind, std::uint32_t index, bool amd) {
  if (amd) return assumed(dropped(MsrReason::rdmsr_fault, "Intel PMU MSR"));
  std::optional<PerfmonLeaf> leaf = perfmon_leaf(*ctx.boot);
  if (!leaf) return unknown("CPUID leaf 0xA not recorded");
  unsigned n = index - (index >= kFixedCtr0 ? kFixedCtr0 : index >= kEventsel0 ? kEventsel0 : kPerfctr0);
  bool there = kind == Presence::intel_gp      ? n < leaf->gp
               : kind == Presence::intel_fixed ? hw_fixed_counter(*leaf, n, has_or_false(*ctx.boot, cpuid::kHypervisor))
                                               : leaf->version >= 2;
  return there ? kept() : assumed(dropped(MsrReason::rdmsr_fault, "beyond CPUID 0xA's counters"));
}

/// LBR_SELECT/LASTBRANCH_TOS (0x1db-0x1dc on Intel): seen on Ice Lake / Cascade Lake hosts,
/// absent on Sapphire/Granite Rapids (Firecracker fingerprints, docs/firecracker-comparison.md):
/// keyed to ARCH_LBR.
RuleOutcome legacy_lbr_presence(const AnalysisContext& ctx, bool amd) {
  if (amd) return kept();
  RuleOutcome arch_lbr = host_feature(ctx, kArchLbr);
  if (arch_lbr.keep == Tri::unknown) return {Tri::unknown, MsrReason::rdmsr_unknown, arch_lbr.reason};
  return arch_lbr.keep == Tri::yes ? assumed(dropped(MsrReason::rdmsr_fault, "CPU has architectural LBRs")) : kept();
}

/// IA32_TSX_CTRL exists iff IA32_ARCH_CAPABILITIES.TSX_CTRL_MSR (bit 7).
RuleOutcome tsx_ctrl_presence(const AnalysisContext& ctx) {
  RuleOutcome caps = host_feature(ctx, cpuid::kArchCapabilities);
  if (caps.keep == Tri::no) return assumed(caps);
  const MsrRead* r = ctx.boot->find_msr(kArchCaps);
  if (caps.keep == Tri::unknown || !r || !r->ok())
    return {Tri::unknown, MsrReason::rdmsr_unknown, "host IA32_ARCH_CAPABILITIES (0x10a) not recorded"};
  return (r->value >> 7) & 1 ? kept() : assumed(dropped(MsrReason::rdmsr_fault, "ARCH_CAPABILITIES bit 7 clear"));
}

}  // namespace

RuleOutcome vendor_implements_msr(const AnalysisContext& ctx, std::uint32_t index) {
  if (!ctx.boot) return unknown("no CPU in the snapshot");
  bool amd = ctx.vendor == Vendor::amd || ctx.vendor == Vendor::hygon;
  for (const auto& p : kVendorMsrs) {
    if (index < p.first || index > p.last) continue;
    switch (p.kind) {
      case Presence::always: return kept();
      case Presence::intel:
        return amd ? assumed(dropped(MsrReason::rdmsr_fault, "not implemented by AMD")) : kept();
      case Presence::amd:
        return amd ? kept() : assumed(dropped(MsrReason::rdmsr_fault, "AMD MSR"));
      case Presence::feature:
        return assumed(host_feature(ctx, *p.bit));
      case Presence::feature_any2:
        if (index == 0x48 && amd)
          return assumed(any_of(host_feature(ctx, kAmdIbrs), host_feature(ctx, kAmdSsbd), "needs AMD_IBRS or AMD_SSBD"));
        return assumed(any_of(host_feature(ctx, *p.bit), host_feature(ctx, *p.bit2),
                              fmt::format("needs {} or {}", short_name(*p.bit), short_name(*p.bit2))));
      case Presence::intel_gp:
      case Presence::intel_fixed:
      case Presence::intel_v2: return intel_pmu_presence(ctx, p.kind, index, amd);
      case Presence::lbr_legacy: return legacy_lbr_presence(ctx, amd);
      case Presence::arch_cap_bit7: return tsx_ctrl_presence(ctx);
      case Presence::intel_unknown:
        if (amd) return assumed(dropped(MsrReason::rdmsr_fault, "Intel MSR"));
        break;
      case Presence::unknown_: break;
    }
    break;
  }
  return {Tri::unknown, MsrReason::rdmsr_unknown, "host RDMSR not recorded and not derivable from CPUID"};
}

namespace msr_rules {

RuleOutcome cap_rdtscp(const MsrRuleInputs& in) {
  RuleOutcome host = host_feature(in.ctx, cpuid::kRdtscp);
  if (!is_vmx(in)) return host;
  return all_of({host, vmx_control(in, in.ctx.vmx.rdtscp, "VMX secondary control ENABLE_RDTSCP")});
}

RuleOutcome cap_rdpid(const MsrRuleInputs& in) {
  RuleOutcome host = host_feature(in.ctx, cpuid::kRdpid);
  if (!is_vmx(in)) return host;
  return all_of({host, vmx_control(in, in.ctx.vmx.rdtscp, "VMX secondary control ENABLE_RDTSCP (gates RDPID)")});
}

RuleOutcome cap_xsaves(const MsrRuleInputs& in) {
  RuleOutcome host = host_feature(in.ctx, cpuid::kXsaves);
  if (!is_vmx(in)) return host;
  return all_of({host, vmx_control(in, in.ctx.vmx.xsaves, "VMX secondary control ENABLE_XSAVES")});
}

RuleOutcome cap_shstk(const MsrRuleInputs& in) {
  return all_of({cet_cap_raw(in, cpuid::kShstk), supported_xss_nonzero(in)});
}

RuleOutcome cap_ibt(const MsrRuleInputs& in) {
  return all_of({cet_cap_raw(in, cpuid::kIbt), supported_xss_nonzero(in)});
}

RuleOutcome mpx(const MsrRuleInputs& in) {
  const AnalysisContext& ctx = in.ctx;
  if (in.lists.mpx == MpxRule::host_xcr0_any_and_vendor) {  // 4.19
    if (is_svm(in)) return dropped(MsrReason::needs_feature, "kvm_amd never supports MPX (mpx_supported() is false)");
    RuleOutcome vendor = vmx_control(in, ctx.vmx.mpx, "VMX MPX controls (exit CLEAR_BNDCFGS, entry LOAD_BNDCFGS)");
    if (!ctx.host_xcr0) return all_of({vendor, unknown("host XCR0 not recorded")});
    if (!(*ctx.host_xcr0 & kXfeatureMpx))
      return dropped(MsrReason::needs_feature, fmt::format("host XCR0 {:#x} has no MPX state", *ctx.host_xcr0));
    return vendor;
  }
  if (ctx.supported_xcr0) {
    if ((*ctx.supported_xcr0 & kXfeatureMpx) == kXfeatureMpx) return kept();
    return dropped(MsrReason::needs_feature,
                   fmt::format("KVM's supported XCR0 {:#x} lacks BNDREGS|BNDCSR{}", *ctx.supported_xcr0,
                               is_svm(in) ? " (kvm_amd clears them)" : ""));
  }
  if (is_svm(in)) return dropped(MsrReason::needs_feature, "kvm_amd clears BNDREGS|BNDCSR from the supported XCR0");
  return all_of({host_feature(ctx, cpuid::kMpx),
                 vmx_control(in, ctx.vmx.mpx, "VMX entry control LOAD_BNDCFGS"),
                 unknown("host XCR0 not recorded, so KVM's supported XCR0 is unknown")});
}

RuleOutcome tsc_aux(const MsrRuleInputs& in) {
  if (in.lists.tsc_aux == TscAuxRule::rdtscp) return cap_rdtscp(in);
  return any_of(cap_rdtscp(in), cap_rdpid(in), "needs KVM cap RDTSCP or RDPID");
}

RuleOutcome waitpkg(const MsrRuleInputs& in) {
  if (!is_vmx(in)) return dropped(MsrReason::needs_feature, fmt::format("{} never sets the WAITPKG cap", mod(in)));
  return all_of({host_feature(in.ctx, cpuid::kWaitpkg),
                 vmx_control(in, in.ctx.vmx.waitpkg, "VMX secondary control USR_WAIT_PAUSE")});
}

RuleOutcome intel_pt(const MsrRuleInputs& in) {
  const AnalysisContext& ctx = in.ctx;
  if (!is_vmx(in)) return dropped(MsrReason::needs_feature, fmt::format("INTEL_PT is never a KVM cap with {}", mod(in)));
  if (!in.lists.pt_mode_param)
    return dropped(MsrReason::param_off,
                   "kvm_intel.pt_mode is not a parameter of this kernel (only with CONFIG_BROKEN): PT stays in system mode");
  if (ctx.params.number("kvm_intel.pt_mode", 0) != 1)
    return dropped(MsrReason::param_off, fmt::format("parameter kvm_intel.pt_mode is {} (system mode; {})",
                                                     ctx.params.number("kvm_intel.pt_mode", 0),
                                                     param_origin(ctx, "kvm_intel.pt_mode")));
  RuleOutcome pmu = kept();
  if (in.lists.pt_needs_enable_pmu) {
    if (!in.pmu.enable_pmu) pmu = unknown("enable_pmu unknown: " + in.pmu.reason);
    else if (!*in.pmu.enable_pmu) pmu = dropped(MsrReason::param_off, "pt_mode host-guest needs enable_pmu, which is off: " + in.pmu.reason);
  }
  return all_of({host_feature(ctx, cpuid::kIntelPt), param_on(ctx, "kvm_intel.ept", true),
                 vmx_control(in, ctx.vmx.ept, "EPT"),
                 vmx_control(in, ctx.vmx.intel_pt, "VMX support for PT (VMX_MISC[14], PT_USE_GPA, LOAD_RTIT_CTL)"),
                 pmu});
}

RuleOutcome pt_cr3(const MsrRuleInputs& in) {
  RuleOutcome pt = intel_pt(in);
  if (pt.keep == Tri::no) return pt;
  auto ebx = leaf_reg(in.ctx, 0x14, 0, Reg::ebx);
  if (!ebx) return all_of({pt, unknown("CPUID leaf 0x14 not recorded")});
  if (!(*ebx & 1)) return dropped(MsrReason::needs_feature, "needs PT cr3_filtering (CPUID.0x14.0:EBX[0])");
  return pt;
}

RuleOutcome pt_output(const MsrRuleInputs& in) {
  RuleOutcome pt = intel_pt(in);
  if (pt.keep == Tri::no) return pt;
  auto ecx = leaf_reg(in.ctx, 0x14, 0, Reg::ecx);
  if (!ecx) return all_of({pt, unknown("CPUID leaf 0x14 not recorded")});
  if (!(*ecx & 0x5))
    return dropped(MsrReason::needs_feature, "needs PT ToPA or single-range output (CPUID.0x14.0:ECX[0] or [2])");
  return pt;
}

RuleOutcome pt_addr(const MsrRuleInputs& in, std::uint32_t index) {
  RuleOutcome pt = intel_pt(in);
  if (pt.keep == Tri::no) return pt;
  auto eax = leaf_reg(in.ctx, 0x14, 1, Reg::eax);
  if (!eax) return all_of({pt, unknown("CPUID leaf 0x14.1 not recorded")});
  unsigned ranges = *eax & 0x7, n = index - kRtitAddr0A;
  if (n >= 2 * ranges)
    return dropped(MsrReason::needs_feature,
                   fmt::format("PT address register {} ≥ 2 × {} ranges (CPUID.0x14.1:EAX[2:0])", n, ranges));
  return pt;
}

RuleOutcome gp_counter(const MsrRuleInputs& in, std::uint32_t index) {
  unsigned n = index - (index >= kEventsel0 ? kEventsel0 : kPerfctr0);
  if (!in.pmu.counts_known) return unknown("GP counter count unknown: " + in.pmu.reason);
  unsigned limit = in.pmu.gp;
  if (in.lists.pmu.gp_filter_limit) limit = std::min(limit, in.lists.pmu.gp_filter_limit);
  if (n >= limit)
    return dropped(MsrReason::pmu_counter, fmt::format("PMU counter {} ≥ available {} ({})", n, limit, in.pmu.reason));
  return kept();
}

RuleOutcome fixed_counter(const MsrRuleInputs& in, std::uint32_t index) {
  if (!in.lists.pmu.fixed_filtered) return kept();  // ≤6.1: host RDMSR only
  unsigned n = index - kFixedCtr0;
  if (!in.pmu.counts_known) return unknown("fixed counter count unknown: " + in.pmu.reason);
  if (n >= in.pmu.fixed)
    return dropped(MsrReason::pmu_counter,
                   fmt::format("PMU fixed counter {} ≥ available {} ({})", n, in.pmu.fixed, in.pmu.reason));
  return kept();
}

RuleOutcome perfmon_v2(const MsrRuleInputs& in) {
  if (!in.pmu.counts_known) return unknown("KVM's PERFMON_V2 cap unknown: " + in.pmu.reason);
  if (in.pmu.perfmon_v2) return kept();
  RuleOutcome host = host_feature(in.ctx, cpuid::kPerfmonV2);
  if (host.keep == Tri::no) return host;
  return dropped(MsrReason::needs_feature, "KVM cap PERFMON_V2 not set (needs perf PMU version 2 and 6 GP counters; " +
                                               in.pmu.reason + ")");
}

RuleOutcome xfd(const MsrRuleInputs& in) {
  // The kernel drops XFD without XSAVES and XGETBV1 (cpuid-deps.c), so the cap needs all three.
  return all_of({host_feature(in.ctx, cpuid::kXfd), host_feature(in.ctx, cpuid::kXsaves),
                 host_feature(in.ctx, kXgetbv1)});
}

RuleOutcome tsx_ctrl(const MsrRuleInputs& in) {
  RuleOutcome caps = host_feature(in.ctx, cpuid::kArchCapabilities);
  if (caps.keep != Tri::yes) return caps;
  const MsrRead* r = in.ctx.boot->find_msr(kArchCaps);
  if (!r || !r->ok()) return unknown("host IA32_ARCH_CAPABILITIES (0x10a) not recorded");
  if (!((r->value >> 7) & 1))
    return dropped(MsrReason::needs_feature,
                   fmt::format("host ARCH_CAPABILITIES {:#x} lacks TSX_CTRL_MSR (bit 7)", r->value));
  return kept();
}

RuleOutcome xss(const MsrRuleInputs& in) { return supported_xss_nonzero(in); }

RuleOutcome cet(const MsrRuleInputs& in) {
  return any_of(cap_shstk(in), cap_ibt(in), "needs KVM cap SHSTK or IBT");
}

RuleOutcome shstk(const MsrRuleInputs& in) { return cap_shstk(in); }

RuleOutcome ssptab(const MsrRuleInputs& in) {
  return all_of({host_feature(in.ctx, cpuid::kLm), cap_shstk(in)});
}

RuleOutcome smbase(const MsrRuleInputs& in) {
  if (!is_vmx(in)) return kept();  // SVM: false only for SEV-ES VMs, never at module init
  // vmx_has_emulated_msr: enable_unrestricted_guest || emulate_invalid_guest_state.
  if (in.ctx.params.flag("kvm_intel.emulate_invalid_guest_state", true)) return kept();
  RuleOutcome ug = unrestricted_guest(in);
  if (ug.keep == Tri::no)
    return dropped(MsrReason::not_emulated,
                   "not emulated by kvm_intel: no unrestricted guest and emulate_invalid_guest_state off (" + ug.reason + ")");
  return ug;
}

RuleOutcome vmx_msr_emulated(const MsrRuleInputs& in) {
  if (!is_vmx(in)) return dropped(MsrReason::not_emulated, fmt::format("not emulated by {}", mod(in)));
  return param_on(in.ctx, "kvm_intel.nested", true);
}

RuleOutcome mcg_ext_ctl(const MsrRuleInputs& in) {
  if (is_svm(in) && !in.lists.svm_emulates_mcg_ext_ctl)
    return dropped(MsrReason::not_emulated, "not emulated by kvm_amd");
  return kept();
}

RuleOutcome amd_only(const MsrRuleInputs& in) {
  if (is_svm(in)) return kept();
  return dropped(MsrReason::not_emulated, fmt::format("not emulated by {} (AMD only)", mod(in)));
}

RuleOutcome vmx_feature(const MsrRuleInputs& in) {
  if (!is_vmx(in)) return dropped(MsrReason::vendor_module, fmt::format("feature MSR not provided by {}", mod(in)));
  return param_on(in.ctx, "kvm_intel.nested", true);
}

RuleOutcome amd_feature(const MsrRuleInputs& in) {
  if (is_svm(in)) return kept();
  return dropped(MsrReason::vendor_module, fmt::format("feature MSR not provided by {}", mod(in)));
}

}  // namespace msr_rules

RuleOutcome evaluate_rule(MsrRule rule, std::uint32_t index, const MsrRuleInputs& in) {
  using namespace msr_rules;
  switch (rule) {
    case MsrRule::none: return kept();
    case MsrRule::f_mpx: return mpx(in);
    case MsrRule::f_tscaux: return tsc_aux(in);
    case MsrRule::f_waitpkg: return waitpkg(in);
    case MsrRule::f_pt: return intel_pt(in);
    case MsrRule::f_pt_cr3: return pt_cr3(in);
    case MsrRule::f_pt_out: return pt_output(in);
    case MsrRule::f_pt_addr: return pt_addr(in, index);
    case MsrRule::f_gp: return gp_counter(in, index);
    case MsrRule::f_fixed: return fixed_counter(in, index);
    case MsrRule::pmu: return kept();
    case MsrRule::f_pmuv2: return perfmon_v2(in);
    case MsrRule::f_xfd: return xfd(in);
    case MsrRule::f_tsxctrl: return tsx_ctrl(in);
    case MsrRule::f_xss: return xss(in);
    case MsrRule::f_cet: return cet(in);
    case MsrRule::f_shstk: return shstk(in);
    case MsrRule::f_ssptab: return ssptab(in);
    case MsrRule::e_smbase: return smbase(in);
    case MsrRule::e_vmxmsr: return vmx_msr_emulated(in);
    case MsrRule::e_mcgext: return mcg_ext_ctl(in);
    case MsrRule::e_amdonly: return amd_only(in);
    case MsrRule::x_vmx: return vmx_feature(in);
    case MsrRule::x_amd: return amd_feature(in);
    case MsrRule::x_always: return kept();
  }
  return unknown("unmodelled rule");
}

}  // namespace kvmprobe
