#include "core/collect/driver_source.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "core/collect/collect.h"
#include "core/collect/msr_probe_list.h"
#include "tests/support/fake_driver.h"
#include "tests/support/fake_sources.h"

namespace kvmprobe::collect {
namespace {

using testing::FakeDriverKernel;
using testing::FakeHostWorld;

bool mentions(const std::vector<std::string>& notes, const std::string& text) {
  return std::any_of(notes.begin(), notes.end(),
                     [&](const std::string& n) { return n.find(text) != std::string::npos; });
}

/// A fake kernel, a DriverSource opening it, and how often it was opened.
struct Driver {
  FakeDriverKernel k;
  int open_errno = 0;
  int opens = 0;
  DriverSource src{[this]() {
    ++opens;
    return testing::fake_driver_opener(k, open_errno)();
  }};
  int ioctls(unsigned long request) { return k.calls[request]; }
};

std::vector<std::uint32_t> iota_indices(std::size_t n) {
  std::vector<std::uint32_t> v(n);
  std::iota(v.begin(), v.end(), 0x100u);
  return v;
}

TEST(DriverDevice, OpenChecksTheAbiVersion) {
  FakeDriverKernel k;
  k.abi_version = KVMPROBE_ABI_VERSION + 1;
  auto dev = DriverDevice::attach(std::make_unique<testing::FakeDriverFd>(k), "/dev/kvmprobe");
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.error().kind, ErrorKind::missing);
  EXPECT_EQ(dev.error().err, EPROTO);
  EXPECT_NE(dev.error().detail.find("speaks driver ABI version 2, this kvmprobe speaks 1"),
            std::string::npos);
  EXPECT_NE(dev.error().hint.find("kvmprobe driver load"), std::string::npos);
}

TEST(DriverDevice, MissingNodeSaysHowToLoadIt) {
  auto dev = DriverDevice::open("/nonexistent/kvmprobe");
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.error().kind, ErrorKind::missing);
  EXPECT_EQ(dev.error().err, ENOENT);
  EXPECT_NE(dev.error().detail.find("not loaded"), std::string::npos);
  EXPECT_NE(dev.error().hint.find("kvmprobe driver load"), std::string::npos);
}

TEST(DriverDevice, PermissionDeniedSaysRootOnly) {
  Error e = driver_open_error("/dev/kvmprobe", EACCES);
  EXPECT_EQ(e.kind, ErrorKind::missing);
  EXPECT_NE(e.detail.find("root only"), std::string::npos);
  EXPECT_EQ(e.hint, "run kvmprobe as root");
}

TEST(DriverDevice, ReadMsrsRefusesEmptyAndOversizedBatchesWithoutAnIoctl) {
  FakeDriverKernel k;
  auto dev = DriverDevice::attach(std::make_unique<testing::FakeDriverFd>(k), "/dev/kvmprobe");
  ASSERT_TRUE(dev.ok());
  std::vector<kvmprobe_msr_entry> none, many(KVMPROBE_MAX_MSRS + 1);
  EXPECT_FALSE(dev->read_msrs(0, none).ok());
  EXPECT_FALSE(dev->read_msrs(0, many).ok());
  EXPECT_EQ(k.calls[KVMPROBE_IOC_READ_MSRS], 0);
}

TEST(DriverSource, ReadsABatchInOneIoctlPerCpu) {
  Driver d;
  d.k.msrs[{1, 0x3a}] = 0x5;
  d.k.msrs[{1, 0xc0010114}] = 0x10;
  auto list = boot_cpu_msr_probe_list();
  ASSERT_LE(list.size(), std::size_t{KVMPROBE_MAX_MSRS});  // one batch for the longest list
  auto reads = d.src.read_many(1, list);
  ASSERT_EQ(reads.size(), list.size());
  EXPECT_EQ(d.ioctls(KVMPROBE_IOC_READ_MSRS), 1);
  EXPECT_EQ(d.ioctls(KVMPROBE_IOC_GET_VERSION), 1);
  for (std::size_t i = 0; i < list.size(); ++i) EXPECT_EQ(reads[i].index, list[i]);
  auto at = [&](std::uint32_t index) {
    return *std::find_if(reads.begin(), reads.end(), [&](const MsrRead& r) { return r.index == index; });
  };
  EXPECT_EQ(at(0x3a).status, ReadStatus::value);
  EXPECT_EQ(at(0x3a).value, 0x5u);
  EXPECT_EQ(at(0xc0010114).value, 0x10u);
  EXPECT_EQ(at(0x480).status, ReadStatus::fault);  // unset: the fake kernel raises #GP
  EXPECT_EQ(at(0x480).error, EIO);
  (void)d.src.read_many(0, per_cpu_msr_list());
  EXPECT_EQ(d.ioctls(KVMPROBE_IOC_READ_MSRS), 2);
  EXPECT_EQ(d.opens, 1);  // kept open
}

