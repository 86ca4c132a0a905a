// A fake MSR device for the provision tests: per-CPU MSR values behind the MsrWriter interface,
// where every primitive step (a read, a write) is numbered and any of them can be made to
// fail, so a test can fail the engine at every (CPU, phase, read/write) point in turn.
#pragma once

#include <cerrno>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/analyse/feature_control.h"
#include "core/provision/journal.h"
#include "core/provision/msr_writer.h"
#include "core/provision/plan.h"

namespace kvmprobe::testing {

/// How one primitive step fails.
enum class Fault {
  none,
  fault,    ///< #GP: a read returns EIO, a write changes nothing and returns EIO
  // The next three hit writes only; on a read they do nothing.
  ignored,  ///< writes only: accepted, but the value does not change (what TCG does for 0x3a)
  garbage,  ///< writes only: only part of the change sticks (the lowest changed bit flips back)
  refused,  ///< EPERM: nothing happens (lockdown, allow_writes=off)
};

inline const char* to_string(Fault f) {
  switch (f) {
    case Fault::none: return "none";
    case Fault::fault: return "fault";
    case Fault::ignored: return "ignored";
    case Fault::garbage: return "garbage";
    case Fault::refused: return "refused";
  }
  return "?";
}

/// One primitive step, as the device saw it.
struct DeviceOp {
  unsigned seq = 0;  ///< position in the shared event order (device ops and journal lines)
  unsigned cpu = 0;
  bool write = false;
  std::uint64_t value = 0;  ///< read: the value returned; write: the value asked for
  Fault fault = Fault::none;
};

/// Device ops and journal appends share one sequence, so a test can check that the journal's
/// "begin" line was durable before the first write.
struct EventClock {
  unsigned next = 0;
};

/// The fake device.
class FakeMsrDevice : public provision::MsrWriter {
 public:
  FakeMsrDevice(std::uint32_t msr, std::map<unsigned, std::uint64_t> values, EventClock* clock = nullptr)
      : msr_(msr), values_(std::move(values)), clock_(clock ? clock : &own_clock_) {}

  /// Fail primitive step number \a op (0-based, device ops only) with \a f.
  void fail_at(unsigned op, Fault f) { faults_[op] = f; }
  /// Every step from number \a op on faults (a CPU or the device went away).
  void fail_from(unsigned op) { fail_from_ = op; }
  /// Behave like the companion driver's allow-list: refuse (EPERM) clearing 0x3a bits and
  /// setting VM_CR bits.
  void driver_allow_list(bool on) { driver_allow_list_ = on; }
  void set_name(std::string n) { name_ = std::move(n); }

  std::string_view backend_name() const override { return name_; }
  std::string device() const override { return "fake"; }

  MsrRead read(unsigned cpu, std::uint32_t index) override {
    Fault f = next_fault();
    if (f != Fault::fault) f = Fault::none;  // ignored, garbage and refused are write failures
    std::uint64_t v = values_.at(cpu);
    log(cpu, false, v, f);
    if (index != msr_) return MsrRead{index, ReadStatus::fault, 0, EIO};
    if (f != Fault::none) return MsrRead{index, ReadStatus::fault, 0, EIO};
    return MsrRead{index, ReadStatus::value, v, 0};
  }

  provision::WriteOutcome modify(unsigned cpu, std::uint32_t index, std::uint64_t set, std::uint64_t clear) override {
    using provision::WriteStatus;
    provision::WriteOutcome o;
    if (driver_allow_list_ && ((msr_ == provision::kFeatureControl && clear) || (msr_ == provision::kVmCr && set))) {
      o.status = WriteStatus::refused;
      o.err = EPERM;
      o.detail = "fake driver: outside the allow-list";
      return o;
    }
    MsrRead r = read(cpu, index);
    if (!r.ok()) {
      o.status = WriteStatus::read_fault;
      o.err = EIO;
      return o;
    }
    o.old_value = r.value;
    o.written = (r.value | set) & ~clear;
    if (o.written == r.value) {
      o.status = WriteStatus::unchanged;
      return o;
    }
    Fault f = next_fault();
    log(cpu, true, o.written, f);
    bool locked = msr_ == provision::kFeatureControl ? (r.value & feat_ctl::kLocked) : (r.value & vm_cr::kLock);
    if (f == Fault::refused) {  // like the driver: EPERM copies nothing back
      o = provision::WriteOutcome{};
      o.status = WriteStatus::refused;
      o.err = EPERM;
      return o;
    }
    if (f == Fault::fault || locked) {  // a locked MSR is read-only: WRMSR raises #GP
      o.status = WriteStatus::write_fault;
      o.err = EIO;
      return o;
    }
    if (f == Fault::none) values_[cpu] = o.written;
    if (f == Fault::garbage) {
      std::uint64_t changed = o.written ^ r.value;
      values_[cpu] = o.written ^ (changed & (~changed + 1));
    }
    MsrRead back = read(cpu, index);
    if (!back.ok()) {
      o.status = WriteStatus::readback_fault;
      o.err = EIO;
      return o;
    }
    o.readback = back.value;
    o.status = back.value == o.written ? WriteStatus::ok : WriteStatus::mismatch;
    return o;
  }

  std::uint64_t value(unsigned cpu) const { return values_.at(cpu); }
  const std::map<unsigned, std::uint64_t>& values() const { return values_; }
  const std::vector<DeviceOp>& ops() const { return ops_; }
  unsigned op_count() const { return static_cast<unsigned>(ops_.size()); }
  unsigned write_count() const {
    unsigned n = 0;
    for (const auto& o : ops_) n += o.write;
    return n;
  }
  std::optional<unsigned> first_write_seq() const {
    for (const auto& o : ops_)
      if (o.write) return o.seq;
    return std::nullopt;
  }

 private:
  Fault next_fault() {
    unsigned n = static_cast<unsigned>(ops_.size());
    if (fail_from_ && n >= *fail_from_) return Fault::fault;
    auto it = faults_.find(n);
    return it == faults_.end() ? Fault::none : it->second;
  }
  void log(unsigned cpu, bool write, std::uint64_t v, Fault f) {
    ops_.push_back({clock_->next++, cpu, write, v, f});
  }

  std::uint32_t msr_;
  std::map<unsigned, std::uint64_t> values_;
  EventClock own_clock_;
  EventClock* clock_;
  std::map<unsigned, Fault> faults_;
  std::optional<unsigned> fail_from_;
  bool driver_allow_list_ = false;
  std::string name_ = "fake";
  std::vector<DeviceOp> ops_;
};

/// A journal in memory, optionally failing from the \a fail_at-th append on.
class MemoryJournal : public provision::Journal {
 public:
  explicit MemoryJournal(EventClock* clock = nullptr) : clock_(clock ? clock : &own_clock_) {}
  std::optional<Error> append(const nlohmann::json& record) override {
    if (fail_from && records.size() + failed >= *fail_from) {
      ++failed;
      return make_error(ErrorKind::io, "fake journal: disk full", {}, ENOSPC);
    }
    records.push_back(record);
    seqs.push_back(clock_->next++);
    return std::nullopt;
  }
  std::vector<nlohmann::json> records;
  std::vector<unsigned> seqs;
  std::optional<std::size_t> fail_from;
  std::size_t failed = 0;

 private:
  EventClock own_clock_;
  EventClock* clock_;
};

}  // namespace kvmprobe::testing
