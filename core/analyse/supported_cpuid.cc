// KVM_GET_SUPPORTED_CPUID, predicted: kvm_set_cpu_caps() + the vendor module's set_cpu_caps()
// (data: core/profiles/cpuid_caps.cc), then __do_cpuid_func() for the modelled leaves.
//
// kvm_cpu_caps[word] = boot_cpu_data word & F() mask & raw CPUID (arch/x86/kvm/cpuid.c:
// kvm_cpu_cap_mask(), 5.10, 6.1 and 6.12), then the sets and clears. boot_cpu_data is what
// Linux made of the raw CPUID at boot; the model derives the few synthetic features KVM consults
// from the raw leaves, with the kernel rules cited where they are applied (LinuxBoot below).
#include "core/analyse/supported_cpuid.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <optional>

#include "core/analyse/cpu_facts.h"
#include "core/profiles/cpuid_caps.h"
#include "core/profiles/vmx_bits.h"

namespace kvmprobe {
namespace {

// QEMU's names (target/i386/cpu.c feature_word_info) of the bits in the modelled registers.
constexpr CpuidFeature kFeatures[] = {
    // CPUID.1:EDX (FEAT_1_EDX)
    {"fpu", 1, 0, Reg::edx, 0}, {"vme", 1, 0, Reg::edx, 1}, {"de", 1, 0, Reg::edx, 2},
    {"pse", 1, 0, Reg::edx, 3}, {"tsc", 1, 0, Reg::edx, 4}, {"msr", 1, 0, Reg::edx, 5},
    {"pae", 1, 0, Reg::edx, 6}, {"mce", 1, 0, Reg::edx, 7}, {"cx8", 1, 0, Reg::edx, 8},
    {"apic", 1, 0, Reg::edx, 9}, {"sep", 1, 0, Reg::edx, 11}, {"mtrr", 1, 0, Reg::edx, 12},
    {"pge", 1, 0, Reg::edx, 13}, {"mca", 1, 0, Reg::edx, 14}, {"cmov", 1, 0, Reg::edx, 15},
    {"pat", 1, 0, Reg::edx, 16}, {"pse36", 1, 0, Reg::edx, 17}, {"pn", 1, 0, Reg::edx, 18},
    {"clflush", 1, 0, Reg::edx, 19}, {"ds", 1, 0, Reg::edx, 21}, {"acpi", 1, 0, Reg::edx, 22},
    {"mmx", 1, 0, Reg::edx, 23}, {"fxsr", 1, 0, Reg::edx, 24}, {"sse", 1, 0, Reg::edx, 25},
    {"sse2", 1, 0, Reg::edx, 26}, {"ss", 1, 0, Reg::edx, 27}, {"ht", 1, 0, Reg::edx, 28},
    {"tm", 1, 0, Reg::edx, 29}, {"ia64", 1, 0, Reg::edx, 30}, {"pbe", 1, 0, Reg::edx, 31},
    // CPUID.1:ECX (FEAT_1_ECX; bit 27 OSXSAVE has no name)
    {"pni", 1, 0, Reg::ecx, 0}, {"pclmulqdq", 1, 0, Reg::ecx, 1}, {"dtes64", 1, 0, Reg::ecx, 2},
    {"monitor", 1, 0, Reg::ecx, 3}, {"ds-cpl", 1, 0, Reg::ecx, 4}, {"vmx", 1, 0, Reg::ecx, 5},
    {"smx", 1, 0, Reg::ecx, 6}, {"est", 1, 0, Reg::ecx, 7}, {"tm2", 1, 0, Reg::ecx, 8},
    {"ssse3", 1, 0, Reg::ecx, 9}, {"cid", 1, 0, Reg::ecx, 10}, {"fma", 1, 0, Reg::ecx, 12},
    {"cx16", 1, 0, Reg::ecx, 13}, {"xtpr", 1, 0, Reg::ecx, 14}, {"pdcm", 1, 0, Reg::ecx, 15},
    {"pcid", 1, 0, Reg::ecx, 17}, {"dca", 1, 0, Reg::ecx, 18}, {"sse4.1", 1, 0, Reg::ecx, 19},
    {"sse4.2", 1, 0, Reg::ecx, 20}, {"x2apic", 1, 0, Reg::ecx, 21}, {"movbe", 1, 0, Reg::ecx, 22},
    {"popcnt", 1, 0, Reg::ecx, 23}, {"tsc-deadline", 1, 0, Reg::ecx, 24},
    {"aes", 1, 0, Reg::ecx, 25}, {"xsave", 1, 0, Reg::ecx, 26}, {"avx", 1, 0, Reg::ecx, 28},
    {"f16c", 1, 0, Reg::ecx, 29}, {"rdrand", 1, 0, Reg::ecx, 30},
    {"hypervisor", 1, 0, Reg::ecx, 31},
    // CPUID.7.0:EBX (FEAT_7_0_EBX)
    {"fsgsbase", 7, 0, Reg::ebx, 0}, {"tsc-adjust", 7, 0, Reg::ebx, 1}, {"sgx", 7, 0, Reg::ebx, 2},
    {"bmi1", 7, 0, Reg::ebx, 3}, {"hle", 7, 0, Reg::ebx, 4}, {"avx2", 7, 0, Reg::ebx, 5},
    {"fdp-excptn-only", 7, 0, Reg::ebx, 6}, {"smep", 7, 0, Reg::ebx, 7},
    {"bmi2", 7, 0, Reg::ebx, 8}, {"erms", 7, 0, Reg::ebx, 9}, {"invpcid", 7, 0, Reg::ebx, 10},
    {"rtm", 7, 0, Reg::ebx, 11}, {"zero-fcs-fds", 7, 0, Reg::ebx, 13}, {"mpx", 7, 0, Reg::ebx, 14},
    {"avx512f", 7, 0, Reg::ebx, 16}, {"avx512dq", 7, 0, Reg::ebx, 17},
    {"rdseed", 7, 0, Reg::ebx, 18}, {"adx", 7, 0, Reg::ebx, 19}, {"smap", 7, 0, Reg::ebx, 20},
    {"avx512ifma", 7, 0, Reg::ebx, 21}, {"pcommit", 7, 0, Reg::ebx, 22},
    {"clflushopt", 7, 0, Reg::ebx, 23}, {"clwb", 7, 0, Reg::ebx, 24},
    {"intel-pt", 7, 0, Reg::ebx, 25}, {"avx512pf", 7, 0, Reg::ebx, 26},
    {"avx512er", 7, 0, Reg::ebx, 27}, {"avx512cd", 7, 0, Reg::ebx, 28},
    {"sha-ni", 7, 0, Reg::ebx, 29}, {"avx512bw", 7, 0, Reg::ebx, 30},
    {"avx512vl", 7, 0, Reg::ebx, 31},
    // CPUID.7.0:ECX (FEAT_7_0_ECX)
    {"avx512vbmi", 7, 0, Reg::ecx, 1}, {"umip", 7, 0, Reg::ecx, 2}, {"pku", 7, 0, Reg::ecx, 3},
    {"waitpkg", 7, 0, Reg::ecx, 5}, {"avx512vbmi2", 7, 0, Reg::ecx, 6}, {"gfni", 7, 0, Reg::ecx, 8},
    {"vaes", 7, 0, Reg::ecx, 9}, {"vpclmulqdq", 7, 0, Reg::ecx, 10},
    {"avx512vnni", 7, 0, Reg::ecx, 11}, {"avx512bitalg", 7, 0, Reg::ecx, 12},
    {"avx512-vpopcntdq", 7, 0, Reg::ecx, 14}, {"la57", 7, 0, Reg::ecx, 16},
    {"rdpid", 7, 0, Reg::ecx, 22}, {"bus-lock-detect", 7, 0, Reg::ecx, 24},
    {"cldemote", 7, 0, Reg::ecx, 25}, {"movdiri", 7, 0, Reg::ecx, 27},
    {"movdir64b", 7, 0, Reg::ecx, 28}, {"sgxlc", 7, 0, Reg::ecx, 30}, {"pks", 7, 0, Reg::ecx, 31},
    // CPUID.7.0:EDX (FEAT_7_0_EDX)
    {"avx512-4vnniw", 7, 0, Reg::edx, 2}, {"avx512-4fmaps", 7, 0, Reg::edx, 3},
    {"fsrm", 7, 0, Reg::edx, 4}, {"avx512-vp2intersect", 7, 0, Reg::edx, 8},
    {"md-clear", 7, 0, Reg::edx, 10}, {"serialize", 7, 0, Reg::edx, 14},
    {"tsx-ldtrk", 7, 0, Reg::edx, 16}, {"arch-lbr", 7, 0, Reg::edx, 19},
    {"amx-bf16", 7, 0, Reg::edx, 22}, {"avx512-fp16", 7, 0, Reg::edx, 23},
    {"amx-tile", 7, 0, Reg::edx, 24}, {"amx-int8", 7, 0, Reg::edx, 25},
    {"spec-ctrl", 7, 0, Reg::edx, 26}, {"stibp", 7, 0, Reg::edx, 27},
    {"flush-l1d", 7, 0, Reg::edx, 28}, {"arch-capabilities", 7, 0, Reg::edx, 29},
    {"core-capability", 7, 0, Reg::edx, 30}, {"ssbd", 7, 0, Reg::edx, 31},
    // CPUID.7.1:EAX (FEAT_7_1_EAX)
    {"sha512", 7, 1, Reg::eax, 0}, {"sm3", 7, 1, Reg::eax, 1}, {"sm4", 7, 1, Reg::eax, 2},
    {"avx-vnni", 7, 1, Reg::eax, 4}, {"avx512-bf16", 7, 1, Reg::eax, 5},
    {"cmpccxadd", 7, 1, Reg::eax, 7}, {"fzrm", 7, 1, Reg::eax, 10}, {"fsrs", 7, 1, Reg::eax, 11},
    {"fsrc", 7, 1, Reg::eax, 12}, {"fred", 7, 1, Reg::eax, 17}, {"lkgs", 7, 1, Reg::eax, 18},
    {"wrmsrns", 7, 1, Reg::eax, 19}, {"amx-fp16", 7, 1, Reg::eax, 21},
    {"avx-ifma", 7, 1, Reg::eax, 23}, {"lam", 7, 1, Reg::eax, 26},
    // CPUID.0xD.1:EAX (FEAT_XSAVE)
    {"xsaveopt", 0xd, 1, Reg::eax, 0}, {"xsavec", 0xd, 1, Reg::eax, 1},
    {"xgetbv1", 0xd, 1, Reg::eax, 2}, {"xsaves", 0xd, 1, Reg::eax, 3}, {"xfd", 0xd, 1, Reg::eax, 4},
    // CPUID.0x80000001:EDX (FEAT_8000_0001_EDX; the aliases of CPUID.1:EDX have no name)
    {"syscall", 0x80000001, 0, Reg::edx, 11}, {"nx", 0x80000001, 0, Reg::edx, 20},
    {"mmxext", 0x80000001, 0, Reg::edx, 22}, {"fxsr-opt", 0x80000001, 0, Reg::edx, 25},
    {"pdpe1gb", 0x80000001, 0, Reg::edx, 26}, {"rdtscp", 0x80000001, 0, Reg::edx, 27},
    {"lm", 0x80000001, 0, Reg::edx, 29}, {"3dnowext", 0x80000001, 0, Reg::edx, 30},
    {"3dnow", 0x80000001, 0, Reg::edx, 31},
    // CPUID.0x80000001:ECX (FEAT_8000_0001_ECX)
    {"lahf-lm", 0x80000001, 0, Reg::ecx, 0}, {"cmp-legacy", 0x80000001, 0, Reg::ecx, 1},
    {"svm", 0x80000001, 0, Reg::ecx, 2}, {"extapic", 0x80000001, 0, Reg::ecx, 3},
    {"cr8legacy", 0x80000001, 0, Reg::ecx, 4}, {"abm", 0x80000001, 0, Reg::ecx, 5},
    {"sse4a", 0x80000001, 0, Reg::ecx, 6}, {"misalignsse", 0x80000001, 0, Reg::ecx, 7},
    {"3dnowprefetch", 0x80000001, 0, Reg::ecx, 8}, {"osvw", 0x80000001, 0, Reg::ecx, 9},
    {"ibs", 0x80000001, 0, Reg::ecx, 10}, {"xop", 0x80000001, 0, Reg::ecx, 11},
    {"skinit", 0x80000001, 0, Reg::ecx, 12}, {"wdt", 0x80000001, 0, Reg::ecx, 13},
    {"lwp", 0x80000001, 0, Reg::ecx, 15}, {"fma4", 0x80000001, 0, Reg::ecx, 16},
    {"tce", 0x80000001, 0, Reg::ecx, 17}, {"nodeid-msr", 0x80000001, 0, Reg::ecx, 19},
    {"tbm", 0x80000001, 0, Reg::ecx, 21}, {"topoext", 0x80000001, 0, Reg::ecx, 22},
    {"perfctr-core", 0x80000001, 0, Reg::ecx, 23}, {"perfctr-nb", 0x80000001, 0, Reg::ecx, 24},
    // CPUID.0x80000008:EBX (FEAT_8000_0008_EBX)
    {"clzero", 0x80000008, 0, Reg::ebx, 0}, {"xsaveerptr", 0x80000008, 0, Reg::ebx, 2},
    {"wbnoinvd", 0x80000008, 0, Reg::ebx, 9}, {"ibpb", 0x80000008, 0, Reg::ebx, 12},
    {"ibrs", 0x80000008, 0, Reg::ebx, 14}, {"amd-stibp", 0x80000008, 0, Reg::ebx, 15},
    {"stibp-always-on", 0x80000008, 0, Reg::ebx, 17}, {"amd-ssbd", 0x80000008, 0, Reg::ebx, 24},
    {"virt-ssbd", 0x80000008, 0, Reg::ebx, 25}, {"amd-no-ssb", 0x80000008, 0, Reg::ebx, 26},
    {"amd-psfd", 0x80000008, 0, Reg::ebx, 28},
    // CPUID.0x80000021:EAX (FEAT_8000_0021_EAX)
    {"no-nested-data-bp", 0x80000021, 0, Reg::eax, 0},
    {"lfence-always-serializing", 0x80000021, 0, Reg::eax, 2},
    {"null-sel-clr-base", 0x80000021, 0, Reg::eax, 6}, {"auto-ibrs", 0x80000021, 0, Reg::eax, 8},
    {"eraps", 0x80000021, 0, Reg::eax, 24}, {"sbpb", 0x80000021, 0, Reg::eax, 27},
    {"ibpb-brtype", 0x80000021, 0, Reg::eax, 28}, {"srso-no", 0x80000021, 0, Reg::eax, 29},
    {"srso-user-kernel-no", 0x80000021, 0, Reg::eax, 30},
};

std::uint32_t reg_of(const CpuidLeaf& l, Reg r) {
  switch (r) {
    case Reg::eax: return l.eax;
    case Reg::ebx: return l.ebx;
    case Reg::ecx: return l.ecx;
    case Reg::edx: return l.edx;
  }
  return l.eax;
}

bool bit(std::uint32_t v, unsigned b) { return ((v >> b) & 1u) != 0; }
std::size_t idx(CapWord w) { return static_cast<std::size_t>(w); }

/// The host as KVM's init sees it: raw CPUID of the boot CPU and Linux's boot_cpu_data.
class Host {
 public:
  explicit Host(const AnalysisContext& ctx) : ctx_(ctx), cpu_(*ctx.boot) {
    max_basic_ = max_basic_leaf(cpu_);
    max_ext_ = max_extended_leaf(cpu_);
    if (auto eax = cpu_.cpuid_reg(1, 0, Reg::eax)) {
      unsigned fam = (*eax >> 8) & 0xf;
      family_ = fam == 0xf ? fam + ((*eax >> 20) & 0xff) : fam;
    }
  }

