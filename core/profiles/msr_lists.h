// The MSR lists of every modelled KVM version (arch/x86/kvm/x86.c: kvm_init_msr_list() (6.1) /
// kvm_init_msr_lists() (6.12)), as data. profiles.cc points each
// KernelProfile at one of these; analyse/msr_lists.cc evaluates them.
#pragma once

#include <span>
#include <vector>

#include "core/model/msr_profile.h"

namespace kvmprobe {

/// One MsrListProfile per modelled kernel profile (ids as in profiles.cc).
extern const MsrListProfile kMsrLists_4_19;
extern const MsrListProfile kMsrLists_5_10_7;
extern const MsrListProfile kMsrLists_5_10;
extern const MsrListProfile kMsrLists_5_15;
extern const MsrListProfile kMsrLists_6_1_0;
extern const MsrListProfile kMsrLists_6_1;
extern const MsrListProfile kMsrLists_6_6;
extern const MsrListProfile kMsrLists_6_8;
extern const MsrListProfile kMsrLists_6_12;
extern const MsrListProfile kMsrLists_7_3;

/// The whole candidate table of one list (every version's rows), sorted by MSR index.
std::span<const MsrRow> msr_table(MsrList list);

/// Names of MSRs KVM reads at init that are in no list (VMX_PROCBASED_CTLS3, EFER, VM_CR ...).
std::span<const MsrRow> msr_other_names();
/// Every MSR some modelled kernel reads with RDMSR at KVM init for its lists, sorted and unique
/// (what a collector must record on the loading CPU), plus the MSRs the filters read.
std::vector<std::uint32_t> msr_list_host_probes();

}  // namespace kvmprobe
