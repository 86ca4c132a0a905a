#include "core/collect/collect.h"

#include <gtest/gtest.h>
#include <linux/kvm.h>

#include <algorithm>

#include "core/collect/msr_probe_list.h"
#include "tests/support/fake_sources.h"

namespace kvmprobe::collect {
namespace {

using testing::FakeHostWorld;
using testing::FakeMsrSource;

bool mentions(const std::vector<std::string>& notes, const std::string& text) {
  return std::any_of(notes.begin(), notes.end(),
                     [&](const std::string& n) { return n.find(text) != std::string::npos; });
}

Snapshot run(FakeHostWorld& w, const CollectOptions& opt = {}) {
  auto src = w.sources();
  auto r = collect(opt, src);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().detail);
  return r.ok() ? std::move(r).value() : Snapshot{};
}

TEST(CollectHost, RecordsHostFactsAndEveryOnlineCpu) {
  FakeHostWorld w;
  Snapshot s = run(w);
  EXPECT_EQ(s.origin, "live");
  EXPECT_EQ(s.kernel_release, "6.1.0-test-amd64");
  EXPECT_EQ(s.kernel_version, "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-01-01)");
  EXPECT_EQ(s.hostname, "fakehost");
  EXPECT_EQ(s.taken_at, "2026-11-28T12:00:00Z");
  EXPECT_TRUE(s.is_root);
  EXPECT_EQ(s.kernel_cmdline, "BOOT_IMAGE=/vmlinuz root=/dev/vda1 quiet");
  EXPECT_EQ(s.online_cpus, (std::vector<unsigned>{0, 1}));
  ASSERT_EQ(s.cpus.size(), 2u);
  EXPECT_EQ(s.cpus[1].cpu, 1u);
  EXPECT_NE(s.cpus[0].find_cpuid(0xD, 1), nullptr);
  ASSERT_TRUE(s.cpus[0].linux_flags.has_value());
  EXPECT_EQ(s.cpus[0].has_linux_flag("constant_tsc"), true);
  EXPECT_EQ(w.cpuid.finished, 1);
  EXPECT_EQ(w.xgetbv.finished, 1);
}

TEST(CollectHost, OfflineCpusAreSkipped) {
  FakeHostWorld w;
  w.tree.write("/sys/devices/system/cpu/online", "0,2-3\n");
  Snapshot s = run(w);
  ASSERT_EQ(s.cpus.size(), 3u);
  EXPECT_EQ(s.cpus[1].cpu, 2u);
  EXPECT_EQ(s.cpus[2].cpu, 3u);
  // /proc/cpuinfo of the fixture lists CPUs 0 and 1 only.
  EXPECT_FALSE(s.cpus[1].linux_flags.has_value());
  EXPECT_TRUE(mentions(s.notes, "/proc/cpuinfo has no flags for CPU 2-3"));
}

TEST(CollectHost, UnreadableOrMalformedOnlineListIsAnError) {
  FakeHostWorld w;
  w.tree.write("/sys/devices/system/cpu/online", "0-x\n");
  auto src = w.sources();
  EXPECT_FALSE(collect({}, src).ok());
  std::filesystem::remove(w.tree.real("/sys/devices/system/cpu/online"));
  auto r = collect({}, src);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::io);
}

TEST(CollectHost, MissingSourceIsAnInternalError) {
  FakeHostWorld w;
  auto src = w.sources();
  src.kvm = nullptr;
  auto r = collect({}, src);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::internal);
}

TEST(CollectXgetbv, SkippedOnCpusWithoutOsxsave) {
  FakeHostWorld w;
  w.cpuid.set_on(1, 1, 0, 0x00A00F11, 0, 1u << 26, 0);  // XSAVE but not OSXSAVE on CPU 1
  Snapshot s = run(w);
  EXPECT_EQ(w.xgetbv.asked, (std::vector<unsigned>{0}));
  EXPECT_EQ(s.cpus[0].xcr0, 0x7u);
  EXPECT_FALSE(s.cpus[1].xcr0.has_value());
}