  /// Raw CPUID as the kernel's cpuid_count() would return it; 0 when the leaf is beyond the
  /// host's maximum or was not recorded (real AMD and Intel parts return zeros or a basic leaf
  /// there; every word the model reads there is also ANDed with boot_cpu_data, which is 0).
  std::uint32_t raw(std::uint32_t leaf, std::uint32_t sub, Reg r) const {
    if (!in_range(leaf)) return 0;
    return cpu_.cpuid_reg(leaf, sub, r).value_or(0);
  }
  bool raw_bit(std::uint32_t leaf, std::uint32_t sub, Reg r, unsigned b) const {
    return bit(raw(leaf, sub, r), b);
  }
  bool in_range(std::uint32_t leaf) const {
    return leaf >= 0x80000000 ? leaf <= max_ext_ : leaf <= max_basic_;
  }
  /// Linux reads 7.1 only when 7.0:EAX >= 1 (arch/x86/kernel/cpu/common.c: get_cpu_cap()).
  bool linux_reads(std::uint32_t leaf, std::uint32_t sub) const {
    if (!in_range(leaf)) return false;
    if (leaf == 7 && sub == 1) return raw(7, 0, Reg::eax) >= 1;
    return true;
  }

  Vendor vendor() const { return ctx_.vendor; }
  unsigned family() const { return family_; }
  std::uint32_t max_basic() const { return max_basic_; }
  std::uint32_t max_ext() const { return max_ext_; }
  bool hypervisor() const { return raw_bit(1, 0, Reg::ecx, 31); }
  bool amd_like() const { return vendor() == Vendor::amd || vendor() == Vendor::hygon; }
  const CpuRecord& cpu() const { return cpu_; }

