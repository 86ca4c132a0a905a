// Bits of IA32_FEATURE_CONTROL (0x3A) and AMD VM_CR (0xC0010114) (kvm-init.md §3.1).
#pragma once

#include <cstdint>
#include <string>

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
}  // namespace feat_ctl

namespace vm_cr {
inline constexpr std::uint64_t kLock = 1ull << 3;
inline constexpr std::uint64_t kSvmDisable = 1ull << 4;
/// "SVMDIS clear, unlocked".
std::string describe(std::uint64_t value);
}  // namespace vm_cr

}  // namespace kvmprobe
