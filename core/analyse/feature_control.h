// Bits of IA32_FEATURE_CONTROL (0x3A) and AMD VM_CR (0xC0010114) (arch/x86/include/asm/
// msr-index.h: FEAT_CTL_*, asm/svm.h: SVM_VM_CR_* (6.1, 6.12)).
#pragma once

#include <cstdint>
#include <string>

#include "core/model/snapshot.h"
#include "core/profiles/boot_behaviour.h"

namespace kvmprobe {

namespace feat_ctl {
inline constexpr std::uint64_t kLocked = 1ull << 0;
inline constexpr std::uint64_t kVmxInsideSmx = 1ull << 1;
inline constexpr std::uint64_t kVmxOutsideSmx = 1ull << 2;
inline constexpr std::uint64_t kSgxLc = 1ull << 17;
inline constexpr std::uint64_t kSgx = 1ull << 18;
inline constexpr std::uint64_t kLmce = 1ull << 20;
/// "locked, VMX outside SMX on, VMX inside SMX off, SGX on, LMCE off".
std::string describe(std::uint64_t value);
/// Who most likely locked IA32_FEATURE_CONTROL at `value` on an Intel-like CPU: firmware, or
/// the running kernel's boot-time programming (feat_ctl.c: init_ia32_feat_ctl(), 5.6+, which
/// writes only VMX outside SMX, VMX inside SMX under tboot, SGX bits, and the lock). One line.
std::string who_locked(std::uint64_t value, const BootBehaviour& boot, bool tboot);
}  // namespace feat_ctl

/// A measured launch through tboot (TXT), seen in the kernel log ("tboot: " lines): the kernel
/// then needs VMX inside SMX (arch/x86/kernel/cpu/feat_ctl.c: init_ia32_feat_ctl() (6.1)).
bool tboot_active(const Snapshot& snap);

namespace vm_cr {
inline constexpr std::uint64_t kLock = 1ull << 3;
inline constexpr std::uint64_t kSvmDisable = 1ull << 4;
/// "SVMDIS clear, unlocked".
std::string describe(std::uint64_t value);
}  // namespace vm_cr

}  // namespace kvmprobe
