// For the recorder's and the shipper's tests of a wall-clock step
// (tests/harness/fake_wall_clock.h): run the test again in a child process
// under a FakeWallClock, step that clock from the child, and wait for an
// outcome on the steady clock.
#ifndef SALLYPORT_AUDIT_WALL_CLOCK_STEP_TESTING_H_
#define SALLYPORT_AUDIT_WALL_CLOCK_STEP_TESTING_H_

#include <chrono>
#include <functional>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/harness/fake_wall_clock.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::audit {

// In the test's own process: runs the test again in a child under a
// FakeWallClock and expects it to pass within 60 s (what a step used to
// stretch would last an hour: the child then fails by its timeout).
// Returns true there, and the test returns; false in the child, which
// goes on with the test.
inline bool RanInChildUnderAFakeWallClock() {
  using sallyport::testing::FakeWallClock;
  if (FakeWallClock::InChild()) return false;
  absl::StatusOr<sallyport::testing::TempDir> dir =
      sallyport::testing::TempDir::Create("clock");
  EXPECT_TRUE(dir.ok()) << dir.status();
  if (!dir.ok()) return true;
  absl::StatusOr<FakeWallClock> clock = FakeWallClock::Create(dir->path());
  EXPECT_TRUE(clock.ok()) << clock.status();
  if (!clock.ok()) return true;
  absl::StatusOr<int> exit =
      FakeWallClock::RunCurrentTestInChild(*clock, absl::Seconds(60));
  EXPECT_EQ(exit.value_or(-1), 0) << exit.status();
  return true;
}

// The longest wait (interval, timeout) the step tests give the code
// under test: StepTheWallClock returns this long after the step was seen.
inline constexpr absl::Duration kLongestTestedWait = absl::Milliseconds(500);

// Polls `done` every 5 ms until it holds or `timeout` of the steady clock
// passed (a wait on the wall clock would be moved by the steps); returns
// whether it holds.
inline bool WaitSteadily(const std::function<bool()>& done,
                         absl::Duration timeout) {
  const auto deadline =
      std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// In the child: steps its wall clock by `by` (from where the previous
// steps left it), waits until this process reads the new time (libfaketime
// re-reads its offset within about kFakeWallClockLag, which is not always
// enough) and then for kLongestTestedWait, so that what the code under
// test waits for from now on was computed after the step.
inline void StepTheWallClock(absl::Duration by) {
  using sallyport::testing::FakeWallClock;
  static absl::Duration offset;  // this process's steps so far
  absl::StatusOr<FakeWallClock> clock = FakeWallClock::FromChild();
  ASSERT_TRUE(clock.ok()) << clock.status();
  const absl::Time before = absl::Now();
  ASSERT_TRUE(clock->Step(offset + by).ok());
  offset += by;
  ASSERT_TRUE(WaitSteadily(
      [&] {
        return absl::AbsDuration(absl::Now() - before - by) < absl::Minutes(1);
      },
      4 * sallyport::testing::kFakeWallClockLag))
      << "libfaketime did not move this process's clock";
  absl::SleepFor(kLongestTestedWait);
}

}  // namespace sallyport::audit

#endif  // SALLYPORT_AUDIT_WALL_CLOCK_STEP_TESTING_H_