TEST(DriverSource, SplitsLongListsIntoBatchesOfTheDriversMaximum) {
  Driver d;
  auto idx = iota_indices(600);
  for (auto i : idx) d.k.msrs[{0, i}] = i * 3;
  auto reads = d.src.read_many(0, idx);
  EXPECT_EQ(d.ioctls(KVMPROBE_IOC_READ_MSRS), 3);  // 256 + 256 + 88
  ASSERT_EQ(reads.size(), 600u);
  EXPECT_EQ(reads[599].index, idx[599]);
  EXPECT_EQ(reads[599].value, idx[599] * 3u);

  Driver small;
  small.k.max_msrs = 100;
  (void)small.src.read_many(0, idx);
  EXPECT_EQ(small.ioctls(KVMPROBE_IOC_READ_MSRS), 6);
}

TEST(DriverSource, AFailedCallMarksItsBatchWithTheErrno) {
  Driver d;
  d.k.fail_errno = EPERM;
  auto reads = d.src.read_many(0, per_cpu_msr_list());
  EXPECT_EQ(reads.front().status, ReadStatus::denied);
  EXPECT_EQ(reads.front().error, EPERM);
  d.k.fail_errno = ENXIO;
  EXPECT_EQ(d.src.read(0, 0x3a).status, ReadStatus::unavailable);
  EXPECT_EQ(d.src.read(0, 0x3a).error, ENXIO);
  // A CPU past nr_cpu_ids is refused before any ioctl.
  int before = d.k.total_calls;
  EXPECT_EQ(d.src.probe(7), ENXIO);
  EXPECT_EQ(d.src.read(7, 0x3a).error, ENXIO);
  EXPECT_EQ(d.k.total_calls, before);
}

TEST(DriverSource, ProbeGivesTheOpenErrnoAndRetriesLater) {
  Driver d;
  d.open_errno = ENOENT;
  EXPECT_EQ(d.src.probe(0), ENOENT);
  auto r = d.src.read(0, 0x3a);
  EXPECT_EQ(r.status, ReadStatus::unavailable);
  EXPECT_EQ(r.error, ENOENT);
  d.open_errno = 0;  // kvmprobe driver load
  EXPECT_EQ(d.src.probe(0), 0);
  EXPECT_EQ(d.opens, 3);
}

