// compat's nested VMX capability MSRs against real kvm_intel 6.1 in Bochs guests:
// tests/data/bochs/<run>.state.txt is `migrate_oracle save` in the guest (a fresh vCPU's
// KVM_GET_MSRS after KVM_SET_CPUID2 with the supported CPUID), the source value compat must
// predict from the snapshot taken before kvm_intel loaded. Which MSRs the other model's KVM
// then refused is asserted live by tests/bochs/kvm.test.sh (migrate_oracle restore); its
// answer of 2026-12-08 is repeated here so a model change that contradicts it fails without a boot.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "core/compat/compat.h"
#include "tests/core/compat/compat_fixtures.h"

namespace kvmprobe::compat {
namespace {

using testing::side_of;
using testing::test_data;

struct GuestRun {
  Snapshot snap;
  std::map<std::uint32_t, std::uint64_t> vcpu;  ///< "msr 0x48x VALUE" of the state file
};

bool load(const std::string& run, GuestRun& r) {
  auto snap = collect::load_snapshot_file(test_data("bochs").append(run + ".snapshot.json").string());
  std::ifstream in(test_data("bochs").append(run + ".state.txt"));
  if (!snap || !in) return false;
  r.snap = *snap;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string tag, i, v;
    if (!(ls >> tag >> i >> v) || tag != "msr" || v.rfind("0x", 0) != 0) continue;
    auto index = static_cast<std::uint32_t>(std::stoul(i, nullptr, 0));
    if (index >= 0x480 && index <= 0x491) r.vcpu[index] = std::stoull(v, nullptr, 0);
  }
  return true;
}

std::vector<std::uint32_t> refused_vmx(const CompatReport& rep) {
  std::vector<std::uint32_t> out;
  for (const auto& m : rep.msrs)
    if (m.index >= 0x480 && m.index <= 0x491 && m.dst_accepts == false) out.push_back(m.index);
  return out;
}

class NestedVmxBochs : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!load("sky61", sky_) || !load("snb61", snb_))
      GTEST_SKIP() << "no tests/data/bochs/{sky61,snb61}.{snapshot.json,state.txt}";
  }
  GuestRun sky_, snb_;
};

TEST_F(NestedVmxBochs, SourceValuesEqualTheGuestsFreshVcpu) {
  for (GuestRun* r : {&sky_, &snb_}) {
    ASSERT_EQ(r->vcpu.size(), 12u);  // the VMX MSRs of 6.1's index list
    CompatReport rep = compat(side_of(r->snap, "src"), side_of(r == &sky_ ? snb_.snap : sky_.snap, "dst"));
    for (const auto& m : rep.msrs) {
      auto it = r->vcpu.find(m.index);
      if (it == r->vcpu.end()) continue;
      ASSERT_TRUE(m.src_value) << std::hex << m.index << ": " << m.reason;
      EXPECT_EQ(*m.src_value, it->second) << std::hex << "0x" << m.index;
    }
  }
}

TEST_F(NestedVmxBochs, RefusedAsRealKvmRefused) {
  // kvm_intel 6.1 on corei7_sandy_bridge_2600k refused the skylake vCPU's
  // IA32_VMX_PROCBASED_CTLS2, EPT_VPID_CAP (EPT A/D) and VMFUNC; the other way nothing.
  CompatReport to_snb = compat(side_of(sky_.snap, "sky61"), side_of(snb_.snap, "snb61"));
  EXPECT_EQ(refused_vmx(to_snb), (std::vector<std::uint32_t>{0x48b, 0x48c, 0x491}));
  CompatReport to_sky = compat(side_of(snb_.snap, "snb61"), side_of(sky_.snap, "sky61"));
  EXPECT_TRUE(refused_vmx(to_sky).empty());
  for (const auto& m : to_snb.msrs) {
    if (m.index == 0x48b) {
      EXPECT_NE(m.reason.find("RDRAND_EXITING"), std::string::npos) << m.reason;
    }
  }
}

}  // namespace
}  // namespace kvmprobe::compat
