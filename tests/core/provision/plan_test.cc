// make_plan(): per-CPU old → new for 0x3a / VM_CR, already done, locked off (with who locked it
// and the remedy), no support, mixed states, --cpus, --smx, tboot, and the kernel's boot-time
// decisions. All from snapshots: recorded hosts and synthetic multi-CPU ones.
#include "core/provision/plan.h"

#include <gtest/gtest.h>

#include "cli/write_exit.h"
#include "core/collect/snapshot_json.h"
#include "core/profiles/profiles.h"
#include "tests/support/shared_data.h"
#include "tests/support/snapshot_builder.h"

namespace kvmprobe::provision {
namespace {

Snapshot load(const std::string& name) {
  auto s = collect::load_snapshot_file(testing::test_data("snapshots/" + name).string());
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().detail);
  return s.ok() ? *s : Snapshot{};
}

/// An Intel host with VMX (and SMX when asked), one CPU per value of \a feat_ctl.
Snapshot intel(const std::vector<std::uint64_t>& feat_ctl, bool smx = false, const std::string& kernel = "4.19.0") {
  testing::SnapshotBuilder b;
  b.vendor("GenuineIntel", 0xd, 0x80000008).bit(1, 0, Reg::ecx, 5).kernel(kernel);
  if (smx) b.bit(1, 0, Reg::ecx, 6);
  Snapshot s = b.build();
  CpuRecord proto = s.cpus.front();
  s.cpus.clear();
  s.online_cpus.clear();
  for (unsigned c = 0; c < feat_ctl.size(); ++c) {
    CpuRecord r = proto;
    r.cpu = c;
    r.msrs = {MsrRead{0x3a, ReadStatus::value, feat_ctl[c], 0}};
    s.cpus.push_back(r);
    s.online_cpus.push_back(c);
  }
  return s;
}

Snapshot amd(const std::vector<std::uint64_t>& vm_cr, const std::string& kernel = "6.1.0") {
  testing::SnapshotBuilder b;
  b.vendor("AuthenticAMD", 0xd, 0x8000001f).bit(0x80000001, 0, Reg::ecx, 2).kernel(kernel);
  Snapshot s = b.build();
  CpuRecord proto = s.cpus.front();
  s.cpus.clear();
  s.online_cpus.clear();
  for (unsigned c = 0; c < vm_cr.size(); ++c) {
    CpuRecord r = proto;
    r.cpu = c;
    r.msrs = {MsrRead{0xc0010114, ReadStatus::value, vm_cr[c], 0}};
    s.cpus.push_back(r);
    s.online_cpus.push_back(c);
  }
  return s;
}

DesiredState enable_vmx(bool lock = true, Want smx = Want::no) {
  VmxWant v;
  v.lock = lock;
  v.smx = smx;
  return DesiredState{v, true};
}

Plan plan_of(const Snapshot& s, const DesiredState& d, PlanOptions o = {}) {
  auto p = make_plan(s, d, o);
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().detail);
  return p.ok() ? *p : Plan{};
}

TEST(Plan, UnlockedIntelGetsVmxThenLock) {
  Plan p = plan_of(intel({0, 0}), enable_vmx());
  EXPECT_EQ(p.verdict, PlanVerdict::apply);
  EXPECT_EQ(p.msr, kFeatureControl);
  EXPECT_EQ(p.enable_set, 0x4u);
  EXPECT_EQ(p.lock_set, 0x1u);
  ASSERT_EQ(p.cpus.size(), 2u);
  for (const auto& c : p.cpus) {
    EXPECT_EQ(c.action, CpuAction::change);
    EXPECT_EQ(c.old_value, 0u);
    EXPECT_EQ(c.enabled_value, 0x4u);
    EXPECT_EQ(c.new_value, 0x5u);
  }
  EXPECT_TRUE(p.locks());
  ASSERT_FALSE(p.warnings.empty());
  EXPECT_NE(p.warnings.front().find("until the next reset"), std::string::npos);
}

TEST(Plan, LockedWithVmxOnIsNothingToDo) {
  Plan p = plan_of(load("intel-xeon-8180-skylake-sp-vmx.json"), enable_vmx());
  EXPECT_EQ(p.verdict, PlanVerdict::nothing_to_do);
  EXPECT_EQ(cli::plan_exit(p.verdict), cli::ExitCode::ok);
  for (const auto& c : p.cpus) EXPECT_EQ(c.action, CpuAction::done);
}