 private:
  const AnalysisContext& ctx_;
  const CpuRecord& cpu_;
  std::uint32_t max_basic_ = 0, max_ext_ = 0;
  unsigned family_ = 0;
};

/// A decided condition: value, or unknown with the reason (then `value` is the assumption).
struct Decision {
  bool value = false;
  std::string unknown;  ///< non-empty: could not be decided; why and what was assumed
};

/// Linux's boot_cpu_data for the features kvm_set_cpu_caps() consults, from the raw leaves.
class LinuxBoot {
 public:
  explicit LinuxBoot(const Host& h) : h_(h) {}

  /// The kernel word of boot_cpu_data: the raw register when Linux reads that leaf, with the
  /// kernel's own changes to the modelled words.
  std::uint32_t word(CapWord w) const {
    const auto& d = cap_word(w);
    std::uint32_t v = h_.linux_reads(d.leaf, d.subleaf) ? h_.raw(d.leaf, d.subleaf, d.reg) : 0;
    if (w == CapWord::l8000_0008_ebx && amd_ssbd())
      v &= ~(1u << 25);  // init_speculation_control(): AMD_SSBD clears VIRT_SSBD (common.c)
    return v;
  }

  // arch/x86/kernel/cpu/common.c: init_speculation_control() (5.10, 6.1, 6.12).
  bool spec_ctrl() const { return h_.raw_bit(7, 0, Reg::edx, 26); }
  bool ibpb() const { return spec_ctrl() || h_.raw_bit(0x80000008, 0, Reg::ebx, 12); }
  bool ibrs() const { return spec_ctrl() || h_.raw_bit(0x80000008, 0, Reg::ebx, 14); }
  bool stibp() const {
    return h_.raw_bit(7, 0, Reg::edx, 27) || h_.raw_bit(0x80000008, 0, Reg::ebx, 15);
  }
  bool amd_ssbd() const { return h_.raw_bit(0x80000008, 0, Reg::ebx, 24); }
  bool spec_ctrl_ssbd() const { return h_.raw_bit(7, 0, Reg::edx, 31); }
  bool amd_ibpb() const { return h_.raw_bit(0x80000008, 0, Reg::ebx, 12); }

