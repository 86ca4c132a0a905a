// The run lock (issue 11 item 7): a second writing run is refused at once, naming the holder;
// the lock goes with the process that held it, even when killed.
#include "core/provision/run_lock.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace kvmprobe::provision {
namespace {

namespace fs = std::filesystem;

class RunLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kvmprobe-lock-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string lock_path() const { return (dir_ / "run" / "run.lock").string(); }
  fs::path dir_;
};

TEST_F(RunLockTest, ASecondRunIsRefusedUntilTheFirstEnds) {
  {
    auto first = RunLock::acquire(lock_path());
    ASSERT_TRUE(first.ok()) << first.error().detail;
    struct stat st {};
    ASSERT_EQ(::stat((dir_ / "run").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    // flock() locks belong to the open file: a second open in this process conflicts too.
    auto second = RunLock::acquire(lock_path());
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().kind, ErrorKind::io);
    EXPECT_NE(second.error().detail.find("(pid " + std::to_string(::getpid()) + ")"), std::string::npos) << second.error().detail;
    EXPECT_NE(second.error().detail.find("is writing MSRs"), std::string::npos);
  }
  EXPECT_TRUE(RunLock::acquire(lock_path()).ok());
}

TEST_F(RunLockTest, AKilledHolderLeavesNoStaleLock) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto l = RunLock::acquire(lock_path());
    char c = l.ok() ? 'y' : 'n';
    (void)!::write(ready[1], &c, 1);
    ::pause();
    ::_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  auto busy = RunLock::acquire(lock_path());
  ASSERT_FALSE(busy.ok());
  EXPECT_NE(busy.error().detail.find("(pid " + std::to_string(child) + ")"), std::string::npos)
      << busy.error().detail;
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_TRUE(RunLock::acquire(lock_path()).ok());
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST_F(RunLockTest, NeverASymlinkNorAnOpenDirectory) {
  fs::create_directory(dir_ / "run", dir_);
  ::chmod((dir_ / "run").c_str(), 0700);
  std::ofstream(dir_ / "victim") << "keep";
  fs::create_symlink(dir_ / "victim", dir_ / "run" / "run.lock");
  EXPECT_FALSE(RunLock::acquire(lock_path()).ok());
  fs::remove(dir_ / "run" / "run.lock");
  ::chmod((dir_ / "run").c_str(), 01777);
  auto open = RunLock::acquire(lock_path());
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.error().detail.find("only this user can write"), std::string::npos) << open.error().detail;
  std::ifstream in(dir_ / "victim");
  std::string text;
  in >> text;
  EXPECT_EQ(text, "keep");
}

}  // namespace
}  // namespace kvmprobe::provision
