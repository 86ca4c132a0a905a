#include "core/analyse/cpu_facts.h"

#include <fmt/format.h>

#include <cstring>

namespace kvmprobe {
namespace {

std::string regs_to_string(std::initializer_list<std::uint32_t> regs) {
  std::string s;
  for (std::uint32_t r : regs)
    for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((r >> (8 * i)) & 0xff));
  return s;
}

}  // namespace

std::string vendor_string(const CpuRecord& cpu) {
  const CpuidLeaf* l = cpu.find_cpuid(0);
  if (!l) return {};
  return regs_to_string({l->ebx, l->edx, l->ecx});
}

Vendor cpu_vendor(const CpuRecord& cpu) {
  std::string v = vendor_string(cpu);
  if (v.empty()) return Vendor::unknown;
  if (v == "GenuineIntel") return Vendor::intel;
  if (v == "AuthenticAMD") return Vendor::amd;
  if (v == "HygonGenuine") return Vendor::hygon;
  if (v == "CentaurHauls") return Vendor::centaur;
  if (v == "  Shanghai  ") return Vendor::zhaoxin;
  return Vendor::other;
}

const char* to_string(Vendor v) {
  switch (v) {
    case Vendor::intel: return "Intel";
    case Vendor::amd: return "AMD";
    case Vendor::hygon: return "Hygon";
    case Vendor::centaur: return "Centaur";
    case Vendor::zhaoxin: return "Zhaoxin";
    case Vendor::other: return "other";
    case Vendor::unknown: return "unknown";
  }
  return "unknown";
}

std::string brand_string(const CpuRecord& cpu) {
  std::string s;
  for (std::uint32_t leaf = 0x80000002; leaf <= 0x80000004; ++leaf) {
    const CpuidLeaf* l = cpu.find_cpuid(leaf);
    if (!l) return {};
    s += regs_to_string({l->eax, l->ebx, l->ecx, l->edx});
  }
  s = s.substr(0, std::strlen(s.c_str()));
  auto b = s.find_first_not_of(' ');
  auto e = s.find_last_not_of(' ');
  return b == std::string::npos ? std::string{} : s.substr(b, e - b + 1);
}

std::uint32_t max_basic_leaf(const CpuRecord& cpu) {
  const CpuidLeaf* l = cpu.find_cpuid(0);
  return l ? l->eax : 0;
}

std::uint32_t max_extended_leaf(const CpuRecord& cpu) {
  const CpuidLeaf* l = cpu.find_cpuid(0x80000000);
  return l && l->eax >= 0x80000000 ? l->eax : 0;
}

std::optional<bool> has(const CpuRecord& cpu, const CpuidBit& bit) {
  if (auto v = cpu.cpuid_bit(bit.leaf, bit.subleaf, bit.reg, bit.bit)) return v;
  // A leaf beyond the CPU's maximum does not exist: the feature is absent, not unknown.
  if (bit.leaf >= 0x80000000u) {
    if (cpu.find_cpuid(0x80000000) && bit.leaf > max_extended_leaf(cpu)) return false;
  } else if (bit.leaf < 0x40000000u) {
    if (cpu.find_cpuid(0) && bit.leaf > max_basic_leaf(cpu)) return false;
  }
  return std::nullopt;
}

bool has_or_false(const CpuRecord& cpu, const CpuidBit& bit) { return has(cpu, bit).value_or(false); }

std::optional<std::uint32_t> signature(const CpuRecord& cpu) { return cpu.cpuid_reg(1, 0, Reg::eax); }

unsigned display_family(std::uint32_t sig) {
  unsigned fam = (sig >> 8) & 0xf;
  if (fam == 0xf) fam += (sig >> 20) & 0xff;
  return fam;
}

unsigned display_model(std::uint32_t sig) {
  unsigned fam = (sig >> 8) & 0xf;
  unsigned model = (sig >> 4) & 0xf;
  if (fam >= 6) model |= ((sig >> 16) & 0xf) << 4;
  return model;
}

unsigned phys_addr_bits(const CpuRecord& cpu) {
  if (max_extended_leaf(cpu) >= 0x80000008)
    if (auto eax = cpu.cpuid_reg(0x80000008, 0, Reg::eax)) return *eax & 0xff;
  return 36;
}

std::string hypervisor_vendor(const CpuRecord& cpu) {
  if (!has_or_false(cpu, cpuid::kHypervisor)) return {};
  const CpuidLeaf* l = cpu.find_cpuid(0x40000000);
  if (!l) return {};
  std::string s = regs_to_string({l->ebx, l->ecx, l->edx});
  return s.substr(0, std::strlen(s.c_str()));
}

}  // namespace kvmprobe
