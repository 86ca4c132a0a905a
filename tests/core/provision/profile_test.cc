// Provision profiles: a full valid one, and every kind of bad input (not JSON, unknown keys,
// duplicate keys, wrong types, impossible combinations) rejected with a message that names the
// member. Nothing here touches the host: parse_profile is pure.
#include "core/provision/profile.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace kvmprobe::provision {
namespace {

std::string with(const std::string& desired, const std::string& expect = "") {
  std::string s = R"({"schema": "kvmprobe.provision-profile/1", "desired": )" + desired;
  if (!expect.empty()) s += R"(, "expect": )" + expect;
  return s + "}";
}

/// The error message of a profile that must be rejected.
std::string rejected(const std::string& text) {
  auto p = parse_profile(text, "p.json");
  EXPECT_FALSE(p.ok()) << text;
  if (p.ok()) return "";
  EXPECT_EQ(p.error().kind, ErrorKind::bad_input);
  return p.error().detail + " | " + p.error().hint;
}

#define EXPECT_HAS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

TEST(Profile, AFullProfileParses) {
  auto p = parse_profile(R"({
    "schema": "kvmprobe.provision-profile/1",
    "description": "hypervisor hosts, rack 7",
    "desired": {
      "vmx": {"enabled": true, "locked": true, "smx": true, "sgx": true, "sgx_launch_control": true, "lmce": true},
      "svm": {"enabled": true}
    },
    "expect": {
      "vendor_module_loads": true,
      "tsc_scaling": true,
      "host_xcr0_includes": ["avx512", "x87"],
      "kvm_xcr0_includes": ["avx"],
      "save_list_includes": ["0x3a", "0xC0000103"]
    }
  })", "p.json");
  ASSERT_TRUE(p.ok()) << p.error().detail;
  ASSERT_TRUE(p->desired.vmx);
  EXPECT_TRUE(p->desired.vmx->lock);
  EXPECT_EQ(p->desired.vmx->smx, Want::yes);
  EXPECT_EQ(p->desired.vmx->sgx_lc, Want::yes);
  EXPECT_TRUE(p->desired.svm);
  EXPECT_EQ(p->expect.vendor_module_loads, true);
  EXPECT_EQ(p->expect.host_xcr0_includes->mask, 0xe1u);
  EXPECT_EQ(p->expect.save_list_includes, (std::vector<std::uint32_t>{0x3a, 0xc0000103}));
}

TEST(Profile, DefaultsAreLockedAndNothingExtra) {
  auto p = parse_profile(with(R"({"vmx": {"enabled": true}})"), "p.json");
  ASSERT_TRUE(p.ok()) << p.error().detail;
  EXPECT_TRUE(p->desired.vmx->lock);
  EXPECT_EQ(p->desired.vmx->smx, Want::no);
  EXPECT_FALSE(p->desired.svm);
  EXPECT_TRUE(p->expect.empty());
}

TEST(Profile, NotJsonIsRejected) {
  EXPECT_HAS(rejected(""), "is empty");
  EXPECT_HAS(rejected("{"), "not valid JSON");
  EXPECT_HAS(rejected("{\"schema\": \"kvmprobe.provision-profile/1\",}"), "not valid JSON");
  EXPECT_HAS(rejected("[1]"), "expected an object");
  EXPECT_HAS(rejected(std::string(100, '[') + std::string(100, ']')), "nests deeper");
  EXPECT_HAS(rejected("{\"a\": 1e999999}"), "not valid JSON");
}

TEST(Profile, SchemaIsRequiredAndChecked) {
  EXPECT_HAS(rejected(R"({"desired": {"vmx": {"enabled": true}}})"), "schema: missing");
  EXPECT_HAS(rejected(R"({"schema": "kvmprobe.provision-profile/2", "desired": {}})"), "is not kvmprobe.provision-profile/1");
  EXPECT_HAS(rejected(R"({"schema": 1, "desired": {}})"), "the number 1");
}

TEST(Profile, UnknownKeysAreRejectedWhereTheyAre) {
  EXPECT_HAS(rejected(with(R"({"vmx": {"enabled": true}})", "{}") .insert(1, R"("desird": 1, )")), "desird: unknown key");
  EXPECT_HAS(rejected(with(R"({"vmx": {"enabled": true, "lokced": true}})")), "desired.vmx.lokced: unknown key");
  EXPECT_HAS(rejected(with(R"({"vmx": {"enabled": true, "lokced": true}})")), "known keys here: enabled, locked");
  EXPECT_HAS(rejected(with(R"({"vmx": {"enabled": true}, "tdx": {}})")), "desired.tdx: unknown key");
  EXPECT_HAS(rejected(with(R"({"svm": {"enabled": true, "locked": true}})")), "desired.svm.locked: unknown key");
  EXPECT_HAS(rejected(with(R"({"svm": {"enabled": true}})", R"({"tsc_scalling": true})")), "expect.tsc_scalling");
}

