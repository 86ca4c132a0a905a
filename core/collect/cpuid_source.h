// Real CpuidSources: the /dev/cpu/N/cpuid device, the cpuid instruction on a pinned thread, and
// the combination collect() uses (device first, instruction when the device is missing).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/collect/cpu_pinning.h"
#include "core/collect/sources.h"

namespace kvmprobe::collect {

/// Executes CPUID on the current CPU (no pinning).
CpuidLeaf execute_cpuid(std::uint32_t leaf, std::uint32_t subleaf);

/// /dev/cpu/N/cpuid: pread of 16 bytes at offset (subleaf << 32) | leaf (arch/x86/kernel/cpuid.c).
/// Each CPU's node is opened once and kept open for all its leaves. With a pinner, the thread
/// first moves onto the CPU it reads, so cpuid.c executes CPUID locally instead of through an
/// IPI per leaf (measured on a 2-vCPU guest: 2.0 ms of CPU time unpinned, 0.8 ms pinned).
class DevCpuidSource final : public CpuidSource {
 public:
  /// \a dev_dir is the directory holding N/cpuid ("/dev/cpu"); \a pinner may be null.
  explicit DevCpuidSource(std::string dev_dir = "/dev/cpu", CpuPinner* pinner = nullptr);
  ~DevCpuidSource() override;
  DevCpuidSource(const DevCpuidSource&) = delete;
  DevCpuidSource& operator=(const DevCpuidSource&) = delete;

  /// Opens CPU \a cpu's node if not yet done: 0, or the errno of the open.
  int open_cpu(unsigned cpu);
  Result<CpuidLeaf> cpuid(unsigned cpu, std::uint32_t leaf, std::uint32_t subleaf) override;
  void finish() override {
    if (pinner_) pinner_->restore();
  }
  CpuidView view(unsigned) const override { return CpuidView::kernel; }

 private:
  struct Node {
    int fd = -1;
    int err = -1;  ///< -1 not tried yet, 0 open, else errno of the open
  };
  std::string dev_dir_;
  CpuPinner* pinner_;
  std::vector<Node> nodes_;
};

/// The cpuid instruction, executed with the thread pinned to the CPU (shared CpuPinner).
class InstructionCpuidSource final : public CpuidSource {
 public:
  explicit InstructionCpuidSource(CpuPinner& pinner) : pinner_(pinner) {}
  Result<CpuidLeaf> cpuid(unsigned cpu, std::uint32_t leaf, std::uint32_t subleaf) override;
  void finish() override { pinner_.restore(); }
  CpuidView view(unsigned) const override { return CpuidView::instruction; }

 private:
  CpuPinner& pinner_;
};

/// The device when it opens for that CPU, else the pinned instruction; notes which CPUs fell
/// back and why (one note per distinct reason). With the device, each leaf is also executed by
/// the pinned instruction and the leaves where the two views differ are kept: under some
/// hypervisors (PVM) user-mode CPUID is answered differently from the kernel's, and only the
/// kernel's view is what KVM sees.
class AutoCpuidSource final : public CpuidSource {
 public:
  AutoCpuidSource(DevCpuidSource& dev, InstructionCpuidSource& insn) : dev_(dev), insn_(insn) {}
  Result<CpuidLeaf> cpuid(unsigned cpu, std::uint32_t leaf, std::uint32_t subleaf) override;
  void drain_notes(std::vector<std::string>& out) override;
  void finish() override {
    dev_.finish();
    insn_.finish();
  }
  CpuidView view(unsigned cpu) const override;
  std::vector<CpuidLeaf> take_differences(unsigned cpu) override;

 private:
  DevCpuidSource& dev_;
  InstructionCpuidSource& insn_;
  std::map<unsigned, std::vector<CpuidLeaf>> differences_;  ///< cpu -> instruction's values
  std::map<int, std::vector<unsigned>> fallbacks_;  ///< errno -> CPUs that used the instruction
  std::map<unsigned, bool> decided_;                ///< cpu -> uses the device
};

}  // namespace kvmprobe::collect