  /// arch/x86/kernel/cpu/amd.c: bsp_init_amd(): families 0x15-0x17 without AMD_SSBD and
  /// VIRT_SSBD use the LS_CFG MSR (when it reads); hygon.c: bsp_init_hygon() for family 0x18.
  Decision ls_cfg_ssbd() const {
    bool fam = (h_.vendor() == Vendor::amd && h_.family() >= 0x15 && h_.family() <= 0x17) ||
               (h_.vendor() == Vendor::hygon && h_.family() == 0x18);
    if (!fam || amd_ssbd() || h_.raw_bit(0x80000008, 0, Reg::ebx, 25)) return {false, {}};
    return {true, {}};  // rdmsrl_safe(MSR_AMD64_LS_CFG) assumed to succeed (it does on these)
  }

  /// common.c: cpu_set_bug_bits(): X86_BUG_SPEC_STORE_BYPASS unless whitelisted (AMD families
  /// 0x0f-0x12, a few Intel Atoms), ARCH_CAPABILITIES.SSB_NO or AMD_SSB_NO.
  Decision ssb_bug() const {
    if (h_.raw_bit(0x80000008, 0, Reg::ebx, 26)) return {false, {}};
    if (h_.vendor() == Vendor::amd && h_.family() >= 0x0f && h_.family() <= 0x12)
      return {false, {}};
    if (h_.raw_bit(7, 0, Reg::edx, 29)) {
      const MsrRead* m = h_.cpu().find_msr(0x10a);
      if (m && m->ok()) return {!bit(static_cast<std::uint32_t>(m->value), 4), {}};
      return {true, "IA32_ARCH_CAPABILITIES (0x10a) not recorded: its SSB_NO bit decides "
                    "X86_BUG_SPEC_STORE_BYPASS (assumed set)"};
    }
    return {true, {}};
  }

  /// common.c: check_null_seg_clears_base(), called by init_amd()/init_hygon() only.
  Decision null_seg_bug() const {
    if (!h_.amd_like()) return {false, {}};
    if (h_.in_range(0x80000021) && h_.raw_bit(0x80000021, 0, Reg::eax, 6)) return {false, {}};
    if (h_.hypervisor()) return {true, {}};
    if (h_.family() == 0x17 || h_.family() == 0x18)
      return {false, "Zen1/Zen2: X86_BUG_NULL_SEG depends on a runtime probe of the segment "
                     "behaviour (detect_null_seg_behavior; assumed: not affected)"};
    return {true, {}};
  }