TEST(Profile, DuplicateKeysAreRejected) {
  EXPECT_HAS(rejected(with(R"({"vmx": {"enabled": true, "locked": true, "locked": false}})")), "'locked' appears twice");
}

TEST(Profile, WrongTypesAreRejected) {
  EXPECT_HAS(rejected(with(R"({"vmx": {"enabled": "yes"}})")), "desired.vmx.enabled: expected true or false, got the string \"yes\"");
  EXPECT_HAS(rejected(with(R"({"vmx": {"enabled": 1}})")), "got the number 1");
  EXPECT_HAS(rejected(with(R"({"vmx": true})")), "desired.vmx: expected an object, got true");
  EXPECT_HAS(rejected(with("[]")), "desired: expected an object, got a list");
  EXPECT_HAS(rejected(with(R"({"vmx": {"enabled": true, "locked": null}})")), "got null");
  EXPECT_HAS(rejected(with(R"({"svm": {"enabled": true}})", R"({"host_xcr0_includes": "avx512"})")),
             "expect.host_xcr0_includes: expected a list of strings");
  EXPECT_HAS(rejected(with(R"({"svm": {"enabled": true}})", R"({"save_list_includes": [58]})")),
             "expect.save_list_includes[0]: expected a string, got the number 58");
  EXPECT_HAS(rejected(with(R"({"svm": {"enabled": true}})", R"({"save_list_includes": ["3a"]})")),
             "'3a' is not an MSR index");
  EXPECT_HAS(rejected(with(R"({"svm": {"enabled": true}})", R"({"save_list_includes": ["0x1ffffffff"]})")),
             "not an MSR index");
  EXPECT_HAS(rejected(with(R"({"svm": {"enabled": true}})", R"({"kvm_xcr0_includes": ["avx1024"]})")),
             "unknown XSAVE component 'avx1024'");
  EXPECT_HAS(rejected(R"({"schema": "kvmprobe.provision-profile/1", "description": 7, "desired": {}})"),
             "description: expected a string");
}

TEST(Profile, MissingAndEmptyPartsAreRejected) {
  EXPECT_HAS(rejected(R"({"schema": "kvmprobe.provision-profile/1"})"), "desired: missing");
  EXPECT_HAS(rejected(with("{}")), "desired: empty");
  EXPECT_HAS(rejected(with(R"({"vmx": {}})")), "desired.vmx.enabled: missing");
  EXPECT_HAS(rejected(with(R"({"svm": {"enabled": true}})", R"({"save_list_includes": []})")), "empty list");
}

TEST(Profile, ImpossibleCombinationsAreRejected) {
  EXPECT_HAS(rejected(with(R"({"vmx": {"enabled": false}})")), "kvmprobe never disables VMX");
  EXPECT_HAS(rejected(with(R"({"svm": {"enabled": false}})")), "kvmprobe never disables SVM");
  EXPECT_HAS(rejected(with(R"({"vmx": {"enabled": true, "sgx_launch_control": true}})")),
             "impossible combination: sgx_launch_control needs sgx");
  EXPECT_HAS(rejected(with(R"({"vmx": {"enabled": true, "sgx": false, "sgx_launch_control": true}})")),
             "sgx_launch_control needs sgx");
  EXPECT_HAS(rejected(with(R"({"vmx": {"enabled": true}})", R"({"vendor_module_loads": false})")),
             "impossible combination: the desired state enables VMX");
  EXPECT_HAS(rejected(with(R"({"svm": {"enabled": true}})", R"({"host_xcr0_includes": ["pt"]})")),
             "'pt' is an IA32_XSS (supervisor) component, never in XCR0");
}

TEST(Profile, LoadProfileReadsAFile) {
  auto dir = std::filesystem::temp_directory_path() / ("kvmprobe-profile-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "ok.json") << with(R"({"svm": {"enabled": true}})");
  auto p = load_profile((dir / "ok.json").string());
  EXPECT_TRUE(p.ok());
  auto missing = load_profile((dir / "nope.json").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::bad_input);
  auto d = load_profile(dir.string());
  ASSERT_FALSE(d.ok());
  EXPECT_HAS(d.error().detail, "not a regular file");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kvmprobe::provision
