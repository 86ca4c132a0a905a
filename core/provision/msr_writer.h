// MsrWriter: the write side of enable-vmx and provision. One read-modify-write of one MSR on
// one CPU, then a read-back; a write the platform ignores is reported, never taken as done.
//
// Two real implementations: DevMsrWriter (/dev/cpu/N/msr, arch/x86/kernel/msr.c) here, and
// DriverMsrWriter (/dev/kvmprobe KVMPROBE_IOC_GUARDED_WRITE) in driver_writer.h. Tests use a
// fake device (tests/core/provision/fake_msr_device.h) that can fail at every step.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/model/snapshot.h"

namespace kvmprobe::provision {

/// How one read-modify-write ended.
enum class WriteStatus {
  ok,              ///< written, and the read-back equals the value written
  unchanged,       ///< the new value equals the old one: nothing was written
  mismatch,        ///< written, but the read-back differs: the write did not take effect
  read_fault,      ///< reading the old value failed (#GP or I/O error): nothing was written
  write_fault,     ///< WRMSR raised #GP: nothing was written (a faulting WRMSR has no effect)
  readback_fault,  ///< written, but reading it back failed: the value now is unknown
  refused,         ///< EPERM: not allowed (lockdown, allow_writes, allow-list, locked MSR)
  error,           ///< anything else (device vanished, bad argument): nothing known
};

/// "ok", "did not take effect", ... (stable strings, also used in the journal).
const char* to_string(WriteStatus s);

/// What one read-modify-write did: new = (old | set) & ~clear, then a read-back.
struct WriteOutcome {
  WriteStatus status = WriteStatus::error;
  std::optional<std::uint64_t> old_value;  ///< the value before, when it was read
  std::uint64_t written = 0;               ///< the value written (meaningful once old_value is known)
  std::optional<std::uint64_t> readback;   ///< the value read back after writing
  int err = 0;                             ///< errno of the failed call, 0 otherwise
  std::string detail;                      ///< "pwrite /dev/cpu/2/msr: Input/output error"

  /// The value the MSR holds now, when this outcome tells it.
  std::optional<std::uint64_t> value_now() const;
  /// Whether the value was (probably) changed: written, or unknown after a write.
  bool succeeded() const { return status == WriteStatus::ok || status == WriteStatus::unchanged; }
};

/// RDMSR and guarded read-modify-write on one CPU at a time. Implementations never throw and
/// never print; every failure comes back in the MsrRead or the WriteOutcome.
class MsrWriter {
 public:
  virtual ~MsrWriter() = default;
  /// "driver" or "msr", as in the journal and Snapshot::msr_backend.
  virtual std::string_view backend_name() const = 0;
  /// The device used, for messages ("/dev/kvmprobe", "/dev/cpu/N/msr").
  virtual std::string device() const = 0;
  /// RDMSR \a index on CPU \a cpu.
  virtual MsrRead read(unsigned cpu, std::uint32_t index) = 0;
  /// new = (old | \a set) & ~\a clear on CPU \a cpu, written only when it differs from old,
  /// then read back and compared.
  virtual WriteOutcome modify(unsigned cpu, std::uint32_t index, std::uint64_t set, std::uint64_t clear) = 0;
};

/// /dev/cpu/N/msr opened read-write: pread for RDMSR, pwrite for WRMSR (msr.c runs both on CPU
/// N with the _safe accessors, so #GP is EIO). Every write taints the kernel, and kernels
/// since 5.9 log "msr: Write to unrecognized MSR" for 0x3a and VM_CR; writes are EPERM under
/// lockdown and with msr.allow_writes=off.
class DevMsrWriter final : public MsrWriter {
 public:
  /// \a dev_dir holds N/msr ("/dev/cpu").
  explicit DevMsrWriter(std::string dev_dir = "/dev/cpu");
  ~DevMsrWriter() override;
  DevMsrWriter(const DevMsrWriter&) = delete;
  DevMsrWriter& operator=(const DevMsrWriter&) = delete;

  /// 0 when CPU \a cpu's node opens read-write, else the errno.
  int probe(unsigned cpu);
  std::string_view backend_name() const override { return "msr"; }
  std::string device() const override { return dev_dir_ + "/N/msr"; }
  MsrRead read(unsigned cpu, std::uint32_t index) override;
  WriteOutcome modify(unsigned cpu, std::uint32_t index, std::uint64_t set, std::uint64_t clear) override;

 private:
  std::string path(unsigned cpu) const;
  std::string dev_dir_;
  std::vector<int> fds_;  ///< per CPU: fd, or -1 not opened yet
};

}  // namespace kvmprobe::provision