TEST(DriverSource, CpuStateKeepsOnlyTheFieldsTheDriverRead) {
  Driver d;
  kvmprobe_cpu_state st{};
  st.valid = KVMPROBE_STATE_CR0 | KVMPROBE_STATE_CR4 | KVMPROBE_STATE_EFER | KVMPROBE_STATE_FEAT;
  st.cr0 = 0x80050033;
  st.cr4 = 0x3506f0;  // OSXSAVE (bit 18) set, yet XCR0 not marked valid: not taken
  st.efer = 0xd01;
  st.xcr0 = 0x7;
  st.feat_msr = KVMPROBE_MSR_VM_CR;
  st.feat_value = 0x8;
  d.k.state[1] = st;
  auto regs = d.src.cpu_state(1);
  ASSERT_TRUE(regs.ok()) << regs.error().detail;
  EXPECT_EQ(regs->cr0, 0x80050033u);
  EXPECT_EQ(regs->cr4, 0x3506f0u);
  EXPECT_EQ(regs->efer, 0xd01u);
  EXPECT_EQ(regs->xcr0, std::nullopt);
  ASSERT_TRUE(regs->feature_msr);
  EXPECT_EQ(regs->feature_msr->index, KVMPROBE_MSR_VM_CR);
  EXPECT_EQ(regs->feature_msr->value, 0x8u);

  st.valid = KVMPROBE_STATE_CR4 | KVMPROBE_STATE_XCR0;
  st.fault = KVMPROBE_STATE_FEAT;
  d.k.state[0] = st;
  regs = d.src.cpu_state(0);
  ASSERT_TRUE(regs.ok());
  EXPECT_EQ(regs->cr0, std::nullopt);
  EXPECT_EQ(regs->xcr0, 0x7u);
  EXPECT_EQ(regs->feature_msr->status, ReadStatus::fault);
  EXPECT_EQ(d.ioctls(KVMPROBE_IOC_CPU_STATE), 2);

  EXPECT_FALSE(d.src.cpu_state(5).ok());  // ENXIO from the driver
}

TEST(DriverSource, KernelTscKhz) {
  Driver d;
  d.k.tsc_khz = 2596102;
  EXPECT_EQ(*d.src.kernel_tsc_khz(), 2596102u);
  d.k.tsc_khz = 0;
  EXPECT_FALSE(d.src.kernel_tsc_khz().ok());
  d.k.caps &= ~KVMPROBE_CAP_TSC;
  EXPECT_FALSE(d.src.kernel_tsc_khz().ok());
}

// --- collect() through the driver ---

/// FakeHostWorld plus a driver: CR4 with OSXSAVE (and VMXE on \a vmxe_cpu), EFER, XCR0 7.
struct DriverWorld : FakeHostWorld {
  Driver d;
  explicit DriverWorld(int vmxe_cpu = -1) {
    msr.probe_error = 0;  // /dev/cpu/N/msr present too
    for (unsigned cpu : {0u, 1u}) {
      kvmprobe_cpu_state st{};
      st.valid = KVMPROBE_STATE_CR0 | KVMPROBE_STATE_CR4 | KVMPROBE_STATE_EFER |
                 KVMPROBE_STATE_XCR0 | KVMPROBE_STATE_FEAT;
      st.cr0 = 0x80050033;
      st.cr4 = 0x3506f0 | (static_cast<int>(cpu) == vmxe_cpu ? 1u << 13 : 0u);
      st.efer = 0xd01;
      st.xcr0 = 0x7;
      st.feat_msr = KVMPROBE_MSR_VM_CR;
      st.feat_value = 0;
      d.k.state[cpu] = st;
      d.k.msrs[{cpu, 0xc0010114}] = 0;
      d.k.msrs[{cpu, 0x3a}] = 0x5;
    }
  }
  Sources with_driver() {
    Sources s = sources();
    s.msr_driver = &d.src;
    s.driver_state = &d.src;
    return s;
  }
};

Result<Snapshot> collect_with(DriverWorld& w, CollectOptions::Backend b) {
  CollectOptions opt;
  opt.backend = b;
  auto src = w.with_driver();
  return collect(opt, src);
}