TEST(Plan, LockedWithVmxOffIsFirmwareWithWhoAndRemedy) {
  Plan p = plan_of(load("intel-core-i7-8700k-vmx-locked-off.json"), enable_vmx());
  EXPECT_EQ(p.verdict, PlanVerdict::locked_off);
  EXPECT_EQ(cli::plan_exit(p.verdict), cli::ExitCode::firmware_disabled);
  EXPECT_NE(p.who_locked.find("firmware"), std::string::npos) << p.who_locked;
  EXPECT_NE(p.remedy.find("Intel Virtualization Technology (VT-x)"), std::string::npos) << p.remedy;
  EXPECT_NE(p.remedy.find("power-cycle"), std::string::npos);
  for (const auto& c : p.cpus) {
    EXPECT_EQ(c.action, CpuAction::locked_off);
    EXPECT_EQ(c.missing, std::vector<std::string>{"VMX outside SMX"});
  }
}

TEST(Plan, KernelLockedValueIsAttributedByTheAnalysis) {
  // 6.1 runs feat_ctl.c: LMCE set means firmware locked it.
  Snapshot s = intel({0x100001, 0x100001}, false, "6.1.0-56-amd64");
  Plan p = plan_of(s, enable_vmx());
  EXPECT_EQ(p.verdict, PlanVerdict::locked_off);
  EXPECT_NE(p.who_locked.find("LMCE"), std::string::npos) << p.who_locked;
}

TEST(Plan, NoVmxIsNoSupportAndNothingPlanned) {
  Plan p = plan_of(load("qemu-6.1-skylake-server-v4.json"), enable_vmx());
  EXPECT_EQ(p.verdict, PlanVerdict::no_support);
  EXPECT_EQ(cli::plan_exit(p.verdict), cli::ExitCode::no_support);
  EXPECT_TRUE(p.cpus.empty());
}

TEST(Plan, EpycUnderTcgIsNothingToDo) {
  for (const char* f : {"qemu-6.1-epyc.json", "qemu-6.12-epyc.json"}) {
    Snapshot s = load(f);
    Plan p = plan_of(s, enable_vmx());
    EXPECT_EQ(p.verdict, PlanVerdict::nothing_to_do) << f << ": " << p.summary;
    EXPECT_EQ(p.msr, kVmCr);
  }
}

TEST(Plan, MixedStatesArePerCpu) {
  // cpu0 locked on, cpu1 unlocked off, cpu2 unlocked on (lock only), cpu3 unlocked off.
  Plan p = plan_of(intel({0x5, 0x0, 0x4, 0x0}), enable_vmx());
  EXPECT_EQ(p.verdict, PlanVerdict::apply);
  EXPECT_EQ(p.cpus[0].action, CpuAction::done);
  EXPECT_EQ(p.cpus[1].action, CpuAction::change);
  EXPECT_EQ(p.cpus[2].action, CpuAction::change);
  EXPECT_EQ(p.cpus[2].enabled_value, 0x4u);
  EXPECT_EQ(p.cpus[2].new_value, 0x5u);
  EXPECT_NE(p.summary.find("CPUs 1-3"), std::string::npos) << p.summary;
  EXPECT_NE(p.summary.find("CPUs 0 already done"), std::string::npos) << p.summary;
}

TEST(Plan, OneCpuLockedOffBlocksEveryWrite) {
  Plan p = plan_of(intel({0x0, 0x1, 0x0}), enable_vmx());
  EXPECT_EQ(p.verdict, PlanVerdict::locked_off);
  EXPECT_EQ(p.cpus_with(CpuAction::locked_off), std::vector<unsigned>{1});
  EXPECT_EQ(p.cpus_with(CpuAction::change), (std::vector<unsigned>{0, 2}));
  ASSERT_FALSE(p.notes.empty());
  EXPECT_NE(p.notes.back().find("left alone"), std::string::npos);
}

TEST(Plan, UnreadableMsrCannotTell) {
  Snapshot s = intel({0x0, 0x0});
  s.cpus[1].msrs = {MsrRead{0x3a, ReadStatus::denied, 0, EACCES}};
  Plan p = plan_of(s, enable_vmx());
  EXPECT_EQ(p.verdict, PlanVerdict::cannot_tell);
  EXPECT_EQ(cli::plan_exit(p.verdict), cli::ExitCode::cannot_tell);
  EXPECT_NE(p.summary.find("CPUs 1"), std::string::npos);
}

TEST(Plan, NoLockLeavesItUnlockedAndAcceptsUnlockedOn) {
  Plan p = plan_of(intel({0x0, 0x4}), enable_vmx(false));
  EXPECT_EQ(p.lock_set, 0u);
  EXPECT_EQ(p.cpus[0].new_value, 0x4u);
  EXPECT_EQ(p.cpus[1].action, CpuAction::done);
  EXPECT_FALSE(p.locks());
  Plan done = plan_of(intel({0x4, 0x5}), enable_vmx(false));
  EXPECT_EQ(done.verdict, PlanVerdict::nothing_to_do);
}

