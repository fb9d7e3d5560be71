// The bulk lane (ssh/net/bulk_lane.h): one bulk step per turn, and every
// handler that became ready meanwhile runs before the next bulk step.
#include "ssh/net/bulk_lane.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace sallyport::ssh::net {
namespace {

TEST(BulkLaneTest, OtherHandlersRunBetweenTwoBulkSteps) {
  asio::io_context io(1);
  asio::any_io_executor ex = io.get_executor();
  std::vector<std::string> order;
  BulkLane& lane = BulkLane::Of(ex);
  for (int i = 0; i < 3; ++i) {
    lane.Queue(ex, [&, i] {
      order.push_back("bulk" + std::to_string(i));
      // A handshake message that became ready during this bulk step.
      asio::post(ex, [&, i] { order.push_back("prio" + std::to_string(i)); });
      return true;
    });
  }
  EXPECT_EQ(lane.waiting(), 3u);
  io.run();  // returns: with nothing waiting, nothing stays posted
  EXPECT_EQ(order, (std::vector<std::string>{"bulk0", "prio0", "bulk1", "prio1",
                                             "bulk2", "prio2"}));
  EXPECT_EQ(lane.waiting(), 0u);
}

TEST(BulkLaneTest, AStepWithNothingToDoPassesTheTurnOn) {
  asio::io_context io(1);
  asio::any_io_executor ex = io.get_executor();
  std::vector<std::string> order;
  BulkLane& lane = BulkLane::Of(ex);
  lane.Queue(ex, [&] {
    order.push_back("gone");
    asio::post(ex, [&] { order.push_back("prio"); });
    return false;
  });
  lane.Queue(ex, [&] {
    order.push_back("bulk");
    return true;
  });
  io.run();
  EXPECT_EQ(order, (std::vector<std::string>{"gone", "bulk", "prio"}));
}

TEST(BulkLaneTest, StepsQueuedFromAnotherThreadRun) {
  asio::io_context io(1);
  asio::any_io_executor ex = io.get_executor();
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  std::atomic<int> ran{0};
  for (int i = 0; i < 100; ++i) {
    BulkLane::Of(ex).Queue(ex, [&] {
      ++ran;
      return true;
    });
  }
  for (int i = 0; i < 6000 && ran.load() < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  guard.reset();
  runner.join();
  EXPECT_EQ(ran.load(), 100);
}

// Each lane belongs to its execution context.
TEST(BulkLaneTest, OneLanePerContext) {
  asio::io_context a(1), b(1);
  EXPECT_NE(&BulkLane::Of(a.get_executor()), &BulkLane::Of(b.get_executor()));
  EXPECT_EQ(&BulkLane::Of(a.get_executor()), &BulkLane::Of(a.get_executor()));
}

}  // namespace
}  // namespace sallyport::ssh::net
