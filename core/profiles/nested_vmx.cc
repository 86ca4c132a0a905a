// Nested VMX capability MSRs per version, as data (see nested_vmx.h for the functions read).
#include "core/profiles/nested_vmx.h"

#include <cstring>

#include "core/profiles/vmx_bits.h"

namespace kvmprobe {
namespace {

using namespace vmx;
using Rr = NestedRestoreRule;

constexpr std::uint64_t bit64(unsigned b) { return 1ull << b; }
constexpr std::uint64_t genmask64(unsigned hi, unsigned lo) { return (~0ull >> (63 - hi)) & ~((1ull << lo) - 1); }

// arch/x86/include/asm/vmx.h (6.1, 6.12): the controls a CPU without the TRUE MSRs forces to 1.
constexpr std::uint32_t kPinAlwaysOn = 0x16, kExitAlwaysOn = 0x36dff, kEntryAlwaysOn = 0x11ff,
                        kProcAlwaysOn = 0x0401e172;

// arch/x86/kvm/vmx/nested.c: nested_vmx_setup_ctls_msrs() (6.1) and its helpers (6.12): the
// same masks in both versions.
constexpr NestedControlRow kPin{
    bits({kExtIntrExiting, kNmiExiting, kVirtualNmis}), kPinAlwaysOn | bits({kPreemptionTimer}), kPinAlwaysOn,
    kPinAlwaysOn};
constexpr NestedControlRow kExit{
    bits({kExitHostAddrSpaceSize, kExitLoadPat, kExitSavePat, kExitClearBndcfgs}),
    kExitAlwaysOn | bits({kExitLoadEfer, kExitSaveEfer, kExitSavePreemptionTimer, kExitAckIntrOnExit,
                          kExitLoadPerfGlobalCtrl}),
    kExitAlwaysOn & ~bits({kExitSaveDebugControls}), kExitAlwaysOn};
constexpr NestedControlRow kEntry{bits({kEntryIa32eMode, kEntryLoadPat, kEntryLoadBndcfgs}),
                                  kEntryAlwaysOn | bits({kEntryLoadEfer, kEntryLoadPerfGlobalCtrl}),
                                  kEntryAlwaysOn & ~bits({kEntryLoadDebugControls}), kEntryAlwaysOn};
constexpr NestedControlRow kProc{
    bits({kIntrWindowExiting, kNmiWindowExiting, kUseTscOffsetting, kHltExiting, kInvlpgExiting, kMwaitExiting,
          kCr3LoadExiting, kCr3StoreExiting, kCr8LoadExiting, kCr8StoreExiting, kMovDrExiting, kUncondIoExiting,
          kUseIoBitmaps, kMonitorTrapFlag, kMonitorExiting, kRdpmcExiting, kRdtscExiting, kPauseExiting,
          kTprShadow, kActivateSecondary}),
    kProcAlwaysOn | bits({kUseMsrBitmaps}), kProcAlwaysOn & ~bits({kCr3LoadExiting, kCr3StoreExiting}),
    kProcAlwaysOn};
// 6.1 adds ENABLE_VMFUNC "if (cpu_has_vmx_vmfunc())", 6.12 lists it in the copied mask: the
// same bit either way (cpu_has_vmx_vmfunc() reads vmcs_config's secondary word).
constexpr std::uint32_t kSecondaryCopy =
    bits({kDescExiting, kEnableRdtscp, kVirtX2apic, kWbinvdExiting, kApicRegisterVirt, kVirtIntrDelivery,
          kRdrandExiting, kEnableInvpcid, kEnableVmfunc, kRdseedExiting, kEnableXsaves, kTscScaling,
          kUsrWaitPause});

// EPT capability bits (arch/x86/include/asm/vmx.h: VMX_EPT_*_BIT).
constexpr std::uint32_t kEptCopy = bits({0 /*EXECUTE_ONLY*/, 6 /*PAGE_WALK_4*/, 7 /*PAGE_WALK_5*/, 14 /*WB*/,
                                         20 /*INVEPT*/});
constexpr std::uint32_t kEptAlways = bits({26 /*EXTENT_GLOBAL*/, 25 /*EXTENT_CONTEXT*/, 16 /*2MB*/, 17 /*1GB*/});
constexpr std::uint32_t kEptAd = bits({21});
// VMX_VPID_INVVPID_BIT | VMX_VPID_EXTENT_SUPPORTED_MASK (individual address, single context,
// all context, single context retaining globals), as the high half of EPT_VPID_CAP.
constexpr std::uint32_t kVpidCaps = bits({0, 8, 9, 10, 11});

// vmx_secondary_exec_control() (6.1: XSAVES also needs the host's and the guest's XSAVE, which
// KVM_GET_SUPPORTED_CPUID's XSAVES implies; RDTSCP is enabled by RDTSCP or RDPID).
constexpr NestedCpuidControl kCpuidControls[] = {
    {kEnableXsaves, {"xsaves", nullptr}}, {kEnableRdtscp, {"rdtscp", "rdpid"}},
    {kEnableInvpcid, {"invpcid", nullptr}}, {kRdrandExiting, {"rdrand", nullptr}},
    {kRdseedExiting, {"rdseed", nullptr}},  {kUsrWaitPause, {"waitpkg", nullptr}},
};

// vmx_set_vmx_msr() (6.1, 6.12), 0x480 + i.
#define KVMPROBE_NESTED_RESTORE                                                                    \
  {Rr::basic,   Rr::refused, Rr::refused, Rr::refused, Rr::refused, Rr::misc,                      \
   Rr::fixed0,  Rr::refused, Rr::fixed0,  Rr::refused, Rr::any,     Rr::control,                   \
   Rr::ept_vpid, Rr::control, Rr::control, Rr::control, Rr::control, Rr::vmfunc}

constexpr NestedVmxProfile make(const char* id, const char* source, bool umip_host) {
  NestedVmxProfile p{};
  p.id = id;
  p.source = source;
  p.pin = kPin;
  p.exit = kExit;
  p.entry = kEntry;
  p.procbased = kProc;
  p.pin_apicv = bits({kPostedIntr});
  p.secondary_copy = kSecondaryCopy;
  p.secondary_always = bits({kShadowVmcs});
  p.ept_copy = kEptCopy;
  p.ept_always = kEptAlways;
  p.ept_ad = kEptAd;
  p.vpid_caps = kVpidCaps;
  p.misc_copy = 1u << 5;  // VMX_MISC_SAVE_EFER_LMA
  // VMWRITE_SHADOW_RO_FIELDS | EMULATED_PREEMPTION_TIMER_RATE (5) | ACTIVITY_HLT | ACTIVITY_WAIT_SIPI
  p.misc_always = (1u << 29) | 5u | (1u << 6) | (1u << 8);
  // VMCS12_REVISION 0x11e57ed0, VMCS12_SIZE 0x1000, WB (6), VMX_BASIC_TRUE_CTLS (bit 55)
  p.basic = 0x11e57ed0ull | (0x1000ull << 32) | (6ull << 50) | bit64(55);
  p.basic_inout = bit64(54);
  p.cr0_fixed0 = 0x80000021;  // VMXON_CR0_ALWAYSON: PE | NE | PG
  p.cr4_fixed0 = 0x2000;      // VMXON_CR4_ALWAYSON: VMXE
  p.cr4_umip = 0x800;
  p.umip_only_without_host_umip = umip_host;
  p.vmcs_enum = 0x32;  // recorded by both kernels' /dev/kvm in tests/data/bochs
  p.vmfunc_eptp_switching = 1;
  // vmx_restore_vmx_basic(): features 49, 54, 55 (6.12 names them DUAL_MONITOR_TREATMENT,
  // INOUT, TRUE_CTLS) and reserved 31, 45-47, 56-63; bit 48 refused, revision equal, size not smaller.
  p.basic_feature_reserved = bit64(49) | bit64(54) | bit64(55) | bit64(31) | genmask64(47, 45) | genmask64(63, 56);
  // vmx_restore_vmx_misc(): features 5, 6-8, 14, 15, 28-30; reserved 9-13, 31.
  p.misc_feature_reserved = bit64(5) | genmask64(8, 6) | bit64(14) | bit64(15) | bit64(28) | bit64(29) |
                            bit64(30) | genmask64(13, 9) | bit64(31);
  p.cpuid_controls = kCpuidControls;
  const Rr restore[18] = KVMPROBE_NESTED_RESTORE;
  for (unsigned i = 0; i < 18; ++i) p.restore[i] = restore[i];
  return p;
}

// 6.12's vmx_umip_emulated() (arch/x86/kvm/vmx/capabilities.h) adds !boot_cpu_has(X86_FEATURE_UMIP).
constexpr NestedVmxProfile kProfiles[] = {
    make("6.1", "Debian linux-source-6.1 6.1.192", false),
    make("6.12", "Debian linux-source-6.12 6.12.117", true),
};

}  // namespace

NestedRestoreRule nested_restore_rule(const NestedVmxProfile& p, std::uint32_t index) {
  return index >= 0x480 && index <= 0x491 ? p.restore[index - 0x480] : NestedRestoreRule::refused;
}

const NestedVmxProfile* nested_vmx_profile(const char* profile_id) {
  for (const auto& p : kProfiles)
    if (std::strcmp(p.id, profile_id) == 0) return &p;
  return nullptr;
}

}  // namespace kvmprobe