TEST(Plan, SmxOnlyWhenTheCpuHasIt) {
  Plan without = plan_of(intel({0x0}), enable_vmx(true, Want::if_supported));
  EXPECT_EQ(without.enable_set, 0x4u);
  ASSERT_FALSE(without.notes.empty());
  EXPECT_NE(without.notes.front().find("has no SMX"), std::string::npos) << without.notes.front();
  Plan with = plan_of(intel({0x0}, true), enable_vmx(true, Want::if_supported));
  EXPECT_EQ(with.enable_set, 0x6u);
  EXPECT_EQ(with.cpus[0].new_value, 0x7u);
  Plan required = plan_of(intel({0x0}), enable_vmx(true, Want::yes));
  EXPECT_EQ(required.verdict, PlanVerdict::no_support);
}

TEST(Plan, TbootForcesVmxInsideSmx) {
  Snapshot s = intel({0x0}, true);
  s.kernel_log.push_back("[    0.000000] tboot: found shared page at phys addr 0x...");
  Plan p = plan_of(s, enable_vmx());
  EXPECT_EQ(p.enable_set, 0x6u);
}

TEST(Plan, CpusSelectsAndWarnsAboutTheRest) {
  PlanOptions o;
  o.cpus = std::vector<unsigned>{0, 1};
  Plan p = plan_of(intel({0, 0, 0, 0}), enable_vmx(), o);
  EXPECT_EQ(p.verdict, PlanVerdict::apply);
  EXPECT_EQ(p.cpus_with(CpuAction::not_selected), (std::vector<unsigned>{2, 3}));
  bool warned = false;
  for (const auto& w : p.warnings) warned |= w.find("feature inconsistency") != std::string::npos;
  EXPECT_TRUE(warned);
  o.cpus = std::vector<unsigned>{7};
  auto bad = make_plan(intel({0, 0}), enable_vmx(), o);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::usage);
}

TEST(Plan, AmdClearsSvmdisWhenUnlocked) {
  Plan p = plan_of(amd({0x10, 0x10}), enable_vmx());
  EXPECT_EQ(p.verdict, PlanVerdict::apply);
  EXPECT_EQ(p.msr, kVmCr);
  EXPECT_EQ(p.enable_clear, 0x10u);
  EXPECT_EQ(p.lock_set, 0u);
  EXPECT_EQ(p.cpus[0].new_value, 0u);
}

TEST(Plan, AmdLockedWithSvmdisIsFirmware) {
  Plan p = plan_of(load("amd-epyc-7742-svm-disabled-locked.json"), enable_vmx());
  EXPECT_EQ(p.verdict, PlanVerdict::locked_off);
  EXPECT_NE(p.remedy.find("SVM Mode"), std::string::npos);
  EXPECT_NE(p.who_locked.find("firmware"), std::string::npos);
}

TEST(Plan, AmdMixedSvmdisIsPerCpu) {
  Plan p = plan_of(amd({0x0, 0x10, 0x18}), enable_vmx());
  EXPECT_EQ(p.verdict, PlanVerdict::locked_off);
  EXPECT_EQ(p.cpus[0].action, CpuAction::done);
  EXPECT_EQ(p.cpus[1].action, CpuAction::change);
  EXPECT_EQ(p.cpus[2].action, CpuAction::locked_off);
}

TEST(Plan, KernelThatDecidedAtBootIsAWarning) {
  Snapshot s = amd({0x10}, "6.12.0");
  s.cpus[0].linux_flags = std::vector<std::string>{"fpu", "msr"};
  Plan p = plan_of(s, enable_vmx());
  EXPECT_EQ(p.verdict, PlanVerdict::apply);
  bool warned = false;
  for (const auto& w : p.warnings) warned |= w.find("until the next boot") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST(Plan, ProfileWithoutTheVendorSectionIsBadInput) {
  auto p = make_plan(amd({0x10}), DesiredState{VmxWant{}, false});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().kind, ErrorKind::bad_input);
  auto q = make_plan(intel({0x0}), DesiredState{std::nullopt, true});
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.error().kind, ErrorKind::bad_input);
}

TEST(Plan, PlanningIsIdempotentAfterApplying) {
  Plan first = plan_of(intel({0x0, 0x4}), enable_vmx());
  std::vector<std::uint64_t> after;
  for (const auto& c : first.cpus) after.push_back(c.new_value);
  Plan second = plan_of(intel(after), enable_vmx());
  EXPECT_EQ(second.verdict, PlanVerdict::nothing_to_do);
}

}  // namespace
}  // namespace kvmprobe::provision
