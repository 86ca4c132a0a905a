// The journal file: created 0600 (directory 0700), appended and read back line by line, never
// through a symlink (file or directory), a torn last line skipped with a note.
#include "core/provision/journal.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

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

TEST_F(JournalFile, AppendsAcrossOpens) {
  fs::path path = dir_ / "j.jsonl";
  for (int i = 0; i < 2; ++i) {
    auto j = FileJournal::open(path.string());
    ASSERT_TRUE(j.ok());
    EXPECT_FALSE((*j)->append(rec("begin")));
  }
  EXPECT_EQ(mode_of(path), 0600u);
  EXPECT_EQ(read_journal(path.string())->records.size(), 2u);
}

// Issue 11 item 6: a bad mode is refused, never silently changed.
TEST_F(JournalFile, RefusesAJournalOthersCanWrite) {
  fs::path path = dir_ / "j.jsonl";
  std::ofstream(path) << rec("begin").dump() << "\n";
  ::chmod(path.c_str(), 0664);
  auto j = FileJournal::open(path.string());
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.error().kind, ErrorKind::bad_input);
  EXPECT_NE(j.error().detail.find("writable by group or others (mode 0664)"), std::string::npos) << j.error().detail;
  EXPECT_EQ(mode_of(path), 0664u);
  auto r = read_journal(path.string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::bad_input);
  ::chmod(path.c_str(), 0644);  // readable by others is no threat to what restore writes
  EXPECT_TRUE(read_journal(path.string()).ok());
}

// Issue 11 item 6: the journal can be a hard link to another file.
TEST_F(JournalFile, RefusesAHardLink) {
  fs::path target = dir_ / "target";
  std::ofstream(target) << rec("begin").dump() << "\n";
  ::chmod(target.c_str(), 0600);
  fs::create_hard_link(target, dir_ / "j.jsonl");
  auto j = FileJournal::open((dir_ / "j.jsonl").string());
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.error().detail.find("has 2 links"), std::string::npos) << j.error().detail;
  auto r = read_journal((dir_ / "j.jsonl").string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::bad_input);
  EXPECT_EQ(fs::file_size(target), rec("begin").dump().size() + 1);
}

TEST_F(JournalFile, RefusesAJournalOwnedBySomeoneElse) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the file away";
  fs::path path = dir_ / "j.jsonl";
  std::ofstream(path) << rec("begin").dump() << "\n";
  ::chmod(path.c_str(), 0600);
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
  auto r = read_journal(path.string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().detail.find("owned by uid 65534"), std::string::npos) << r.error().detail;
  EXPECT_FALSE(FileJournal::open(path.string()).ok());
}

TEST_F(JournalFile, RefusesAFifo) {
  fs::path path = dir_ / "j.jsonl";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  auto r = read_journal(path.string());  // must not hang
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().detail.find("not a regular file"), std::string::npos) << r.error().detail;
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
  for (mode_t m : {0777, 01777, 0770}) {
    fs::path d = dir_ / fmt::format("open{:o}", m);
    fs::create_directory(d);
    ::chmod(d.c_str(), m);
    auto j = FileJournal::open((d / "j.jsonl").string());
    ASSERT_FALSE(j.ok()) << std::oct << m;
    EXPECT_EQ(j.error().kind, ErrorKind::bad_input);
    EXPECT_NE(j.error().detail.find("writable by group or others"), std::string::npos) << j.error().detail;
    EXPECT_FALSE(fs::exists(d / "j.jsonl"));
    // A journal already there is not read either (even sticky: anyone could have made it).
    ::chmod(d.c_str(), 0700);
    std::ofstream(d / "j.jsonl") << rec("begin").dump() << "\n";
    ::chmod((d / "j.jsonl").c_str(), 0600);
    ::chmod(d.c_str(), m);
    auto r = read_journal((d / "j.jsonl").string());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorKind::bad_input);
  }
}

