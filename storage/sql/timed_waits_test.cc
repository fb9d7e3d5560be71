// The store's timed waits under a wall-clock step: a group commit
// leader's wait for its batch to fill (group_commit_max_wait, counted from
// the arrival of its oldest item) and a caller's wait for a pooled
// connection (acquire_timeout). With absl::Mutex (Debian's Abseil turns a
// timeout into a wall-clock deadline) and the arrival kept as wall-clock
// time, a step back held each of them for the length of the step.
#include <chrono>
#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "gtest/gtest.h"
#include "storage/sql/connection_pool.h"
#include "storage/sql/group_commit.h"
#include "tests/harness/wall_clock_step.h"

namespace sallyport::storage::sql {
namespace {

using sallyport::testing::InChildUnderFakeWallClock;
using sallyport::testing::SecondsSince;
using sallyport::testing::SetWallClockInChild;

// A leader that waits for its batch to fill commits it max_wait after its
// oldest item arrived, also after the wall clock stepped.
TEST(GroupCommitTest, ABatchWaitEndsOnTimeAfterAWallClockStep) {
  if (!InChildUnderFakeWallClock()) return;
  ASSERT_NO_FATAL_FAILURE(SetWallClockInChild(absl::Hours(1)));
  int committed = 0;
  GroupCommit<int> commit(4, absl::Milliseconds(200),
                          [&](absl::Span<int* const> items) {
                            committed += static_cast<int>(items.size());
                            return absl::OkStatus();
                          });
  for (int i = 0; i < 3; ++i) {
    int item = i;
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(commit.Submit(item).ok());
    EXPECT_LT(SecondsSince(t0), 10);
  }
  EXPECT_EQ(committed, 3);
  EXPECT_EQ(commit.stats().batches, 3);
}

// An item queued before the wall clock steps back (here: while another
// batch commits) is committed once that batch ends, its max_wait long
// spent: the wait is measured from its arrival on the steady clock, so the
// step does not add an hour to it.
TEST(GroupCommitTest, AnItemQueuedBeforeAStepBackIsNotHeldByIt) {
  if (!InChildUnderFakeWallClock()) return;
  ASSERT_NO_FATAL_FAILURE(SetWallClockInChild(absl::Hours(1)));
  absl::Notification first_running;
  absl::Notification release_first;
  GroupCommit<int> commit(4, absl::Seconds(1),
                          [&](absl::Span<int* const> items) {
                            if (*items[0] == 1) {
                              first_running.Notify();
                              release_first.WaitForNotification();
                            }
                            return absl::OkStatus();
                          });
  int first = 1;
  std::thread leader([&] { EXPECT_TRUE(commit.Submit(first).ok()); });
  first_running.WaitForNotification();
  int second = 2;
  absl::Notification second_done;
  commit.SubmitAsync(second, [&](absl::Status status) {
    EXPECT_TRUE(status.ok()) << status;
    second_done.Notify();
  });
  ASSERT_NO_FATAL_FAILURE(SetWallClockInChild(absl::ZeroDuration()));
  const auto t0 = std::chrono::steady_clock::now();
  release_first.Notify();
  leader.join();
  // The process's clock is the real one again: this wait is not stretched.
  EXPECT_TRUE(second_done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  EXPECT_LT(SecondsSince(t0), 10);
}

// A caller waits at most acquire_timeout for a connection, then is told
// kResourceExhausted, also after the wall clock stepped.
TEST(ConnectionPoolTest, AcquireTimesOutOnTimeAfterAWallClockStep) {
  if (!InChildUnderFakeWallClock()) return;
  ASSERT_NO_FATAL_FAILURE(SetWallClockInChild(absl::Hours(1)));
  struct Conn {};
  ConnectionPool<Conn> pool(1, absl::Milliseconds(200),
                            [] { return std::make_unique<Conn>(); });
  absl::StatusOr<std::unique_ptr<Conn>> held = pool.Acquire();
  ASSERT_TRUE(held.ok()) << held.status();
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(absl::IsResourceExhausted(pool.Acquire().status()));
    EXPECT_LT(SecondsSince(t0), 10);
  }
  pool.Release(std::move(*held), /*reusable=*/true);
  EXPECT_TRUE(pool.Acquire().ok());
}

}  // namespace
}  // namespace sallyport::storage::sql
