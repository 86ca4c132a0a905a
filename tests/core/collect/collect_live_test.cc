// Live tests: collect() and the CPUID paths on the machine running the tests. They need no
// root; what they cannot check here they skip with the reason.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <sstream>

#include "core/collect/collect.h"
#include "core/collect/cpu_list.h"
#include "core/collect/cpu_pinning.h"
#include "core/collect/cpuid_enum.h"
#include "core/collect/cpuid_source.h"
#include "core/collect/sysfs_reader.h"
#include "tests/support/fake_sources.h"

namespace kvmprobe::collect {
namespace {

bool path_exists(const char* p) {
  struct stat st;
  return ::stat(p, &st) == 0;
}

std::vector<unsigned> online_cpus() {
  RootedSysfsReader fs;
  auto text = fs.read_file("/sys/devices/system/cpu/online");
  if (!text) return {};
  return parse_cpu_list(*text).value_or(std::vector<unsigned>{});
}

TEST(CollectLive, CollectsThisHost) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = collect(CollectOptions{});
  auto ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(r.ok()) << r.error().detail;
  const Snapshot& s = *r;
  RecordProperty("collect_ms", std::to_string(ms));
  auto online = online_cpus();
  ASSERT_FALSE(online.empty());
  EXPECT_EQ(s.online_cpus, online);
  ASSERT_EQ(s.cpus.size(), online.size());
  for (const CpuRecord& c : s.cpus) {
    EXPECT_NE(c.find_cpuid(0), nullptr) << "cpu " << c.cpu;
    EXPECT_NE(c.find_cpuid(1), nullptr) << "cpu " << c.cpu;
    EXPECT_NE(c.find_cpuid(0x80000000), nullptr) << "cpu " << c.cpu;
    if (c.cpuid_bit(1, 0, Reg::ecx, 27) == true) {
      EXPECT_TRUE(c.xcr0.has_value()) << "cpu " << c.cpu;
    }
  }
  EXPECT_FALSE(s.kernel_release.empty());
  EXPECT_FALSE(s.kernel_version.empty());
  EXPECT_FALSE(s.taken_at.empty());
  EXPECT_FALSE(s.tsc.empty());
  // Without /dev/cpu/0/msr after collect() (no module, or modprobe failed) nothing was read.
  if (!path_exists("/dev/cpu/0/msr")) {
    EXPECT_EQ(s.msr_backend, "none");
  }
  // What KVM left in the file system, as the kernel shows it (every machine kind: /dev/kvm
  // through kvm_pvm; kvm_pvm built in but unbound, no /dev/kvm and no /proc/modules).
  EXPECT_EQ(s.kvm.present, path_exists("/dev/kvm"));
  EXPECT_EQ(s.kvm.misc_registered, path_exists("/sys/class/misc/kvm"));
  for (const LoadedModule& m : s.modules)
    EXPECT_EQ(m.builtin, !path_exists(("/sys/module/" + m.name + "/initstate").c_str())) << m.name;
  bool dev_cpuid = ::access("/dev/cpu/0/cpuid", R_OK) == 0;
  for (const CpuRecord& c : s.cpus)
    EXPECT_EQ(c.cpuid_view, dev_cpuid ? CpuidView::kernel : CpuidView::instruction) << "cpu " << c.cpu;
  if (s.kvm.openable) {
    EXPECT_EQ(s.kvm.api_version, 12);
    EXPECT_TRUE(s.kvm.msr_index_list.has_value()) << s.kvm.error;
    EXPECT_TRUE(s.kvm.vcpu_tsc_khz.has_value()) << s.kvm.error;
    ASSERT_FALSE(s.tsc.empty());
    EXPECT_EQ(s.tsc.front().source, TscSource::kvm_vcpu);
  }
  // The thread's CPU mask is back to what it was.
  cpu_set_t mask;
  ASSERT_EQ(sched_getaffinity(0, sizeof mask, &mask), 0);
  for (unsigned c : online) {
    if (c < CPU_SETSIZE) {
      EXPECT_TRUE(CPU_ISSET(c, &mask)) << "cpu " << c;
    }
  }
}

// Under some hypervisors (PVM) user-mode CPUID is answered differently from the kernel's: the
// snapshot must hold the kernel's view (what KVM sees) and name exactly the leaves where the
// pinned instruction disagrees, with the instruction's values. The two views are read here
// independently (DevCpuidSource, InstructionCpuidSource) as the oracle.
TEST(CollectLive, AutoSourceKeepsTheKernelViewAndRecordsWhereTheInstructionDiffers) {
  if (!path_exists("/dev/cpu/0/cpuid")) GTEST_SKIP() << "no /dev/cpu/0/cpuid on this machine";
  if (::access("/dev/cpu/0/cpuid", R_OK) != 0)
    GTEST_SKIP() << "/dev/cpu/0/cpuid not readable by this user";
  auto online = online_cpus();
  ASSERT_FALSE(online.empty());
  CpuPinner pinner;
  DevCpuidSource dev("/dev/cpu", &pinner), oracle_dev;
  InstructionCpuidSource insn(pinner), oracle_insn(pinner);
  AutoCpuidSource source(dev, insn);
  for (unsigned cpu : online) {
    std::vector<std::string> notes;
    auto got = enumerate_cpuid(source, cpu, notes);
    auto kernel = enumerate_cpuid(oracle_dev, cpu, notes);
    ASSERT_TRUE(got.ok()) << got.error().detail;
    ASSERT_TRUE(kernel.ok()) << kernel.error().detail;
    EXPECT_EQ(source.view(cpu), CpuidView::kernel);
    std::set<std::pair<std::uint32_t, std::uint32_t>> recorded_differ;
    for (const CpuidLeaf& l : source.take_differences(cpu)) {
      recorded_differ.emplace(l.leaf, l.subleaf);
      auto again = oracle_insn.cpuid(cpu, l.leaf, l.subleaf);
      ASSERT_TRUE(again.ok());
      EXPECT_TRUE(again->eax == l.eax && again->ebx == l.ebx && again->ecx == l.ecx && again->edx == l.edx)
          << "cpu " << cpu << ": recorded instruction values of leaf 0x" << std::hex << l.leaf;
    }
    ASSERT_EQ(got->size(), kernel->size()) << "cpu " << cpu;
    std::set<std::pair<std::uint32_t, std::uint32_t>> oracle_differ;
    for (std::size_t i = 0; i < kernel->size(); ++i) {
      const CpuidLeaf &x = (*got)[i], &k = (*kernel)[i];
      EXPECT_TRUE(x.leaf == k.leaf && x.subleaf == k.subleaf && x.eax == k.eax && x.ebx == k.ebx &&
                  x.ecx == k.ecx && x.edx == k.edx)
          << "cpu " << cpu << ": leaf 0x" << std::hex << k.leaf << "." << k.subleaf << " is not the kernel's";
      auto u = oracle_insn.cpuid(cpu, k.leaf, k.subleaf);
      ASSERT_TRUE(u.ok());
      if (u->eax != k.eax || u->ebx != k.ebx || u->ecx != k.ecx || u->edx != k.edx)
        oracle_differ.emplace(k.leaf, k.subleaf);
    }
    EXPECT_EQ(recorded_differ, oracle_differ) << "cpu " << cpu;
    std::string list;
    for (auto [leaf, sub] : oracle_differ) list += " 0x" + (std::ostringstream() << std::hex << leaf).str();
    std::printf("cpu %u: %zu leaves, user-mode CPUID differs on %zu:%s\n", cpu, kernel->size(),
                oracle_differ.size(), list.c_str());
  }
  source.finish();
  EXPECT_EQ(pinner.restore(), 0);
}

TEST(CollectLive, AutoSourceFallsBackToThePinnedInstructionWithoutTheNode) {
  testing::FakeTree empty;  // no dev/cpu/N/cpuid below it
  DevCpuidSource dev(empty.real("/dev/cpu"));
  CpuPinner pinner;
  InstructionCpuidSource insn(pinner);
  AutoCpuidSource source(dev, insn);
  std::vector<std::string> notes;
  auto leaves = enumerate_cpuid(source, 0, notes);
  ASSERT_TRUE(leaves.ok()) << leaves.error().detail;
  ASSERT_FALSE(leaves->empty());
  EXPECT_EQ(leaves->front().eax, execute_cpuid(0, 0).eax);  // max basic leaf, same on every CPU
  source.drain_notes(notes);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("unavailable for CPU 0"), std::string::npos) << notes[0];
  source.finish();
  EXPECT_FALSE(pinner.pinned().has_value());
}

TEST(CollectLive, PinnerMovesTheThreadAndRestoresTheMask) {
  auto online = online_cpus();
  ASSERT_FALSE(online.empty());
  cpu_set_t before;
  ASSERT_EQ(sched_getaffinity(0, sizeof before, &before), 0);
  {
    CpuPinner pinner;
    for (unsigned cpu : online) {
      if (cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &before)) continue;
      ASSERT_EQ(pinner.pin(cpu), 0);
      EXPECT_EQ(sched_getcpu(), static_cast<int>(cpu));
    }
  }
  cpu_set_t after;
  ASSERT_EQ(sched_getaffinity(0, sizeof after, &after), 0);
  EXPECT_TRUE(CPU_EQUAL(&before, &after));
}

}  // namespace
}  // namespace kvmprobe::collect
