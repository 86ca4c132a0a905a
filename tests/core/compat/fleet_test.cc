// fleet(): pools, baselines, one-way moves and splits over the recorded QEMU guests (whose
// KVM lists are real), with TSC variants of the 6.12 EPYC guest.
#include "core/compat/fleet.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/core/compat/compat_fixtures.h"

namespace kvmprobe::compat {
namespace {

using testing::recorded;
using testing::side_of;

struct Fleet {
  std::vector<FleetHost> hosts;  // SideFacts keeps no reference to the snapshot
  void add(const std::string& file, const std::string& label, std::optional<std::uint64_t> tsc = {}) {
    Snapshot s = recorded(file);
    if (tsc)
      for (auto& c : s.tsc) c.khz = *tsc;
    hosts.push_back({label, side_facts(side_of(s, label))});
  }
};

const FleetPool* pool_of(const FleetReport& r, const std::string& label) {
  for (const auto& p : r.pools)
    for (auto h : p.hosts)
      if (r.hosts[h].label == label) return &p;
  return nullptr;
}

TEST(Fleet, HostsThatDifferOnlyWithinTheTscToleranceShareAPool) {
  Fleet f;
  f.add("qemu-6.12-epyc-kvm.json", "a");
  f.add("qemu-6.12-epyc-kvm.json", "b", 2000100);  // 50 ppm
  f.add("qemu-6.12-epyc-kvm.json", "fast", 2100000);
  f.add("qemu-6.1-epyc-kvm.json", "old");
  EXPECT_EQ(fleet_fingerprint(f.hosts[0].facts), fleet_fingerprint(f.hosts[2].facts)) << "TSC is not in it";
  FleetReport r = fleet(std::move(f.hosts));
  ASSERT_EQ(r.pools.size(), 3u);
  EXPECT_EQ(pool_of(r, "a"), pool_of(r, "b"));
  EXPECT_NE(pool_of(r, "a"), pool_of(r, "fast"));
  EXPECT_NE(pool_of(r, "a"), pool_of(r, "old"));
  const FleetPool& p = r.pools[0];
  ASSERT_EQ(p.hosts.size(), 2u) << "the largest pool first";
  EXPECT_EQ(p.save_list.size(), 73u);
  EXPECT_EQ(p.xcr0, 0x7u);
  EXPECT_EQ(p.tsc_min_khz, 2000000u);
  EXPECT_EQ(p.tsc_max_khz, 2000100u);
  EXPECT_FALSE(p.tsc_scaling_all);
  // The fast host: a 2.1 GHz guest runs on 2.0 GHz only by catch-up, a 2.0 GHz guest is
  // refused at 2.1 GHz: one reason, about the TSC.
  bool named = false;
  for (const auto& s : r.splits) {
    const auto& hosts = r.pools[s.pool].hosts;
    if (r.hosts[hosts.front()].label == "fast") {
      named = true;
      EXPECT_NE(s.reason.find("TSC"), std::string::npos) << s.reason;
    }
  }
  EXPECT_TRUE(named);
}

TEST(Fleet, AGuestMovesOneWayFromTheQemu64HostToTheEpycHostOfTheSameKernel) {
  Fleet f;
  f.add("qemu-6.1-epyc-kvm.json", "epyc");
  f.add("qemu-6.1-qemu64-svm-kvm.json", "qemu64");
  FleetReport r = fleet(std::move(f.hosts));
  ASSERT_EQ(r.pools.size(), 2u);
  // qemu64 has no XSAVE: its KVM supports XCR0 0 where the EPYC host's supports 0x7 (the
  // recorded KVM_GET_SUPPORTED_CPUID of both guests); the other way only the TSC
  // (2593671 kHz → 2000000 kHz) needs catch-up.
  bool edge = false;
  for (const auto& e : r.edges) {
    if (r.hosts[r.pools[e.from].hosts.front()].label == "qemu64") {
      edge = true;
      EXPECT_EQ(e.verdict, CompatVerdict::conditional);
      EXPECT_NE(e.back_reason.find("XCR0 bits 0x7"), std::string::npos) << e.back_reason;
    } else {
      ADD_FAILURE() << "no move from the EPYC host to the qemu64 host";
    }
  }
  EXPECT_TRUE(edge);
}

TEST(Fleet, AHostWhoseKvmWouldNotLoadIsInNoPool) {
  Fleet f;
  f.add("qemu-6.12-epyc-kvm.json", "kvm");
  f.add("qemu-6.12-epyc-nosvm.json", "nosvm");
  FleetReport r = fleet(std::move(f.hosts));
  ASSERT_EQ(r.pools.size(), 1u);
  ASSERT_EQ(r.excluded.size(), 1u);
  EXPECT_EQ(r.hosts[r.excluded[0].host].label, "nosvm");
  EXPECT_NE(r.excluded[0].reason.find("SVM"), std::string::npos) << r.excluded[0].reason;
}

// A PVM guest (the machine kind this project's CI runs on): kvm_pvm built in but declined to
// bind ("kvm-pvm: this kernel is itself a kvm-pvm guest; not binding"), no /dev/kvm and no kvm
// misc device, kvm_amd refused for lack of SVM. No guest can run there, so it is in no pool;
// the same host with kvm_pvm serving /dev/kvm is (kvm_pvm needs no SVM).
TEST(Fleet, AnUnboundBuiltInKvmPvmHostIsInNoPool) {
  auto pvm_host = [](bool bound) {
    Snapshot s = recorded("qemu-6.12-epyc-nosvm.json");
    s.modules.push_back({"kvm_pvm", {}, true});
    s.kvm.present = s.kvm.openable = bound;
    s.kvm.misc_registered = bound;
    return s;
  };
  for (bool bound : {false, true}) {
    SCOPED_TRACE(bound ? "bound" : "unbound");
    Snapshot s = pvm_host(bound);
    std::vector<FleetHost> hosts{{"pvm", side_facts(side_of(s, "pvm"))}};
    FleetReport r = fleet(std::move(hosts));
    EXPECT_EQ(r.excluded.size(), bound ? 0u : 1u);
    EXPECT_EQ(r.pools.size(), bound ? 1u : 0u);
    if (!bound) EXPECT_NE(r.excluded[0].reason.find("kvm_amd would not load"), std::string::npos) << r.excluded[0].reason;
  }
}

}  // namespace
}  // namespace kvmprobe::compat
