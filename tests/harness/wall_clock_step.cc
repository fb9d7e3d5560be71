#include "tests/harness/wall_clock_step.h"

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/fake_wall_clock.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {

bool InChildUnderFakeWallClock(absl::Duration timeout) {
  if (FakeWallClock::InChild()) return true;
  absl::StatusOr<TempDir> dir = TempDir::Create("clock");
  EXPECT_TRUE(dir.ok()) << dir.status();
  if (!dir.ok()) return false;
  absl::StatusOr<FakeWallClock> clock = FakeWallClock::Create(dir->path());
  EXPECT_TRUE(clock.ok()) << clock.status();
  if (!clock.ok()) return false;
  absl::StatusOr<int> exit =
      FakeWallClock::RunCurrentTestInChild(*clock, timeout);
  EXPECT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit.value_or(-1), 0) << "the test failed in the child";
  return false;
}

void SetWallClockInChild(absl::Duration offset) {
  absl::StatusOr<FakeWallClock> clock = FakeWallClock::FromChild();
  ASSERT_TRUE(clock.ok()) << clock.status();
  // The offset this process set last (FakeWallClock::Create starts at 0).
  static absl::Duration current = absl::ZeroDuration();
  const absl::Time expected = absl::Now() - current + offset;
  ASSERT_TRUE(clock->Step(offset).ok());
  current = offset;
  ASSERT_TRUE(WaitSteadily(
      [&] {
        return absl::AbsDuration(absl::Now() - expected) < absl::Minutes(1);
      },
      kFakeWallClockLag + absl::Seconds(10)))
      << "libfaketime did not move this process's clock";
  absl::SleepFor(kWallClockStepSettle);
}

bool WaitSteadily(const std::function<bool()>& done, absl::Duration timeout) {
  const auto deadline =
      std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
      .count();
}

}  // namespace sallyport::testing
