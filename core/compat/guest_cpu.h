// A guest CPU definition for a set of CPUID features (QEMU names): the QEMU `-cpu` string and
// the libvirt <cpu> element that give a guest exactly those features of the modelled leaves,
// on top of QEMU's migratable `qemu64` model (never `host`: a -cpu host guest's CPUID is the
// host's own and does not move).
#pragma once

#include <span>
#include <string>
#include <vector>

namespace kvmprobe::compat {

/// qemu64's own CPUID features in QEMU 7.2 (target/i386/cpu.c builtin_x86_defs "qemu64":
/// PPRO_FEATURES | MTRR | CLFLUSH | MCA | PSE36; SSE3 CX16; LM SYSCALL NX; LAHF_LM SVM), sorted.
/// QEMU also sets `hypervisor` on every model (x86_cpu_load_model()); it is not listed here.
std::span<const char* const> qemu64_features();

/// Feature names of known_cpuid_features() that QEMU 7.2 does not recognise as -cpu flags
/// (newer than 7.2: sha512, fred, srso-no, ...), sorted.
std::span<const char* const> qemu72_unknown_features();

/// Whether QEMU 7.2 takes `name` as a -cpu flag (for names of known_cpuid_features()).
bool qemu72_knows(const std::string& name);

/// The guest CPU definition of `features` (QEMU names, any order).
struct GuestCpu {
  std::string qemu;                   ///< "qemu64,+f,...,-g,enforce"
  std::string libvirt;                ///< <cpu mode='custom' match='exact'>...</cpu>
  std::vector<std::string> add;       ///< features qemu64 lacks (+f), sorted
  std::vector<std::string> remove;    ///< qemu64 features the set lacks (-g), sorted
  /// Features of the set no -cpu flag of QEMU 7.2 can ask for (left out of `qemu`).
  std::vector<std::string> not_in_qemu;
  /// Features of add/remove libvirt 9.0's cpu_map has no name for (left out of `libvirt`).
  std::vector<std::string> not_in_libvirt;
};

/// qemu64 plus/minus the features, with ",enforce" when `enforce` (QEMU then refuses to start
/// where the host's KVM lacks one of them). `hypervisor` is left to QEMU, which always sets it.
GuestCpu guest_cpu(const std::vector<std::string>& features, bool enforce = true);

/// libvirt's spelling of a QEMU feature name (cpu_map/x86_features.xml of libvirt 9.0):
/// the same name for most, "lahf_lm" for "lahf-lm", ...; "" when libvirt has no such feature.
std::string libvirt_name(const std::string& qemu_name);

}  // namespace kvmprobe::compat
