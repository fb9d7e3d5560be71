#include "tests/harness/fake_wall_clock.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

constexpr char kChildEnv[] = "SALLYPORT_FAKE_WALL_CLOCK_FILE";

absl::Status WriteOffset(const std::string& path, absl::Duration offset) {
  // libfaketime's relative form: seconds to add to the real time.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << (offset < absl::ZeroDuration() ? "" : "+")
        << absl::ToInt64Seconds(offset) << "\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  // Renamed into place, so a reader never sees half a line.
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ", tmp));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<FakeWallClock> FakeWallClock::Create(const std::string& dir) {
  if (access(kLibFaketime, R_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        kLibFaketime, " is missing: deploy/bootstrap.sh installs faketime"));
  }
  FakeWallClock clock(absl::StrCat(dir, "/faketime"));
  if (absl::Status s = WriteOffset(clock.path_, absl::ZeroDuration());
      !s.ok()) {
    return s;
  }
  return clock;
}

std::map<std::string, std::string> FakeWallClock::Env() const {
  std::map<std::string, std::string> env = {
      {"LD_PRELOAD", kLibFaketime},
      {"FAKETIME_TIMESTAMP_FILE", path_},
      {"FAKETIME_CACHE_DURATION", "1"},
      {"FAKETIME_DONT_FAKE_MONOTONIC", "1"},
      {kChildEnv, path_},
      // gRPC's client-channel backup poller (every 5 s) polls with a
      // deadline in the past; a thread that is not the poller then waits
      // on a condition variable until that deadline as a CLOCK_REALTIME
      // time, which here (the process reads real + offset, the kernel
      // sleeps until real) is the offset away: an hour's sleep that also
      // holds every timer closure that fired with it (a call's deadline
      // among them: //ca:timed_waits_test hung in 3 of 4 runs). A real
      // clock step meets that wait only if it comes within it (a few
      // microseconds); under this clock every such wait after Step() does.
      // Nothing of ours needs the backup poller (the callback API's
      // threads poll), so children run without it.
      {"GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "0"},
  };
  // An ASan build wants its runtime first among the loaded libraries; the
  // preloaded libfaketime comes before it (other builds ignore this).
  const char* asan = std::getenv("ASAN_OPTIONS");
  env["ASAN_OPTIONS"] = asan == nullptr || *asan == '\0'
                            ? std::string("verify_asan_link_order=0")
                            : absl::StrCat(asan, ":verify_asan_link_order=0");
  return env;
}

absl::Status FakeWallClock::Step(absl::Duration offset) {
  return WriteOffset(path_, offset);
}

bool FakeWallClock::InChild() { return std::getenv(kChildEnv) != nullptr; }

absl::StatusOr<FakeWallClock> FakeWallClock::FromChild() {
  const char* path = std::getenv(kChildEnv);
  if (path == nullptr) {
    return absl::FailedPreconditionError("not running under a FakeWallClock");
  }
  return FakeWallClock(path);
}

absl::StatusOr<int> FakeWallClock::RunCurrentTestInChild(
    const FakeWallClock& clock, absl::Duration timeout) {
  const ::testing::TestInfo* test =
      ::testing::UnitTest::GetInstance()->current_test_info();
  if (test == nullptr) return absl::FailedPreconditionError("not in a test");
  std::vector<char> self(4096);
  const ssize_t n = readlink("/proc/self/exe", self.data(), self.size() - 1);
  if (n <= 0) return absl::InternalError("cannot read /proc/self/exe");
  RunOptions options;
  options.env = clock.Env();
  // Not Bazel's test protocol for the child: that is this process's.
  options.env["TEST_PREMATURE_EXIT_FILE"] = "";
  options.env["TEST_TOTAL_SHARDS"] = "1";
  options.env["TEST_SHARD_INDEX"] = "0";
  options.timeout = timeout;
  absl::StatusOr<RunResult> r = RunCommand(
      {std::string(self.data(), static_cast<size_t>(n)),
       absl::StrCat("--gtest_filter=", test->test_suite_name(), ".",
                    test->name()),
       absl::StrCat("--gtest_output=xml:", clock.path_, ".child.xml")},
      options);
  if (!r.ok()) return r.status();
  std::printf("--- the test under a fake wall clock ---\n%s%s---\n",
              r->out.c_str(), r->err.c_str());
  if (r->timed_out) return absl::DeadlineExceededError(r->Describe());
  return r->exit_code;
}

}  // namespace sallyport::testing
