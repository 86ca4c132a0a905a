// KVM's MSR lists as the profile's kernel would build them on the snapshot's host
// (arch/x86/kvm/x86.c: kvm_init_msr_list() (6.1) / kvm_init_msr_lists() (6.12)): every candidate
// with its fate, the answers of KVM_GET_MSR_INDEX_LIST and KVM_GET_MSR_FEATURE_INDEX_LIST, and what
// is unknown.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/analyse/context.h"
#include "core/analyse/msr_rules.h"
#include "core/analyse/pmu.h"
#include "core/model/msr_profile.h"
#include "core/profiles/msr_lists.h"

namespace kvmprobe {

/// What happened to one candidate.
enum class MsrFate { kept, dropped, unknown };

/// One candidate of one list, in KVM's order.
struct MsrEntry {
  MsrList list = MsrList::save;
  unsigned position = 0;        ///< 1-based position in the version's candidate array
  std::uint32_t index = 0;
  const char* name = "";        ///< "IA32_SYSENTER_CS"
  const char* rule = "—";       ///< filter code, "F-WAITPKG"
  MsrFate fate = MsrFate::unknown;
  MsrReason reason_code = MsrReason::none;
  std::string reason;           ///< human reason when dropped or unknown ("rdmsr faulted on CPU 0")
  bool pmu_array = false;       ///< 6.6+: in msrs_to_save_pmu[]
  bool assumed = false;         ///< the host RDMSR was assumed (MsrListsOptions), not recorded
};

/// Counts of one list.
struct MsrListCounts {
  unsigned candidates = 0, kept = 0, dropped = 0, unknown = 0;
};

/// A module parameter the lists depend on, with the value used and where it came from.
struct MsrParamUse {
  std::string name, value, origin;
};

/// What to assume for host RDMSRs the snapshot did not record.
enum class UnrecordedRdmsr {
  unknown,            ///< leave them unknown (the answer is incomplete)
  vendor_implements,  ///< assume an RDMSR succeeds iff CPUID says the vendor implements the MSR
};

/// Options of compute_msr_lists.
struct MsrListsOptions {
  UnrecordedRdmsr unrecorded_rdmsr = UnrecordedRdmsr::unknown;
};

/// Everything compute_msr_lists decides.
struct MsrListsResult {
  bool evaluated = false;           ///< false: no vendor module or no list data, see `not_evaluated`
  std::string not_evaluated;        ///< why not, one line
  std::string profile_id;           ///< kernel profile used
  std::string vendor_module;        ///< "kvm_intel" / "kvm_amd"
  std::vector<MsrEntry> entries;    ///< save candidates, then emulated, then feature, each in KVM's order
  std::vector<std::uint32_t> index_list;    ///< KVM_GET_MSR_INDEX_LIST: kept save ‖ kept emulated
  std::vector<std::uint32_t> feature_list;  ///< KVM_GET_MSR_FEATURE_INDEX_LIST
  MsrListCounts save, emulated, feature;
  bool complete = false;            ///< no candidate is unknown: the lists above are exact
  std::vector<std::string> missing;      ///< what is unknown, one line per cause
  std::vector<std::string> assumptions;  ///< what was assumed (kernel config, RDMSR assumption)
  std::vector<MsrParamUse> params;       ///< parameters used, value and origin
  KvmPmu pmu;                            ///< KVM's PMU state the filters used

  /// Counts of one list.
  const MsrListCounts& counts(MsrList list) const;
};

/// Build KVM's three MSR lists for the context's host, profile and parameters.
MsrListsResult compute_msr_lists(const AnalysisContext& ctx, const MsrListsOptions& options = {});

/// The candidates of one list in a version's order (position, row), PMU array included.
std::vector<const MsrRow*> msr_candidates(const MsrListProfile& lists, MsrList list);


/// The MSR's name ("IA32_TSC_AUX" style, without MSR_) for --names; nullptr when unknown.
const char* msr_name(std::uint32_t index);

/// "save", "emulated", "feature".
const char* to_string(MsrList list);
/// "kept", "dropped", "unknown".
const char* to_string(MsrFate fate);

}  // namespace kvmprobe
