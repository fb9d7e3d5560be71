// EventSender's waits under a wall-clock step (tests/harness/
// wall_clock_step.h: each test runs again in a child whose clock
// libfaketime steps): the batch delay, the backoff after a failed send and
// Flush's deadline end on time, and FlushAround's two flushes share their
// budget as time really passes. What is tested is when the sender calls its
// Send, so Send here records or refuses (event_sender_test.cc sends to a
// real CA).
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "gateway/event_sender.h"
#include "gtest/gtest.h"
#include "proto/gateway.pb.h"
#include "tests/harness/wall_clock_step.h"

namespace sallyport::gateway {
namespace {

using sallyport::testing::InChildUnderFakeWallClock;
using sallyport::testing::SecondsSince;
using sallyport::testing::SetWallClockInChild;
using sallyport::testing::WaitSteadily;

// A Send that fails its first `failures` calls (the CA unreachable), then
// takes everything.
EventSender::Send FailingFirst(int failures) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  return [calls, failures](const gateway::v1::RecordGatewayEventsRequest&,
                           absl::Duration) {
    if (calls->fetch_add(1) < failures) {
      return absl::UnavailableError("the CA is down");
    }
    return absl::OkStatus();
  };
}

// A sender whose sends all fail (the CA unreachable), without batch delay.
std::unique_ptr<EventSender> ToAnUnreachableCa() {
  EventSenderOptions options;
  options.batch_delay = absl::ZeroDuration();
  return std::make_unique<EventSender>(options, FailingFirst(1 << 30));
}

bool EnqueueOne(EventSender& sender) {
  return sender.Enqueue("session.end", "s-1", "alice", absl::Now(), {});
}

// Flush and FlushAround hang for the step when their waits are stretched:
// the child is given less than the test's own timeout.
constexpr absl::Duration kChildTimeout = absl::Seconds(40);

// The whole test: in a child, steps the clock, then queues one event for a
// sender with `options` whose first `failures` sends fail; expects it sent
// within 10 s.
void ExpectSentOnTimeAfterAStep(const EventSenderOptions& options,
                                int failures) {
  if (!InChildUnderFakeWallClock(kChildTimeout)) return;
  EventSender sender(options, FailingFirst(failures));
  ASSERT_NO_FATAL_FAILURE(SetWallClockInChild(absl::Hours(1)));
  ASSERT_TRUE(EnqueueOne(sender));
  EXPECT_TRUE(
      WaitSteadily([&] { return sender.sent() == 1; }, absl::Seconds(10)));
}

TEST(EventSenderClockTest, ABatchGoesOutOnTimeAfterAWallClockStep) {
  EventSenderOptions options;
  options.batch_delay = absl::Milliseconds(300);
  ExpectSentOnTimeAfterAStep(options, /*failures=*/0);
}

TEST(EventSenderClockTest, TheBackoffEndsOnTimeAfterAWallClockStep) {
  EventSenderOptions options;
  options.batch_delay = absl::ZeroDuration();
  options.initial_backoff = absl::Milliseconds(300);
  ExpectSentOnTimeAfterAStep(options, /*failures=*/1);
}

TEST(EventSenderClockTest, AFlushEndsAtItsDeadlineAfterAWallClockStep) {
  if (!InChildUnderFakeWallClock(kChildTimeout)) return;
  std::unique_ptr<EventSender> sender = ToAnUnreachableCa();
  ASSERT_NO_FATAL_FAILURE(SetWallClockInChild(absl::Hours(1)));
  ASSERT_TRUE(EnqueueOne(*sender));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(sender->Flush(absl::Now() + absl::Milliseconds(500)).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(SecondsSince(t0), 10);
}

// The gateway's exit: the wall clock steps an hour back while the first
// flush waits for a CA that does not answer. The second flush gets what
// is left of the budget as time really passed (nothing here), not the
// step: the exit is not held up for an hour.
TEST(EventSenderClockTest, FlushAroundKeepsItsBudgetWhenTheClockStepsBack) {
  if (!InChildUnderFakeWallClock(kChildTimeout)) return;
  std::unique_ptr<EventSender> sender = ToAnUnreachableCa();
  ASSERT_TRUE(EnqueueOne(*sender));
  const absl::Time before = absl::Now();
  std::thread stepper([&] {
    absl::SleepFor(absl::Milliseconds(500));
    SetWallClockInChild(-absl::Hours(1));
  });
  const auto t0 = std::chrono::steady_clock::now();
  absl::Status st = sender->FlushAround(absl::Seconds(6), [&] {
    // The first flush saw the step (absl::Now() shows it within ~3 s).
    EXPECT_LT(absl::Now() - before, absl::Minutes(-59));
    ASSERT_TRUE(EnqueueOne(*sender));
  });
  stepper.join();
  EXPECT_EQ(st.code(), absl::StatusCode::kDeadlineExceeded) << st;
  EXPECT_LT(SecondsSince(t0), 15);
}

}  // namespace
}  // namespace sallyport::gateway
