// msrs text and JSON (kvmprobe.msrs/1, kvmprobe.msr-list/1, kvmprobe.msrs-compare/1) for results
// built by hand. The expected strings follow what `kvmprobe msrs` printed for the 6.1 EPYC
// guest of tests/vm (tests/data/snapshots/qemu-6.1-epyc-kvm.json) before the renderer moved into
// core/render, as tests/cli/msrs.test.sh and docs/schema accept.
#include "core/render/msrs.h"

#include <gtest/gtest.h>

namespace kvmprobe::render {
namespace {

MsrListsResult lists() {
  MsrListsResult r;
  r.evaluated = true;
  r.profile_id = "6.1";
  r.vendor_module = "kvm_amd";
  MsrEntry cs{MsrList::save, 1, 0x174, "IA32_SYSENTER_CS", "—", MsrFate::kept};
  MsrEntry bnd{MsrList::save, 13, 0xd90, "IA32_BNDCFGS", "F-MPX", MsrFate::dropped, MsrReason::none,
               "KVM's supported XCR0 0x7 lacks BNDREGS|BNDCSR (kvm_amd clears them)"};
  MsrEntry ucode{MsrList::feature, 20, 0x8b, "IA32_UCODE_REV", "—", MsrFate::kept};
  ucode.assumed = true;
  r.entries = {cs, bnd, ucode};
  r.index_list = {0x174};
  r.feature_list = {0x8b, 0x12345};
  r.save = {2, 1, 1, 0};
  r.emulated = {0, 0, 0, 0};
  r.feature = {1, 1, 0, 0};
  r.complete = true;
  r.assumptions = {"RDMSR assumed"};
  r.params = {{"kvm.enable_pmu", "N", "loaded module (/sys/module/kvm/parameters/enable_pmu)"}};
  return r;
}

TEST(RenderMsrs, TextHasTheCountsLineThenOneRowPerCandidate) {
  EXPECT_EQ(msrs_text(lists(), true),
            "KVM 6.1 (kvm_amd): 1 save + 0 emulated = 1 in KVM_GET_MSR_INDEX_LIST, 1 feature MSRs\n"
            "\n"
            "save       1 0x00000174 IA32_SYSENTER_CS                   kept     \n"
            "save      13 0x00000d90 IA32_BNDCFGS                       dropped  KVM's supported XCR0 0x7 lacks BNDREGS|BNDCSR (kvm_amd clears them)\n"
            "feature   20 0x0000008b IA32_UCODE_REV                     kept     (RDMSR assumed)\n"
            "param kvm.enable_pmu=N (loaded module (/sys/module/kvm/parameters/enable_pmu))\n");
}

TEST(RenderMsrs, TextWithoutLegendAndIncompleteListsMissingCauses) {
  MsrListsResult r = lists();
  r.entries.resize(1);
  r.params.clear();
  r.complete = false;
  r.missing = {"host RDMSR of 0xd90 not recorded"};
  EXPECT_EQ(msrs_text(r, false),
            "save       1 0x00000174 IA32_SYSENTER_CS                   kept     \n"
            "missing: host RDMSR of 0xd90 not recorded\n");
  EXPECT_EQ(msrs_text(r, true).substr(0, 98),
            "KVM 6.1 (kvm_amd): 1 save + 0 emulated = 1 in KVM_GET_MSR_INDEX_LIST, 1 feature MSRs (incomplete)\n");
}

TEST(RenderMsrs, JsonTable) {
  nlohmann::json expected = nlohmann::json::parse(R"J({
    "schema": "kvmprobe.msrs/1", "profile": "6.1", "vendor_module": "kvm_amd", "complete": true,
    "missing": [], "assumptions": ["RDMSR assumed"],
    "params": [{"name": "kvm.enable_pmu", "value": "N", "origin": "loaded module (/sys/module/kvm/parameters/enable_pmu)"}],
    "counts": {"save": {"candidates": 2, "kept": 1, "dropped": 1, "unknown": 0},
               "emulated": {"candidates": 0, "kept": 0, "dropped": 0, "unknown": 0},
               "feature": {"candidates": 1, "kept": 1, "dropped": 0, "unknown": 0}},
    "index_list": ["0x174"], "feature_list": ["0x8b", "0x12345"],
    "entries": [
      {"list": "save", "position": 1, "index": "0x174", "name": "IA32_SYSENTER_CS", "rule": "—", "fate": "kept", "reason": "", "assumed": false},
      {"list": "save", "position": 13, "index": "0xd90", "name": "IA32_BNDCFGS", "rule": "F-MPX", "fate": "dropped",
       "reason": "KVM's supported XCR0 0x7 lacks BNDREGS|BNDCSR (kvm_amd clears them)", "assumed": false},
      {"list": "feature", "position": 20, "index": "0x8b", "name": "IA32_UCODE_REV", "rule": "—", "fate": "kept", "reason": "", "assumed": true}]
  })J");
  EXPECT_EQ(msrs_json(lists()), expected) << msrs_json(lists()).dump(2);
}

TEST(RenderMsrs, OneIoctlListExactlyAsKvmReturnsIt) {
  EXPECT_EQ(msr_list_text(lists(), MsrIoctl::index_list, false), "0x174\n");
  // --names: the name where kvmprobe knows one, the bare index where it does not.
  EXPECT_EQ(msr_list_text(lists(), MsrIoctl::feature_list, true), "0x8b IA32_UCODE_REV\n0x12345\n");
  nlohmann::json expected = nlohmann::json::parse(R"J({
    "schema": "kvmprobe.msr-list/1", "profile": "6.1", "list": "KVM_GET_MSR_FEATURE_INDEX_LIST",
    "msrs": [{"index": "0x8b", "name": "IA32_UCODE_REV"}, {"index": "0x12345", "name": ""}]})J");
  EXPECT_EQ(msr_list_json(lists(), MsrIoctl::feature_list), expected);
  EXPECT_EQ(msr_list_json(lists(), MsrIoctl::index_list)["list"], "KVM_GET_MSR_INDEX_LIST");
}

