// KVM_GET_SUPPORTED_CPUID as the profile's kernel would answer it on the snapshot's host:
// host CPUID ∧ KVM's capability mask (kvm_set_cpu_caps() and the vendor module's
// vmx_set_cpu_caps()/svm_set_cpu_caps()), plus the bits KVM emulates or forces, minus what
// module parameters and the supported XCR0 take away, shaped by __do_cpuid_func().
// Pure: the kernel knowledge is data in core/profiles/cpuid_caps.cc.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/analyse/context.h"
#include "core/model/snapshot.h"

namespace kvmprobe {

/// One CPUID feature bit, named as QEMU names it (target/i386/cpu.c feature_word_info).
struct CpuidFeature {
  const char* qemu_name;
  std::uint32_t leaf, subleaf;
  Reg reg;
  unsigned bit;
};

/// Every feature bit the model knows, with QEMU's name ("avx512f", "vmx", "rdtscp", ...).
std::span<const CpuidFeature> known_cpuid_features();

/// One modelled feature register: the host's raw value, the bits KVM may report there (its
/// mask after the forced sets and the clears), and the predicted value.
struct CpuidRegisterPrediction {
  std::uint32_t leaf = 0, subleaf = 0;
  Reg reg = Reg::eax;
  std::uint32_t host = 0, kvm_mask = 0, supported = 0;
};

/// The predicted answer of KVM_GET_SUPPORTED_CPUID for the modelled leaves.
struct SupportedCpuid {
  bool evaluated = false;
  std::string not_evaluated;             ///< why not (no vendor module, no CPU, ...), one line
  std::vector<CpuidLeaf> leaves;         ///< the predicted leaves (modelled registers), sorted
  std::vector<std::string> unknown;      ///< what could not be decided, one line each
  /// The feature registers kvm_cpu_caps covers, and 0xD.0 EAX/EDX (supported XCR0), in order.
  std::vector<CpuidRegisterPrediction> registers;

  /// Whether the feature's bit is set in the predicted leaves (false when the leaf is absent).
  bool has(const CpuidFeature& f) const;
  /// QEMU names of every set bit, sorted.
  std::vector<std::string> feature_names() const;
};

/// Whether the model predicts this register of KVM_GET_SUPPORTED_CPUID (0x1 ECX/EDX, 0x7.0
/// EAX..EDX, 0x7.1 EAX, 0xD.0 EAX/EDX, 0xD.1 EAX/ECX, every register of 0x14, 0x80000001
/// ECX/EDX, 0x80000008 EBX, 0x80000021 EAX). Other registers of `leaves` are not predictions.
bool is_modelled_register(std::uint32_t leaf, std::uint32_t subleaf, Reg reg);

/// Predict KVM_GET_SUPPORTED_CPUID for the context's host, profile and parameters.
SupportedCpuid compute_supported_cpuid(const AnalysisContext& ctx);

}  // namespace kvmprobe
