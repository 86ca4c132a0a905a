// check_expectations() on recorded QEMU guests: the vendor module, TSC scaling, XCR0 and the
// save list, met, unmet and unknown.
#include "core/provision/expectations.h"

#include <gtest/gtest.h>

#include "core/collect/snapshot_json.h"
#include "core/profiles/profiles.h"
#include "tests/support/shared_data.h"

namespace kvmprobe::provision {
namespace {

Snapshot load(const std::string& name) {
  auto s = collect::load_snapshot_file(testing::test_data("snapshots/" + name).string());
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().detail);
  return s.ok() ? *s : Snapshot{};
}

std::vector<ExpectationResult> check(const std::string& snap, const std::string& expect) {
  auto p = parse_profile(R"({"schema": "kvmprobe.provision-profile/1", "desired": {"svm": {"enabled": true}},
                             "expect": )" + expect + "}", "t");
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().detail);
  return check_expectations(load(snap), *find_profile("6.1"), p->expect);
}

TEST(Expectations, EpycGuestUnderTcg) {
  auto r = check("qemu-6.1-epyc-kvm.json", R"({"vendor_module_loads": true, "tsc_scaling": true,
      "host_xcr0_includes": ["x87", "sse", "avx"], "kvm_xcr0_includes": ["avx512"],
      "save_list_includes": ["0x3a", "0xc0000103"]})");
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0].id, "vendor_module_loads");
  EXPECT_EQ(r[0].status, ExpectStatus::met) << r[0].detail;
  EXPECT_EQ(r[1].id, "tsc_scaling");
  EXPECT_EQ(r[1].status, ExpectStatus::unmet) << r[1].detail;  // TCG offers no TSC ratio MSR
  EXPECT_EQ(r[2].status, ExpectStatus::met) << r[2].detail;
  EXPECT_EQ(r[3].status, ExpectStatus::unmet) << r[3].detail;  // XCR0 0x7: no AVX-512
  EXPECT_NE(r[3].detail.find("lacks"), std::string::npos);
  EXPECT_EQ(r[4].status, ExpectStatus::met) << r[4].detail;
}

TEST(Expectations, AnMsrKvmWouldNotListIsUnmet) {
  auto r = check("qemu-6.1-epyc-kvm.json", R"({"save_list_includes": ["0x3a", "0x12345678"]})");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, ExpectStatus::unmet);
  EXPECT_NE(r[0].detail.find("0x12345678"), std::string::npos) << r[0].detail;
}

TEST(Expectations, SvmDisabledGuestFailsTheModuleExpectation) {
  auto r = check("qemu-6.1-epyc-nosvm.json", R"({"vendor_module_loads": true})");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, ExpectStatus::unmet) << r[0].detail;
}

TEST(Expectations, NoneAskedNoneChecked) {
  EXPECT_TRUE(check_expectations(load("qemu-6.1-epyc.json"), *find_profile("6.1"), Expectations{}).empty());
}

}  // namespace
}  // namespace kvmprobe::provision
