// DevMsrWriter's plumbing against regular files standing in for /dev/cpu/N/msr (pread/pwrite at
// the MSR index as offset, as msr.c does): read, read-modify-write with read-back, unchanged.
// The real device's failures (EIO for #GP, EPERM under lockdown, dropped writes under TCG) are
// exercised in the QEMU guests (tests/vm/enable_vmx.test.sh).
#include "core/provision/msr_writer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/provision/writers.h"

namespace kvmprobe::provision {
namespace {

namespace fs = std::filesystem;

class FakeMsrDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kvmprobe-msrdir-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (int c = 0; c < 2; ++c) {
      fs::create_directories(dir_ / std::to_string(c));
      int fd = ::open((dir_ / std::to_string(c) / "msr").c_str(), O_RDWR | O_CREAT, 0600);
      std::uint64_t v = 0x1000;  // a firmware bit outside what we write
      ASSERT_EQ(::pwrite(fd, &v, 8, 0x3a), 8);
      ::close(fd);
    }
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(FakeMsrDir, ReadModifyWriteReadsBack) {
  DevMsrWriter w(dir_.string());
  EXPECT_EQ(w.probe(0), 0);
  MsrRead r = w.read(1, 0x3a);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value, 0x1000u);
  WriteOutcome o = w.modify(1, 0x3a, 0x5, 0);
  EXPECT_EQ(o.status, WriteStatus::ok);
  EXPECT_EQ(o.old_value, 0x1000u);
  EXPECT_EQ(o.written, 0x1005u);
  EXPECT_EQ(o.readback, 0x1005u);
  EXPECT_EQ(o.value_now(), 0x1005u);
  EXPECT_EQ(w.modify(1, 0x3a, 0x4, 0).status, WriteStatus::unchanged);
  EXPECT_EQ(w.read(0, 0x3a).value, 0x1000u);  // the other CPU is untouched
  EXPECT_EQ(w.modify(1, 0x3a, 0, 0x4).value_now(), 0x1001u);
}

TEST_F(FakeMsrDir, AMissingCpuIsAnError) {
  DevMsrWriter w(dir_.string());
  EXPECT_EQ(w.probe(5), ENOENT);
  WriteOutcome o = w.modify(5, 0x3a, 0x4, 0);
  EXPECT_EQ(o.status, WriteStatus::error);
  EXPECT_FALSE(o.value_now());
  EXPECT_EQ(w.read(5, 0x3a).status, ReadStatus::unavailable);
}

TEST_F(FakeMsrDir, OpenWritersNamesWhatIsMissing) {
  WriterPaths none{(dir_ / "no-driver").string(), (dir_ / "no-msr").string()};
  auto w = open_writers(WriteBackend::automatic, 0, none);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().kind, ErrorKind::missing);
  EXPECT_NE(w.error().detail.find("no-driver"), std::string::npos) << w.error().detail;
  EXPECT_NE(w.error().detail.find("no-msr/0/msr"), std::string::npos) << w.error().detail;
  EXPECT_NE(w.error().hint.find("modprobe msr"), std::string::npos);

  WriterPaths msr_only{(dir_ / "no-driver").string(), dir_.string()};
  auto m = open_writers(WriteBackend::automatic, 0, msr_only);
  ASSERT_TRUE(m.ok()) << m.error().detail;
  EXPECT_EQ(m->primary->backend_name(), "msr");
  EXPECT_EQ(m->fallback, nullptr);
  auto d = open_writers(WriteBackend::driver, 0, msr_only);
  EXPECT_FALSE(d.ok());
}

TEST(WriteStatus, DidNotTakeEffectIsTheMismatchWording) {
  EXPECT_STREQ(to_string(WriteStatus::mismatch), "did not take effect");
}

}  // namespace
}  // namespace kvmprobe::provision