TEST(RenderMsrs, CompareIdentical) {
  MsrCompare c{"6.1", {97, 97, {}}, MsrListComparison{4, 4, {}}};
  EXPECT_EQ(msr_compare_text(c),
            "KVM_GET_MSR_INDEX_LIST: 97 predicted, 97 live, identical\n"
            "KVM_GET_MSR_FEATURE_INDEX_LIST: 4 predicted, 4 live, identical\n");
  EXPECT_EQ(msr_compare_json(c).dump(),
            R"({"feature_list_differences":[],"index_list_differences":[],"match":true,"profile":"6.1","schema":"kvmprobe.msrs-compare/1"})");
}

TEST(RenderMsrs, CompareListsEachDifference) {
  MsrCompare c{"6.1", {3, 4, {{0x3f1}, {0xc1, 0xc2}, false}}, std::nullopt};
  EXPECT_EQ(msr_compare_text(c),
            "KVM_GET_MSR_INDEX_LIST: 3 predicted, 4 live\n"
            "  -0x3f1 (predicted only)\n"
            "  +0xc1 (live only)\n"
            "  +0xc2 (live only)\n");
  nlohmann::json j = msr_compare_json(c);
  EXPECT_EQ(j["match"], false);
  EXPECT_EQ(j["index_list_differences"], nlohmann::json({"-0x3f1 (predicted only)", "+0xc1 (live only)", "+0xc2 (live only)"}));
  EXPECT_EQ(j["feature_list_differences"], nlohmann::json::array());
  MsrCompare order{"6.1", {2, 2, {{}, {}, true}}, std::nullopt};
  EXPECT_EQ(msr_compare_text(order), "KVM_GET_MSR_INDEX_LIST: 2 predicted, 2 live\n  same entries, different order\n");
}

}  // namespace
}  // namespace kvmprobe::render
