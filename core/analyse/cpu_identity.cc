#include "core/analyse/cpu_identity.h"

#include <libcpuid.h>

#include <cstring>

#include "core/analyse/cpu_facts.h"

namespace kvmprobe {
namespace {

void quiet(const char*) {}

/// libcpuid answers with its closest table entry even for CPUs newer than the library, e.g.
/// "Athlon X2 (Kuma)" for a family-0x1A EPYC. Keep a codename only when its marketing name
/// agrees with the brand string and the family is one libcpuid 0.6.2 knows.
bool plausible(const CpuIdentity& id, Vendor v) {
  if (v == Vendor::amd && id.family > 0x19) return false;  // Zen 5 and later postdate 0.6.2
  static const char* words[] = {"Athlon", "Ryzen", "EPYC", "Opteron", "Phenom", "Sempron", "Turion",
                                "Threadripper", "Core", "Xeon", "Celeron", "Pentium", "Atom", "Duron"};
  for (const char* w : words)
    if (id.codename.find(w) != std::string::npos && id.brand.find(w) == std::string::npos) return false;
  return true;
}

void copy_leaf(const CpuRecord& cpu, std::uint32_t leaf, std::uint32_t sub, std::uint32_t* regs) {
  if (const CpuidLeaf* l = cpu.find_cpuid(leaf, sub)) {
    regs[EAX] = l->eax;
    regs[EBX] = l->ebx;
    regs[ECX] = l->ecx;
    regs[EDX] = l->edx;
  }
}

}  // namespace

CpuIdentity identify_cpu(const CpuRecord& cpu) {
  CpuIdentity id;
  id.vendor = vendor_string(cpu);
  id.brand = brand_string(cpu);
  if (auto sig = signature(cpu)) {
    id.family = display_family(*sig);
    id.model = display_model(*sig);
    id.stepping = *sig & 0xf;
  }
  if (!cpu.find_cpuid(0) || !cpu.find_cpuid(1)) {
    id.note = "CPUID leaves 0/1 not recorded";
    return id;
  }
  Vendor v = cpu_vendor(cpu);
  if (v == Vendor::centaur || v == Vendor::zhaoxin) {
    id.note = "libcpuid 0.6.2 is not asked about Centaur/Zhaoxin CPUs (it can crash on them)";
    return id;
  }
  cpu_raw_data_t raw;
  std::memset(&raw, 0, sizeof raw);
  std::uint32_t max_basic = max_basic_leaf(cpu), max_ext = max_extended_leaf(cpu);
  for (std::uint32_t i = 0; i < MAX_CPUID_LEVEL && i <= max_basic; ++i) copy_leaf(cpu, i, 0, raw.basic_cpuid[i]);
  for (std::uint32_t i = 0; i < MAX_EXT_CPUID_LEVEL && 0x80000000u + i <= max_ext; ++i)
    copy_leaf(cpu, 0x80000000u + i, 0, raw.ext_cpuid[i]);
  for (std::uint32_t i = 0; i < MAX_INTELFN4_LEVEL; ++i) copy_leaf(cpu, 4, i, raw.intel_fn4[i]);
  for (std::uint32_t i = 0; i < MAX_INTELFN11_LEVEL; ++i) copy_leaf(cpu, 0xb, i, raw.intel_fn11[i]);
  for (std::uint32_t i = 0; i < MAX_INTELFN12H_LEVEL; ++i) copy_leaf(cpu, 0x12, i, raw.intel_fn12h[i]);
  for (std::uint32_t i = 0; i < MAX_INTELFN14H_LEVEL; ++i) copy_leaf(cpu, 0x14, i, raw.intel_fn14h[i]);
  for (std::uint32_t i = 0; i < MAX_AMDFN8000001DH_LEVEL; ++i) copy_leaf(cpu, 0x8000001d, i, raw.amd_fn8000001dh[i]);
  static const bool silenced = (cpuid_set_warn_function(quiet), true);  // libcpuid warns on stderr
  (void)silenced;
  cpu_id_t data;
  std::memset(&data, 0, sizeof data);
  if (cpu_identify(&raw, &data) != 0) {
    id.note = std::string("libcpuid: ") + cpuid_error();
    return id;
  }
  id.codename = data.cpu_codename;
  if (id.codename == "Unknown") id.codename.clear();
  if (!id.codename.empty() && !plausible(id, v)) {
    id.note = "libcpuid 0.6.2 does not know this CPU (its best match was '" + id.codename + "')";
    id.codename.clear();
  }
  return id;
}

}  // namespace kvmprobe
