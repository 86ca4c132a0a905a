// Host XCR0/XSS and KVM's supported masks (kvm-init.md §4).
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
