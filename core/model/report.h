// Report: what analyse() decided, step by step in KVM's order, plus the overall verdict.
// Plain data; render/ turns it into text or JSON and never changes a verdict.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace kvmprobe {

/// Outcome of one step.
enum class Status { ok, warn, fail, unknown, skipped };

/// Why KVM would refuse, when a step fails; decides the exit code (cli/exit_codes.h).
enum class Refusal {
  none,
  no_support,           ///< CPU lacks VMX/SVM (exit 10)
  disabled_by_firmware, ///< IA32_FEATURE_CONTROL / VM_CR lock (exit 11)
  other,                ///< KVM would refuse for another reason (exit 12)
  cannot_tell,          ///< evidence missing (exit 13)
};

/// One fact a step looked at: what, where, the raw value and its meaning.
struct Evidence {
  std::string what;     ///< "IA32_FEATURE_CONTROL (0x3a)", "CPUID.1:ECX[5] VMX"
  std::string where;    ///< "cpu0", "all 8 CPUs", "/sys/module/kvm_amd/parameters/nested"
  std::string raw;      ///< raw value as hex or text, "" when none
  std::string meaning;  ///< decoded: "locked, VMX outside SMX enabled"
};

/// Result of one KVM init step.
struct StepResult {
  std::string id;                    ///< stable id: "support", "bios-lock", ...
  std::string title;                 ///< "VMX/SVM support"
  Status status = Status::unknown;
  Refusal refusal = Refusal::none;   ///< set when status == fail (or unknown blocking the answer)
  std::string summary;               ///< one line
  std::vector<Evidence> evidence;
  std::vector<std::string> kvm_log;  ///< the exact lines KVM (or the boot kernel) would log
  std::string remedy;                ///< what to do, "" when nothing
  std::vector<std::string> missing;  ///< evidence that could not be had (for unknown)
};

/// The overall answers.
struct Verdict {
  std::string vendor_module;         ///< "kvm_intel", "kvm_amd", or "" when no vendor applies
  std::optional<bool> would_load;    ///< would the vendor module load; nullopt = cannot tell
  Refusal refusal = Refusal::none;   ///< why not, when would_load is false or unknown
  std::string reason;                ///< one line
  std::optional<bool> kvm_usable;    ///< can this caller use KVM right now (via any module)
  std::string usable_reason;         ///< one line: "/dev/kvm works through kvm_pvm"
  std::string failed_step;           ///< id of the first failing step, "" when none
};

/// Everything analyse() returns.
struct Report {
  std::string profile_id;            ///< kernel profile used, e.g. "6.1"
  std::string profile_note;          ///< how the profile was chosen, approximations
  std::string kernel_release;        ///< the kernel the snapshot came from
  std::string cpu_vendor;            ///< "GenuineIntel", ...
  std::string cpu_name;              ///< brand string
  std::string cpu_codename;          ///< libcpuid's codename, "" when unknown
  unsigned cpu_family = 0, cpu_model = 0, cpu_stepping = 0;  ///< Linux display values
  std::vector<StepResult> steps;
  Verdict verdict;

  const StepResult* find_step(const std::string& id) const {
    for (const auto& s : steps)
      if (s.id == id) return &s;
    return nullptr;
  }
};

/// Lower-case name of a status, as used in JSON ("ok", "warn", ...).
const char* to_string(Status s);
/// Lower-case name of a refusal ("no_support", ...).
const char* to_string(Refusal r);

}  // namespace kvmprobe
