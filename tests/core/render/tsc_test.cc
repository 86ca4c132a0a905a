// tsc text and JSON (kvmprobe.tsc/1) for reports built by hand. The expected strings are what
// `kvmprobe tsc --from tests/data/snapshots/qemu-6.1-epyc-kvm.json --guest-khz N` printed before
// the renderer moved into core/render (accepted by tests/cli and docs/schema/tsc.schema.json).
#include "core/render/tsc.h"

#include <gtest/gtest.h>

namespace kvmprobe::render {
namespace {

/// The 6.1 EPYC guest of tests/vm: kvm_amd without TSCRATEMSR, tsc_khz from KVM_GET_TSC_KHZ.
TscReport epyc(std::uint64_t guest_khz, GuestTscAnswer::Kind kind, std::string explanation) {
  TscReport r;
  r.profile_id = "6.1";
  r.vendor_module = "kvm_amd";
  r.khz = {2000000, TscSource::kvm_vcpu, true, ""};
  r.has_tsc_control = false;
  r.has_tsc_control_reason = "CPUID.0x8000000A:EDX[4] TSCRATEMSR clear";
  r.caps = {false, 32, 0xffffffffff, 0x100000000, 0};
  r.tolerance_ppm = 250;
  r.guest_khz = guest_khz;
  GuestTscAnswer a;
  a.kind = kind;
  a.ratio = kind == GuestTscAnswer::Kind::impossible ? 0 : 0x100000000;
  a.explanation = std::move(explanation);
  r.answer = a;
  return r;
}

const char* kWithin = "within ±250 ppm of the host's 2000000 kHz [1999500, 2000500]: no scaling needed";

TEST(RenderTsc, TextShowsCapsAndTheGuestAnswer) {
  EXPECT_EQ(tsc_text(epyc(2000000, GuestTscAnswer::Kind::within_tolerance, kWithin)),
            "tsc_khz            2000000 (KVM_GET_TSC_KHZ)\n"
            "has_tsc_control    no (CPUID.0x8000000A:EDX[4] TSCRATEMSR clear)\n"
            "frac bits          32\n"
            "max ratio          0xffffffffff\n"
            "default ratio      0x100000000\n"
            "max guest TSC kHz  0\n"
            "guest at 2000000 kHz:   within ±250 ppm of the host's 2000000 kHz [1999500, 2000500]: no scaling needed\n");
}

TEST(RenderTsc, TextSaysUnknownAndEstimate) {
  TscReport r;
  r.has_tsc_control_reason = "VMX controls not evaluated";
  r.caps.frac_bits = 48;
  EXPECT_EQ(tsc_text(r),
            "tsc_khz            unknown\n"
            "has_tsc_control    unknown (VMX controls not evaluated)\n"
            "frac bits          48\n"
            "max ratio          0x0\n"
            "default ratio      0x0\n"
            "max guest TSC kHz  unknown\n");
  r.khz = {3400000, TscSource::cpuinfo_mhz, false, ""};
  r.has_tsc_control = true;
  std::string text = tsc_text(r);
  EXPECT_EQ(text.substr(0, text.find("frac bits")),
            "tsc_khz            3400000 (/proc/cpuinfo cpu MHz, estimate)\n"
            "has_tsc_control    yes (VMX controls not evaluated)\n");
}

TEST(RenderTsc, JsonOfAnImpossibleGuest) {
  const char* why = "no TSC scaling and the rate is below the host's: KVM refuses (\"user requested TSC rate below hardware speed\")";
  nlohmann::json expected = nlohmann::json::parse(R"J({
    "default_ratio": "0x100000000", "frac_bits": 32,
    "guest": {"answer": "impossible", "khz": 1, "ratio": "0x0",
              "explanation": "no TSC scaling and the rate is below the host's: KVM refuses (\"user requested TSC rate below hardware speed\")"},
    "has_tsc_control": false, "has_tsc_control_reason": "CPUID.0x8000000A:EDX[4] TSCRATEMSR clear",
    "max_guest_tsc_khz": 0, "max_ratio": "0xffffffffff", "profile": "6.1", "schema": "kvmprobe.tsc/1",
    "tolerance_ppm": 250, "tsc_khz": 2000000, "tsc_khz_exact": true, "tsc_khz_source": "KVM_GET_TSC_KHZ",
    "vendor_module": "kvm_amd"})J");
  EXPECT_EQ(tsc_json(epyc(1, GuestTscAnswer::Kind::impossible, why)), expected);
}

TEST(RenderTsc, JsonWithoutGuestOrTscKhzHasNullsAndNoGuestMember) {
  TscReport r;
  r.profile_id = "5.10";
  r.vendor_module = "none";
  nlohmann::json j = tsc_json(r);
  EXPECT_FALSE(j.contains("guest"));
  EXPECT_TRUE(j["tsc_khz"].is_null());
  EXPECT_EQ(j["tsc_khz_source"], "");
  EXPECT_TRUE(j["has_tsc_control"].is_null());
  EXPECT_TRUE(j["max_guest_tsc_khz"].is_null());
}

TEST(RenderTsc, AnswerKindsHaveTheirSchemaNames) {
  EXPECT_STREQ(to_string(GuestTscAnswer::Kind::within_tolerance), "within_tolerance");
  EXPECT_STREQ(to_string(GuestTscAnswer::Kind::scaled), "scaled");
  EXPECT_STREQ(to_string(GuestTscAnswer::Kind::catchup), "catchup");
  EXPECT_STREQ(to_string(GuestTscAnswer::Kind::impossible), "impossible");
}

}  // namespace
}  // namespace kvmprobe::render
