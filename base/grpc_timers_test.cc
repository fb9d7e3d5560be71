// gRPC's call deadlines under a wall-clock step, with and without a
// KeepGrpcTimersOnTime() handle: a unary call to a server that accepts
// and never answers (a listening socket nobody reads) must end at its
// 1 s deadline, not once the step has passed.
#include "base/grpc_timers.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/harness/net_util.h"
#include "tests/harness/wall_clock_step.h"

namespace sallyport::base {
namespace {

struct CallOutcome {
  bool ended = false;
  double seconds = 0;
  grpc::StatusCode code = grpc::StatusCode::OK;
};

// A unary call with a 1 s deadline to a loopback port that accepts
// connections (the kernel's backlog) and never answers; waits up to
// `patience` of the steady clock for it to end.
CallOutcome CallSilentServer(absl::Duration patience) {
  const testing::LoopbackListener listener = testing::ListenOnLoopback(8);
  EXPECT_GE(listener.fd, 0);
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(listener.port),
                          grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  auto ctx = std::make_shared<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
  grpc::Slice slice("x", 1);
  auto request = std::make_shared<grpc::ByteBuffer>(&slice, 1);
  auto response = std::make_shared<grpc::ByteBuffer>();
  auto done = std::make_shared<std::atomic<bool>>(false);
  auto code = std::make_shared<std::atomic<int>>(0);
  const auto t0 = std::chrono::steady_clock::now();
  stub.UnaryCall(ctx.get(), "/sallyport.test.Silent/Call", grpc::StubOptions(),
                 request.get(), response.get(),
                 [ctx, request, response, done, code](grpc::Status st) {
                   code->store(st.error_code());
                   done->store(true);
                 });
  CallOutcome out;
  out.ended = testing::WaitSteadily([&] { return done->load(); }, patience);
  out.seconds = testing::SecondsSince(t0);
  out.code = static_cast<grpc::StatusCode>(code->load());
  if (!out.ended) {
    ctx->TryCancel();
    testing::WaitSteadily([&] { return done->load(); }, absl::Seconds(5));
  }
  close(listener.fd);
  return out;
}

// The control, without a handle: after the step the call is still
// running 4 s past its 1 s deadline (gRPC's timer thread sleeps on the wall
// clock). If this fails, gRPC no longer needs the kicks.
TEST(GrpcTimersTest, WithoutKicksADeadlineIsHeldByAWallClockStep) {
  if (!testing::InChildUnderFakeWallClock()) return;
  ASSERT_NO_FATAL_FAILURE(testing::SetWallClockInChild(absl::Hours(1)));
  const CallOutcome out = CallSilentServer(absl::Seconds(5));
  EXPECT_FALSE(out.ended) << "ended after " << out.seconds << " s";
}

TEST(GrpcTimersTest, WithAHandleADeadlineEndsOnTimeAfterAWallClockStep) {
  if (!testing::InChildUnderFakeWallClock()) return;
  std::shared_ptr<const void> kick = KeepGrpcTimersOnTime();
  ASSERT_NO_FATAL_FAILURE(testing::SetWallClockInChild(absl::Hours(1)));
  const CallOutcome out = CallSilentServer(absl::Seconds(10));
  ASSERT_TRUE(out.ended);
  EXPECT_EQ(out.code, grpc::StatusCode::DEADLINE_EXCEEDED);
  // 1 s, at most a kick interval late (and some slack for a busy machine).
  EXPECT_LT(out.seconds,
            1 + absl::ToDoubleSeconds(kGrpcTimerKickInterval) + 1.5);
}

// One thread for all handles; it stops with the last one.
TEST(GrpcTimersTest, TheThreadRunsWhileAHandleIsHeld) {
  auto a = KeepGrpcTimersOnTime();
  auto b = KeepGrpcTimersOnTime();
  EXPECT_EQ(a, b);
  const uint64_t start = GrpcTimerKicksForTest();
  EXPECT_TRUE(testing::WaitSteadily(
      [&] { return GrpcTimerKicksForTest() >= start + 2; }, absl::Seconds(5)));
  a.reset();
  b.reset();
  const uint64_t stopped = GrpcTimerKicksForTest();
  usleep(static_cast<useconds_t>(
      absl::ToInt64Microseconds(3 * kGrpcTimerKickInterval)));
  EXPECT_EQ(GrpcTimerKicksForTest(), stopped);
}

}  // namespace
}  // namespace sallyport::base