// Issue 11 item 5: a crafted line must not crash the reader.
TEST(JournalText, DeepNestingIsRefusedNotACrash) {
  std::string line = R"({"schema":"kvmprobe.journal/1","run":"r","event":"begin","cpus":[{"cpu":0,"old":)";
  line += std::string(200000, '[') + std::string(200000, ']') + "}]}\n";
  auto r = parse_journal(line, "j");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::bad_input);
  EXPECT_NE(r.error().detail.find("line 1: nested deeper than 64 levels"), std::string::npos) << r.error().detail;
  // Brackets inside strings do not count.
  auto s = parse_journal(R"({"schema":"kvmprobe.journal/1","run":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["})", "j");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->records.size(), 1u);
}

TEST(JournalText, NonStringFieldsAreRefused) {
  for (const char* key : {"schema", "event", "run", "command", "mask", "outcome", "boot"}) {
    nlohmann::json j = {{"schema", kJournalSchema}, {"run", "r"}, {"event", "begin"}};
    j[key] = nlohmann::json::array({1});
    auto r = parse_journal("\n" + j.dump() + "\n", "j");
    ASSERT_FALSE(r.ok()) << key;
    EXPECT_EQ(r.error().kind, ErrorKind::bad_input);
    EXPECT_NE(r.error().detail.find(fmt::format("line 2: \"{}\" is not a string", key)), std::string::npos)
        << r.error().detail;
  }
  // Another schema's line, or a line that is not an object: skipped with a note.
  auto r = parse_journal("{\"schema\":\"other/1\"}\n[1]\n", "j");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->records.empty());
  EXPECT_EQ(r->problems.size(), 2u);
}

TEST(JournalText, AnOverlongLineIsRefused) {
  std::string line = R"({"schema":"kvmprobe.journal/1","detail":")" + std::string(kMaxJournalLineBytes, 'x') + "\"}";
  auto r = parse_journal(line, "j");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().detail.find("longer than 1 MiB"), std::string::npos);
}

// Issue 11 item 10: a journal of small values would cost ~20 times its size once parsed.
TEST(JournalText, TooManyValuesAreRefused) {
  std::string text;
  std::string line = R"({"schema":"kvmprobe.journal/1","x":[)";
  for (int i = 0; i < 200000; ++i) line += "0,";
  line += "0]}\n";
  for (int i = 0; i < 6; ++i) text += line;  // 2.4 MB, 1.2 million values
  auto r = parse_journal(text, "j");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::bad_input);
  EXPECT_NE(r.error().detail.find("holds more than 1048576 JSON values"), std::string::npos) << r.error().detail;
  // Counted before anything is parsed: a small journal of the same shape is read.
  EXPECT_TRUE(parse_journal(R"({"schema":"kvmprobe.journal/1","x":[0,0,0]})", "j").ok());
}

// Issue 11 item 8: a long-lived host never reaches the 16 MiB refusal.
TEST_F(JournalFile, ANewRunRotatesALargeJournal) {
  fs::path path = dir_ / "j.jsonl";
  {
    std::ofstream f(path);
    std::string filler = rec("write").dump() + "\n";
    while (static_cast<std::size_t>(f.tellp()) < kRotateJournalBytes) f << filler;
  }
  ::chmod(path.c_str(), 0600);
  auto size = fs::file_size(path);
  {
    auto j = FileJournal::open(path.string());  // restore: never rotates
    ASSERT_TRUE(j.ok());
    EXPECT_FALSE(fs::exists(dir_ / "j.jsonl.1"));
  }
  auto j = FileJournal::open(path.string(), Rotate::when_large);
  ASSERT_TRUE(j.ok()) << j.error().detail;
  EXPECT_FALSE((*j)->append(rec("begin")));
  EXPECT_EQ(fs::file_size(dir_ / "j.jsonl.1"), size);
  auto back = read_journal(path.string());
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->records.size(), 1u);
  EXPECT_EQ(back->records[0]["event"], "begin");
  EXPECT_EQ(mode_of(path), 0600u);
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
  EXPECT_EQ(parse_journal_hex(hex(0xc0010114)), 0xc0010114u);
  EXPECT_EQ(parse_journal_hex(hex(0)), 0u);
  EXPECT_FALSE(parse_journal_hex("0x"));
  EXPECT_FALSE(parse_journal_hex("0xG"));
  EXPECT_FALSE(parse_journal_hex(nlohmann::json(5)));
  EXPECT_FALSE(parse_journal_hex("0x11111111111111111"));
}

}  // namespace
}  // namespace kvmprobe::provision
