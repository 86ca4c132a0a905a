#include "core/collect/msr_source.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>

#include "core/collect/msr_probe_list.h"
#include "tests/support/fake_sources.h"

namespace kvmprobe::collect {
namespace {

using testing::FakeTree;

TEST(CollectMsrStatus, ReadErrnoMapsToStatus) {
  EXPECT_EQ(msr_status_from_read_errno(EIO), ReadStatus::fault);  // #GP under rdmsr_safe
  EXPECT_EQ(msr_status_from_read_errno(EACCES), ReadStatus::denied);
  EXPECT_EQ(msr_status_from_read_errno(EPERM), ReadStatus::denied);
  EXPECT_EQ(msr_status_from_read_errno(ENOENT), ReadStatus::unavailable);
  EXPECT_EQ(msr_status_from_read_errno(ENXIO), ReadStatus::unavailable);
}

TEST(CollectMsrStatus, OpenErrnoMapsToStatus) {
  EXPECT_EQ(msr_status_from_open_errno(EPERM), ReadStatus::denied);  // no CAP_SYS_RAWIO
  EXPECT_EQ(msr_status_from_open_errno(EACCES), ReadStatus::denied);
  EXPECT_EQ(msr_status_from_open_errno(ENOENT), ReadStatus::unavailable);
  EXPECT_EQ(msr_status_from_open_errno(ENXIO), ReadStatus::unavailable);  // CPU offline
  EXPECT_EQ(msr_status_from_open_errno(EIO), ReadStatus::unavailable);    // CPU without MSRs
}

TEST(CollectDevMsr, MissingNodeIsUnavailableWithErrnoNotZero) {
  FakeTree tree;
  DevMsrSource src(tree.real("/dev/cpu"));
  EXPECT_EQ(src.probe(0), ENOENT);
  MsrRead r = src.read(0, 0x3A);
  EXPECT_EQ(r.status, ReadStatus::unavailable);
  EXPECT_EQ(r.error, ENOENT);
  EXPECT_FALSE(r.ok());
  auto many = src.read_many(0, per_cpu_msr_list());
  ASSERT_EQ(many.size(), per_cpu_msr_list().size());
  for (const MsrRead& m : many) EXPECT_EQ(m.status, ReadStatus::unavailable);
}

TEST(CollectDevMsr, ReadsEightBytesAtTheIndexOffset) {
  FakeTree tree;
  tree.mkdir("/dev/cpu/0");
  std::string node = tree.real("/dev/cpu/0/msr");
  std::uint64_t feat = 0x5, vmcr = 0x18;
  ASSERT_TRUE(testing::pwrite_at(node, 0x3A, &feat, 8));
  ASSERT_TRUE(testing::pwrite_at(node, 0xC0010114, &vmcr, 8));  // sparse file, nothing really written in between
  DevMsrSource src(tree.real("/dev/cpu"));
  ASSERT_EQ(src.probe(0), 0);
  std::vector<std::uint32_t> idx = {0x3A, 0xC0010114, 0xC0011029};
  auto reads = src.read_many(0, idx);
  ASSERT_EQ(reads.size(), 3u);
  EXPECT_EQ(reads[0].status, ReadStatus::value);
  EXPECT_EQ(reads[0].value, 0x5u);
  EXPECT_EQ(reads[1].value, 0x18u);
  EXPECT_FALSE(reads[2].ok());  // past the end: a short read is never a 0 value
}

TEST(CollectDevMsr, ProbeRetriesAfterAFailure) {
  FakeTree tree;
  DevMsrSource src(tree.real("/dev/cpu"));
  EXPECT_EQ(src.probe(0), ENOENT);
  tree.write("/dev/cpu/0/msr", "");  // as if `modprobe msr` had created the node
  EXPECT_EQ(src.probe(0), 0);
}

}  // namespace
}  // namespace kvmprobe::collect