TEST(CollectDriver, AutomaticPrefersTheDriverForEverything) {
  DriverWorld w;
  auto s = collect_with(w, CollectOptions::Backend::automatic);
  ASSERT_TRUE(s.ok()) << s.error().detail;
  EXPECT_EQ(s->msr_backend, "driver");
  ASSERT_EQ(s->cpus.size(), 2u);
  for (const CpuRecord& c : s->cpus) {
    EXPECT_EQ(c.cr4, 0x3506f0u) << c.cpu;
    EXPECT_EQ(c.cr0, 0x80050033u);
    EXPECT_EQ(c.efer, 0xd01u);
    EXPECT_EQ(c.xcr0, 0x7u);
    EXPECT_EQ(c.find_msr(0x3a)->value, 0x5u);
  }
  EXPECT_TRUE(w.xgetbv.asked.empty());  // XCR0 came from CPU_STATE
  EXPECT_EQ(w.msr.reads, 0);
  // O(1) ioctls per CPU: one READ_MSRS and one CPU_STATE each, one TSC, one GET_VERSION.
  EXPECT_EQ(w.d.ioctls(KVMPROBE_IOC_READ_MSRS), 2);
  EXPECT_EQ(w.d.ioctls(KVMPROBE_IOC_CPU_STATE), 2);
  EXPECT_EQ(w.d.ioctls(KVMPROBE_IOC_TSC), 1);
  EXPECT_EQ(w.d.ioctls(KVMPROBE_IOC_GET_VERSION), 1);
  auto tsc = std::find_if(s->tsc.begin(), s->tsc.end(),
                          [](const TscCandidate& t) { return t.source == TscSource::driver; });
  ASSERT_NE(tsc, s->tsc.end());
  EXPECT_EQ(tsc->khz, 2000000u);
  EXPECT_TRUE(tsc->exact);
}

TEST(CollectDriver, ForcedDriverThatIsNotLoadedIsAnErrorNamingTheFix) {
  DriverWorld w;
  w.d.open_errno = ENOENT;
  auto s = collect_with(w, CollectOptions::Backend::driver);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::missing);
  EXPECT_NE(s.error().hint.find("kvmprobe driver load"), std::string::npos);
  EXPECT_EQ(w.cpuid.calls, 0);  // refused before reading anything

  w.d.open_errno = EACCES;
  s = collect_with(w, CollectOptions::Backend::driver);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().hint, "run kvmprobe as root");
}

TEST(CollectDriver, AutomaticFallsBackToTheMsrDeviceWithANote) {
  DriverWorld w;
  w.d.open_errno = ENOENT;
  auto s = collect_with(w, CollectOptions::Backend::automatic);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->msr_backend, "msr");
  EXPECT_TRUE(mentions(s->notes, "driver: the kvmprobe driver is not loaded"));
  EXPECT_EQ(s->cpus[0].cr4, std::nullopt);
  EXPECT_GT(w.msr.reads, 0);
  EXPECT_FALSE(w.xgetbv.asked.empty());

  DriverWorld other_abi;
  other_abi.d.k.abi_version = 99;
  s = collect_with(other_abi, CollectOptions::Backend::automatic);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->msr_backend, "msr");
  EXPECT_TRUE(mentions(s->notes, "speaks driver ABI version 99"));
  EXPECT_EQ(other_abi.d.ioctls(KVMPROBE_IOC_READ_MSRS), 0);
}

TEST(CollectDriver, BackendMsrAndNoneNeverOpenTheDriver) {
  for (auto b : {CollectOptions::Backend::msr, CollectOptions::Backend::none}) {
    DriverWorld w;
    auto s = collect_with(w, b);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(w.d.opens, 0);
    EXPECT_EQ(s->cpus[0].cr4, std::nullopt);
    EXPECT_EQ(s->msr_backend, b == CollectOptions::Backend::msr ? "msr" : "none");
  }
}

TEST(CollectDriver, VmxHeldByAnotherHypervisorIsRecordedPerCpu) {
  DriverWorld w(/*vmxe_cpu=*/1);
  auto s = collect_with(w, CollectOptions::Backend::driver);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(*s->cpus[0].cr4 & (1u << 13));
  EXPECT_TRUE(*s->cpus[1].cr4 & (1u << 13));
}

TEST(CollectDriver, AFailingCpuStateIsANoteNotAGuess) {
  DriverWorld w;
  w.d.k.nr_cpu_ids = 1;  // CPU 1 answers ENXIO
  auto s = collect_with(w, CollectOptions::Backend::driver);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->cpus[1].cr4, std::nullopt);
  EXPECT_TRUE(mentions(s->notes, "cpu 1: driver CPU state"));
  EXPECT_EQ(s->cpus[1].find_msr(0x3a)->status, ReadStatus::unavailable);
  EXPECT_EQ(s->cpus[1].xcr0, 0x7u);  // XGETBV on that CPU instead
}

}  // namespace
}  // namespace kvmprobe::collect
