#include "gateway/wall_clock_step_test_util.h"

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::gateway {

std::optional<testing::FakeWallClock> InChildUnderAFakeWallClock(
    absl::Duration timeout) {
  if (testing::FakeWallClock::InChild()) {
    absl::StatusOr<testing::FakeWallClock> clock =
        testing::FakeWallClock::FromChild();
    EXPECT_TRUE(clock.ok()) << clock.status();
    if (!clock.ok()) return std::nullopt;
    return *std::move(clock);
  }
  absl::StatusOr<testing::TempDir> dir = testing::TempDir::Create("clock");
  EXPECT_TRUE(dir.ok()) << dir.status();
  if (!dir.ok()) return std::nullopt;
  absl::StatusOr<testing::FakeWallClock> clock =
      testing::FakeWallClock::Create(dir->path());
  EXPECT_TRUE(clock.ok()) << clock.status();
  if (!clock.ok()) return std::nullopt;
  absl::StatusOr<int> exit =
      testing::FakeWallClock::RunCurrentTestInChild(*clock, timeout);
  EXPECT_TRUE(exit.ok()) << exit.status();
  if (exit.ok()) {
    EXPECT_EQ(*exit, 0) << "the test under a fake wall clock";
  }
  return std::nullopt;
}

void StepAnHourAhead(testing::FakeWallClock& clock) {
  const absl::Time before = absl::Now();
  absl::Status st = clock.Step(absl::Hours(1));
  ASSERT_TRUE(st.ok()) << st;
  // Not a fixed kFakeWallClockLag: absl::Now() reads the kernel's time
  // only about every 2 s (in between it counts CPU cycles), so it can show
  // the step up to that long after libfaketime does.
  for (int i = 0; i < 100 && absl::Now() - before < absl::Minutes(59); ++i) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_GT(absl::Now() - before, absl::Minutes(59))
      << "libfaketime did not move this process's clock";
}

}  // namespace sallyport::gateway
