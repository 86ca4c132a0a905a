// CPUID facts the KVM init steps use: vendor, feature bits by name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/model/format.h"
#include "core/model/snapshot.h"

namespace kvmprobe {

/// CPU vendors KVM distinguishes.
enum class Vendor { intel, amd, hygon, centaur, zhaoxin, other, unknown };

/// One CPUID feature bit.
struct CpuidBit {
  std::uint32_t leaf;
  std::uint32_t subleaf;
  Reg reg;
  unsigned bit;
  const char* name;  ///< "CPUID.1:ECX[5] VMX"
};

namespace cpuid {
inline constexpr CpuidBit kVmx{0x1, 0, Reg::ecx, 5, "CPUID.1:ECX[5] VMX"};
inline constexpr CpuidBit kSmx{0x1, 0, Reg::ecx, 6, "CPUID.1:ECX[6] SMX"};
inline constexpr CpuidBit kPdcm{0x1, 0, Reg::ecx, 15, "CPUID.1:ECX[15] PDCM"};
inline constexpr CpuidBit kXsave{0x1, 0, Reg::ecx, 26, "CPUID.1:ECX[26] XSAVE"};
inline constexpr CpuidBit kOsxsave{0x1, 0, Reg::ecx, 27, "CPUID.1:ECX[27] OSXSAVE"};
inline constexpr CpuidBit kHypervisor{0x1, 0, Reg::ecx, 31, "CPUID.1:ECX[31] hypervisor"};
inline constexpr CpuidBit kFpu{0x1, 0, Reg::edx, 0, "CPUID.1:EDX[0] FPU"};
inline constexpr CpuidBit kMsr{0x1, 0, Reg::edx, 5, "CPUID.1:EDX[5] MSR"};
inline constexpr CpuidBit kPat{0x1, 0, Reg::edx, 16, "CPUID.1:EDX[16] PAT"};
inline constexpr CpuidBit kFxsr{0x1, 0, Reg::edx, 24, "CPUID.1:EDX[24] FXSR"};
inline constexpr CpuidBit kSgx{0x7, 0, Reg::ebx, 2, "CPUID.7.0:EBX[2] SGX"};
inline constexpr CpuidBit kRtm{0x7, 0, Reg::ebx, 11, "CPUID.7.0:EBX[11] RTM"};
inline constexpr CpuidBit kMpx{0x7, 0, Reg::ebx, 14, "CPUID.7.0:EBX[14] MPX"};
inline constexpr CpuidBit kIntelPt{0x7, 0, Reg::ebx, 25, "CPUID.7.0:EBX[25] INTEL_PT"};
inline constexpr CpuidBit kWaitpkg{0x7, 0, Reg::ecx, 5, "CPUID.7.0:ECX[5] WAITPKG"};
inline constexpr CpuidBit kShstk{0x7, 0, Reg::ecx, 7, "CPUID.7.0:ECX[7] SHSTK"};
inline constexpr CpuidBit kRdpid{0x7, 0, Reg::ecx, 22, "CPUID.7.0:ECX[22] RDPID"};
inline constexpr CpuidBit kSgxLc{0x7, 0, Reg::ecx, 30, "CPUID.7.0:ECX[30] SGX_LC"};
inline constexpr CpuidBit kHybrid{0x7, 0, Reg::edx, 15, "CPUID.7.0:EDX[15] HYBRID_CPU"};
inline constexpr CpuidBit kIbt{0x7, 0, Reg::edx, 20, "CPUID.7.0:EDX[20] IBT"};
inline constexpr CpuidBit kArchCapabilities{0x7, 0, Reg::edx, 29, "CPUID.7.0:EDX[29] ARCH_CAPABILITIES"};
inline constexpr CpuidBit kXsaves{0xd, 1, Reg::eax, 3, "CPUID.0xD.1:EAX[3] XSAVES"};
inline constexpr CpuidBit kXfd{0xd, 1, Reg::eax, 4, "CPUID.0xD.1:EAX[4] XFD"};
inline constexpr CpuidBit kSvm{0x80000001, 0, Reg::ecx, 2, "CPUID.0x80000001:ECX[2] SVM"};
inline constexpr CpuidBit kPerfctrCore{0x80000001, 0, Reg::ecx, 23, "CPUID.0x80000001:ECX[23] PERFCTR_CORE"};
inline constexpr CpuidBit kNx{0x80000001, 0, Reg::edx, 20, "CPUID.0x80000001:EDX[20] NX"};
inline constexpr CpuidBit kRdtscp{0x80000001, 0, Reg::edx, 27, "CPUID.0x80000001:EDX[27] RDTSCP"};
inline constexpr CpuidBit kLm{0x80000001, 0, Reg::edx, 29, "CPUID.0x80000001:EDX[29] LM"};
inline constexpr CpuidBit kInvariantTsc{0x80000007, 0, Reg::edx, 8, "CPUID.0x80000007:EDX[8] invariant TSC"};
inline constexpr CpuidBit kNpt{0x8000000a, 0, Reg::edx, 0, "CPUID.0x8000000A:EDX[0] NPT"};
inline constexpr CpuidBit kLbrv{0x8000000a, 0, Reg::edx, 1, "CPUID.0x8000000A:EDX[1] LBRV"};
inline constexpr CpuidBit kNrips{0x8000000a, 0, Reg::edx, 3, "CPUID.0x8000000A:EDX[3] NRIPS"};
inline constexpr CpuidBit kTscRateMsr{0x8000000a, 0, Reg::edx, 4, "CPUID.0x8000000A:EDX[4] TSCRATEMSR"};
inline constexpr CpuidBit kPauseFilter{0x8000000a, 0, Reg::edx, 10, "CPUID.0x8000000A:EDX[10] PAUSEFILTER"};
inline constexpr CpuidBit kAvic{0x8000000a, 0, Reg::edx, 13, "CPUID.0x8000000A:EDX[13] AVIC"};
inline constexpr CpuidBit kVVmsaveVmload{0x8000000a, 0, Reg::edx, 15, "CPUID.0x8000000A:EDX[15] V_VMSAVE_VMLOAD"};
inline constexpr CpuidBit kVgif{0x8000000a, 0, Reg::edx, 16, "CPUID.0x8000000A:EDX[16] VGIF"};
inline constexpr CpuidBit kX2avic{0x8000000a, 0, Reg::edx, 18, "CPUID.0x8000000A:EDX[18] X2AVIC"};
inline constexpr CpuidBit kVnmi{0x8000000a, 0, Reg::edx, 25, "CPUID.0x8000000A:EDX[25] VNMI"};
inline constexpr CpuidBit kSme{0x8000001f, 0, Reg::eax, 0, "CPUID.0x8000001F:EAX[0] SME"};
inline constexpr CpuidBit kSev{0x8000001f, 0, Reg::eax, 1, "CPUID.0x8000001F:EAX[1] SEV"};
inline constexpr CpuidBit kSevEs{0x8000001f, 0, Reg::eax, 3, "CPUID.0x8000001F:EAX[3] SEV-ES"};
inline constexpr CpuidBit kPerfmonV2{0x80000022, 0, Reg::eax, 0, "CPUID.0x80000022:EAX[0] PERFMON_V2"};
}  // namespace cpuid

/// The 12-character vendor string of CPUID leaf 0, "" when leaf 0 is missing.
std::string vendor_string(const CpuRecord& cpu);
/// The vendor as KVM classifies it.
Vendor cpu_vendor(const CpuRecord& cpu);
/// "Intel", "AMD", ...
const char* to_string(Vendor v);
/// The brand string from 0x80000002..4, trimmed; "" when absent.
std::string brand_string(const CpuRecord& cpu);
/// Highest basic / extended leaf (0 when leaf 0 / 0x80000000 missing).
std::uint32_t max_basic_leaf(const CpuRecord& cpu);
std::uint32_t max_extended_leaf(const CpuRecord& cpu);
/// The feature bit; nullopt when its leaf was not recorded. A leaf above the CPU's maximum
/// counts as recorded-and-zero (the CPU has no such feature).
std::optional<bool> has(const CpuRecord& cpu, const CpuidBit& bit);
/// has() with "unknown" read as false, for features whose absence is the safe assumption.
bool has_or_false(const CpuRecord& cpu, const CpuidBit& bit);
/// CPUID.1:EAX, the signature.
std::optional<std::uint32_t> signature(const CpuRecord& cpu);
/// Linux display family/model (family 0xF adds the extended family; 6/0xF add extended model).
unsigned display_family(std::uint32_t signature);
unsigned display_model(std::uint32_t signature);
/// Physical address bits from 0x80000008:EAX[7:0] (36 when the leaf is missing, as Linux assumes).
unsigned phys_addr_bits(const CpuRecord& cpu);
/// Hypervisor vendor from 0x40000000 ("KVMKVMKVM", "Microsoft Hv", ...), "" when none.
std::string hypervisor_vendor(const CpuRecord& cpu);

}  // namespace kvmprobe