  /// X86_FEATURE_LFENCE_RDTSC: init_intel(), init_amd(), init_hygon() set it with SSE2;
  /// init_centaur(), init_zhaoxin() always (6.1, 6.12; 6.12 also reads CPUID.0x80000021:EAX[2]).
  bool lfence_rdtsc() const {
    switch (h_.vendor()) {
      case Vendor::intel:
      case Vendor::amd:
      case Vendor::hygon:
        return h_.raw_bit(1, 0, Reg::edx, 26) || h_.raw_bit(0x80000021, 0, Reg::eax, 2);
      case Vendor::centaur:
      case Vendor::zhaoxin: return true;
      default: return h_.raw_bit(0x80000021, 0, Reg::eax, 2);
    }
  }

  /// X86_FEATURE_SRSO_NO: the CPUID bit, or forced by srso_select_mitigation() (bugs.c) on
  /// Zen1/Zen2 with the IBPB microcode when SMT is not possible.
  Decision srso_no() const {
    if (h_.raw_bit(0x80000021, 0, Reg::eax, 29)) return {true, {}};
    bool zen12 = (h_.vendor() == Vendor::amd && h_.family() == 0x17) ||
                 (h_.vendor() == Vendor::hygon && h_.family() == 0x18);
    if (zen12 && amd_ibpb())
      return {false, "SRSO_NO: Linux forces it on Zen1/Zen2 with IBPB when SMT is not possible "
                     "(srso_select_mitigation; assumed: SMT possible, not forced)"};
    return {false, {}};
  }

  /// boot_cpu_has(X) for a bit of a modelled word that kvm_cpu_cap_check_and_set() consults.
  Decision has(CapWord w, unsigned b) const {
    bool v = bit(word(w), b);
    if (w != CapWord::l8000_0021_eax || v || h_.hypervisor() || h_.vendor() != Vendor::amd)
      return {v, {}};
    // Synthetic bits of bare-metal AMD (arch/x86/kernel/cpu/amd.c, 6.12: init_amd(),
    // tsa_init(); 6.1.192 the same backports).
    if (b == 5 && h_.family() == 0x19)
      return {false, "VERW_CLEAR: Linux forces it on Zen3/Zen4 with the TSA microcode "
                     "(tsa_init; microcode revision not recorded, assumed absent)"};
    if (b == 28 && h_.family() == 0x17 && amd_ibpb()) return {true, {}};
    if ((b == 27 || b == 28) && h_.family() >= 0x19)
      return {false, "SBPB/IBPB_BRTYPE: Linux forces them on Zen3+ when WRMSR PRED_CMD.SBPB "
                     "succeeds (init_amd; assumed: it does not)"};
    return {v, {}};
  }

 private:
  const Host& h_;
};

/// What the vendor module decided at init (hardware_setup) that the caps depend on.
struct VendorState {
  bool nested = false;
  Decision tdp;
  std::optional<bool> enable_pmu;
};

class Evaluator {
 public:
  Evaluator(const AnalysisContext& ctx, const CpuidCapsProfile& caps, SupportedCpuid& out)
      : ctx_(ctx), caps_(caps), out_(out), host_(ctx), linux_(host_) {}

  void run() {
    decide_vendor();
    // kvm_cpu_cap_mask(): boot_cpu_data & mask & raw; KVM-only words: mask & raw; words never
    // masked (5.10's 0x80000021 EAX): boot_cpu_data as memcpy'd.
    for (const auto& d : cap_words()) {
      std::uint32_t raw = host_.raw(d.leaf, d.subleaf, d.reg);
      std::uint32_t boot = caps_.kvm_only[idx(d.word)] ? ~0u : linux_.word(d.word);
      if (caps_.boot_only[idx(d.word)]) raw = ~0u;
      words_[idx(d.word)] = boot & caps_.mask[idx(d.word)] & raw;
      kvm_mask_[idx(d.word)] = caps_.mask[idx(d.word)];
    }
    apply(caps_.common);
    apply(ctx_.module == VendorModule::kvm_intel ? caps_.vmx : caps_.svm);
    // __do_cpuid_func()'s own AND after cpuid_entry_override().
    for (std::size_t i = 0; i < kCapWords; ++i) {
      words_[i] &= caps_.leaf_mask[i];
      kvm_mask_[i] &= caps_.leaf_mask[i];
    }
    for (const auto& d : cap_words())
      out_.registers.push_back({d.leaf, d.subleaf, d.reg, host_.raw(d.leaf, d.subleaf, d.reg),
                                kvm_mask_[idx(d.word)], words_[idx(d.word)]});
    build_leaves();
    std::sort(out_.leaves.begin(), out_.leaves.end(), [](const CpuidLeaf& a, const CpuidLeaf& b) {
      return a.leaf != b.leaf ? a.leaf < b.leaf : a.subleaf < b.subleaf;
    });
    std::stable_sort(out_.registers.begin(), out_.registers.end(),
                     [](const CpuidRegisterPrediction& a, const CpuidRegisterPrediction& b) {
                       return a.leaf != b.leaf ? a.leaf < b.leaf : a.subleaf < b.subleaf;
                     });
  }

 private:
  void note(const std::string& line) {
    if (std::find(out_.unknown.begin(), out_.unknown.end(), line) == out_.unknown.end())
      out_.unknown.push_back(line);
  }

