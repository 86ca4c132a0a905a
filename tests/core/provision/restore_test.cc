// restore(): the last run read back from the journal; unlocked CPUs put back, locked ones named,
// a second restore changes nothing; the driver cannot undo, the msr device can.
#include "core/provision/restore.h"

#include <gtest/gtest.h>

#include "cli/write_exit.h"
#include "core/provision/apply.h"
#include "tests/core/provision/fake_msr_device.h"

namespace kvmprobe::provision {
namespace {

using testing::FakeMsrDevice;
using testing::MemoryJournal;

ApplyRequest request(std::uint64_t lock) {
  ApplyRequest r;
  r.msr = kFeatureControl;
  r.enable_set = 0x4;
  r.lock_set = lock;
  r.run_id = "run-1";
  r.command = "enable-vmx";
  for (unsigned c = 0; c < 3; ++c) r.cpus.push_back({c, 0x0, 0x4, 0x4 | lock});
  return r;
}

JournalContents contents(const MemoryJournal& j) { return JournalContents{j.records, {}}; }

TEST(Restore, UnlockedValuesArePutBackAndASecondRestoreDoesNothing) {
  FakeMsrDevice dev(kFeatureControl, {{0, 0}, {1, 0}, {2, 0}});
  MemoryJournal journal;
  ASSERT_EQ(apply(request(0), dev, journal).outcome, ApplyOutcome::applied);  // --no-lock
  auto run = last_run(contents(journal));
  ASSERT_TRUE(run.ok()) << run.error().detail;
  EXPECT_EQ(run->run_id, "run-1");
  EXPECT_EQ(run->outcome, "applied");
  EXPECT_EQ(run->mask, 0x4u);

  RestoreResult dry = restore(*run, dev, journal, nullptr, "run-2", "t", RestoreMode::dry_run);
  EXPECT_EQ(dry.outcome, RestoreOutcome::planned);
  EXPECT_EQ(dev.value(0), 0x4u);

  std::size_t lines = journal.records.size();
  RestoreResult r = restore(*run, dev, journal, nullptr, "run-2", "t");
  EXPECT_EQ(r.outcome, RestoreOutcome::restored) << r.summary;
  EXPECT_EQ(cli::restore_exit(r.outcome), cli::ExitCode::ok);
  for (unsigned c = 0; c < 3; ++c) EXPECT_EQ(dev.value(c), 0u);
  EXPECT_EQ(journal.records[lines]["command"], "restore");
  EXPECT_EQ(journal.records[lines]["of"], "run-1");

  // The journal's last run is still run-1 (restore runs are skipped): a second restore is a no-op.
  auto again = last_run(contents(journal));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->run_id, "run-1");
  unsigned writes = dev.write_count();
  RestoreResult r2 = restore(*again, dev, journal, nullptr, "run-3", "t");
  EXPECT_EQ(r2.outcome, RestoreOutcome::nothing_to_do);
  EXPECT_EQ(dev.write_count(), writes);
}

TEST(Restore, LockedCpusAreNamedNotWritten) {
  FakeMsrDevice dev(kFeatureControl, {{0, 0}, {1, 0}, {2, 0}});
  MemoryJournal journal;
  ASSERT_EQ(apply(request(0x1), dev, journal).outcome, ApplyOutcome::applied);
  auto run = last_run(contents(journal));
  ASSERT_TRUE(run.ok());
  unsigned writes = dev.write_count();
  RestoreResult r = restore(*run, dev, journal, nullptr, "run-2", "t");
  EXPECT_EQ(r.outcome, RestoreOutcome::partial);
  EXPECT_EQ(cli::restore_exit(r.outcome), cli::ExitCode::partial);
  EXPECT_EQ(dev.write_count(), writes);
  for (const auto& c : r.cpus) {
    EXPECT_EQ(c.action, RestoreAction::locked);
    EXPECT_NE(c.detail.find("until the next reset"), std::string::npos);
  }
  EXPECT_NE(r.summary.find("cannot be restored until reset"), std::string::npos) << r.summary;
}

TEST(Restore, TheDriverCannotUndoAndSaysWhatWould) {
  FakeMsrDevice dev(kFeatureControl, {{0, 0}, {1, 0}, {2, 0}});
  MemoryJournal journal;
  ASSERT_EQ(apply(request(0), dev, journal).outcome, ApplyOutcome::applied);
  auto run = last_run(contents(journal));
  dev.driver_allow_list(true);
  dev.set_name("driver");
  RestoreResult r = restore(*run, dev, journal, nullptr, "run-2", "t");
  EXPECT_EQ(r.outcome, RestoreOutcome::not_permitted);
  EXPECT_EQ(cli::restore_exit(r.outcome), cli::ExitCode::not_permitted);
  EXPECT_NE(r.cpus[0].detail.find("modprobe msr"), std::string::npos) << r.cpus[0].detail;
}

TEST(Restore, AmdSvmdisIsSetAgain) {
  FakeMsrDevice dev(kVmCr, {{0, 0x10}, {1, 0x10}});
  MemoryJournal journal;
  ApplyRequest req;
  req.msr = kVmCr;
  req.enable_clear = 0x10;
  req.run_id = "run-1";
  for (unsigned c = 0; c < 2; ++c) req.cpus.push_back({c, 0x10, 0x0, 0x0});
  ASSERT_EQ(apply(req, dev, journal).outcome, ApplyOutcome::applied);
  RestoreResult r = restore(*last_run(contents(journal)), dev, journal, nullptr, "run-2", "t");
  EXPECT_EQ(r.outcome, RestoreOutcome::restored);
  EXPECT_EQ(dev.value(1), 0x10u);
}

TEST(Restore, NothingToRestoreWithoutARun) {
  auto r = last_run(JournalContents{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::missing);
  JournalContents bad{{{{"schema", kJournalSchema}, {"run", "x"}, {"event", "begin"}, {"msr", "0x10"}}}, {}};
  auto b = last_run(bad);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().kind, ErrorKind::bad_input);
}

TEST(Restore, AnUnfinishedRunIsRestoredToo) {
  // The process died after the first write: the journal has "begin" and one "write", no "end".
  FakeMsrDevice dev(kFeatureControl, {{0, 0x4}, {1, 0}});
  JournalContents j{{{{"schema", kJournalSchema}, {"run", "r"}, {"event", "begin"}, {"command", "enable-vmx"},
                       {"msr", "0x3a"}, {"mask", "0x5"},
                       {"cpus", {{{"cpu", 0}, {"old", "0x0"}}, {{"cpu", 1}, {"old", "0x0"}}}}}},
                    {}};
  auto run = last_run(j);
  ASSERT_TRUE(run.ok()) << run.error().detail;
  EXPECT_EQ(run->outcome, "");
  MemoryJournal out;
  RestoreResult r = restore(*run, dev, out, nullptr, "r2", "t");
  EXPECT_EQ(r.outcome, RestoreOutcome::restored);
  EXPECT_EQ(r.cpus[0].action, RestoreAction::restored);
  EXPECT_EQ(r.cpus[1].action, RestoreAction::already_old);
  EXPECT_EQ(dev.value(0), 0u);
}


// ---- a journal written by someone else (issue 11 item 4) -----------------------------------

JournalContents hostile(const char* msr, const char* mask, const char* old) {
  return JournalContents{{{{"schema", kJournalSchema}, {"run", "evil"}, {"event", "begin"}, {"command", "enable-vmx"},
                            {"boot", "b"}, {"msr", msr}, {"mask", mask}, {"cpus", {{{"cpu", 0}, {"old", old}}}}}},
                         {}};
}

TEST(RestoreHostile, AMaskBeyondWhatARunChangesIsRefused) {
  // The reproducer: SVMDIS and LOCK set again would lock SVM off until reset.
  auto r = last_run(hostile("0xc0010114", "0xffffffffffffffff", "0x18"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::bad_input);
  EXPECT_NE(r.error().detail.find("mask 0xffffffffffffffff has bits 0xffffffffffffffef no run can change"),
            std::string::npos)
      << r.error().detail;
  // VM_CR.LOCK is never a run's bit; neither is 0x3a bit 3.
  EXPECT_FALSE(last_run(hostile("0xc0010114", "0x18", "0x18")).ok());
  EXPECT_FALSE(last_run(hostile("0x3a", "0xd", "0x0")).ok());
  EXPECT_FALSE(last_run(hostile("0x3a", "0x1", "0x0")).ok());  // only the lock: nothing to restore
  auto ok = last_run(hostile("0xc0010114", "0x10", "0x10"));
  ASSERT_TRUE(ok.ok()) << ok.error().detail;
  EXPECT_EQ(ok->mask, 0x10u);
}

TEST(RestoreHostile, TheLockBitIsNeverSet) {
  // A run that enabled and locked records mask 0x5; its old value may carry the lock bit.
  auto run = last_run(hostile("0x3a", "0x5", "0x1"));
  ASSERT_TRUE(run.ok()) << run.error().detail;
  EXPECT_EQ(run->mask, 0x4u);
  FakeMsrDevice dev(kFeatureControl, {{0, 0x4}});
  MemoryJournal out;
  RestoreResult r = restore(*run, dev, out, nullptr, "r2", "t");
  EXPECT_EQ(r.outcome, RestoreOutcome::restored) << r.summary;
  EXPECT_EQ(dev.value(0), 0x0u);  // bit 2 cleared, bit 0 not set

  // A run built in memory with any mask: restore still writes only the restorable bits.
  JournalRun wide;
  wide.run_id = "w";
  wide.msr = kVmCr;
  wide.mask = ~0ull;
  wide.old_values = {{0, 0x18}};
  FakeMsrDevice amd(kVmCr, {{0, 0x0}});
  RestoreResult a = restore(wide, amd, out, nullptr, "r3", "t");
  EXPECT_EQ(amd.value(0), 0x10u);  // SVMDIS back, VM_CR.LOCK never set
  EXPECT_EQ(a.run.mask, 0x10u);
}

TEST(RestoreHostile, MalformedCpusAreRefused) {
  auto j = hostile("0x3a", "0x4", "0x0");
  j.records[0]["cpus"] = {{{"cpu", 0}, {"old", "0x0"}}, {{"cpu", 0}, {"old", "0x4"}}};
  auto r = last_run(j);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().detail.find("cpu 0 appears twice"), std::string::npos) << r.error().detail;
  j.records[0]["cpus"] = {{{"cpu", 0}, {"old", {1, 2}}}};
  EXPECT_EQ(last_run(j).error().kind, ErrorKind::bad_input);
  j.records[0]["cpus"] = nlohmann::json::array({5});
  EXPECT_EQ(last_run(j).error().kind, ErrorKind::bad_input);
  j.records[0]["cpus"] = nlohmann::json::array();
  for (unsigned c = 0; c <= 8192; ++c) j.records[0]["cpus"].push_back({{"cpu", c}, {"old", "0x0"}});
  EXPECT_NE(last_run(j).error().detail.find("more than 8192 CPUs"), std::string::npos);
}

TEST(RestoreHostile, NonStringFieldsDoNotThrow) {
  // Records built in memory skip read_journal()'s type checks: last_run must not throw.
  JournalContents j{{{{"schema", kJournalSchema}, {"run", 7}, {"event", "begin"}, {"command", {1}},
                       {"msr", "0x3a"}, {"mask", "0x4"}, {"cpus", {{{"cpu", 0}, {"old", "0x0"}}}}},
                      {{"schema", kJournalSchema}, {"run", nullptr}, {"event", "end"}, {"outcome", 3}},
                      nlohmann::json::array()},
                     {}};
  EXPECT_NO_THROW({
    auto r = last_run(j);
    ASSERT_TRUE(r.ok());
  });
}

// ---- another boot's run (issue 11 item 8) ---------------------------------------------------

TEST(RestoreBoot, ARunOfAnotherBootIsRefused) {
  FakeMsrDevice dev(kVmCr, {{0, 0x10}});
  MemoryJournal journal;
  ApplyRequest req;
  req.msr = kVmCr;
  req.enable_clear = 0x10;
  req.run_id = "run-1";
  req.boot_id = "11111111-aaaa";
  req.cpus.push_back({0, 0x10, 0x0, 0x0});
  ASSERT_EQ(apply(req, dev, journal).outcome, ApplyOutcome::applied);
  EXPECT_EQ(journal.records.front()["boot"], "11111111-aaaa");
  auto run = last_run(contents(journal));
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->boot_id, "11111111-aaaa");
  EXPECT_EQ(check_same_boot(*run, "11111111-aaaa"), std::nullopt);
  auto other = check_same_boot(*run, "22222222-bbbb");
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->kind, ErrorKind::bad_input);
  EXPECT_NE(other->detail.find("another boot (boot id 11111111-aaaa, now 22222222-bbbb)"), std::string::npos)
      << other->detail;
  run->boot_id.clear();
  auto none = check_same_boot(*run, "22222222-bbbb");
  ASSERT_TRUE(none.has_value());
  EXPECT_NE(none->detail.find("recorded no boot id"), std::string::npos);
  // restore's own "begin" line carries the boot too.
  run->boot_id = "11111111-aaaa";
  std::size_t lines = journal.records.size();
  restore(*run, dev, journal, nullptr, "run-2", "t");
  ASSERT_GT(journal.records.size(), lines);
  EXPECT_EQ(journal.records[lines]["boot"], "11111111-aaaa");
}

TEST(RestoreBoot, TheBootIdIsReadFromProc) {
  auto id = current_boot_id();
  if (!id.ok()) GTEST_SKIP() << "no /proc/sys/kernel/random/boot_id here: " << id.error().detail;
  EXPECT_EQ(id->size(), 36u) << *id;  // a UUID, without its newline
  EXPECT_EQ(*current_boot_id(), *id);
  EXPECT_FALSE(current_boot_id("/nonexistent/boot_id").ok());
}

}  // namespace
}  // namespace kvmprobe::provision
