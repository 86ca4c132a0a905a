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

}  // namespace
}  // namespace kvmprobe::provision
