#include "core/render/cpuid.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/compat/guest_cpu.h"
#include "core/model/format.h"

namespace kvmprobe::render {
namespace {

const char* reg_name(Reg r) {
  switch (r) {
    case Reg::eax: return "eax";
    case Reg::ebx: return "ebx";
    case Reg::ecx: return "ecx";
    case Reg::edx: return "edx";
  }
  return "?";
}

std::string hex32(std::uint32_t v) { return fmt::format("{:#010x}", v); }

std::string leaf_name(std::uint32_t leaf, std::uint32_t sub) {
  return sub == 0 && leaf != 0x7 && leaf != 0xd ? fmt::format("{:#x}", leaf)
                                                 : fmt::format("{:#x}.{}", leaf, sub);
}

std::vector<std::string> names_in(std::uint32_t leaf, std::uint32_t sub, Reg reg, std::uint32_t v) {
  std::vector<std::string> out;
  for (const auto& f : known_cpuid_features())
    if (f.leaf == leaf && f.subleaf == sub && f.reg == reg && ((v >> f.bit) & 1u) != 0)
      out.emplace_back(f.qemu_name);
  return out;
}



}  // namespace

std::string cpuid_text(const SupportedCpuid& s, const CpuidHeader& h, const TextStyle& style) {
  std::string out;
  if (!s.evaluated) return fmt::format("KVM_GET_SUPPORTED_CPUID: not predicted: {}\n", s.not_evaluated);
  if (style.legend)
    out += fmt::format("KVM_GET_SUPPORTED_CPUID predicted for kernel {} ({})\n", h.profile,
                       h.vendor_module);
  if (style.legend)
    out += fmt::format("{:<12} {:<4} {:<10} {:<10} {:<10} {}\n", "LEAF", "REG", "HOST", "KVM MASK",
                       "SUPPORTED", "FEATURES");
  for (const auto& r : s.registers) {
    bool present = std::any_of(s.leaves.begin(), s.leaves.end(), [&](const CpuidLeaf& l) {
      return l.leaf == r.leaf && l.subleaf == r.subleaf;
    });
    out += fmt::format("{:<12} {:<4} {:<10} {:<10} {:<10} {}\n", leaf_name(r.leaf, r.subleaf),
                       reg_name(r.reg), hex32(r.host), hex32(r.kvm_mask),
                       present ? hex32(r.supported) : "(absent)",
                       present ? join(names_in(r.leaf, r.subleaf, r.reg, r.supported), " ") : "");
  }
  auto names = s.feature_names();
  out += fmt::format("{} features: {}\n", names.size(), join(names, " "));
  for (const auto& u : s.unknown) out += fmt::format("unknown: {}\n", u);
  return out;
}

nlohmann::json cpuid_json(const SupportedCpuid& s, const CpuidHeader& h) {
  nlohmann::json j = {{"schema", kCpuidSchema},
                      {"profile", h.profile},
                      {"vendor_module", h.vendor_module},
                      {"evaluated", s.evaluated},
                      {"not_evaluated", s.evaluated ? nlohmann::json(nullptr) : nlohmann::json(s.not_evaluated)}};
  nlohmann::json regs = nlohmann::json::array();
  for (const auto& r : s.registers)
    regs.push_back({{"leaf", fmt::format("{:#x}", r.leaf)}, {"subleaf", r.subleaf},
                    {"register", reg_name(r.reg)}, {"host", hex32(r.host)},
                    {"kvm_mask", hex32(r.kvm_mask)}, {"supported", hex32(r.supported)},
                    {"features", names_in(r.leaf, r.subleaf, r.reg, r.supported)}});
  nlohmann::json leaves = nlohmann::json::array();
  for (const auto& l : s.leaves) {
    nlohmann::json e = {{"leaf", fmt::format("{:#x}", l.leaf)}, {"subleaf", l.subleaf}};
    for (Reg r : {Reg::eax, Reg::ebx, Reg::ecx, Reg::edx}) {
      if (!is_modelled_register(l.leaf, l.subleaf, r)) continue;
      std::uint32_t v = r == Reg::eax ? l.eax : r == Reg::ebx ? l.ebx : r == Reg::ecx ? l.ecx : l.edx;
      e[reg_name(r)] = hex32(v);
    }
    leaves.push_back(std::move(e));
  }
  j["registers"] = std::move(regs);
  j["leaves"] = std::move(leaves);
  j["features"] = s.feature_names();
  j["unknown"] = s.unknown;
  j["qemu_cpu"] = s.evaluated ? nlohmann::json(qemu_cpu_string(s)) : nlohmann::json(nullptr);
  return j;
}

std::string qemu_cpu_string(const SupportedCpuid& s) {
  // The same definition fleet gives a pool (compat::guest_cpu): +f only for what qemu64 lacks,
  // -g for qemu64's own features KVM would not report, and no name QEMU 7.2 refuses.
  return compat::guest_cpu(s.feature_names(), /*enforce=*/false).qemu;
}

}  // namespace kvmprobe::render
