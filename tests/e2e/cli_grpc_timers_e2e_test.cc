// `sp` and `spctl` keep gRPC's timers (their calls' deadlines, the TLS
// handshake's timeout) on time after a wall-clock step
// (base/grpc_timers.h): run an hour ahead under libfaketime (to gRPC's
// timer thread, which sleeps until a wall-clock time, the same as the real
// clock stepping back an hour) against a CA that accepts connections and
// never answers (stopped with SIGSTOP), each gives up on time (gRPC's 20 s
// TLS handshake timeout) instead of waiting out the step (the harness
// kills it at 60 s).
#include <signal.h>

#include <chrono>
#include <thread>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/e2e/spctl_e2e_util.h"
#include "tests/harness/fake_wall_clock.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/wall_clock_step.h"

namespace sallyport::e2e {
namespace {

using sallyport::testing::FakeWallClock;

class CliGrpcTimersTest : public SpctlTestBase {};

TEST_F(CliGrpcTimersTest, SpAndSpctlEndAtTheirDeadlineAfterAWallClockStep) {
  auto dir = sallyport::testing::TempDir::Create("clock");
  ASSERT_TRUE(dir.ok()) << dir.status();
  auto clock = FakeWallClock::Create(dir->path());
  ASSERT_TRUE(clock.ok()) << clock.status();
  ASSERT_TRUE(clock->Step(absl::Hours(1)).ok());
  const pid_t ca = env_->ca().process().pid();
  ASSERT_EQ(kill(ca, SIGSTOP), 0);
  const auto t0 = std::chrono::steady_clock::now();
  RunResult sp;
  std::thread sp_thread(
      [&] { sp = env_->Sp("admin", {"ls"}, "", clock->Env()); });
  const RunResult spctl = env_->Spctl({"users", "ls"}, "admin", clock->Env());
  sp_thread.join();
  const double seconds = sallyport::testing::SecondsSince(t0);
  ASSERT_EQ(kill(ca, SIGCONT), 0);
  for (const RunResult* r : {&spctl, static_cast<const RunResult*>(&sp)}) {
    EXPECT_FALSE(r->timed_out) << r->Describe();
    EXPECT_NE(r->exit_code, 0) << r->Describe();
    // gRPC's TLS handshake timeout (20 s, a gRPC timer too) ends the call
    // before its deadline.
    EXPECT_TRUE(absl::StrContains(r->err, "cannot reach the CA"))
        << r->Describe();
  }
  EXPECT_LT(seconds, 50);
}

}  // namespace
}  // namespace sallyport::e2e
