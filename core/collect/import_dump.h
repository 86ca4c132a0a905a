// Importers of raw CPUID dumps made by other tools into a Snapshot (CPUID only, plus the MSRs
// an AIDA64 dump happens to hold). Everything a dump cannot tell (XCR0, kernel, modules,
// /dev/kvm, TSC frequency, most MSRs) is left unknown: the KVM-relevant MSRs it lacks are
// recorded as ReadStatus::unavailable, and a note in Snapshot::notes says what is unknown.
//
// Formats (quirks in docs/snapshot-format.md, "Importing CPUID dumps"):
// - libcpuid's raw format, written by `cpuid_tool --save` (cpuid_serialize_all_raw_data):
//   `version=0.6.2`, `_________________ Logical CPU #N _________________`,
//   `basic_cpuid[i]=eax ebx ecx edx`, `ext_cpuid[i]=...`, `intel_fn4[i]`, `intel_fn11[i]`,
//   `intel_fn12h[i]`, `intel_fn14h[i]`, `amd_fn8000001dh[i]` (and `amd_fn80000026h[i]` from 0.7).
// - AIDA64 and its relatives (Everest, InstLatX64's dumper, bare `CPUID` lines):
//   `CPUID LLLLLLLL: EAX-EBX-ECX-EDX [SL nn] [comment]` per leaf, per logical CPU, and
//   `MSR XXXXXXXX: HHHH-HHHH-HHHH-HHHH` / `< FAILED >` in MSR sections.
// - libcpuid's test files (`*.test`): either format, followed by a line of 80 '-' and the
//   expected output, which is ignored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/model/result.h"
#include "core/model/snapshot.h"

namespace kvmprobe::collect {

/// A CPUID dump format this module reads.
enum class DumpFormat {
  libcpuid,  ///< `cpuid_tool --save` raw format; origin "import:libcpuid"
  aida64,    ///< AIDA64-style `CPUID xxxxxxxx:` lines (also Everest, InstLatX64); origin "import:aida64"
};

/// MSRs recorded as ReadStatus::unavailable on every imported CPU whose dump lacks them:
/// IA32_FEATURE_CONTROL, VM_CR, the VMX capability MSRs, XSS, ARCH_CAPABILITIES, PERF_CAPABILITIES.
inline constexpr std::uint32_t kImportedUnknownMsrs[] = {
    0x3a,  0x480, 0x481, 0x482, 0x483, 0x484, 0x485, 0x486, 0x487, 0x488, 0x489, 0x48a,
    0x48b, 0x48c, 0x48d, 0x48e, 0x48f, 0x490, 0x491, 0x492, 0xda0, 0x10a, 0x345, 0xc0010114};

/// The format of \a text, or nullopt when it is neither.
std::optional<DumpFormat> detect_dump_format(std::string_view text);

/// Imports libcpuid's raw format (one CPU, or several with `Logical CPU #N` headers).
Result<Snapshot> import_libcpuid(std::string_view text);

/// Imports an AIDA64-style dump: every logical CPU, every subleaf, and the MSR sections.
Result<Snapshot> import_aida64(std::string_view text);

/// Detects the format and imports; ErrorKind::bad_input when it is neither.
Result<Snapshot> import_dump_auto(std::string_view text);

/// File variants: \a path may be "-" (stdin) and may be xz-compressed; errors name the file.
Result<Snapshot> import_libcpuid_file(const std::string& path);
Result<Snapshot> import_aida64_file(const std::string& path);
Result<Snapshot> import_dump_file(const std::string& path);

}  // namespace kvmprobe::collect