TEST(CollectXgetbv, FailureIsANoteNotZero) {
  FakeHostWorld w;
  w.xgetbv.xcr0.erase(1);
  Snapshot s = run(w);
  EXPECT_FALSE(s.cpus[1].xcr0.has_value());
  EXPECT_TRUE(mentions(s.notes, "cpu 1: XCR0 unreadable"));
}

TEST(CollectMsr, MissingNodeAsRootRunsModprobeOnce) {
  FakeHostWorld w;
  Snapshot s = run(w);
  EXPECT_EQ(w.host.modprobed, (std::vector<std::string>{"msr"}));
  EXPECT_EQ(s.msr_backend, "none");
  EXPECT_TRUE(mentions(s.notes, "modprobe msr failed (exit 1): modprobe: FATAL"));
  // The short per-CPU set is recorded as unavailable, with the errno; never as 0.
  ASSERT_EQ(s.cpus[0].msrs.size(), per_cpu_msr_list().size());
  const MsrRead* feat = s.cpus[0].find_msr(0x3A);
  ASSERT_NE(feat, nullptr);
  EXPECT_EQ(feat->status, ReadStatus::unavailable);
  EXPECT_EQ(feat->error, ENOENT);
}

TEST(CollectMsr, SuccessfulModprobeSwitchesToTheMsrBackend) {
  FakeHostWorld w;
  w.host.on_modprobe = [&](std::string_view) {
    w.msr.probe_error = 0;  // the nodes appear
    return Result<int>(0);
  };
  w.msr.set(0, 0x3A, 0x5);
  w.msr.deny(1, 0x3A);
  Snapshot s = run(w);
  EXPECT_EQ(s.msr_backend, "msr");
  EXPECT_TRUE(mentions(s.notes, "loaded the msr module"));
  EXPECT_EQ(s.cpus[0].msrs.size(), boot_cpu_msr_probe_list().size());
  EXPECT_EQ(s.cpus[1].msrs.size(), per_cpu_msr_list().size());
  EXPECT_EQ(s.cpus[0].find_msr(0x3A)->value, 0x5u);
  EXPECT_EQ(s.cpus[1].find_msr(0x3A)->status, ReadStatus::denied);
  EXPECT_EQ(s.cpus[1].find_msr(0x480)->status, ReadStatus::fault);  // unset MSR: #GP
  EXPECT_TRUE(std::is_sorted(s.cpus[0].msrs.begin(), s.cpus[0].msrs.end(),
                             [](const MsrRead& a, const MsrRead& b) { return a.index < b.index; }));
}

TEST(CollectMsr, NoModprobeWhenNotRootOrToldNotToOrWithoutModules) {
  {
    FakeHostWorld w;
    w.host.root = false;
    Snapshot s = run(w);
    EXPECT_TRUE(w.host.modprobed.empty());
    EXPECT_EQ(s.msr_backend, "none");
    EXPECT_TRUE(mentions(s.notes, "not root"));
  }
  {
    FakeHostWorld w;
    CollectOptions opt;
    opt.load_msr_module = false;
    run(w, opt);
    EXPECT_TRUE(w.host.modprobed.empty());
  }
  {
    FakeHostWorld w;
    std::filesystem::remove(w.tree.real("/proc/modules"));
    Snapshot s = run(w);
    EXPECT_TRUE(w.host.modprobed.empty());
    EXPECT_TRUE(mentions(s.notes, "no loadable-module support"));
  }
  {
    FakeHostWorld w;
    std::filesystem::remove_all(w.tree.real("/lib/modules"));
    Snapshot s = run(w);
    EXPECT_TRUE(w.host.modprobed.empty());
    EXPECT_TRUE(mentions(s.notes, "/lib/modules/6.1.0-test-amd64 missing"));
  }
}

TEST(CollectMsr, DeniedNodeRecordsDenied) {
  FakeHostWorld w;
  w.msr.probe_error = EACCES;
  w.host.root = false;
  Snapshot s = run(w);
  EXPECT_EQ(s.msr_backend, "none");
  EXPECT_EQ(s.cpus[1].find_msr(0xC0010114)->status, ReadStatus::denied);
  EXPECT_EQ(s.cpus[1].find_msr(0xC0010114)->error, EACCES);
}

