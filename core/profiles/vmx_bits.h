// VMX control bit numbers (Intel SDM vol. 3 §25/§26; Linux arch/x86/include/asm/vmx.h).
#pragma once

#include <cstdint>
#include <initializer_list>

namespace kvmprobe::vmx {

constexpr std::uint32_t bits(std::initializer_list<unsigned> list) {
  std::uint32_t v = 0;
  for (unsigned b : list) v |= 1u << b;
  return v;
}

// Primary processor-based controls (0x482).
inline constexpr unsigned kIntrWindowExiting = 2, kUseTscOffsetting = 3, kHltExiting = 7,
    kInvlpgExiting = 9, kMwaitExiting = 10, kRdpmcExiting = 11, kRdtscExiting = 12,
    kCr3LoadExiting = 15, kCr3StoreExiting = 16, kActivateTertiary = 17, kCr8LoadExiting = 19,
    kCr8StoreExiting = 20, kTprShadow = 21, kNmiWindowExiting = 22, kMovDrExiting = 23,
    kUncondIoExiting = 24, kUseIoBitmaps = 25, kMonitorTrapFlag = 27, kUseMsrBitmaps = 28,
    kMonitorExiting = 29, kPauseExiting = 30, kActivateSecondary = 31;
// Secondary controls (0x48B).
inline constexpr unsigned kVirtApicAccesses = 0, kEnableEpt = 1, kDescExiting = 2,
    kEnableRdtscp = 3, kVirtX2apic = 4, kEnableVpid = 5, kWbinvdExiting = 6,
    kUnrestrictedGuest = 7, kApicRegisterVirt = 8, kVirtIntrDelivery = 9, kPauseLoopExiting = 10,
    kRdrandExiting = 11, kEnableInvpcid = 12, kEnableVmfunc = 13, kShadowVmcs = 14,
    kEnclsExiting = 15, kRdseedExiting = 16, kEnablePml = 17, kEptViolationVe = 18,
    kPtConcealVmx = 19, kEnableXsaves = 20, kModeBasedEptExec = 22, kPtUseGpa = 24,
    kTscScaling = 25, kUsrWaitPause = 26, kBusLockDetection = 30, kNotifyVmExiting = 31;
// Tertiary (0x492).
inline constexpr unsigned kIpiVirt = 4;
// Pin-based (0x481).
inline constexpr unsigned kExtIntrExiting = 0, kNmiExiting = 3, kVirtualNmis = 5,
    kPreemptionTimer = 6, kPostedIntr = 7;
// VM-exit (0x483).
inline constexpr unsigned kExitSaveDebugControls = 2, kExitHostAddrSpaceSize = 9,
    kExitLoadPerfGlobalCtrl = 12, kExitAckIntrOnExit = 15, kExitSavePat = 18, kExitLoadPat = 19,
    kExitSaveEfer = 20, kExitLoadEfer = 21, kExitSavePreemptionTimer = 22,
    kExitClearBndcfgs = 23, kExitPtConcealPip = 24, kExitClearRtitCtl = 25,
    kExitLoadCetState = 28, kExitSavePerfGlobalCtrl = 30;
// VM-entry (0x484).
inline constexpr unsigned kEntryLoadDebugControls = 2, kEntryIa32eMode = 9,
    kEntryLoadPerfGlobalCtrl = 13, kEntryLoadPat = 14, kEntryLoadEfer = 15,
    kEntryLoadBndcfgs = 16, kEntryPtConcealPip = 17, kEntryLoadRtitCtl = 18,
    kEntryLoadCetState = 20;

}  // namespace kvmprobe::vmx
