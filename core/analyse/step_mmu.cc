// MMU setup: physical address bits, the MMIO SPTE mask KVM derives from them, the SME C-bit.
// (kvm_mmu_reset_all_pte_masks / kvm_set_mmio_spte_mask; the seed document walks the 4.18 code.)
#include <fmt/format.h>

#include "core/analyse/step_util.h"
#include "core/analyse/steps.h"

namespace kvmprobe {

StepResult step_mmu(const AnalysisContext& ctx) {
  StepResult s = make_step("mmu", "MMU masks");
  if (!ctx.boot) {
    s.status = Status::unknown;
    s.summary = "no CPU recorded";
    return s;
  }
  const CpuRecord& cpu = *ctx.boot;
  bool leaf = max_extended_leaf(cpu) >= 0x80000008 && cpu.find_cpuid(0x80000008);
  unsigned bits = phys_addr_bits(cpu);
  s.evidence.push_back({"CPUID.0x80000008:EAX[7:0]", "cpu0", leaf ? fmt::format("{}", bits) : "",
                        leaf ? fmt::format("{} physical address bits", bits) : "leaf absent: 36 bits assumed"});
  // SME: the C-bit position reduces the usable physical bits when memory encryption is active.
  unsigned cbit = 0;
  bool sme_active = false;
  for (const auto& l : ctx.snap.kernel_log)
    if (l.find("Memory Encryption Features active") != std::string::npos && l.find("SME") != std::string::npos)
      sme_active = true;
  if (ctx.module == VendorModule::kvm_amd && has_or_false(cpu, cpuid::kSme)) {
    cbit = cpu.cpuid_reg(0x8000001f, 0, Reg::ebx).value_or(0) & 0x3f;
    s.evidence.push_back({"CPUID.0x8000001F:EBX[5:0] C-bit", "cpu0", fmt::format("{}", cbit),
                          sme_active ? fmt::format("SME active: sme_me_mask = {}", hex(1ull << cbit))
                                     : "SME not active in the kernel log: sme_me_mask = 0"});
  }
  if (bits >= 52) {
    s.status = Status::warn;
    s.summary = fmt::format("{} physical address bits: no reserved bits, MMIO SPTE caching is disabled "
                            "(every guest MMIO access takes the slow path)", bits);
    return s;
  }
  std::uint64_t mask = ((1ull << 52) - 1) & ~((1ull << bits) - 1);
  s.evidence.push_back({"MMIO SPTE reserved bits", "", hex(mask), fmt::format("bits {}..51 (rsvd_bits)", bits)});
  s.summary = fmt::format("{} physical address bits; MMIO SPTEs use reserved bits {}-51{}", bits, bits,
                          sme_active ? fmt::format(", SME C-bit {}", cbit) : "");
  return s;
}

}  // namespace kvmprobe
