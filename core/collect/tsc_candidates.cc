#include "core/collect/tsc_candidates.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace kvmprobe::collect {

namespace {

std::optional<std::uint64_t> parse_uint(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

/// The MHz number that follows \a marker in \a line ("... calibration: 2596.145 MHz").
std::optional<std::uint64_t> mhz_after(std::string_view line, std::string_view marker) {
  std::size_t at = line.find(marker);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = line.substr(at + marker.size());
  std::size_t end = rest.find(' ');
  return parse_mhz_to_khz(rest.substr(0, end));
}

std::string hypervisor_vendor(const CpuRecord& cpu) {
  const CpuidLeaf* l = cpu.find_cpuid(0x40000000);
  if (!l) return {};
  char v[13] = {};
  std::memcpy(v, &l->ebx, 4);
  std::memcpy(v + 4, &l->ecx, 4);
  std::memcpy(v + 8, &l->edx, 4);
  return std::string(v, strnlen(v, 12));
}

void add_kernel_log(const std::vector<std::string>& lines, std::vector<TscCandidate>& out) {
  // arch/x86/kernel/tsc.c: "tsc: Detected %lu.%03lu MHz processor" (cpu_khz), then, when it
  // differs, "tsc: Detected %lu.%03lu MHz TSC" (tsc_khz); tsc_refine_calibration_work() later
  // logs "tsc: Refined TSC clocksource calibration: %lu.%03lu MHz" and sets tsc_khz to it.
  const std::string *refined = nullptr, *tsc = nullptr, *processor = nullptr;
  for (const std::string& l : lines) {
    if (l.find("tsc: Refined TSC clocksource calibration: ") != std::string::npos)
      refined = &l;
    else if (l.find("tsc: Detected ") != std::string::npos &&
             l.find(" MHz TSC") != std::string::npos)
      tsc = &l;
    else if (l.find("tsc: Detected ") != std::string::npos &&
             l.find(" MHz processor") != std::string::npos)
      processor = &l;
  }
  if (refined)
    if (auto khz = mhz_after(*refined, "calibration: "))
      out.push_back({TscSource::kernel_log, *khz, false, *refined});
  for (const std::string* l : {tsc, processor})
    if (l)
      if (auto khz = mhz_after(*l, "Detected "))
        out.push_back({TscSource::kernel_log, *khz, false, *l});
}

void add_cpuid(const CpuRecord& cpu, std::vector<TscCandidate>& out) {
  // Hypervisor timing leaf (VMware's interface, also offered by KVM/QEMU): EAX = TSC kHz.
  std::string vendor = hypervisor_vendor(cpu);
  if (vendor == "VMwareVMware" || vendor == "KVMKVMKVM") {
    const CpuidLeaf* h0 = cpu.find_cpuid(0x40000000);
    const CpuidLeaf* h10 = cpu.find_cpuid(0x40000010);
    if (h0 && h0->eax >= 0x40000010 && h10 && h10->eax != 0)
      out.push_back({TscSource::hypervisor_leaf, h10->eax, false,
                     "CPUID 0x40000010 EAX (" + vendor + " timing leaf)"});
  }
  // SDM vol. 3 §19.7.3: TSC Hz = crystal Hz (ECX) × EBX / EAX; nominal, not calibrated.
  if (const CpuidLeaf* l = cpu.find_cpuid(0x15); l && l->eax && l->ebx && l->ecx) {
    std::uint64_t khz = static_cast<std::uint64_t>(l->ecx) * l->ebx / l->eax / 1000;
    out.push_back({TscSource::cpuid_15h, khz, false,
                   "CPUID 0x15: crystal " + std::to_string(l->ecx) + " Hz x " +
                       std::to_string(l->ebx) + "/" + std::to_string(l->eax) + " (nominal)"});
  }
  if (const CpuidLeaf* l = cpu.find_cpuid(0x16); l && (l->eax & 0xFFFF) != 0)
    out.push_back(
        {TscSource::cpuid_16h, std::uint64_t{l->eax & 0xFFFF} * 1000, false,
         "CPUID 0x16 EAX: base frequency " + std::to_string(l->eax & 0xFFFF) + " MHz (nominal)"});
}

}  // namespace

std::optional<std::uint64_t> parse_mhz_to_khz(std::string_view mhz) {
  while (!mhz.empty() && (mhz.back() == '\n' || mhz.back() == ' ')) mhz.remove_suffix(1);
  std::size_t dot = mhz.find('.');
  auto whole = parse_uint(mhz.substr(0, dot));
  if (!whole || *whole > 100'000'000) return std::nullopt;
  std::uint64_t khz = *whole * 1000;
  if (dot != std::string_view::npos) {
    std::string_view frac = mhz.substr(dot + 1);
    if (frac.empty() ||
        !std::all_of(frac.begin(), frac.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    std::uint64_t scale = 100;
    for (std::size_t i = 0; i < frac.size() && i < 3; ++i, scale /= 10)
      khz += static_cast<std::uint64_t>(frac[i] - '0') * scale;
  }
  return khz;
}

std::vector<TscCandidate> tsc_candidates(const TscInputs& in) {
  std::vector<TscCandidate> out;
  if (in.kvm_vcpu_khz) {
    // kvm_timer_init(): max_tsc_khz = tsc_khz, replaced by the cpufreq policy's max_freq only
    // without CONSTANT_TSC; new vCPUs start at max_tsc_khz.
    bool constant = in.constant_tsc == true;
    bool no_cpufreq = in.constant_tsc == false && in.cpufreq_policies == false;
    std::string detail = "KVM_GET_TSC_KHZ on a new vCPU";
    if (no_cpufreq)
      detail += " (no constant TSC, but no cpufreq policy either, so max_tsc_khz = tsc_khz)";
    else if (!constant)
      detail += in.constant_tsc ? " (no constant TSC: KVM gives new vCPUs max_tsc_khz, the "
                                  "cpufreq maximum, which may differ from tsc_khz)"
                                : " (constant TSC unknown, so it may be max_tsc_khz, not tsc_khz)";
    out.push_back({TscSource::kvm_vcpu, *in.kvm_vcpu_khz, constant || no_cpufreq, detail});
  }
  if (in.driver_khz)
    out.push_back({TscSource::driver, *in.driver_khz, true, "kvmprobe driver: kernel tsc_khz"});
  if (in.sysfs_khz)
    if (auto khz = parse_uint(*in.sysfs_khz); khz && *khz > 0)
      out.push_back({TscSource::sysfs, *khz, false, "/sys/devices/system/cpu/cpu0/tsc_freq_khz"});
  add_kernel_log(in.log_lines, out);
  if (in.boot_cpu) add_cpuid(*in.boot_cpu, out);
  if (!in.cpuinfo_mhz.empty())
    if (auto khz = parse_mhz_to_khz(in.cpuinfo_mhz); khz && *khz > 0)
      out.push_back({TscSource::cpuinfo_mhz, *khz, false,
                     "/proc/cpuinfo cpu MHz " + in.cpuinfo_mhz + " (current clock, a guess)"});
  return out;
}

}  // namespace kvmprobe::collect
