// One side of a move (source or destination host): what its KVM answers, taken from the
// snapshot's recorded KVM where that is the kernel being asked about, modelled otherwise.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/analyse/context.h"
#include "core/analyse/nested_vmx.h"
#include "core/analyse/params.h"
#include "core/analyse/tsc_math.h"
#include "core/model/kernel_profile.h"
#include "core/model/report.h"
#include "core/model/snapshot.h"
#include "core/profiles/msr_set.h"

namespace kvmprobe::compat {

/// A host and the kernel it runs (or is assumed to run) for compat().
struct CompatSide {
  const Snapshot* snap = nullptr;
  const KernelProfile* profile = nullptr;
  ParamOverrides overrides;
  std::string label;  ///< "src.json", "this host"
  /// The profile is the kernel the snapshot was taken on (no --src-kernel/--dst-kernel), so
  /// the snapshot's recorded /dev/kvm answers are this KVM's own.
  bool own_kernel = true;
};

/// Everything the compat steps read about one side, computed once.
struct SideFacts {
  std::string label;
  const KernelProfile* profile = nullptr;
  std::string profile_id;
  std::string kernel;                   ///< kernel release of the snapshot ("" unknown)
  VendorModule module = VendorModule::none;
  std::string hypervisor;               ///< "kvm_intel", "kvm_amd", "kvm_pvm", "" = none
  std::optional<bool> would_load;       ///< the vendor module's init succeeds
  std::string load_reason;

  /// KVM_GET_MSR_INDEX_LIST; complete when `undecided` is empty.
  std::vector<std::uint32_t> index_list;
  std::vector<std::uint32_t> undecided;  ///< candidates the model could not decide
  bool index_list_known = false;         ///< false: no list at all (no vendor module / no data)
  std::string index_list_source;         ///< "recorded KVM_GET_MSR_INDEX_LIST", "modelled (6.12)"
  std::string index_list_missing;        ///< why undecided / unknown
  std::vector<std::uint32_t> feature_list;  ///< KVM_GET_MSR_FEATURE_INDEX_LIST (same source as index_list)
  std::vector<std::string> kvm_log;      ///< the lines the vendor module's init would log (every step)
  Report report;                         ///< the whole check report of this side

  std::optional<std::uint64_t> supported_xcr0;
  std::string xcr0_source;
  std::optional<std::uint64_t> supported_xss;
  std::optional<std::uint32_t> xsave_size;  ///< bytes of a standard-format XSAVE area for supported_xcr0

  std::optional<std::uint64_t> tsc_khz;
  std::string tsc_source;
  TscCaps tsc;
  std::string tsc_control_reason;
  std::uint64_t tsc_tolerance_ppm = 250;
  std::optional<bool> invtsc;               ///< CPUID 0x80000007:EDX[8] on the host

  /// KVM_GET_SUPPORTED_CPUID of this kernel on this host (modelled leaves, compute_supported_cpuid()):
  /// the features a `-cpu host` guest may use, QEMU names, sorted. nullopt: not predicted
  /// (cpuid_missing says why).
  std::optional<std::vector<std::string>> cpuid_features;
  std::string cpuid_source;
  std::string cpuid_missing;
  std::vector<std::string> cpuid_unknown;   ///< what the prediction had to assume, one line each

  /// The boot CPU's VMX capability MSRs 0x480–0x492 (KVM derives the nested values from them).
  std::vector<MsrRead> vmx_caps;
  /// Every MSR read recorded on the boot CPU (the CPU that loads the module).
  std::vector<MsrRead> host_msrs;
  bool nested = false;                      ///< kvm_intel.nested / kvm_amd.nested effective
  /// kvm_intel's vmcs_config.nested (0x480-0x491) on this host and kernel; `missing` when not known.
  NestedVmx nested_vmx;
  const MsrSetProfile* msr_set = nullptr;   ///< nullptr: set path of this version not modelled
};

/// Compute the facts of one side (runs the analysis of its snapshot under its profile).
SideFacts side_facts(const CompatSide& side);

/// Whether `index` is in the side's index list.
bool listed(const SideFacts& f, std::uint32_t index);
/// Whether the model could not decide `index` on this side.
bool undecided(const SideFacts& f, std::uint32_t index);

}  // namespace kvmprobe::compat
