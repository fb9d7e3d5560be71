#include "tests/harness/subprocess.h"

#include <cstdlib>
#include <optional>
#include <string>
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