TEST(CollectMsr, BackendNoneAndMissingDriver) {
  FakeHostWorld w;
  w.msr.probe_error = 0;
  CollectOptions opt;
  opt.backend = CollectOptions::Backend::none;
  Snapshot s = run(w, opt);
  EXPECT_EQ(s.msr_backend, "none");
  EXPECT_EQ(w.msr.reads, 0);
  EXPECT_EQ(s.cpus[0].find_msr(0x3A)->status, ReadStatus::unavailable);

  opt.backend = CollectOptions::Backend::driver;
  auto src = w.sources();
  auto r = collect(opt, src);
  ASSERT_FALSE(r.ok());  // forced driver without one: an error, not a quiet "none"
  EXPECT_EQ(r.error().kind, ErrorKind::missing);
  EXPECT_NE(r.error().detail.find("no companion-driver backend"), std::string::npos);
}

TEST(CollectMsr, DriverIsPreferredWhenPresent) {
  FakeHostWorld w;
  FakeMsrSource driver("driver");
  driver.set(0, 0x3A, 0x1);
  auto src = w.sources();
  src.msr_driver = &driver;
  auto r = collect({}, src);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->msr_backend, "driver");
  EXPECT_EQ(r->cpus[0].find_msr(0x3A)->value, 0x1u);
  EXPECT_TRUE(w.host.modprobed.empty());
}

TEST(CollectKvm, RecordsKvmAnswers) {
  FakeHostWorld w;
  Snapshot s = run(w);
  EXPECT_TRUE(s.kvm.present);
  EXPECT_TRUE(s.kvm.openable);
  EXPECT_EQ(s.kvm.api_version, 12);
  EXPECT_EQ(s.kvm.msr_index_list, (std::vector<std::uint32_t>{0x174, 0x175, 0x10}));
  EXPECT_EQ(s.kvm.feature_msr_list, (std::vector<std::uint32_t>{0x8b, 0x10a}));
  EXPECT_EQ(s.kvm.cap_tsc_control, 0);
  EXPECT_EQ(w.kvm.last_cap, KVM_CAP_TSC_CONTROL);
  EXPECT_EQ(s.kvm.vcpu_tsc_khz, 2596152u);
  EXPECT_EQ(s.kvm.supported_xcr0, 0xe7u);
  EXPECT_TRUE(s.kvm.error.empty());
  EXPECT_EQ(w.kvm.closes, 1);
}

TEST(CollectKvm, FailedAnswersStayAbsentWithTheReason) {
  FakeHostWorld w;
  w.kvm.tsc_khz = make_error(ErrorKind::io, "KVM_CREATE_VM: Device or resource busy", {}, EBUSY);
  Snapshot s = run(w);
  EXPECT_FALSE(s.kvm.vcpu_tsc_khz.has_value());
  EXPECT_NE(s.kvm.error.find("KVM_CREATE_VM"), std::string::npos);
  ASSERT_FALSE(s.tsc.empty());
  EXPECT_NE(s.tsc.front().source, TscSource::kvm_vcpu);
}

TEST(CollectKvm, AbsentAndUnopenableDevice) {
  FakeHostWorld w;
  w.kvm.open_error = ENOENT;
  Snapshot s = run(w);
  EXPECT_FALSE(s.kvm.present);
  EXPECT_FALSE(s.kvm.openable);
  EXPECT_FALSE(s.kvm.api_version.has_value());

  w.kvm.open_error = EACCES;
  s = run(w);
  EXPECT_TRUE(s.kvm.present);
  EXPECT_FALSE(s.kvm.openable);
  EXPECT_EQ(s.kvm.open_error, EACCES);
}

