// Host XCR0/XSS and KVM's supported masks (arch/x86/kvm/x86.c: kvm_x86_vendor_init():
// supported_xcr0 = host XCR0 & KVM_SUPPORTED_XCR0; supported_xss set in kvm_arch_hardware_setup()
// (6.1) / kvm_x86_vendor_init() (6.12)).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/analyse/context.h"

namespace kvmprobe {

/// CPUID has XSAVE but the running kernel dropped it (OSXSAVE clear, no "xsave" flag).
bool kernel_dropped_xsave(const CpuRecord& cpu);
/// XCR0 as KVM reads it: XGETBV(0) when the CPU has XSAVE, 0 without XSAVE, nullopt when unknown.
std::optional<std::uint64_t> host_xcr0(const CpuRecord& cpu);
/// KVM's supported XCR0: host & profile mask, minus BNDREGS|BNDCSR without VMX MPX (never on SVM).
std::optional<std::uint64_t> supported_xcr0(const AnalysisContext& ctx);
/// "x87 | SSE | AVX | PKRU" for the set XSAVE feature bits.
std::string xfeature_names(std::uint64_t mask);

}  // namespace kvmprobe
