// compat's JSON contract (kvmprobe.compat/1, read by tests/vm/compat.test.sh) and its text.
#include "core/render/compat.h"

#include <gtest/gtest.h>

#include "tests/core/compat/compat_fixtures.h"

namespace kvmprobe::render {
namespace {

using testing::recorded;
using testing::side_of;

TEST(RenderCompat, JsonFollowsTheContract) {
  Snapshot a = recorded("qemu-6.1-epyc-kvm.json"), b = recorded("qemu-6.12-epyc-kvm.json");
  compat::CompatReport r = compat::compat(side_of(a, "a"), side_of(b, "b"));
  nlohmann::json j = compat_json(r, 22);
  EXPECT_EQ(j["schema"], "kvmprobe.compat/1");
  EXPECT_EQ(j["verdict"], "incompatible");
  EXPECT_EQ(j["exit_code"], 22);
  ASSERT_EQ(j["steps"].size(), 5u);
  EXPECT_EQ(j["cpuid_lost"], nlohmann::json::array()) << "6.1 and 6.12 on EPYC support the same features";
  for (const auto& s : j["steps"])
    for (const char* k : {"id", "title", "status", "summary", "evidence", "remedy"}) EXPECT_TRUE(s.contains(k)) << k;
  ASSERT_EQ(j["msrs"].size(), 97u);
  const auto& tsc = j["msrs"][8];
  EXPECT_EQ(tsc["index"], "0x10");
  EXPECT_EQ(tsc["name"], "IA32_TSC");
  EXPECT_TRUE(tsc["src_value"].is_null());
  EXPECT_EQ(tsc["dst_listed"], true);
  EXPECT_EQ(tsc["dst_accepts"], true);
  for (const auto& m : j["msrs"]) {
    ASSERT_TRUE(m["index"].is_string());
    EXPECT_EQ(m["index"].get<std::string>().rfind("0x", 0), 0u);
    EXPECT_TRUE(m["src_value"].is_null() || m["src_value"].get<std::string>().rfind("0x", 0) == 0);
    EXPECT_TRUE(m["dst_listed"].is_boolean());
    EXPECT_TRUE(m["dst_accepts"].is_boolean() || m["dst_accepts"].is_null());
    EXPECT_TRUE(m["reason"].is_string());
  }
  nlohmann::json both = compat_both_json({j, j});
  EXPECT_EQ(both["schema"], "kvmprobe.compat/1");
  EXPECT_EQ(both["directions"].size(), 2u);
}

TEST(RenderCompat, TextNamesBothSidesEveryStepAndTheVerdict) {
  Snapshot a = recorded("qemu-6.1-epyc-kvm.json"), b = recorded("qemu-6.12-epyc-kvm.json");
  compat::CompatReport r = compat::compat(side_of(a, "old.json"), side_of(b, "new.json"));
  std::string t = compat_text(r, TextStyle{});
  for (const char* s : {"old.json", "new.json", "vendor", "msrs", "xcr0", "tsc", "verdict: incompatible", "0x309"})
    EXPECT_NE(t.find(s), std::string::npos) << s;
  EXPECT_EQ(t.find("\x1b["), std::string::npos) << "no colour unless asked";
}

}  // namespace
}  // namespace kvmprobe::render
