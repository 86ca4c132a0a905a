#include "core/model/snapshot.h"

#include <algorithm>

namespace kvmprobe {

const CpuidLeaf* CpuRecord::find_cpuid(std::uint32_t leaf, std::uint32_t subleaf) const {
  for (const auto& l : cpuid)
    if (l.leaf == leaf && l.subleaf == subleaf) return &l;
  return nullptr;
}

const MsrRead* CpuRecord::find_msr(std::uint32_t index) const {
  for (const auto& m : msrs)
    if (m.index == index) return &m;
  return nullptr;
}

std::optional<std::uint32_t> CpuRecord::cpuid_reg(std::uint32_t leaf, std::uint32_t subleaf,
                                                  Reg reg) const {
  const CpuidLeaf* l = find_cpuid(leaf, subleaf);
  if (!l) return std::nullopt;
  switch (reg) {
    case Reg::eax: return l->eax;
    case Reg::ebx: return l->ebx;
    case Reg::ecx: return l->ecx;
    case Reg::edx: return l->edx;
  }
  return std::nullopt;
}

std::optional<bool> CpuRecord::cpuid_bit(std::uint32_t leaf, std::uint32_t subleaf, Reg reg,
                                         unsigned bit) const {
  auto v = cpuid_reg(leaf, subleaf, reg);
  if (!v) return std::nullopt;
  return ((*v >> bit) & 1u) != 0;
}

std::optional<bool> CpuRecord::has_linux_flag(const std::string& flag) const {
  if (!linux_flags) return std::nullopt;
  return std::find(linux_flags->begin(), linux_flags->end(), flag) != linux_flags->end();
}

const LoadedModule* Snapshot::find_module(const std::string& name) const {
  for (const auto& m : modules)
    if (m.name == name) return &m;
  return nullptr;
}

}  // namespace kvmprobe
