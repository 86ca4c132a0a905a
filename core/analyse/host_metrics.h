// The numbers a monitoring system keeps about one host (kvmprobe check --format prometheus),
// beyond the Report's verdicts: enable-register states per CPU, TSC, KVM's MSR lists, XCR0.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/analyse/context.h"
#include "core/analyse/tsc_math.h"

namespace kvmprobe {

/// CPUs per state of the enable register: IA32_FEATURE_CONTROL (0x3A) for kvm_intel, VM_CR
/// (0xC0010114) for kvm_amd. "enabled" is the raw bit as read (VMX outside SMX; SVMDIS clear),
/// before the kernel acts on an unlocked register.
struct EnableStateCounts {
  const char* feature = nullptr;  ///< "vmx", "svm", or nullptr when no vendor module applies
  unsigned locked_enabled = 0, locked_disabled = 0, unlocked_enabled = 0, unlocked_disabled = 0;
  unsigned unreadable = 0;        ///< not recorded, denied, or the read faulted
};

/// One of KVM's MSR lists, when it is known exactly.
struct KnownMsrList {
  std::optional<std::vector<std::uint32_t>> indexes;  ///< KVM's order; nullopt = cannot tell
  bool from_kvm = false;  ///< the snapshot's recorded /dev/kvm answer, not the model
  std::string missing;    ///< why unknown, one line
};

/// What metrics need beyond the Report.
struct HostMetrics {
  EnableStateCounts enable;
  TscKhzChoice tsc_khz;
  /// kvm_caps.has_tsc_control; nullopt when kvm_intel's VMX controls could not be evaluated.
  std::optional<bool> tsc_scaling;
  TscCaps tsc;
  KnownMsrList save_list;     ///< KVM_GET_MSR_INDEX_LIST
  KnownMsrList feature_list;  ///< KVM_GET_MSR_FEATURE_INDEX_LIST
  std::optional<std::uint64_t> supported_xcr0;
  bool xcr0_from_kvm = false;
};

/// The metrics of the analysed host. `own_kernel`: the profile is the kernel the snapshot ran,
/// so its recorded /dev/kvm answers (when a vendor module was loaded) are this KVM's. Pure.
HostMetrics host_metrics(const AnalysisContext& ctx, bool own_kernel);

/// FNV-1a 64 over the indexes sorted ascending, each as 4 bytes little-endian: a hash that
/// does not depend on KVM's list order (docs/prometheus.md).
std::uint64_t msr_list_hash(std::vector<std::uint32_t> indexes);

}  // namespace kvmprobe
