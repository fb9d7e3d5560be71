#include "tests/harness/subprocess.h"

#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest-spi.h"
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

// A child that writes a report where a sanitizer runtime would: the file
// its UBSAN_OPTIONS log_path names, plus ".PID".
void RunChildWithReport() {
  auto r =
      RunCommand({"/bin/sh", "-c",
                  "p=${UBSAN_OPTIONS##*log_path=}; p=${p%%:*}; "
                  "echo 'runtime error: made up by the test' > \"$p.$$\""});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->Describe();
}

// Restores a variable of our environment at scope exit.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_.has_value()) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(SubprocessTest, SanitizerReportOfAChildFailsTheTest) {
  auto dir = TempDir::Create("san");
  ASSERT_TRUE(dir.ok()) << dir.status();
  ScopedEnv env("UBSAN_OPTIONS",
                "print_stacktrace=1:log_path=" + dir->File("ubsan") + ":x=1");
  EXPECT_NONFATAL_FAILURE(RunChildWithReport(), "made up by the test");
  std::vector<std::string> files = SanitizerReportFiles();
  ASSERT_EQ(files.size(), 1u);
  // The child's own name: ours (t<pid>) then its pid.
  EXPECT_TRUE(absl::StartsWith(
      files[0], dir->File(absl::StrCat("ubsan.t", getpid(), "."))))
      << files[0];
  // A report fails the test once.
  CheckSanitizerReports();
}

TEST(SubprocessTest, SanitizerLogPathIsLeftAloneWithoutOne) {
  ScopedEnv env("UBSAN_OPTIONS", "print_stacktrace=1:log_path=stderr");
  auto r = RunCommand({"/bin/sh", "-c", "echo \"$UBSAN_OPTIONS\""});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out, "print_stacktrace=1:log_path=stderr\n");
  EXPECT_TRUE(SanitizerReportFiles().empty());
}

// A log file written by another thread a little later: the wait sees the
// line once it is whole, and of several lines with every text, the last.
TEST(WaitForLogLineTest, ReturnsTheLastWholeLineWithEveryText) {
  auto d = TempDir::Create("t");
  ASSERT_TRUE(d.ok());
  const std::string log = d->File("log");
  std::thread writer([&] {
    absl::SleepFor(absl::Milliseconds(300));
    ASSERT_TRUE(WriteFile(log,
                          "event=open session=s1\n"
                          "event=close session=s2 bytes=1\n"
                          "event=close session=s1 bytes=2\n"
                          "event=close session=s1 bytes=3 (being written)")
                    .ok());
  });
  absl::StatusOr<std::string> line =
      WaitForLogLine([&] { return ReadFileOrEmpty(log); },
                     {"event=close", "session=s1"}, absl::Seconds(20));
  writer.join();
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(*line, "event=close session=s1 bytes=2");
}

TEST(WaitForLogLineTest, NamesTheTextsAndTheLogsTailWhenNoLineCame) {
  std::string log;
  for (int i = 0; i < 30; ++i) absl::StrAppend(&log, "line ", i, "\n");
  absl::StrAppend(&log, "event=close session=s2\n");
  const absl::StatusOr<std::string> line =
      WaitForLogLine([&] { return log; }, {"event=close", "session=s1"},
                     absl::Milliseconds(300));
  ASSERT_EQ(line.status().code(), absl::StatusCode::kDeadlineExceeded)
      << line.status();
  const std::string message(line.status().message());
  EXPECT_TRUE(absl::StrContains(
      message, "no log line with \"event=close\" and \"session=s1\""))
      << message;
  EXPECT_TRUE(absl::StrContains(message, "\nline 11\n")) << message;
  EXPECT_TRUE(absl::StrContains(message, "\nevent=close session=s2"))
      << message;
  EXPECT_FALSE(absl::StrContains(message, "\nline 10\n")) << message;
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
