#include "core/collect/msr_probe_list.h"

#include <algorithm>

#include "core/profiles/msr_lists.h"

namespace kvmprobe::collect {

namespace {

constexpr std::uint32_t kPerCpu[] = {
    0x0000003A,  // IA32_FEATURE_CONTROL: VMX lock/enable (feat_ctl.c)
    0x0000010A,  // IA32_ARCH_CAPABILITIES (x86.c: kvm_get_arch_capabilities())
    0x00000277,  // IA32_CR_PAT: KVM needs PAT[0] == WB (x86.c: kvm_x86_vendor_init())
    0x00000345,  // IA32_PERF_CAPABILITIES (feature MSR)
    0x00000480, 0x00000481, 0x00000482, 0x00000483, 0x00000484, 0x00000485,
    0x00000486, 0x00000487, 0x00000488, 0x00000489, 0x0000048A, 0x0000048B,
    0x0000048C, 0x0000048D, 0x0000048E, 0x0000048F, 0x00000490, 0x00000491,
    0x00000492,  // IA32_VMX_BASIC .. IA32_VMX_PROCBASED_CTLS3 (vmx.c: setup_vmcs_config())
    0x00000DA0,  // IA32_XSS (x86.c: kvm_arch_hardware_setup() (6.1))
    0xC0000080,  // EFER: SVME already set means another hypervisor holds SVM (svm.c: -EBUSY)
    0xC0010114,  // AMD VM_CR: SVMDIS, SVM_LOCK (svm.c, amd.c: init_amd())
};

// Read on the boot CPU besides the MSR-list candidates: IA32_MCG_CAP (LMCE support, for
// provision) and AMD's DE_CFG feature MSR (svm/svm.c: svm_get_msr_feature() (6.1) /
// svm_get_feature_msr() (6.12)).
constexpr std::uint32_t kBootCpuExtra[] = {0x00000179, 0xC0011029};

}  // namespace

std::span<const std::uint32_t> per_cpu_msr_list() { return kPerCpu; }

const std::vector<std::uint32_t>& boot_cpu_msr_probe_list() {
  // Every MSR any modelled kernel RDMSRs for its lists comes from the profiles' own tables
  // (core/profiles/msr_lists.cc), so a new profile's candidates are collected without a second
  // list.
  static const std::vector<std::uint32_t> list = [] {
    std::vector<std::uint32_t> v = msr_list_host_probes();
    v.insert(v.end(), std::begin(kPerCpu), std::end(kPerCpu));
    v.insert(v.end(), std::begin(kBootCpuExtra), std::end(kBootCpuExtra));
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
  }();
  return list;
}

}  // namespace kvmprobe::collect
