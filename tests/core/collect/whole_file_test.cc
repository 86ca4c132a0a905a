// write_whole_file() and symlinks (issue 11 item 6): a link in a sticky world-writable
// directory (/tmp) is never followed; elsewhere the target is replaced, the link kept.
#include "core/collect/whole_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace kvmprobe::collect {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class WholeFileLinks : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kvmprobe-wf-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(WholeFileLinks, ALinkInAStickyWorldWritableDirectoryIsRefused) {
  fs::create_directory(dir_ / "tmp");
  ::chmod((dir_ / "tmp").c_str(), 01777);
  std::ofstream(dir_ / "victim") << "keep";
  fs::create_symlink(dir_ / "victim", dir_ / "tmp" / "out.json");
  auto e = write_whole_file((dir_ / "tmp" / "out.json").string(), "evil");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind, ErrorKind::io);
  EXPECT_NE(e->detail.find("symlink in the world-writable directory"), std::string::npos) << e->detail;
  EXPECT_EQ(slurp(dir_ / "victim"), "keep");
  // A plain file there is still written.
  EXPECT_EQ(write_whole_file((dir_ / "tmp" / "plain.json").string(), "ok"), std::nullopt);
  EXPECT_EQ(slurp(dir_ / "tmp" / "plain.json"), "ok");
}

TEST_F(WholeFileLinks, ALinkInAPrivateDirectoryIsWrittenThrough) {
  std::ofstream(dir_ / "target") << "old";
  fs::create_symlink(dir_ / "target", dir_ / "link");
  EXPECT_EQ(write_whole_file((dir_ / "link").string(), "new"), std::nullopt);
  EXPECT_TRUE(fs::is_symlink(dir_ / "link"));
  EXPECT_EQ(slurp(dir_ / "target"), "new");
}

}  // namespace
}  // namespace kvmprobe::collect
