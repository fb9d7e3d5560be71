#include "base/steady_mutex.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/wall_clock_step.h"

namespace sallyport::base {
namespace {

using sallyport::testing::InChildUnderFakeWallClock;
using sallyport::testing::SecondsSince;
using sallyport::testing::SetWallClockInChild;

// A thread that sets `flag` under `mu` 50 ms from now.
std::thread SetLater(SteadyMutex& mu, bool& flag) {
  return std::thread([&mu, &flag] {
    absl::SleepFor(absl::Milliseconds(50));
    SteadyMutexLock lock(&mu);
    flag = true;
  });
}

TEST(SteadyMutexTest, AwaitWakesWhenAnotherThreadMakesTheConditionTrue) {
  SteadyMutex mu;
  bool ready = false;
  std::thread setter = SetLater(mu, ready);
  {
    SteadyMutexLock lock(&mu);
    mu.Await(absl::Condition(&ready));
    EXPECT_TRUE(ready);
    EXPECT_EQ(mu.WaitersForTest(), 0u);
  }
  setter.join();
}

TEST(SteadyMutexTest, AwaitWithTimeoutReturnsFalseAfterTheTimeout) {
  SteadyMutex mu;
  bool never = false;
  SteadyMutexLock lock(&mu);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(
      mu.AwaitWithTimeout(absl::Condition(&never), absl::Milliseconds(100)));
  EXPECT_GE(SecondsSince(t0), 0.099);
  EXPECT_EQ(mu.WaitersForTest(), 0u);
  // Zero or negative: only evaluated.
  EXPECT_FALSE(
      mu.AwaitWithTimeout(absl::Condition(&never), absl::ZeroDuration()));
  bool yes = true;
  EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&yes), -absl::Seconds(1)));
  EXPECT_FALSE(mu.AwaitWithDeadline(absl::Condition(&never),
                                    absl::Now() - absl::Seconds(1)));
}

TEST(SteadyMutexTest, AwaitWithTimeoutReturnsTrueWhenTheConditionComes) {
  SteadyMutex mu;
  bool ready = false;
  std::thread setter = SetLater(mu, ready);
  {
    SteadyMutexLock lock(&mu);
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(
        mu.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(60)));
    EXPECT_LT(SecondsSince(t0), 30);
  }
  setter.join();
}

// A thread that changes the state and then waits itself (without an
// Unlock between) must wake the threads waiting for that change.
TEST(SteadyMutexTest, AWaiterWakesOthersBeforeItWaits) {
  SteadyMutex mu;
  int turn = 0;
  constexpr int kRounds = 1000;
  auto player = [&](int me) {
    SteadyMutexLock lock(&mu);
    for (int i = 0; i < kRounds; ++i) {
      auto mine = [&] { return turn % 2 == me; };
      mu.Await(absl::Condition(&mine));
      ++turn;  // the other's turn; it is woken by our next Await
    }
  };
  std::thread a(player, 0);
  std::thread b(player, 1);
  a.join();
  b.join();
  EXPECT_EQ(turn, 2 * kRounds);
}

// Only waiters whose condition holds are woken; each wakes once.
TEST(SteadyMutexTest, ManyWaitersWithTheirOwnConditions) {
  SteadyMutex mu;
  int level = 0;
  constexpr int kWaiters = 16;
  std::atomic<int> done{0};
  std::vector<std::thread> waiters;
  for (int i = 1; i <= kWaiters; ++i) {
    waiters.emplace_back([&, i] {
      SteadyMutexLock lock(&mu);
      auto reached = [&] { return level >= i; };
      EXPECT_TRUE(
          mu.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(60)));
      EXPECT_GE(level, i);
      done.fetch_add(1);
    });
  }
  for (int i = 1; i <= kWaiters; ++i) {
    absl::SleepFor(absl::Milliseconds(5));
    SteadyMutexLock lock(&mu);
    level = i;
  }
  for (std::thread& t : waiters) t.join();
  EXPECT_EQ(done.load(), kWaiters);
}

// The point of SteadyMutex: the wall clock steps (here this process's view
// of it, moved an hour ahead by libfaketime: to a wait whose deadline was
// computed from it, the same as the real clock stepping an hour back)
// while threads wait with timeouts. SteadyMutex's waits end on time;
// absl::Mutex's, checked too so that the test shows the step really
// happens, would last an hour longer. (libfaketime moves the deadlines of
// the libc waits it intercepts, pthread_cond_*, to the real clock; only a
// wait that goes to the kernel itself, as absl::Mutex's futex does, shows
// the step. The call sites' tests, which fail with absl::Mutex, are the
// ones that catch a site left on it.)
TEST(SteadyMutexTest, TimedWaitsIgnoreAWallClockStep) {
  if (!InChildUnderFakeWallClock(absl::Seconds(120))) return;
  ASSERT_NO_FATAL_FAILURE(SetWallClockInChild(absl::Hours(1)));

  SteadyMutex mu;
  bool never = false;
  for (int i = 0; i < 3; ++i) {
    SteadyMutexLock lock(&mu);
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(
        mu.AwaitWithTimeout(absl::Condition(&never), absl::Milliseconds(200)));
    EXPECT_LT(SecondsSince(t0), 10) << "AwaitWithTimeout";
    const auto t1 = std::chrono::steady_clock::now();
    EXPECT_FALSE(mu.AwaitWithDeadline(absl::Condition(&never),
                                      absl::Now() + absl::Milliseconds(200)));
    EXPECT_LT(SecondsSince(t1), 10) << "AwaitWithDeadline";
  }

  // The control: absl::Mutex, watched for 3 s rather than the hour.
  absl::Mutex absl_mu;
  bool give_up = false;
  std::atomic<bool> returned{false};
  std::thread waiter([&] {
    absl::MutexLock lock(&absl_mu);
    absl_mu.AwaitWithTimeout(absl::Condition(&give_up),
                             absl::Milliseconds(200));
    returned = true;
  });
  absl::SleepFor(absl::Seconds(3));
  EXPECT_FALSE(returned.load())
      << "absl::Mutex's 200 ms wait ended despite the step: the test no "
         "longer shows what SteadyMutex is for";
  {
    absl::MutexLock lock(&absl_mu);
    give_up = true;
  }
  waiter.join();
}

}  // namespace
}  // namespace sallyport::base
