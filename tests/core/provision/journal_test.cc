// The journal file: created 0600 (directory 0700), appended and read back line by line, never
// through a symlink (file or directory), a torn last line skipped with a note.
#include "core/provision/journal.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace kvmprobe::provision {
namespace {

namespace fs = std::filesystem;

class JournalFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kvmprobe-journal-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  nlohmann::json rec(const char* event) { return {{"schema", kJournalSchema}, {"run", "r1"}, {"event", event}}; }
  fs::path dir_;
};

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

TEST_F(JournalFile, CreatesFileAndDirectoryPrivately) {
  fs::path path = dir_ / "var" / "lib" / "kvmprobe" / "journal.jsonl";
  auto j = FileJournal::open(path.string());
  ASSERT_TRUE(j.ok()) << j.error().detail;
  EXPECT_FALSE((*j)->append(rec("begin")));
  EXPECT_FALSE((*j)->append(rec("end")));
  EXPECT_EQ(mode_of(path), 0600u);
  EXPECT_EQ(mode_of(path.parent_path()), 0700u);
  auto back = read_journal(path.string());
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->records.size(), 2u);
  EXPECT_EQ(back->records[1]["event"], "end");
  EXPECT_TRUE(back->problems.empty());
}

TEST_F(JournalFile, AppendsAcrossOpensAndTightensTheMode) {
  fs::path path = dir_ / "j.jsonl";
  std::ofstream(path) << "";
  ::chmod(path.c_str(), 0644);
  for (int i = 0; i < 2; ++i) {
    auto j = FileJournal::open(path.string());
    ASSERT_TRUE(j.ok());
    EXPECT_FALSE((*j)->append(rec("begin")));
  }
  EXPECT_EQ(mode_of(path), 0600u);
  EXPECT_EQ(read_journal(path.string())->records.size(), 2u);
}

TEST_F(JournalFile, NeverFollowsASymlink) {
  fs::path target = dir_ / "elsewhere";
  std::ofstream(target) << "";
  fs::create_symlink(target, dir_ / "link.jsonl");
  auto j = FileJournal::open((dir_ / "link.jsonl").string());
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.error().detail.find("symlink"), std::string::npos) << j.error().detail;
  EXPECT_EQ(fs::file_size(target), 0u);
  auto r = read_journal((dir_ / "link.jsonl").string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().detail.find("symlink"), std::string::npos);

  fs::create_directory(dir_ / "real");
  fs::create_directory_symlink(dir_ / "real", dir_ / "dirlink");
  auto d = FileJournal::open((dir_ / "dirlink" / "j.jsonl").string());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().detail.find("symlink"), std::string::npos) << d.error().detail;
  EXPECT_FALSE(fs::exists(dir_ / "real" / "j.jsonl"));
}

TEST_F(JournalFile, RefusesADirectoryOthersCanWrite) {
  fs::create_directory(dir_ / "open");
  ::chmod((dir_ / "open").c_str(), 0777);
  auto j = FileJournal::open((dir_ / "open" / "j.jsonl").string());
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.error().detail.find("writable by others"), std::string::npos);
}

TEST_F(JournalFile, SkipsATornLastLine) {
  fs::path path = dir_ / "j.jsonl";
  std::ofstream(path) << rec("begin").dump() << "\n" << R"({"schema":"kvmprobe.journal/1","ev)";
  auto back = read_journal(path.string());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->records.size(), 1u);
  ASSERT_EQ(back->problems.size(), 1u);
  EXPECT_NE(back->problems[0].find("torn"), std::string::npos);
}

TEST_F(JournalFile, AMissingJournalIsMissing) {
  auto r = read_journal((dir_ / "none.jsonl").string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::missing);
}

TEST(JournalHex, RoundTrips) {
  EXPECT_EQ(parse_journal_hex(journal_hex(0xc0010114)), 0xc0010114u);
  EXPECT_EQ(parse_journal_hex(journal_hex(0)), 0u);
  EXPECT_FALSE(parse_journal_hex("0x"));
  EXPECT_FALSE(parse_journal_hex("0xG"));
  EXPECT_FALSE(parse_journal_hex(nlohmann::json(5)));
  EXPECT_FALSE(parse_journal_hex("0x11111111111111111"));
}

}  // namespace
}  // namespace kvmprobe::provision
