// run_program() against real programs (coreutils, sh): what they are given, what they print,
// how they end.
#include "core/sys/run_program.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>

namespace kvmprobe::sys {
namespace {

TEST(RunProgram, CapturesStdoutAndStderrTogetherWithTheExitStatus) {
  auto r = run_program({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(r.ok()) << r.error().detail;
  EXPECT_EQ(r->exit_status, 3);
  EXPECT_EQ(r->output, "out\nerr\n");
  EXPECT_TRUE(r->errors.empty());
}

TEST(RunProgram, StdinIsDevNullWithoutInput) {
  auto r = run_program({"/bin/cat"});
  ASSERT_TRUE(r.ok()) << r.error().detail;
  EXPECT_EQ(r->exit_status, 0);
  EXPECT_EQ(r->output, "");
}

TEST(RunProgram, FeedsInputLargerThanAPipeAndSeparatesStderr) {
  std::string input(3 << 20, 'x');  // 3 MiB: the child reads while we write
  for (std::size_t i = 0; i < input.size(); i += 4097) input[i] = '\n';
  ProgramIo io;
  io.input = input;
  io.separate_stderr = true;
  io.max_output = 8 << 20;
  auto r = run_program({"/bin/sh", "-c", "cat; echo done >&2"}, io);
  ASSERT_TRUE(r.ok()) << r.error().detail;
  EXPECT_EQ(r->exit_status, 0);
  EXPECT_EQ(r->output, input);
  EXPECT_EQ(r->errors, "done\n");
  EXPECT_FALSE(r->output_over);
}

TEST(RunProgram, AChildThatStopsReadingCostsNoSigpipe) {
  std::string input(4 << 20, 'y');
  ProgramIo io;
  io.input = input;
  auto r = run_program({"/usr/bin/head", "-c", "3"}, io);
  ASSERT_TRUE(r.ok()) << r.error().detail;  // and this process is still alive
  EXPECT_EQ(r->output, "yyy");
  EXPECT_EQ(r->exit_status, 0);
}

TEST(RunProgram, OutputOverTheCapIsDroppedOrKillsTheChild) {
  ProgramIo io;
  io.max_output = 1000;
  auto dropped = run_program({"/bin/sh", "-c", "head -c 5000 /dev/zero"}, io);
  ASSERT_TRUE(dropped.ok()) << dropped.error().detail;
  EXPECT_EQ(dropped->output.size(), 1000u);
  EXPECT_TRUE(dropped->output_over);
  EXPECT_EQ(dropped->exit_status, 0);

  io.kill_when_over = true;
  auto start = std::chrono::steady_clock::now();
  auto killed = run_program({"/usr/bin/yes"}, io);  // never ends by itself
  ASSERT_TRUE(killed.ok()) << killed.error().detail;
  EXPECT_TRUE(killed->output_over);
  EXPECT_EQ(killed->exit_status, 128 + 9);  // SIGKILL
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(RunProgram, TheDeadlineKillsTheChild) {
  auto r = run_program({"/bin/sleep", "10"}, 200);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().err, ETIMEDOUT);
  EXPECT_NE(r.error().detail.find("did not finish"), std::string::npos);
}

TEST(RunProgram, AMissingProgramIsAnErrorWithItsErrno) {
  auto r = run_program({"/nonexistent/program"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().err, ENOENT);
  EXPECT_EQ(r.error().detail.rfind("cannot run /nonexistent/program", 0), 0u);
  ProgramIo io;
  io.search_path = true;
  auto found = run_program({"sh", "-c", "echo via PATH"}, io);
  ASSERT_TRUE(found.ok()) << found.error().detail;
  EXPECT_EQ(found->output, "via PATH\n");
  io.search_path = false;
  EXPECT_FALSE(run_program({"sh", "-c", "true"}, io).ok());  // a bare name needs search_path
}

}  // namespace
}  // namespace kvmprobe::sys
