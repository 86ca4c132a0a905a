// The two-phase engine under fault injection: a failure at every (CPU, phase, read/write)
// point, one at a time and "from here on", and a second failure during the roll-back. After
// each run every CPU must be all-old or all-new (or be named as not restored), the result must
// say what the device holds, the journal must match, and the exit code must be the outcome's.
#include <gtest/gtest.h>

#include <iostream>

#include <fmt/format.h>

#include "cli/write_exit.h"
#include "core/provision/apply.h"
#include "tests/core/provision/fake_msr_device.h"

namespace kvmprobe::provision {
namespace {

using testing::EventClock;
using testing::Fault;
using testing::FakeMsrDevice;
using testing::MemoryJournal;

/// A request and the device values it starts from.
struct Scenario {
  const char* name;
  ApplyRequest req;
  std::map<unsigned, std::uint64_t> start;
};

Scenario intel(unsigned n, std::uint64_t lock = 0x1) {
  Scenario s{"intel", {}, {}};
  s.req.msr = kFeatureControl;
  s.req.enable_set = 0x6;  // VMX outside and inside SMX: two bits, so a write can half-stick
  s.req.lock_set = lock;
  s.req.run_id = "run-1";
  s.req.command = "enable-vmx";
  for (unsigned c = 0; c < n; ++c) {
    s.req.cpus.push_back({c, 0x0, 0x6, 0x6 | lock});
    s.start[c] = 0x0;
  }
  return s;
}

/// CPU 0 done, CPU 1 off, CPU 2 enabled but unlocked, CPU 3 off: mixed states.
Scenario intel_mixed() {
  Scenario s = intel(4);
  s.name = "intel-mixed";
  s.req.cpus[0] = {0, 0x7, 0x7, 0x7};
  s.req.cpus[2] = {2, 0x6, 0x6, 0x7};
  s.start[0] = 0x7;
  s.start[2] = 0x6;
  return s;
}

Scenario amd(unsigned n) {
  Scenario s{"amd", {}, {}};
  s.req.msr = kVmCr;
  s.req.enable_clear = 0x10;
  s.req.run_id = "run-1";
  s.req.command = "enable-vmx";
  for (unsigned c = 0; c < n; ++c) {
    s.req.cpus.push_back({c, 0x10, 0x0, 0x0});
    s.start[c] = 0x10;
  }
  return s;
}

struct Outcome {
  ApplyResult res;
  std::unique_ptr<FakeMsrDevice> dev;
  std::unique_ptr<MemoryJournal> journal;
};

/// Runs \a s with the device prepared by \a prepare.
template <typename Prepare>
Outcome run(const Scenario& s, Prepare prepare, FakeMsrDevice* fallback = nullptr) {
  Outcome o;
  auto clock = std::make_shared<EventClock>();
  static std::vector<std::shared_ptr<EventClock>> keep;  // outlives the device and journal
  keep.push_back(clock);
  o.dev = std::make_unique<FakeMsrDevice>(s.req.msr, s.start, clock.get());
  o.journal = std::make_unique<MemoryJournal>(clock.get());
  prepare(*o.dev, *o.journal);
  o.res = apply(s.req, *o.dev, *o.journal, fallback);
  return o;
}
Outcome run(const Scenario& s) {
  return run(s, [](FakeMsrDevice&, MemoryJournal&) {});
}

std::string hexs(std::uint64_t v) { return hex(v); }

/// Every invariant of the proof, for any run.
void check_invariants(const Scenario& s, const Outcome& o, const std::string& what) {
  SCOPED_TRACE(what);
  const ApplyResult& r = o.res;
  const FakeMsrDevice& dev = *o.dev;
  auto all = [&](auto pred) {
    for (const auto& c : s.req.cpus)
      if (!pred(c, dev.value(c.cpu))) return false;
    return true;
  };
  // The result says what the device holds.
  ASSERT_EQ(r.cpus.size(), s.req.cpus.size());
  for (const auto& c : r.cpus)
    if (c.value) {
      EXPECT_EQ(*c.value, dev.value(c.cpu)) << "cpu" << c.cpu << " reported wrongly";
    }
  // The outcome matches the device.
  switch (r.outcome) {
    case ApplyOutcome::applied:
    case ApplyOutcome::nothing_to_do:
      EXPECT_TRUE(all([](const ApplyCpu& c, std::uint64_t v) { return v == c.new_value; }));
      break;
    case ApplyOutcome::aborted:
      EXPECT_EQ(dev.write_count(), 0u);
      EXPECT_EQ(dev.values(), s.start);
      EXPECT_TRUE(r.needs_attention.empty());
      break;
    case ApplyOutcome::rolled_back:
    case ApplyOutcome::not_permitted:
      EXPECT_TRUE(all([](const ApplyCpu& c, std::uint64_t v) { return v == c.old_value; })) << "not all-old";
      EXPECT_TRUE(r.needs_attention.empty());
      break;
    case ApplyOutcome::partial:
      // Named: every CPU neither at its old value nor at its target.
      EXPECT_FALSE(r.needs_attention.empty());
      for (const auto& c : s.req.cpus)
        if (dev.value(c.cpu) != c.old_value && dev.value(c.cpu) != c.new_value) {
          EXPECT_NE(std::find(r.needs_attention.begin(), r.needs_attention.end(), c.cpu), r.needs_attention.end())
              << "cpu" << c.cpu << " is between old and new but is not named";
        }
      break;
  }
  // Every CPU is all-old or all-new (or, in a partial outcome, named).
  for (const auto& c : s.req.cpus) {
    std::uint64_t v = dev.value(c.cpu);
    if (r.outcome == ApplyOutcome::aborted) break;
    bool whole = v == c.old_value || v == c.enabled_value || v == c.new_value;
    bool named = std::find(r.needs_attention.begin(), r.needs_attention.end(), c.cpu) != r.needs_attention.end();
    EXPECT_TRUE(whole || (r.outcome == ApplyOutcome::partial && named))
        << "cpu" << c.cpu << " holds " << hexs(v) << ", a state between old and new";
  }
  // The exit code is the outcome's.
  int code = static_cast<int>(cli::apply_exit(r.outcome));
  switch (r.outcome) {
    case ApplyOutcome::applied:
    case ApplyOutcome::nothing_to_do: EXPECT_EQ(code, 0); break;
    case ApplyOutcome::aborted: EXPECT_EQ(code, 1); break;
    case ApplyOutcome::rolled_back: EXPECT_EQ(code, 14); break;
    case ApplyOutcome::partial: EXPECT_EQ(code, 15); break;
    case ApplyOutcome::not_permitted: EXPECT_EQ(code, 16); break;
  }
  // The journal matches what happened.
  const auto& recs = o.journal->records;
  if (dev.write_count() == 0 && r.writes.empty()) {
    for (const auto& j : recs) EXPECT_NE(j.value("event", ""), "write");
  }
  if (dev.write_count() > 0) {
    ASSERT_FALSE(recs.empty()) << "writes without a journal";
    EXPECT_EQ(recs.front()["event"], "begin");
    EXPECT_LT(o.journal->seqs.front(), *dev.first_write_seq()) << "the old values were not journaled first";
    ASSERT_EQ(recs.front()["cpus"].size(), s.req.cpus.size());
    for (std::size_t i = 0; i < s.req.cpus.size(); ++i)
      EXPECT_EQ(recs.front()["cpus"][i]["old"], hexs(s.start.at(s.req.cpus[i].cpu)));
  }
  if (!recs.empty()) {
    std::vector<nlohmann::json> writes;
    for (const auto& j : recs)
      if (j["event"] == "write") writes.push_back(j);
    ASSERT_EQ(writes.size(), r.writes.size());
    for (std::size_t i = 0; i < writes.size(); ++i) {
      EXPECT_EQ(writes[i]["cpu"], r.writes[i].cpu);
      EXPECT_EQ(writes[i]["phase"], to_string(r.writes[i].phase));
      EXPECT_EQ(writes[i]["status"], to_string(r.writes[i].outcome.status));
    }
    const auto& end = recs.back();
    ASSERT_EQ(end["event"], "end");
    EXPECT_EQ(end["outcome"], to_string(r.outcome));
    for (std::size_t i = 0; i < r.cpus.size(); ++i)
      EXPECT_EQ(end["cpus"][i]["value"],
                r.cpus[i].value ? nlohmann::json(hexs(*r.cpus[i].value)) : nlohmann::json()) << "cpu" << i;
  }
}

TEST(Apply, EnablesThenLocksEveryCpuAndJournalsFirst) {
  Scenario s = intel(4);
  Outcome o = run(s);
  check_invariants(s, o, "clean");
  EXPECT_EQ(o.res.outcome, ApplyOutcome::applied);
  for (unsigned c = 0; c < 4; ++c) EXPECT_EQ(o.dev->value(c), 0x7u);
  // Phase 1 on every CPU before phase 2 on any: no CPU is locked while another lacks VMX.
  std::vector<std::pair<unsigned, std::uint64_t>> writes;
  for (const auto& op : o.dev->ops())
    if (op.write) writes.emplace_back(op.cpu, op.value);
  ASSERT_EQ(writes.size(), 8u);
  for (unsigned i = 0; i < 4; ++i) EXPECT_EQ(writes[i], std::make_pair(i, std::uint64_t{0x6}));
  for (unsigned i = 0; i < 4; ++i) EXPECT_EQ(writes[4 + i], std::make_pair(i, std::uint64_t{0x7}));
  ASSERT_EQ(o.journal->records.size(), 1u + 8u + 1u);
  EXPECT_EQ(o.journal->records[1]["phase"], "enable");
  EXPECT_EQ(o.journal->records[5]["phase"], "lock");
}

TEST(Apply, RunningTwiceChangesNothingTheSecondTime) {
  Scenario s = intel(4);
  Outcome first = run(s);
  ASSERT_EQ(first.res.outcome, ApplyOutcome::applied);
  Scenario again = s;
  again.start = first.dev->values();
  Outcome second = run(again);
  EXPECT_EQ(second.res.outcome, ApplyOutcome::nothing_to_do);
  EXPECT_EQ(second.dev->write_count(), 0u);
  EXPECT_TRUE(second.journal->records.empty());
  EXPECT_EQ(cli::apply_exit(second.res.outcome), cli::ExitCode::ok);
}

TEST(Apply, MixedStatesWriteOnlyWhatDiffers) {
  Scenario s = intel_mixed();
  Outcome o = run(s);
  check_invariants(s, o, "mixed");
  EXPECT_EQ(o.res.outcome, ApplyOutcome::applied);
  std::vector<std::pair<unsigned, std::uint64_t>> writes;
  for (const auto& op : o.dev->ops())
    if (op.write) writes.emplace_back(op.cpu, op.value);
  // Phase 1: CPUs 1 and 3; phase 2: CPUs 1, 2, 3. CPU 0 is never written.
  std::vector<std::pair<unsigned, std::uint64_t>> want = {{1, 0x6}, {3, 0x6}, {1, 0x7}, {2, 0x7}, {3, 0x7}};
  EXPECT_EQ(writes, want);
}

TEST(Apply, AValueChangedSincePlanningAbortsBeforeAnyWrite) {
  Scenario s = intel(2);
  s.start[1] = 0x2;  // someone else wrote CPU 1 after the snapshot
  Outcome o = run(s);
  check_invariants(s, o, "changed");
  EXPECT_EQ(o.res.outcome, ApplyOutcome::aborted);
  EXPECT_NE(o.res.failure.find("cpu1"), std::string::npos);
  EXPECT_TRUE(o.journal->records.empty());
}

TEST(Apply, AJournalThatCannotBeWrittenStopsBeforeAnyWrite) {
  Scenario s = intel(2);
  Outcome o = run(s, [](FakeMsrDevice&, MemoryJournal& j) { j.fail_from = 0; });
  check_invariants(s, o, "journal full");
  EXPECT_EQ(o.res.outcome, ApplyOutcome::aborted);
  EXPECT_EQ(o.dev->write_count(), 0u);
  EXPECT_NE(o.res.failure.find("disk full"), std::string::npos);
}

TEST(Apply, ALaterJournalFailureIsReportedNotFatal) {
  Scenario s = intel(2);
  for (std::size_t k = 1; k < 6; ++k) {
    Outcome o = run(s, [k](FakeMsrDevice&, MemoryJournal& j) { j.fail_from = k; });
    EXPECT_EQ(o.res.outcome, ApplyOutcome::applied) << k;
    EXPECT_FALSE(o.res.notes.empty()) << k;
  }
}

TEST(Apply, TcgDroppingEveryWriteIsRolledBackNotDone) {
  // QEMU's TCG accepts a write to 0x3a and reads back 0 (qemu-testbed.md).
  Scenario s = intel(2);
  Outcome o = run(s, [](FakeMsrDevice& d, MemoryJournal&) {
    for (unsigned k = 0; k < 100; ++k) d.fail_at(k, Fault::ignored);
  });
  check_invariants(s, o, "tcg");
  EXPECT_EQ(o.res.outcome, ApplyOutcome::rolled_back);
  EXPECT_NE(o.res.failure.find("did not take effect"), std::string::npos) << o.res.failure;
  EXPECT_EQ(cli::apply_exit(o.res.outcome), cli::ExitCode::not_applied);
}

TEST(Apply, LockdownRefusingTheDriverChangesNothingAndTriesNothingElse) {
  Scenario s = intel(2);
  FakeMsrDevice dev(kFeatureControl, s.start);
  dev.driver_allow_list(true);
  for (unsigned k = 0; k < 50; ++k) dev.fail_at(k, Fault::refused);  // every write: EPERM
  MemoryJournal journal;
  ApplyResult r = apply(s.req, dev, journal, nullptr);
  EXPECT_EQ(r.outcome, ApplyOutcome::not_permitted) << r.summary;
  ASSERT_EQ(r.writes.size(), 1u);  // no blind "restore" of a CPU that was never written
  EXPECT_EQ(cli::apply_exit(r.outcome), cli::ExitCode::not_permitted);
}

TEST(Apply, RefusedFirstWriteIsNotPermitted) {
  Scenario s = intel(2);
  Outcome o = run(s, [](FakeMsrDevice& d, MemoryJournal&) { d.fail_at(3, Fault::refused); });  // 2 reads, R, W
  check_invariants(s, o, "refused");
  EXPECT_EQ(o.res.outcome, ApplyOutcome::not_permitted);
  EXPECT_EQ(cli::apply_exit(o.res.outcome), cli::ExitCode::not_permitted);
}

/// The expected outcome of one transient fault at device op \a k in the clean run of intel(n).
ApplyOutcome expected_intel(unsigned n, unsigned k, Fault f, bool write_op) {
  if (f != Fault::fault && !write_op) return ApplyOutcome::applied;  // ignored/garbage/refused hit writes only
  if (k < n) return ApplyOutcome::aborted;                           // phase 0 read
  if (k < 5 * n)                                                     // phase 1 writes, then verify
    return f == Fault::refused && write_op && k == n + 1 ? ApplyOutcome::not_permitted : ApplyOutcome::rolled_back;
  if (k < 8 * n) {                                                   // phase 2: read, write, read back
    unsigned cpu = (k - 5 * n) / 3, step = (k - 5 * n) % 3;
    if (step < 2) return cpu == 0 ? ApplyOutcome::rolled_back : ApplyOutcome::partial;
    return cpu == n - 1 ? ApplyOutcome::applied : ApplyOutcome::partial;  // the lock took; its read-back failed
  }
  return ApplyOutcome::applied;  // a verify read failed once; the second read shows every CPU done
}

TEST(ApplyFaults, OneFailureAtEveryPointIntel) {
  const unsigned n = 4;
  Scenario s = intel(n);
  Outcome clean = run(s);
  unsigned total = clean.dev->op_count();
  ASSERT_EQ(total, 9 * n);  // phase 0 reads, 3 per write, verify reads, twice
  unsigned runs = 0;
  for (Fault f : {Fault::fault, Fault::ignored, Fault::garbage, Fault::refused})
    for (unsigned k = 0; k < total; ++k) {
      Outcome o = run(s, [&](FakeMsrDevice& d, MemoryJournal&) { d.fail_at(k, f); });
      std::string what = fmt::format("{} at op {}", to_string(f), k);
      check_invariants(s, o, what);
      EXPECT_EQ(o.res.outcome, expected_intel(n, k, f, clean.dev->ops()[k].write)) << what << ": " << o.res.summary;
      if (o.res.outcome == ApplyOutcome::partial) {  // only after a lock: VMX stays enabled everywhere
        for (unsigned c = 0; c < n; ++c) EXPECT_EQ(o.dev->value(c) & 0x6, 0x6u) << what << " cpu" << c;
      }
      ++runs;
    }
  EXPECT_EQ(runs, 4 * 9 * n);
  std::cout << "[ fault runs ] " << runs << " single failures, intel x" << n << "\n";
}

TEST(ApplyFaults, EveryPointFromWhichTheDeviceStopsAnswering) {
  unsigned runs = 0;
  for (const Scenario& s : {intel(3), intel_mixed(), amd(3), intel(3, 0)}) {
    unsigned total = run(s).dev->op_count();
    for (unsigned k = 0; k < total; ++k) {
      Outcome o = run(s, [&](FakeMsrDevice& d, MemoryJournal&) { d.fail_from(k); });
      // "applied" is allowed here only when every write's own read-back showed the target
      // before the device stopped answering; check_invariants holds the engine to that.
      check_invariants(s, o, fmt::format("{} stuck from op {}", s.name, k));
      ++runs;
    }
  }
  std::cout << "[ fault runs ] " << runs << " device-stops-answering points\n";
}

TEST(ApplyFaults, OneFailureAtEveryPointOtherShapes) {
  unsigned runs = 0;
  for (const Scenario& s : {intel_mixed(), amd(4), intel(4, 0), intel(1)}) {
    unsigned total = run(s).dev->op_count();
    for (Fault f : {Fault::fault, Fault::ignored, Fault::garbage, Fault::refused})
      for (unsigned k = 0; k < total; ++k) {
        Outcome o = run(s, [&](FakeMsrDevice& d, MemoryJournal&) { d.fail_at(k, f); });
        check_invariants(s, o, fmt::format("{}: {} at op {}", s.name, to_string(f), k));
        if (s.req.lock_set == 0) {  // without a lock phase every failure is undone
          EXPECT_NE(o.res.outcome, ApplyOutcome::partial) << s.name << " " << k << " " << o.res.summary;
        }
        ++runs;
      }
  }
  std::cout << "[ fault runs ] " << runs << " single failures, mixed/amd/no-lock/1-cpu\n";
}

TEST(ApplyFaults, ASecondFailureWhileRollingBack) {
  unsigned runs = 0;
  for (const Scenario& s : {intel(3), amd(3)}) {
    unsigned total = run(s).dev->op_count();
    for (unsigned k1 = 0; k1 < total; ++k1) {
      // The first failure: the write (or read) at k1 does not take effect.
      Outcome first = run(s, [&](FakeMsrDevice& d, MemoryJournal&) { d.fail_at(k1, Fault::ignored); });
      if (first.res.outcome != ApplyOutcome::rolled_back) continue;
      for (unsigned k2 = k1 + 1; k2 < first.dev->op_count(); ++k2)
        for (Fault f : {Fault::fault, Fault::ignored, Fault::refused}) {
          Outcome o = run(s, [&](FakeMsrDevice& d, MemoryJournal&) {
            d.fail_at(k1, Fault::ignored);
            d.fail_at(k2, f);
          });
          check_invariants(s, o, fmt::format("{}: ignored at {}, then {} at {}", s.name, k1, to_string(f), k2));
          ++runs;
        }
    }
  }
  EXPECT_GT(runs, 0u);
  std::cout << "[ fault runs ] " << runs << " second failures during roll-back\n";
}

TEST(Apply, DriverThatCannotUndoFallsBackToTheMsrDevice) {
  // The driver only sets 0x3a bits: undoing phase 1 needs /dev/cpu/N/msr.
  Scenario s = intel(3);
  auto clock = std::make_shared<EventClock>();
  FakeMsrDevice dev(kFeatureControl, s.start, clock.get());
  dev.driver_allow_list(true);
  dev.set_name("driver");
  dev.fail_at(3 + 3 * 2 + 1, Fault::fault);  // CPU 2's enable write faults
  MemoryJournal journal(clock.get());
  // The fallback sees the same hardware: route its writes to the same fake.
  struct Alias : MsrWriter {
    FakeMsrDevice& d;
    explicit Alias(FakeMsrDevice& x) : d(x) {}
    std::string_view backend_name() const override { return "msr"; }
    std::string device() const override { return "fake msr"; }
    MsrRead read(unsigned cpu, std::uint32_t i) override { return d.read(cpu, i); }
    WriteOutcome modify(unsigned cpu, std::uint32_t i, std::uint64_t set, std::uint64_t clear) override {
      d.driver_allow_list(false);
      WriteOutcome o = d.modify(cpu, i, set, clear);
      d.driver_allow_list(true);
      return o;
    }
  } alias(dev);
  ApplyResult r = apply(s.req, dev, journal, &alias);
  EXPECT_EQ(r.outcome, ApplyOutcome::rolled_back) << r.summary;
  for (unsigned c = 0; c < 3; ++c) EXPECT_EQ(dev.value(c), 0u);
  bool via_msr = false;
  for (const auto& w : r.writes) via_msr |= w.phase == Phase::restore && w.via == "msr";
  EXPECT_TRUE(via_msr);

  // Without the msr device nothing can undo phase 1: that is partial, and says so.
  FakeMsrDevice dev2(kFeatureControl, s.start);
  dev2.driver_allow_list(true);
  dev2.fail_at(3 + 3 * 2 + 1, Fault::fault);
  MemoryJournal j2;
  ApplyResult r2 = apply(s.req, dev2, j2, nullptr);
  EXPECT_EQ(r2.outcome, ApplyOutcome::partial);
  EXPECT_EQ(r2.needs_attention, (std::vector<unsigned>{0, 1}));
  EXPECT_EQ(cli::apply_exit(r2.outcome), cli::ExitCode::partial);
}

TEST(Apply, BitsOutsideTheRunAreNeverTouched) {
  Scenario s = intel(2);
  s.start[0] = s.start[1] = 0x100000;  // LMCE set by firmware, unlocked
  for (auto& c : s.req.cpus) {
    c.old_value = 0x100000;
    c.enabled_value = 0x100006;
    c.new_value = 0x100007;
  }
  Outcome o = run(s, [](FakeMsrDevice& d, MemoryJournal&) { d.fail_at(2 + 3 + 1, Fault::fault); });
  check_invariants(s, o, "lmce kept");
  EXPECT_EQ(o.res.outcome, ApplyOutcome::rolled_back);
  EXPECT_EQ(o.dev->value(0), 0x100000u);
}

}  // namespace
}  // namespace kvmprobe::provision
