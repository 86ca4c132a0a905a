#include "core/driver/driver_load.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "tests/support/fake_module_system.h"

namespace kvmprobe::driver {
namespace {

using namespace std::string_literals;
using testing::FakeModuleSystem;

constexpr const char* kBuildKo = "/src/msr-driver/kvmprobe.ko";

std::string ko_bytes(const std::string& release) {
  return "\x7f" "ELF\0vermagic="s + release + " SMP preempt mod_unload modversions \0name=kvmprobe\0"s;
}

LoadOptions build_tree() {
  LoadOptions o;
  o.search.build_tree_ko = kBuildKo;
  return o;
}

TEST(DriverLoad, LoadsTheBuildTreeModuleAndChecksTheDevice) {
  FakeModuleSystem sys;
  sys.tree.write(kBuildKo, ko_bytes("6.1.0-56-amd64"));
  auto o = load_driver(sys, build_tree());
  ASSERT_TRUE(o.ok()) << o.error().detail;
  EXPECT_TRUE(o->loaded);
  EXPECT_FALSE(o->already_loaded);
  EXPECT_EQ(o->method, LoadMethod::finit_module);
  // The module defaults to allow_writes=0 (issue 11 item 9): `driver load` opts in.
  EXPECT_EQ(sys.loaded_files, std::vector<std::string>{std::string(kBuildKo) + " allow_writes=1"});
  EXPECT_EQ(o->ko_vermagic, "6.1.0-56-amd64 SMP preempt mod_unload modversions ");
  EXPECT_TRUE(o->device.present);
  EXPECT_TRUE(o->abi.matches());
  EXPECT_FALSE(o->failure);
}

TEST(DriverLoad, ReadOnlyPassesAllowWrites0) {
  FakeModuleSystem sys;
  sys.tree.write("/root/kvmprobe.ko", ko_bytes("6.1.0-56-amd64"));
  LoadOptions opt;
  opt.search.env_path = "/root/kvmprobe.ko";
  opt.read_only = true;
  ASSERT_TRUE(load_driver(sys, opt).ok());
  EXPECT_EQ(sys.loaded_files, std::vector<std::string>{"/root/kvmprobe.ko allow_writes=0"});
}

TEST(DriverLoad, AlreadyLoadedDoesNothing) {
  FakeModuleSystem sys;
  sys.mark_loaded();
  auto o = load_driver(sys, build_tree());
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->already_loaded);
  EXPECT_TRUE(o->loaded);
  EXPECT_EQ(o->method, LoadMethod::none);
  EXPECT_TRUE(sys.loaded_files.empty());
}

TEST(DriverLoad, AMissingExplicitFileIsAnErrorNotAFallback) {
  FakeModuleSystem sys;
  sys.tree.write(kBuildKo, ko_bytes("6.1.0-56-amd64"));
  LoadOptions opt = build_tree();
  opt.search.option_path = "/nope/kvmprobe.ko";
  auto o = load_driver(sys, opt);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().kind, ErrorKind::missing);
  EXPECT_NE(o.error().detail.find("cannot open /nope/kvmprobe.ko"), std::string::npos);
  EXPECT_TRUE(sys.loaded_files.empty());
}

TEST(DriverLoad, ARefusalIsExplainedFromTheNewLogLines) {
  FakeModuleSystem sys;
  sys.tree.write(kBuildKo, ko_bytes("6.12.117+deb12-amd64"));
  sys.log.push_back("[    5.0] kvmprobe: an old line from an earlier attempt");
  sys.log_after_load = {"[   9.1] kvmprobe: disagrees about version of symbol module_layout",
                        "[   9.2] random: crng init done"};
  sys.load_errno = ENOEXEC;
  auto o = load_driver(sys, build_tree());
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->loaded);
  EXPECT_EQ(o->err, ENOEXEC);
  ASSERT_TRUE(o->failure);
  EXPECT_EQ(o->failure->cause, LoadCause::wrong_kernel);
  EXPECT_NE(o->failure->detail.find("6.12.117+deb12-amd64; this is 6.1.0-56-amd64"), std::string::npos)
      << o->failure->detail;
  EXPECT_EQ(o->kernel_log, std::vector<std::string>{sys.log_after_load[0]});  // only new, relevant
}

TEST(DriverLoad, CompressedDkmsModuleGoesThroughModprobe) {
  FakeModuleSystem sys;
  sys.tree.write("/lib/modules/6.1.0-56-amd64/updates/dkms/kvmprobe.ko.xz", "xz");
  sys.programs["modprobe"] = "/sbin/modprobe";
  sys.on_run = [&](const std::vector<std::string>&) {
    sys.log.push_back("[ 3.0] Loading of unsigned module is rejected");
    return ProgramResult{1, "modprobe: ERROR: could not insert 'kvmprobe': Key was rejected by service\n"};
  };
  sys.tree.write("/sys/module/module/parameters/sig_enforce", "Y\n");
  auto o = load_driver(sys, build_tree());
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->method, LoadMethod::modprobe);
  ASSERT_EQ(sys.runs.size(), 1u);
  EXPECT_EQ(sys.runs[0], (std::vector<std::string>{"/sbin/modprobe", "kvmprobe", "allow_writes=1"}));
  EXPECT_EQ(o->err, EKEYREJECTED);
  ASSERT_TRUE(o->failure);
  EXPECT_EQ(o->failure->cause, LoadCause::signature);
  EXPECT_EQ(o->program_output, "modprobe: ERROR: could not insert 'kvmprobe': Key was rejected by service");

  sys.on_run = [&](const std::vector<std::string>&) {
    sys.mark_loaded();
    return ProgramResult{0, ""};
  };
  o = load_driver(sys, build_tree());
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->loaded);
}

TEST(DriverLoad, NothingAnywhereIsMissing) {
  FakeModuleSystem sys;
  sys.programs["modprobe"] = "/sbin/modprobe";
  sys.on_run = [](const std::vector<std::string>&) {
    return ProgramResult{1, "modprobe: FATAL: Module kvmprobe not found in directory /lib/modules/6.1.0-56-amd64\n"};
  };
  auto o = load_driver(sys, build_tree());
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().kind, ErrorKind::missing);
  EXPECT_NE(o.error().detail.find("no kvmprobe.ko found for 6.1.0-56-amd64"), std::string::npos);
  EXPECT_NE(o.error().hint.find("make -C msr-driver"), std::string::npos);
  sys.programs.clear();
  EXPECT_FALSE(load_driver(sys, build_tree()).ok());
}

TEST(DriverUnload, UnloadsOrSaysWhyNot) {
  FakeModuleSystem sys;
  UnloadOutcome u = unload_driver(sys);
  EXPECT_FALSE(u.was_loaded);
  EXPECT_TRUE(u.unloaded);
  EXPECT_EQ(sys.unloads, 0);

  sys.mark_loaded();
  sys.unload_errno = EWOULDBLOCK;
  u = unload_driver(sys);
  EXPECT_FALSE(u.unloaded);
  EXPECT_NE(u.detail.find("in use"), std::string::npos);
  sys.unload_errno = EPERM;
  sys.root = false;
  u = unload_driver(sys);
  EXPECT_NE(u.detail.find("needs root"), std::string::npos);
  EXPECT_NE(u.hint.find("sudo"), std::string::npos);
  sys.unload_errno = 0;
  u = unload_driver(sys);
  EXPECT_TRUE(u.was_loaded);
  EXPECT_TRUE(u.unloaded);
  EXPECT_FALSE(sys.fs().exists("/sys/module/kvmprobe"));
}

}  // namespace
}  // namespace kvmprobe::driver
