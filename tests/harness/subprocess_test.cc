#include "tests/harness/subprocess.h"

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/net_util.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {
namespace {

TEST(SubprocessTest, CapturesOutputAndExitCode) {
  auto r = RunCommand({"/bin/sh", "-c", "echo out; echo err >&2; exit 42"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 42);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_FALSE(RunCommandOk({"/bin/sh", "-c", "exit 3"}).ok());
}

TEST(SubprocessTest, FeedsLargeStdin) {
  RunOptions o;
  o.stdin_data = std::string(3 << 20, 'x');
  auto r = RunCommand({"wc", "-c"}, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out, std::to_string(3 << 20) + "\n");
}

TEST(SubprocessTest, TimeoutKillsTheProcessGroup) {
  RunOptions o;
  o.timeout = absl::Milliseconds(300);
  absl::Time start = absl::Now();
  auto r = RunCommand({"/bin/sh", "-c", "sleep 30 & sleep 30"}, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->timed_out);
  EXPECT_FALSE(r->ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST(SubprocessTest, MissingProgramIs127) {
  auto r = RunCommand({"/nonexistent/program"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 127);
}

TEST(NetUtilTest, FreePortAndWait) {
  auto port = FreeLoopbackPort();
  ASSERT_TRUE(port.ok());
  EXPECT_GT(*port, 0);
  EXPECT_EQ(
      WaitForTcpListener("127.0.0.1", *port, absl::Milliseconds(100)).code(),
      absl::StatusCode::kDeadlineExceeded);
}

TEST(TempDirTest, RemovedOnDestruction) {
  std::string path;
  {
    auto d = TempDir::Create("t");
    ASSERT_TRUE(d.ok());
    path = d->path();
    ASSERT_TRUE(WriteFile(d->File("f"), "x").ok());
    EXPECT_EQ(ReadFileOrEmpty(d->File("f")), "x");
  }
  EXPECT_NE(access(path.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace sallyport::testing
