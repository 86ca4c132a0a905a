#include "core/compat/guest_cpu.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <utility>

namespace kvmprobe::compat {
namespace {

// Sorted. tests/core/compat/guest_cpu_test.cc checks it against QEMU 7.2 itself
// (query-cpu-model-expansion of qemu64 under TCG).
constexpr const char* kQemu64[] = {"apic", "clflush", "cmov", "cx16",  "cx8",   "de",    "fpu",
                                   "fxsr", "lahf-lm", "lm",   "mca",   "mce",   "mmx",   "msr",
                                   "mtrr", "nx",      "pae",  "pat",   "pge",   "pni",   "pse",
                                   "pse36", "sep",    "sse",  "sse2",  "svm",   "syscall", "tsc"};

// Sorted. The names of known_cpuid_features() missing from `qemu-system-x86_64 -cpu help`
// ("Recognized CPUID flags") of QEMU 7.2 (Debian 1:7.2+dfsg-7+deb12u18); checked by the test.
constexpr const char* kNotInQemu72[] = {
    "amd-psfd",  "amx-fp16", "auto-ibrs", "avx-ifma",       "cmpccxadd",      "eraps",
    "fdp-excptn-only", "flush-l1d", "fred",  "fsrc", "fsrs", "fzrm", "ibpb-brtype", "lam",
    "lfence-always-serializing", "lkgs", "no-nested-data-bp", "null-sel-clr-base", "sbpb",
    "sha512", "sm3", "sm4", "srso-no", "srso-user-kernel-no", "stibp-always-on", "wrmsrns",
    "zero-fcs-fds"};

// libvirt 9.0 (Debian libvirt0, /usr/share/libvirt/cpu_map/x86_features.xml) spells these
// differently from QEMU (same CPUID bit); checked by the test. Sorted by QEMU name.
constexpr std::pair<const char*, const char*> kLibvirtSpelling[] = {
    {"cmp-legacy", "cmp_legacy"}, {"ds-cpl", "ds_cpl"},           {"fxsr-opt", "fxsr_opt"},
    {"lahf-lm", "lahf_lm"},       {"nodeid-msr", "nodeid_msr"},   {"pclmulqdq", "pclmuldq"},
    {"perfctr-core", "perfctr_core"}, {"perfctr-nb", "perfctr_nb"}, {"tsc-adjust", "tsc_adjust"}};

bool in(std::span<const char* const> sorted, const std::string& name) {
  return std::binary_search(sorted.begin(), sorted.end(), name,
                            [](const auto& a, const auto& b) { return std::string_view(a) < std::string_view(b); });
}

}  // namespace

std::span<const char* const> qemu64_features() { return kQemu64; }
std::span<const char* const> qemu72_unknown_features() { return kNotInQemu72; }
bool qemu72_knows(const std::string& name) { return !in(kNotInQemu72, name); }

std::string libvirt_name(const std::string& qemu_name) {
  // libvirt 9.0's cpu_map has none of the features QEMU 7.2 does not know either.
  if (in(kNotInQemu72, qemu_name)) return "";
  for (const auto& [q, l] : kLibvirtSpelling)
    if (qemu_name == q) return l;
  return qemu_name;
}

GuestCpu guest_cpu(const std::vector<std::string>& features, bool enforce) {
  GuestCpu g;
  std::vector<std::string> set = features;
  std::sort(set.begin(), set.end());
  set.erase(std::unique(set.begin(), set.end()), set.end());
  for (const auto& f : set) {
    if (f == "hypervisor" || in(kQemu64, f)) continue;
    (qemu72_knows(f) ? g.add : g.not_in_qemu).push_back(f);
  }
  for (const char* q : kQemu64)
    if (!std::binary_search(set.begin(), set.end(), std::string(q))) g.remove.emplace_back(q);

  g.qemu = "qemu64";
  for (const auto& f : g.add) g.qemu += ",+" + f;
  for (const auto& f : g.remove) g.qemu += ",-" + f;
  if (enforce) g.qemu += ",enforce";

  g.libvirt = "<cpu mode='custom' match='exact'>\n  <model fallback='forbid'>qemu64</model>\n";
  auto feature = [&](const std::string& f, const char* policy) {
    std::string l = libvirt_name(f);
    if (l.empty()) {
      g.not_in_libvirt.push_back(f);
      return;
    }
    g.libvirt += fmt::format("  <feature policy='{}' name='{}'/>\n", policy, l);
  };
  for (const auto& f : g.add) feature(f, "require");
  for (const auto& f : g.remove) feature(f, "disable");
  g.libvirt += "</cpu>";
  return g;
}

}  // namespace kvmprobe::compat