  void decide_vendor() {
    const auto& params = ctx_.params;
    if (ctx_.module == VendorModule::kvm_amd) {
      v_.nested = params.flag("kvm_amd.nested", true);
      // svm_hardware_setup(): npt_enabled needs NPT (and 64-bit); tdp_enabled = npt_enabled.
      v_.tdp.value = host_.raw_bit(0x8000000a, 0, Reg::edx, 0) && params.flag("kvm_amd.npt", true);
    } else {
      v_.nested = params.flag("kvm_intel.nested", false);
      if (ctx_.vmx.evaluated)
        v_.tdp.value = ctx_.vmx.ept && params.flag("kvm_intel.ept", true);
      else
        v_.tdp = {true, "VMX capability MSRs not recorded: EPT (tdp_enabled) assumed on"};
    }
    v_.enable_pmu = ctx_.enable_pmu;
  }

  Decision vmx_secondary(unsigned b, const char* what) const {
    if (!ctx_.vmx.evaluated)
      return {true, fmt::format("VMX capability MSRs not recorded: secondary control {} "
                                "assumed granted", what)};
    return {bit(ctx_.vmx.secondary.value, b), {}};
  }

  Decision pmu(bool want) const {
    if (!v_.enable_pmu)
      return {!want, "kvm.enable_pmu after KVM's PMU init is unknown (" +
                         ctx_.enable_pmu_reason + "); assumed on"};
    return {*v_.enable_pmu == want, {}};
  }

  /// Conditions of arch/x86/kvm/cpuid.c: kvm_set_cpu_caps() (6.1, 6.12), for both vendors.
  std::optional<Decision> common_cond(const CapStep& s) const {
    using C = CapCond;
    switch (s.cond) {
      case C::always: return Decision{true, {}};
      case C::boot_has_same: return linux_.has(s.word, s.bit);
      case C::raw_has_same: {
        const auto& d = cap_word(s.word);
        return Decision{host_.raw_bit(d.leaf, d.subleaf, d.reg, s.bit), {}};
      }
      case C::boot_ibpb_and_ibrs: return Decision{linux_.ibpb() && linux_.ibrs(), {}};
      case C::boot_ibpb: return Decision{linux_.ibpb(), {}};
      case C::boot_ibrs: return Decision{linux_.ibrs(), {}};
      case C::boot_stibp: return Decision{linux_.stibp(), {}};
      case C::boot_amd_ssbd: return Decision{linux_.amd_ssbd(), {}};
      case C::boot_spec_ctrl_ssbd: return Decision{linux_.spec_ctrl_ssbd(), {}};
      case C::no_ssb_bug: {
        auto d = linux_.ssb_bug();
        return Decision{!d.value, d.unknown};
      }
      case C::ls_cfg_ssbd_not_amd_ssbd: {
        auto d = linux_.ls_cfg_ssbd();
        return Decision{d.value && !linux_.amd_ssbd(), d.unknown};
      }
      case C::lfence_rdtsc: return Decision{linux_.lfence_rdtsc(), {}};
      case C::no_null_seg_bug: {
        auto d = linux_.null_seg_bug();
        return Decision{!d.value, d.unknown};
      }
      case C::srso_no: return linux_.srso_no();
      case C::no_tdp_or_no_ospke:
        return Decision{!v_.tdp.value || !host_.raw_bit(7, 0, Reg::ecx, 4), v_.tdp.unknown};
      case C::no_tdp: return Decision{!v_.tdp.value, v_.tdp.unknown};
      default: return std::nullopt;
    }
  }

  /// Conditions of arch/x86/kvm/vmx/vmx.c: vmx_set_cpu_caps() (6.1, 6.12); `nested` serves svm too.
  std::optional<Decision> vmx_cond(const CapStep& s) const {
    using C = CapCond;
    switch (s.cond) {
      case C::nested: return Decision{v_.nested, {}};
      case C::vmx_mpx: {
        // kvm_mpx_supported(): supported XCR0 has BNDREGS and BNDCSR (vmx_hardware_setup drops
        // them without the MPX VMX controls), then check_and_set against the host.
        if (!ctx_.supported_xcr0) return Decision{false, "supported XCR0 unknown: MPX assumed off"};
        bool mpx = (*ctx_.supported_xcr0 & 0x18) == 0x18;
        return Decision{mpx && host_.raw_bit(7, 0, Reg::ebx, 14), {}};
      }
      case C::vmx_no_invpcid: {
        auto d = vmx_secondary(vmx::kEnableInvpcid, "ENABLE_INVPCID");
        return Decision{!d.value, d.unknown};
      }
      case C::vmx_invpcid: {
        // 5.10: if (cpu_has_vmx_invpcid()) kvm_cpu_cap_check_and_set(X86_FEATURE_INVPCID).
        auto d = vmx_secondary(vmx::kEnableInvpcid, "ENABLE_INVPCID");
        return Decision{d.value && bit(linux_.word(CapWord::l7_0_ebx), 10), d.unknown};
      }
      case C::vmx_pt_host_guest:
        if (ctx_.params.number("kvm_intel.pt_mode", 0) == 0) return Decision{false, {}};
        return Decision{false, "kvm_intel.pt_mode=1: whether host-guest PT survives hardware_setup is "
                       "not modelled (assumed not)"};
      case C::vmx_pebs:
        // vmx_pebs_supported(): boot_cpu_has(PEBS) && kvm_pmu_cap.pebs_ept.
        if (v_.enable_pmu == false || !host_.raw_bit(1, 0, Reg::edx, 21)) return Decision{false, {}};
        return Decision{false, "PEBS virtualization (PERF_CAPABILITIES.PEBS_BASELINE, EPT-friendly "
                       "PEBS) not modelled: DS/DTES64 assumed not advertised"};
      case C::no_enable_pmu: return pmu(false);
      case C::no_enable_sgx:
        if (!host_.raw_bit(7, 0, Reg::ebx, 2)) return Decision{true, {}};
        return Decision{true, "SGX: kvm_intel's enable_sgx (firmware SGX enablement, ENCLS exiting) not "
                      "modelled (assumed off)"};
      case C::vmx_umip_emulated: return vmx_secondary(vmx::kDescExiting, "DESC_EXITING");
      case C::vmx_no_xsaves: {
        auto d = vmx_secondary(vmx::kEnableXsaves, "ENABLE_XSAVES");
        return Decision{!d.value, d.unknown};
      }
      case C::vmx_no_rdtscp: {
        auto d = vmx_secondary(vmx::kEnableRdtscp, "ENABLE_RDTSCP");
        return Decision{!d.value, d.unknown};
      }
      case C::vmx_waitpkg: {
        auto d = vmx_secondary(vmx::kUsrWaitPause, "USR_WAIT_PAUSE");
        return Decision{d.value && host_.raw_bit(7, 0, Reg::ecx, 5), d.unknown};
      }
      default: return std::nullopt;
    }
  }

