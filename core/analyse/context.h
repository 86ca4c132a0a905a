// What every KVM init step sees: the snapshot, the profile, the effective parameters and the
// facts several steps share (computed once by analyse(), never by a step).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/analyse/cpu_facts.h"
#include "core/analyse/params.h"
#include "core/analyse/vmx_config.h"
#include "core/model/kernel_profile.h"
#include "core/model/report.h"
#include "core/model/snapshot.h"
#include "core/profiles/boot_behaviour.h"

namespace kvmprobe {

/// Which vendor module applies to this CPU.
enum class VendorModule { none, kvm_intel, kvm_amd };

/// Shared, precomputed facts.
struct AnalysisContext {
  const Snapshot& snap;
  const KernelProfile& profile;
  const EffectiveParams& params;
  const CpuRecord* boot = nullptr;   ///< nullptr when the snapshot has no CPU
  Vendor vendor = Vendor::unknown;
  VendorModule module = VendorModule::none;
  /// setup_vmcs_config on the boot CPU (evaluated only for kvm_intel).
  VmxConfig vmx;
  /// Host XCR0 as KVM reads it (XGETBV when XSAVE), nullopt when unknown.
  std::optional<std::uint64_t> host_xcr0;
  /// KVM's supported XCR0 (profile mask, host XCR0, MPX rule), nullopt when unknown.
  std::optional<std::uint64_t> supported_xcr0;
  /// Effective kvm.enable_pmu after KVM's PMU init: nullopt when it cannot be told.
  std::optional<bool> enable_pmu;
  std::string enable_pmu_reason;
  /// What the kernel that recorded the snapshot did at boot (its release, not the profile's).
  BootBehaviour running_boot;
};

/// "kvm_intel", "kvm_amd" or "".
const char* module_name(VendorModule m);

/// How one KVM vendor module stands on the snapshot's host.
enum class ModuleState {
  absent,        ///< not in /sys/module
  registered,    ///< holds kvm_x86_ops: loaded as a module (a failed init unloads it), or
                 ///< built in with KVM's misc device present
  unbound,       ///< built in, but KVM's misc device does not exist: its init declined or failed
};

/// The state of vendor module \a name ("kvm_intel", "kvm_amd", "kvm_pvm"). A built-in module
/// in a snapshot that did not record the misc device counts as registered (older snapshots).
ModuleState vendor_module_state(const Snapshot& snap, std::string_view name);
/// The registered vendor module ("kvm_pvm"...), or "" when none is.
std::string registered_vendor_module(const Snapshot& snap);
/// The last kernel log line of a module ("kvm-pvm: ... not binding"), or "".
std::string module_log_line(const Snapshot& snap, std::string_view name);

/// Substitute {cpu}, {module}, {loaded}, {entry}, {exit} in a profile message.
std::string kvm_line(const std::string& pattern, unsigned cpu = 0, const std::string& loaded = {});

}  // namespace kvmprobe
