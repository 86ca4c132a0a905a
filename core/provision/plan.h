// make_plan(): what enable-vmx / provision would write, decided from a Snapshot alone.
//
// Pure: no I/O. Per CPU, the value of IA32_FEATURE_CONTROL (0x3a, Intel, Centaur, Zhaoxin) or
// VM_CR (0xc0010114, AMD, Hygon) now and after each of the two phases (the bits as
// arch/x86/kernel/cpu/feat_ctl.c: init_ia32_feat_ctl() and arch/x86/kvm/svm/svm.c read them):
// phase 1 sets the enable bits (or clears SVMDIS) without the lock, phase 2 sets the lock.
// A CPU whose MSR is locked without a wanted bit can only be fixed in the firmware setup and
// a reset; then nothing is written on any CPU.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/analyse/cpu_facts.h"
#include "core/model/kernel_profile.h"
#include "core/model/result.h"
#include "core/model/snapshot.h"

namespace kvmprobe::provision {

inline constexpr std::uint32_t kFeatureControl = 0x3a;  ///< IA32_FEATURE_CONTROL
inline constexpr std::uint32_t kVmCr = 0xc0010114;      ///< AMD VM_CR

/// Whether an optional 0x3a bit is wanted.
enum class Want {
  no,            ///< leave it as it is
  if_supported,  ///< set it when CPUID says the CPU has the feature (enable-vmx --smx)
  yes,           ///< set it; a CPU without the feature is an error (provision profiles)
};

/// The IA32_FEATURE_CONTROL state asked for. VMX outside SMX is always enabled.
struct VmxWant {
  bool lock = true;        ///< set bit 0 (lasts until reset)
  Want smx = Want::no;     ///< bit 1, VMX inside SMX (forced when tboot is active, as feat_ctl.c does)
  Want sgx = Want::no;     ///< bit 18
  Want sgx_lc = Want::no;  ///< bit 17, SGX launch control
  Want lmce = Want::no;    ///< bit 20, local machine-check exceptions
};

/// The hardware state to reach; a section that is absent does not apply.
struct DesiredState {
  std::optional<VmxWant> vmx;  ///< Intel, Centaur, Zhaoxin
  bool svm = false;            ///< AMD, Hygon: clear VM_CR.SVMDIS
};

/// Options of make_plan.
struct PlanOptions {
  /// Only these CPUs (--cpus); nullopt = every CPU of the snapshot.
  std::optional<std::vector<unsigned>> cpus;
};

/// What is planned for one CPU.
enum class CpuAction {
  done,         ///< already in the desired state: nothing to write
  change,       ///< unlocked: old → enabled (phase 1) → new (phase 2)
  locked_off,   ///< locked without a wanted bit: only firmware and a reset change it
  unreadable,   ///< the MSR could not be read
  not_selected, ///< outside --cpus: left alone
};

/// "done", "change", ...
const char* to_string(CpuAction a);

/// One CPU's plan.
struct CpuPlan {
  unsigned cpu = 0;
  CpuAction action = CpuAction::unreadable;
  std::optional<std::uint64_t> old_value;  ///< the value read
  std::uint64_t enabled_value = 0;         ///< after phase 1 (equal to old when phase 1 has nothing to do)
  std::uint64_t new_value = 0;             ///< after phase 2: the target
  std::string state;                       ///< decoded old value ("locked, VMX outside SMX on, ...")
  std::vector<std::string> missing;        ///< locked_off: the wanted bits it lacks; unreadable: why
};

/// The overall answer of a plan.
enum class PlanVerdict {
  nothing_to_do,  ///< every selected CPU is done (exit 0)
  apply,          ///< some CPUs change, none blocks (exit 0 after applying)
  no_support,     ///< the CPU lacks VMX/SVM or a feature the profile requires (exit 10)
  locked_off,     ///< a CPU is locked without a wanted bit (exit 11)
  cannot_tell,    ///< a CPU's MSR or the CPUID facts could not be read (exit 13)
};

/// "nothing_to_do", "apply", ...
const char* to_string(PlanVerdict v);

/// Everything make_plan decides.
struct Plan {
  PlanVerdict verdict = PlanVerdict::cannot_tell;
  Vendor vendor = Vendor::unknown;
  std::uint32_t msr = 0;                ///< kFeatureControl or kVmCr; 0 when neither applies
  std::string msr_name;                 ///< "IA32_FEATURE_CONTROL (0x3a)"
  std::uint64_t enable_set = 0;         ///< phase 1: bits to set
  std::uint64_t enable_clear = 0;       ///< phase 1: bits to clear (VM_CR.SVMDIS)
  std::uint64_t lock_set = 0;           ///< phase 2: the lock bit, 0 when not locking
  std::vector<CpuPlan> cpus;            ///< one per CPU of the snapshot, in its order
  std::string summary;                  ///< one line
  std::string who_locked;               ///< locked_off: who most likely locked it
  std::string remedy;                   ///< locked_off, no_support, cannot_tell: what to do
  std::vector<std::string> notes;       ///< facts about the plan ("tboot is active: ...")
  std::vector<std::string> warnings;    ///< what the user must know before applying

  /// CPUs whose action is \a a.
  std::vector<unsigned> cpus_with(CpuAction a) const;
  /// Whether phase 2 writes the lock bit on some CPU.
  bool locks() const;
};

/// Plans \a want for the snapshot's CPUs. Who locked the MSR and whether the kernel decided
/// VMX/SVM at boot come from the snapshot's kernel release (boot_behaviour()). Errors: ErrorKind::usage when --cpus
/// names a CPU the snapshot does not have; ErrorKind::bad_input when \a want has no section for
/// this CPU's vendor.
Result<Plan> make_plan(const Snapshot& snap, const DesiredState& want,
                       const PlanOptions& options = {});

}  // namespace kvmprobe::provision
