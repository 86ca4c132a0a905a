#include "core/collect/modules.h"

#include <gtest/gtest.h>

#include "tests/support/fake_sources.h"

namespace kvmprobe::collect {
namespace {

using testing::FakeTree;

TEST(CollectModuleParams, CmdlineKeepsKvmModulesNormalisesDashesAndStopsAtDoubleDash) {
  auto p = parse_cmdline_params(
      "BOOT_IMAGE=/vmlinuz kvm-amd.nested=0 kvm_intel.enable-apicv=N random.trust_cpu=1 "
      "kvm.ignore_msrs kvm_intel.x=\"a b\" -- kvm_amd.npt=0",
      kvm_module_names());
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0].key, "kvm_amd.nested");
  EXPECT_EQ(p[0].value, "0");
  EXPECT_EQ(p[0].origin, "kernel command line");
  EXPECT_EQ(p[1].key, "kvm_intel.enable_apicv");
  EXPECT_EQ(p[1].value, "N");
  EXPECT_EQ(p[2].key, "kvm.ignore_msrs");  // bare form: bool true
  EXPECT_EQ(p[2].value, "");
  EXPECT_EQ(p[3].key, "kvm_intel.x");
  EXPECT_EQ(p[3].value, "a b");
}

TEST(CollectModuleParams, ModprobeConfOptionsWithLineNumbersCommentsAndContinuations) {
  auto p = parse_modprobe_conf(
      "# options kvm_amd nested=1\n"
      "blacklist kvm_intel\n"
      "options kvm_amd nested=0 npt=1\n"
      "options kvm-intel \\\n  nested=Y\n"
      "options snd_hda power_save=1\n",
      "/etc/modprobe.d/kvm.conf", kvm_module_names());
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].key, "kvm_amd.nested");
  EXPECT_EQ(p[0].value, "0");
  EXPECT_EQ(p[0].origin, "/etc/modprobe.d/kvm.conf:3");
  EXPECT_EQ(p[1].key, "kvm_amd.npt");
  EXPECT_EQ(p[2].key, "kvm_intel.nested");
  EXPECT_EQ(p[2].value, "Y");
  EXPECT_EQ(p[2].origin, "/etc/modprobe.d/kvm.conf:4");
}

TEST(CollectModuleParams, EtcHidesLibFileOfTheSameNameAndFilesAreReadByName) {
  FakeTree tree;
  tree.write("/lib/modprobe.d/kvm.conf", "options kvm_amd nested=1\n");
  tree.write("/etc/modprobe.d/kvm.conf", "options kvm_amd nested=0\n");
  tree.write("/lib/modprobe.d/zz.conf", "options kvm_amd avic=1\n");
  tree.write("/run/modprobe.d/aa.conf", "options kvm_amd avic=0\n");
  tree.write("/etc/modprobe.d/README", "options kvm_amd npt=0\n");  // not *.conf
  RootedSysfsReader fs(tree.root());
  EXPECT_EQ(modprobe_conf_files(fs),
            (std::vector<std::string>{"/run/modprobe.d/aa.conf", "/etc/modprobe.d/kvm.conf",
                                      "/lib/modprobe.d/zz.conf"}));
  Snapshot s;
  collect_configured_params(fs, s);
  EXPECT_EQ(s.configured_params["kvm_amd.nested"], "0");
  EXPECT_EQ(s.param_origins["kvm_amd.nested"], "/etc/modprobe.d/kvm.conf:1");
  EXPECT_EQ(s.configured_params["kvm_amd.avic"], "1");  // zz.conf is read after aa.conf
  EXPECT_EQ(s.param_origins["kvm_amd.avic"], "/lib/modprobe.d/zz.conf:1");
  EXPECT_EQ(s.configured_params.count("kvm_amd.npt"), 0u);
}

TEST(CollectModuleParams, CommandLineOverridesModprobeD) {
  FakeTree tree;
  tree.write("/etc/modprobe.d/kvm.conf", "options kvm_intel nested=0\n");
  RootedSysfsReader fs(tree.root());
  Snapshot s;
  s.kernel_cmdline = "quiet kvm_intel.nested=1";
  collect_configured_params(fs, s);
  EXPECT_EQ(s.configured_params["kvm_intel.nested"], "1");
  EXPECT_EQ(s.param_origins["kvm_intel.nested"], "kernel command line");
}

TEST(CollectModuleParams, LoadedModulesWithReadableParameters) {
  FakeTree tree;
  tree.write("/sys/module/kvm/parameters/enable_pmu", "N\n");
  tree.write("/sys/module/kvm/parameters/tsc_tolerance_ppm", "250\n");
  tree.mkdir("/sys/module/kvm/parameters/unreadable");  // reading a directory fails
  tree.write("/sys/module/kvm_amd/parameters/nested", "1\n");
  tree.mkdir("/sys/module/vboxdrv");
  tree.mkdir("/sys/module/snd");
  RootedSysfsReader fs(tree.root());
  Snapshot s;
  collect_loaded_modules(fs, s);
  ASSERT_EQ(s.modules.size(), 3u);
  const LoadedModule* kvm = s.find_module("kvm");
  ASSERT_NE(kvm, nullptr);
  EXPECT_EQ(kvm->params.at("enable_pmu"), "N");
  EXPECT_EQ(kvm->params.at("tsc_tolerance_ppm"), "250");
  EXPECT_EQ(kvm->params.count("unreadable"), 0u);
  EXPECT_EQ(s.find_module("kvm_amd")->params.at("nested"), "1");
  EXPECT_NE(s.find_module("vboxdrv"), nullptr);
  EXPECT_EQ(s.find_module("snd"), nullptr);
  ASSERT_EQ(s.notes.size(), 1u);
  EXPECT_NE(s.notes[0].find("kvm: parameters not readable: unreadable"), std::string::npos);
}

TEST(CollectModuleParams, XenHypervisorTypeIsNoted) {
  FakeTree tree;
  tree.write("/sys/hypervisor/type", "xen\n");
  RootedSysfsReader fs(tree.root());
  Snapshot s;
  collect_loaded_modules(fs, s);
  ASSERT_EQ(s.notes.size(), 1u);
  EXPECT_NE(s.notes[0].find("/sys/hypervisor/type: xen"), std::string::npos);
}

}  // namespace
}  // namespace kvmprobe::collect
