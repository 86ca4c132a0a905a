// driver status/load/unload text and JSON (kvmprobe.driver-status/1, -load/1, -unload/1) for
// states built by hand. The expected strings are what `kvmprobe driver` printed before the
// renderer moved from cli/driver_view.cc into core/render (tests/vm/driver_cli.test.sh checks
// the same output from real guests).
#include "core/render/driver.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "uapi/kvmprobe.h"

namespace kvmprobe::render {
namespace {

using namespace kvmprobe::driver;

/// Loaded by DKMS on 6.1, usable, allow_writes=0, one open file.
DriverStatus loaded() {
  DriverStatus st;
  st.kernel_release = "6.1.0-13-amd64";
  st.module = {true, "live", "OE", 1, false};
  st.device.present = true;
  st.device.node = {true, 0600, 0, 0};
  st.abi.expected = KVMPROBE_ABI_VERSION;
  st.abi.info = collect::DriverInfo{KVMPROBE_ABI_VERSION, KVMPROBE_CAP_READ_MSRS | KVMPROBE_CAP_TSC, 256, 8};
  KoCandidate ko{"/lib/modules/6.1.0-13-amd64/updates/dkms/kvmprobe.ko", KoOrigin::dkms, true};
  st.ko_searched = {ko};
  st.ko = ko;
  st.ko_vermagic = "6.1.0-13-amd64 SMP preempt mod_unload modversions ";
  st.dkms = {true, {"kvmprobe/0.1.0, 6.1.0-13-amd64, x86_64: installed"}, ""};
  st.security.lockdown = Lockdown::none;
  st.security.secure_boot = Tri::no;
  st.security.secure_boot_evidence = "not booted through EFI";
  st.security.sig_enforce = Tri::no;
  st.security.modules_disabled = Tri::no;
  st.usable = true;
  return st;
}

TEST(RenderDriver, StatusTextOfAUsableDriver) {
  EXPECT_EQ(driver_status_text(loaded(), true),
            "kvmprobe driver: loaded and usable\n"
            "module           loaded (live, taint OE, allow_writes=0, 1 open)\n"
            "device           /dev/kvmprobe character device, mode 0600, uid 0\n"
            "ABI              1 (matches; this kvmprobe speaks 1); read_msrs tsc; 256 MSRs per call\n"
            ".ko              /lib/modules/6.1.0-13-amd64/updates/dkms/kvmprobe.ko (dkms), built for this kernel\n"
            "DKMS             kvmprobe/0.1.0, 6.1.0-13-amd64, x86_64: installed\n"
            "lockdown         none\n"
            "Secure Boot      no (not booted through EFI)\n"
            "sig_enforce      no\n"
            "modules_disabled no\n");
}

TEST(RenderDriver, StatusTextOfAMissingDriverWithoutLegend) {
  DriverStatus st;
  st.kernel_release = "6.12.9-amd64";
  st.abi.error = "the device is absent";
  st.dkms.available = false;
  EXPECT_EQ(driver_status_text(st, false),
            "module           not loaded\n"
            "device           /dev/kvmprobe absent\n"
            "ABI              not asked: the device is absent\n"
            ".ko              none found for 6.12.9-amd64\n"
            "DKMS             not installed\n"
            "lockdown         unknown\n"
            "Secure Boot      unknown\n"
            "sig_enforce      unknown\n"
            "modules_disabled unknown\n");
}

TEST(RenderDriver, StatusTextNamesAKoBuiltForAnotherKernel) {
  DriverStatus st = loaded();
  st.ko_vermagic = "6.1.0-9-amd64 SMP preempt mod_unload modversions ";
  std::string text = driver_status_text(st, false);
  EXPECT_NE(text.find(".ko              /lib/modules/6.1.0-13-amd64/updates/dkms/kvmprobe.ko (dkms), built for "
                      "6.1.0-9-amd64 (NOT this kernel: 6.1.0-13-amd64)\n"),
            std::string::npos)
      << text;
}

TEST(RenderDriver, StatusJson) {
  nlohmann::json j = driver_status_json(loaded());
  nlohmann::json expected = nlohmann::json::parse(R"J({
    "schema": "kvmprobe.driver-status/1", "kernel_release": "6.1.0-13-amd64", "usable": true,
    "module": {"loaded": true, "initstate": "live", "taint": "OE", "refcnt": 1, "allow_writes": false},
    "device": {"path": "/dev/kvmprobe", "present": true, "char_device": true, "mode": "0600", "uid": 0, "gid": 0},
    "abi": {"expected": 1, "matches": true, "error": "", "version": 1, "caps": ["read_msrs", "tsc"],
            "max_msrs": 256, "nr_cpu_ids": 8},
    "ko": {"path": "/lib/modules/6.1.0-13-amd64/updates/dkms/kvmprobe.ko", "origin": "dkms",
           "vermagic": "6.1.0-13-amd64 SMP preempt mod_unload modversions ", "built_for": "6.1.0-13-amd64",
           "matches_kernel": true},
    "ko_searched": [{"path": "/lib/modules/6.1.0-13-amd64/updates/dkms/kvmprobe.ko", "origin": "dkms", "exists": true}],
    "dkms": {"available": true, "status": ["kvmprobe/0.1.0, 6.1.0-13-amd64, x86_64: installed"], "error": ""},
    "lockdown": "none", "secure_boot": false, "secure_boot_evidence": "not booted through EFI",
    "sig_enforce": false, "modules_disabled": false, "needs_signature": false})J");
  EXPECT_EQ(j, expected) << j.dump(2);
}

TEST(RenderDriver, LoadAndUnload) {
  LoadOutcome o;
  o.loaded = true;
  o.method = LoadMethod::finit_module;
  o.ko = KoCandidate{"/src/msr-driver/kvmprobe.ko", KoOrigin::build_tree, true};
  o.device.present = true;
  o.abi.expected = 1;
  o.abi.info = collect::DriverInfo{1, 0, 256, 2};
  EXPECT_EQ(driver_load_text(o), "loaded /src/msr-driver/kvmprobe.ko (finit_module); /dev/kvmprobe (ABI 1)\n");
  o.already_loaded = true;
  EXPECT_EQ(driver_load_text(o), "kvmprobe driver already loaded (ABI 1)\n");
  o.err = ENOEXEC;
  nlohmann::json j = driver_load_json(o);
  EXPECT_EQ(j["schema"], "kvmprobe.driver-load/1");
  EXPECT_EQ(j["errno"], "ENOEXEC");
  EXPECT_EQ(j["ko"], nlohmann::json({{"path", "/src/msr-driver/kvmprobe.ko"}, {"origin", "build_tree"}}));
  EXPECT_TRUE(j["cause"].is_null());
  EXPECT_EQ(j["abi"]["caps"], nlohmann::json::array());

  UnloadOutcome u{true, true, 0, "", ""};
  EXPECT_EQ(driver_unload_text(u), "unloaded kvmprobe\n");
  EXPECT_EQ(driver_unload_json(u).dump(),
            R"({"errno":null,"schema":"kvmprobe.driver-unload/1","unloaded":true,"was_loaded":true})");
  EXPECT_EQ(driver_unload_text({false, true, 0, "", ""}), "kvmprobe was not loaded\n");
}

}  // namespace
}  // namespace kvmprobe::render