  /// Conditions of arch/x86/kvm/svm/svm.c: svm_set_cpu_caps() (6.1, 6.12).
  std::optional<Decision> svm_cond(const CapStep& s) const {
    using C = CapCond;
    switch (s.cond) {
      case C::svm_ls_cfg_or_amd_ssbd: {
        auto d = linux_.ls_cfg_ssbd();
        return Decision{d.value || linux_.amd_ssbd(), d.unknown};
      }
      case C::svm_pmu_perfctr_core:
      case C::svm_pmu_core_counters: {
        // 6.1: enable_pmu && boot PERFCTR_CORE. 6.12: enable_pmu && perf's GP count >= 6
        // (6 with PERFCTR_CORE, more with PERFMON_V2), then check_and_set(PERFCTR_CORE).
        auto d = pmu(true);
        return Decision{d.value && host_.raw_bit(0x80000001, 0, Reg::ecx, 23), d.unknown};
      }
      default: return std::nullopt;
    }
  }

  /// Whether step \a s sets/clears its bit here, in the function of the kernel that holds it.
  Decision decide(const CapStep& s) const {
    if (auto d = common_cond(s)) return *d;
    if (auto d = vmx_cond(s)) return *d;
    if (auto d = svm_cond(s)) return *d;
    return {false, {}};
  }

  void apply(std::span<const CapStep> steps) {
    for (const auto& s : steps) {
      Decision d = decide(s);
      if (!d.unknown.empty()) note(d.unknown);
      if (!d.value) continue;
      std::uint32_t m = 1u << s.bit;
      auto& word = words_[idx(s.word)];
      if (s.op == CapOp::set) {
        word |= m;
        kvm_mask_[idx(s.word)] |= m;
      } else {
        word &= ~m;
        kvm_mask_[idx(s.word)] &= ~m;
      }
    }
  }

  std::uint32_t cap(CapWord w) const { return words_[idx(w)]; }

  void add(std::uint32_t leaf, std::uint32_t sub, std::uint32_t eax, std::uint32_t ebx,
           std::uint32_t ecx, std::uint32_t edx) {
    out_.leaves.push_back({leaf, sub, eax, ebx, ecx, edx});
  }

