// xcr0 text and JSON (kvmprobe.xcr0/1) for a report built by hand. The expected strings are what
// `kvmprobe xcr0 --from tests/data/snapshots/qemu-6.1-epyc-kvm.json` printed before the renderer
// moved into core/render (accepted by tests/cli and docs/schema/xcr0.schema.json).
#include "core/render/xcr0.h"

#include <gtest/gtest.h>

namespace kvmprobe::render {
namespace {

Xcr0Report epyc() {
  Xcr0Report r;
  r.profile_id = "6.1";
  r.xsave = true;
  r.host_xcr0 = 0x7;
  r.host_xcr0_features = "x87 | SSE | AVX";
  r.kvm_supported_xcr0_mask = 0x602ff;
  r.supported_xcr0 = 0x7;
  r.supported_xcr0_features = "x87 | SSE | AVX";
  r.step.id = "xcr0";
  r.step.title = "Host XCR0 / XSS and supported masks";
  r.step.status = Status::ok;
  r.step.summary = "host XCR0 0x7 → KVM supports 0x7 (x87 | SSE | AVX)";
  // Evidence is {what, where, raw, meaning}.
  r.step.evidence = {{"CPUID.1:ECX[26] XSAVE", "cpu0", "", "set"},
                     {"host XCR0", "cpu0", "0x7", "x87 | SSE | AVX"},
                     {"KVM_SUPPORTED_XCR0 (6.1)", "", "0x602ff", "x87 | SSE | AVX | MPX-BNDREGS"}};
  return r;
}

TEST(RenderXcr0, TextIsTheSummaryAndAlignedEvidence) {
  EXPECT_EQ(xcr0_text(epyc()),
            "host XCR0 0x7 → KVM supports 0x7 (x87 | SSE | AVX)\n"
            "  CPUID.1:ECX[26] XSAVE                     set\n"
            "  host XCR0                    0x7          x87 | SSE | AVX\n"
            "  KVM_SUPPORTED_XCR0 (6.1)     0x602ff      x87 | SSE | AVX | MPX-BNDREGS\n");
}

TEST(RenderXcr0, JsonCarriesMasksAndTheStep) {
  nlohmann::json expected = nlohmann::json::parse(R"J({
    "host_xcr0": "0x7", "host_xcr0_features": "x87 | SSE | AVX", "kvm_supported_xcr0_mask": "0x602ff",
    "profile": "6.1", "schema": "kvmprobe.xcr0/1",
    "step": {"evidence": [{"meaning": "set", "raw": "", "what": "CPUID.1:ECX[26] XSAVE", "where": "cpu0"},
                          {"meaning": "x87 | SSE | AVX", "raw": "0x7", "what": "host XCR0", "where": "cpu0"},
                          {"meaning": "x87 | SSE | AVX | MPX-BNDREGS", "raw": "0x602ff", "what": "KVM_SUPPORTED_XCR0 (6.1)", "where": ""}],
             "id": "xcr0", "kvm_log": [], "missing": [], "remedy": "", "status": "ok",
             "summary": "host XCR0 0x7 → KVM supports 0x7 (x87 | SSE | AVX)",
             "title": "Host XCR0 / XSS and supported masks"},
    "supported_xcr0": "0x7", "supported_xcr0_features": "x87 | SSE | AVX", "xsave": true})J");
  EXPECT_EQ(xcr0_json(epyc()), expected) << xcr0_json(epyc()).dump(2);
}

TEST(RenderXcr0, JsonWithoutXsaveHasNulls) {
  Xcr0Report r = epyc();
  r.xsave.reset();
  r.host_xcr0.reset();
  r.supported_xcr0.reset();
  nlohmann::json j = xcr0_json(r);
  EXPECT_TRUE(j["xsave"].is_null());
  EXPECT_TRUE(j["host_xcr0"].is_null());
  EXPECT_TRUE(j["supported_xcr0"].is_null());
  r.xsave = false;
  EXPECT_EQ(xcr0_json(r)["xsave"], false);
}

}  // namespace
}  // namespace kvmprobe::render