TEST(CollectKernelLogAndPerf, RelevantLinesPmuVerdictAndTsc) {
  FakeHostWorld w;
  w.log.lines = {
      "[    0.000052] tsc: Detected 2596.098 MHz processor",
      "[    0.100000] EXT4-fs (vda): mounted",
      "[    0.252412] Performance Events: PMU not available due to virtualization, using software "
      "events only.",
  };
  Snapshot s = run(w);
  EXPECT_TRUE(s.kernel_log_read);
  EXPECT_EQ(s.kernel_log.size(), 2u);
  EXPECT_EQ(s.perf.hw_pmu, Tri::no);
  EXPECT_NE(s.perf.evidence.find("PMU not available"), std::string::npos);
  ASSERT_GE(s.tsc.size(), 3u);
  EXPECT_EQ(s.tsc[0].source, TscSource::kvm_vcpu);
  EXPECT_TRUE(s.tsc[0].exact);  // constant_tsc in /proc/cpuinfo
  EXPECT_EQ(s.tsc[1].source, TscSource::kernel_log);
  EXPECT_EQ(s.tsc[1].khz, 2596098u);
  EXPECT_EQ(s.tsc.back().source, TscSource::cpuinfo_mhz);
}

TEST(CollectTscExactness, NonConstantTscIsExactOnlyWithoutCpufreqPolicies) {
  FakeHostWorld w;
  w.tree.write("/proc/cpuinfo",
               "processor\t: 0\nflags\t\t: fpu\n\nprocessor\t: 1\nflags\t\t: fpu\n\n");
  Snapshot s = run(w);
  ASSERT_FALSE(s.tsc.empty());
  EXPECT_EQ(s.tsc[0].source, TscSource::kvm_vcpu);
  EXPECT_TRUE(s.tsc[0].exact);  // no /sys/devices/system/cpu/cpufreq at all
  w.tree.mkdir("/sys/devices/system/cpu/cpufreq/policy0");
  s = run(w);
  EXPECT_FALSE(s.tsc[0].exact);
}

TEST(CollectKernelLogAndPerf, UnreadableLogIsFlaggedAndNoted) {
  FakeHostWorld w;
  w.log.fail = true;
  Snapshot s = run(w);
  EXPECT_FALSE(s.kernel_log_read);
  EXPECT_TRUE(s.kernel_log.empty());
  EXPECT_TRUE(mentions(s.notes, "kernel log unreadable"));
  EXPECT_EQ(s.perf.hw_pmu, Tri::no);  // decided from sysfs alone
}

TEST(CollectModules, LoadedModulesAndConfiguredParams) {
  FakeHostWorld w;
  w.tree.write("/sys/module/kvm/parameters/enable_pmu", "N\n");
  w.tree.write("/sys/module/kvm_pvm/parameters/x", "1\n");
  w.tree.write("/etc/modprobe.d/kvm.conf", "options kvm_amd nested=0\n");
  w.tree.write("/proc/cmdline", "quiet kvm.enable_pmu=0\n");
  Snapshot s = run(w);
  ASSERT_NE(s.find_module("kvm"), nullptr);
  EXPECT_EQ(s.find_module("kvm")->params.at("enable_pmu"), "N");
  EXPECT_NE(s.find_module("kvm_pvm"), nullptr);
  EXPECT_EQ(s.configured_params.at("kvm_amd.nested"), "0");
  EXPECT_EQ(s.param_origins.at("kvm_amd.nested"), "/etc/modprobe.d/kvm.conf:1");
  EXPECT_EQ(s.configured_params.at("kvm.enable_pmu"), "0");
  EXPECT_EQ(s.param_origins.at("kvm.enable_pmu"), "kernel command line");
}

TEST(CollectHost, CpuidFailureOnOneCpuIsANote) {
  FakeHostWorld w;
  w.cpuid.fail_cpu(1);
  Snapshot s = run(w);
  ASSERT_EQ(s.cpus.size(), 2u);
  EXPECT_TRUE(s.cpus[1].cpuid.empty());
  EXPECT_FALSE(s.cpus[1].xcr0.has_value());
  EXPECT_TRUE(mentions(s.notes, "cpu 1: CPUID unreadable"));
}

}  // namespace
}  // namespace kvmprobe::collect
