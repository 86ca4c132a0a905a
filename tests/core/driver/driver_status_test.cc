#include "core/driver/driver_status.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "tests/support/fake_module_system.h"

namespace kvmprobe::driver {
namespace {

using namespace std::string_literals;
using testing::FakeModuleSystem;

KoSearch search() {
  KoSearch s;
  s.build_tree_ko = "/src/msr-driver/kvmprobe.ko";
  return s;
}

TEST(DriverStatus, NotLoadedStillFindsTheKoAndDkms) {
  FakeModuleSystem sys;
  sys.tree.write("/src/msr-driver/kvmprobe.ko",
                 "\0vermagic=6.12.117+deb12-amd64 SMP preempt mod_unload modversions \0"s);
  sys.programs["dkms"] = "/usr/sbin/dkms";
  sys.on_run = [](const std::vector<std::string>& argv) {
    EXPECT_EQ(argv, (std::vector<std::string>{"/usr/sbin/dkms", "status", "kvmprobe"}));
    return ProgramResult{0, "kvmprobe/0.1.0, 6.1.0-56-amd64, x86_64: installed\n"};
  };
  DriverStatus st = driver_status(sys, search());
  EXPECT_FALSE(st.usable);
  EXPECT_FALSE(st.module.loaded);
  EXPECT_FALSE(st.device.present);
  EXPECT_FALSE(st.abi.info);
  ASSERT_TRUE(st.ko);
  EXPECT_EQ(st.ko->origin, KoOrigin::build_tree);
  EXPECT_EQ(vermagic_release(*st.ko_vermagic), "6.12.117+deb12-amd64");
  EXPECT_TRUE(st.dkms.available);
  EXPECT_EQ(st.dkms.lines, std::vector<std::string>{"kvmprobe/0.1.0, 6.1.0-56-amd64, x86_64: installed"});
}

TEST(DriverStatus, LoadedWithItsParametersAndAbi) {
  FakeModuleSystem sys;
  sys.mark_loaded();
  DriverStatus st = driver_status(sys, search());
  EXPECT_TRUE(st.usable);
  EXPECT_EQ(st.module.initstate, "live");
  EXPECT_EQ(st.module.taint, "OE");
  EXPECT_EQ(st.module.refcnt, 0);
  EXPECT_EQ(st.module.allow_writes, true);
  EXPECT_EQ(st.device.node.mode, 0600u);
  EXPECT_TRUE(st.abi.matches());
  EXPECT_FALSE(st.dkms.available);
}

TEST(DriverStatus, AnotherAbiIsNotUsableButDeniedIs) {
  FakeModuleSystem sys;
  sys.mark_loaded();
  sys.version = collect::DriverInfo{KVMPROBE_ABI_VERSION + 1, 7, 256, 2};
  EXPECT_FALSE(driver_status(sys, search()).usable);
  sys.version = make_error(ErrorKind::missing, "cannot open /dev/kvmprobe: Permission denied", {}, EACCES);
  DriverStatus st = driver_status(sys, search());
  EXPECT_TRUE(st.usable);  // loaded and present; only this caller may not ask
  EXPECT_EQ(st.abi.err, EACCES);
}

}  // namespace
}  // namespace kvmprobe::driver
