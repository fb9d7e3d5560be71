#include "ca/issuance_workers.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace sallyport::ca {
namespace {

TEST(IssuanceWorkersTest, WithoutThreadsATaskRunsOnTheCallersThread) {
  IssuanceWorkers workers({.threads = 0});
  EXPECT_EQ(workers.threads(), 0);
  std::thread::id ran_on;
  ASSERT_TRUE(
      workers.Submit([&] { ran_on = std::this_thread::get_id(); }).ok());
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST(IssuanceWorkersTest, TasksRunOnTheWorkersAtOnce) {
  // Four tasks that each wait for all four to have started: they finish
  // only if four workers run them at the same time.
  IssuanceWorkers workers({.threads = 4, .max_inline = 0});
  std::atomic<int> started{0};
  absl::Notification all_started;
  std::atomic<int> done{0};
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(workers
                    .Submit([&] {
                      if (++started == 4) all_started.Notify();
                      EXPECT_TRUE(all_started.WaitForNotificationWithTimeout(
                          absl::Seconds(60)));
                      EXPECT_NE(std::this_thread::get_id(), std::thread::id());
                      ++done;
                    })
                    .ok());
  }
  EXPECT_TRUE(all_started.WaitForNotificationWithTimeout(absl::Seconds(60)));
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (done.load() < 4 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(done.load(), 4);
}

TEST(IssuanceWorkersTest, TheQueueIsRefusedAtItsLimit) {
  constexpr size_t kLimit = 8;
  std::atomic<int> ran{0};
  absl::Notification release;
  absl::Notification busy;
  {
    IssuanceWorkers workers(
        {.threads = 1, .max_queued = kLimit, .max_inline = 0});
    // The only worker is held, so that every further task queues.
    ASSERT_TRUE(workers
                    .Submit([&] {
                      busy.Notify();
                      release.WaitForNotification();
                      ++ran;
                    })
                    .ok());
    ASSERT_TRUE(busy.WaitForNotificationWithTimeout(absl::Seconds(60)));
    for (size_t i = 0; i < kLimit; ++i) {
      ASSERT_TRUE(workers.Submit([&] { ++ran; }).ok()) << i;
    }
    EXPECT_EQ(workers.queued(), kLimit);
    absl::Status refused = workers.Submit([&] { ran += 1000; });
    EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
    EXPECT_NE(refused.message().find("busy"), std::string::npos);
    EXPECT_EQ(workers.queued(), kLimit);
    release.Notify();
    // The destructor runs every queued task before it returns.
  }
  EXPECT_EQ(ran.load(), 1 + static_cast<int>(kLimit));
}

TEST(IssuanceWorkersTest, ARefusedQueueAcceptsAgainOnceItDrains) {
  absl::Notification release;
  absl::Notification busy;
  IssuanceWorkers workers({.threads = 1, .max_queued = 1, .max_inline = 0});
  ASSERT_TRUE(workers
                  .Submit([&] {
                    busy.Notify();
                    release.WaitForNotification();
                  })
                  .ok());
  ASSERT_TRUE(busy.WaitForNotificationWithTimeout(absl::Seconds(60)));
  ASSERT_TRUE(workers.Submit([] {}).ok());
  EXPECT_FALSE(workers.Submit([] {}).ok());
  release.Notify();
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (workers.queued() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  absl::Notification ran;
  EXPECT_TRUE(workers.Submit([&] { ran.Notify(); }).ok());
  EXPECT_TRUE(ran.WaitForNotificationWithTimeout(absl::Seconds(60)));
}

// Issue 11: when nothing waits, up to max_inline tasks run on their
// callers' threads (no hand-off); beyond that they go to the workers.
TEST(IssuanceWorkersTest, AnIdlePoolRunsUpToMaxInlineTasksOnTheCaller) {
  IssuanceWorkers workers({.threads = 1, .max_inline = 1});
  std::thread::id ran_on;
  ASSERT_TRUE(
      workers.Submit([&] { ran_on = std::this_thread::get_id(); }).ok());
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_EQ(workers.ran_inline(), 1);

  // While one task runs inline, the next goes to the worker.
  absl::Notification inner_done;
  std::thread::id inner_on;
  ASSERT_TRUE(workers
                  .Submit([&] {
                    ASSERT_TRUE(workers
                                    .Submit([&] {
                                      inner_on = std::this_thread::get_id();
                                      inner_done.Notify();
                                    })
                                    .ok());
                    EXPECT_TRUE(inner_done.WaitForNotificationWithTimeout(
                        absl::Seconds(60)));
                  })
                  .ok());
  EXPECT_NE(inner_on, std::this_thread::get_id());
  EXPECT_EQ(workers.ran_inline(), 2);

  // max_inline = 0: never inline.
  IssuanceWorkers never({.threads = 1, .max_inline = 0});
  absl::Notification ran;
  std::thread::id never_on;
  ASSERT_TRUE(never
                  .Submit([&] {
                    never_on = std::this_thread::get_id();
                    ran.Notify();
                  })
                  .ok());
  ASSERT_TRUE(ran.WaitForNotificationWithTimeout(absl::Seconds(60)));
  EXPECT_NE(never_on, std::this_thread::get_id());
  EXPECT_EQ(never.ran_inline(), 0);
}

}  // namespace
}  // namespace sallyport::ca