  /// __do_cpuid_func() for the modelled leaves (arch/x86/kvm/cpuid.c, 5.10, 6.1 and 6.12).
  void build_leaves() {
    const auto& h = host_;
    std::uint32_t max_basic = std::min(h.max_basic(), caps_.max_basic);
    auto basic = [&](std::uint32_t leaf) { return leaf <= max_basic && h.in_range(leaf); };
    if (basic(1))
      add(1, 0, h.raw(1, 0, Reg::eax), h.raw(1, 0, Reg::ebx), cap(CapWord::l1_ecx),
          cap(CapWord::l1_edx));
    if (basic(7)) {
      std::uint32_t max_idx = std::min(h.raw(7, 0, Reg::eax), caps_.max_leaf7_subleaf);
      add(7, 0, max_idx, cap(CapWord::l7_0_ebx), cap(CapWord::l7_0_ecx), cap(CapWord::l7_0_edx));
      if (max_idx >= 1) add(7, 1, cap(CapWord::l7_1_eax), 0, 0, 0);
    }
    if (basic(0xd)) {
      if (!ctx_.supported_xcr0) {
        note("supported XCR0 unknown (host XCR0 not recorded): leaf 0xD not predicted");
      } else {
        // permitted_xcr0 = supported & xstate_get_guest_group_perm(): without arch_prctl(
        // ARCH_REQ_XCOMP_GUEST_PERM) the dynamic XTILE_DATA (bit 18) is not permitted.
        std::uint64_t permitted = *ctx_.supported_xcr0 & ~(1ull << 18);
        if (caps_.xtilecfg_follows_xtiledata && (*ctx_.supported_xcr0 & (1ull << 18)))
          permitted &= ~(1ull << 17);
        auto lo = static_cast<std::uint32_t>(permitted), hi = static_cast<std::uint32_t>(permitted >> 32);
        out_.registers.push_back({0xd, 0, Reg::eax, h.raw(0xd, 0, Reg::eax), lo, h.raw(0xd, 0, Reg::eax) & lo});
        out_.registers.push_back({0xd, 0, Reg::edx, h.raw(0xd, 0, Reg::edx), hi, h.raw(0xd, 0, Reg::edx) & hi});
        add(0xd, 0, h.raw(0xd, 0, Reg::eax) & static_cast<std::uint32_t>(permitted),
            h.raw(0xd, 0, Reg::ebx), h.raw(0xd, 0, Reg::ecx),
            h.raw(0xd, 0, Reg::edx) & static_cast<std::uint32_t>(permitted >> 32));
        // supported_xss / permitted_xss is 0 for both vendors in 5.10, 6.1 and 6.12.
        if (permitted != 0) add(0xd, 1, cap(CapWord::ld_1_eax), 0, 0, 0);
      }
    }
    if (basic(0x14)) {
      if (!bit(cap(CapWord::l7_0_ebx), 25)) {
        add(0x14, 0, 0, 0, 0, 0);
      } else {
        std::uint32_t n = h.raw(0x14, 0, Reg::eax);
        for (std::uint32_t s = 0; s <= n; ++s)
          add(0x14, s, h.raw(0x14, s, Reg::eax), h.raw(0x14, s, Reg::ebx),
              h.raw(0x14, s, Reg::ecx), h.raw(0x14, s, Reg::edx));
      }
    }
    // case 0x80000000: min(host, KVM's), raised to 0x80000021 (6.1, 6.12) when the host has
    // 0x8000001d and KVM synthesizes the LFENCE / NULL_SEL_CLR_BASE bits.
    std::uint32_t max_ext = std::min(h.max_ext(), caps_.max_extended);
    if (caps_.synthesizes_8000_0021 && max_ext >= 0x8000001d &&
        (linux_.lfence_rdtsc() || !linux_.null_seg_bug().value))
      max_ext = std::max(max_ext, 0x80000021u);
    auto ext = [&](std::uint32_t leaf) { return h.max_ext() >= 0x80000000 && leaf <= max_ext; };
    if (ext(0x80000001))
      add(0x80000001, 0, h.raw(0x80000001, 0, Reg::eax),
          h.raw(0x80000001, 0, Reg::ebx) & ~0x0fff0000u, cap(CapWord::l8000_0001_ecx),
          cap(CapWord::l8000_0001_edx));
    if (ext(0x80000008)) {
      std::uint32_t eax = h.raw(0x80000008, 0, Reg::eax);
      add(0x80000008, 0, eax, cap(CapWord::l8000_0008_ebx),
          h.raw(0x80000008, 0, Reg::ecx) & ~0xffff0f00u, 0);
    }
    if (ext(0x80000021)) add(0x80000021, 0, cap(CapWord::l8000_0021_eax), 0, 0, 0);
  }

  const AnalysisContext& ctx_;
  const CpuidCapsProfile& caps_;
  SupportedCpuid& out_;
  Host host_;
  LinuxBoot linux_;
  VendorState v_;
  std::array<std::uint32_t, kCapWords> words_{};
  std::array<std::uint32_t, kCapWords> kvm_mask_{};
};

}  // namespace

std::span<const CpuidFeature> known_cpuid_features() { return kFeatures; }

bool is_modelled_register(std::uint32_t leaf, std::uint32_t subleaf, Reg reg) {
  switch (leaf) {
    case 0x1: return reg == Reg::ecx || reg == Reg::edx;
    case 0x7: return subleaf == 0 || (subleaf == 1 && reg == Reg::eax);
    case 0xd:
      return (subleaf == 0 && (reg == Reg::eax || reg == Reg::edx)) ||
             (subleaf == 1 && (reg == Reg::eax || reg == Reg::ecx));
    case 0x14: return true;
    case 0x80000001: return reg == Reg::ecx || reg == Reg::edx;
    case 0x80000008: return reg == Reg::ebx;
    case 0x80000021: return reg == Reg::eax;
    default: return false;
  }
}

bool SupportedCpuid::has(const CpuidFeature& f) const {
  for (const auto& l : leaves)
    if (l.leaf == f.leaf && l.subleaf == f.subleaf) return bit(reg_of(l, f.reg), f.bit);
  return false;
}

std::vector<std::string> SupportedCpuid::feature_names() const {
  std::vector<std::string> names;
  for (const auto& f : kFeatures)
    if (has(f)) names.emplace_back(f.qemu_name);
  std::sort(names.begin(), names.end());
  return names;
}

SupportedCpuid compute_supported_cpuid(const AnalysisContext& ctx) {
  SupportedCpuid out;
  if (!ctx.boot) {
    out.not_evaluated = "the snapshot has no CPU";
    return out;
  }
  if (ctx.module == VendorModule::none) {
    out.not_evaluated = "no KVM vendor module applies to this CPU (neither VMX nor an AMD/Hygon "
                        "CPU): there is no KVM_GET_SUPPORTED_CPUID";
    return out;
  }
  const CpuidCapsProfile* caps = cpuid_caps_for(ctx.profile.id);
  if (!caps) {
    out.not_evaluated = fmt::format(
        "KVM's CPUID capabilities are not modelled for kernel profile {} (read for 5.10, 6.1 "
        "and 6.12; use --kernel 5.10, 6.1 or 6.12)", ctx.profile.id);
    return out;
  }
  if (!caps->confirmed) out.unknown.push_back(caps->source);
  Evaluator e(ctx, *caps, out);
  e.run();
  out.evaluated = true;
  return out;
}

}  // namespace kvmprobe
