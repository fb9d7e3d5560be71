// The CA's timed waits under a wall-clock step: WatchRevocations' poll of
// the store (a revocation that another CA instance made, only in the
// Store, still reaches an open stream within about the poll interval;
// RevocationFeed::Wait times out on time) and a login's wait for a scrypt
// slot (HashGate's max_wait). With absl::Mutex (Debian's Abseil turns a
// timeout into a wall-clock deadline) a step back held each of them for the
// length of the step. And gRPC's own timers (base/grpc_timers.h).
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/ca_test_env.h"
#include "ca/gateway_test_util.h"
#include "ca/hash_gate.h"
#include "ca/revocation_feed.h"
#include "gtest/gtest.h"
#include "proto/ca.grpc.pb.h"
#include "storage/store.h"
#include "tests/harness/wall_clock_step.h"

namespace sallyport::ca {
namespace {

using sallyport::testing::InChildUnderFakeWallClock;
using sallyport::testing::SecondsSince;
using sallyport::testing::SetWallClockInChild;

TEST(RevocationFeedTest, WaitTimesOutOnTimeAfterAWallClockStep) {
  if (!InChildUnderFakeWallClock()) return;
  ASSERT_NO_FATAL_FAILURE(SetWallClockInChild(absl::Hours(1)));
  RevocationFeed feed;
  uint64_t seen = feed.generation();
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(feed.Wait(&seen, absl::Milliseconds(200)));
    EXPECT_LT(SecondsSince(t0), 10);
  }
}

// The case the poll is for: another CA instance revoked a certificate
// (only the Store has it) while a gateway's stream is open and the wall
// clock stepped; the stream still delivers it within about a poll.
TEST(RevocationFeedTest, AStoreRevocationReachesAStreamAfterAWallClockStep) {
  if (!InChildUnderFakeWallClock()) return;
  // The CA starts before the step (its certificates are valid from the
  // real time), the stream too, so the step falls on an open stream's
  // polls.
  auto env = MakeEnv();  // revocation_poll: 100 ms
  ASSERT_NE(env, nullptr);
  EnrolledGateway gw = EnrollOrDie(*env, "gw1");
  ASSERT_TRUE(gw.status.ok()) << gw.status.error_message();
  auto ca = v1::CertificateAuthority::NewStub(gw.channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  auto stream = ca->WatchRevocations(&ctx, {});
  ASSERT_TRUE(RevokeSerial4242(env->store()).ok());
  v1::Revocation r;
  ASSERT_TRUE(stream->Read(&r));
  EXPECT_EQ(r.serial(), 4242u);

  ASSERT_NO_FATAL_FAILURE(SetWallClockInChild(absl::Hours(1)));
  // As another CA instance does: the revocation is only in the Store.
  storage::Revocation other;
  other.serial = 4343;
  other.reason = "revoked by the other CA";
  other.revoked_by = "admin";
  ASSERT_TRUE(env->store().Revoke(other).ok());
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(stream->Read(&r)) << stream->Finish().error_message();
  EXPECT_EQ(r.serial(), 4343u);
  EXPECT_LT(SecondsSince(t0), 10);
  ctx.TryCancel();
  stream->Finish();
}

// gRPC's own timers in the CA's process (a call's deadline here; the
// server's keepalive pings too) fire on time after a wall-clock step: the
// CA holds base::KeepGrpcTimersOnTime(). Without it a stream with nothing
// to deliver outlived its 2 s deadline by the step (the child is killed).
TEST(CaGrpcTimersTest, AStreamEndsAtItsDeadlineAfterAWallClockStep) {
  if (!InChildUnderFakeWallClock()) return;
  auto env = MakeEnv();
  ASSERT_NE(env, nullptr);
  EnrolledGateway gw = EnrollOrDie(*env, "gw1");
  ASSERT_TRUE(gw.status.ok()) << gw.status.error_message();
  auto ca = v1::CertificateAuthority::NewStub(gw.channel);
  ASSERT_NO_FATAL_FAILURE(SetWallClockInChild(absl::Hours(1)));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  const auto t0 = std::chrono::steady_clock::now();
  auto stream = ca->WatchRevocations(&ctx, {});
  v1::Revocation r;
  while (stream->Read(&r)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(SecondsSince(t0), 5);
}

// A login waits at most max_wait for a scrypt slot, then is refused
// (kResourceExhausted), also when the wall clock stepped.
TEST(HashGateTest, TheWaitForASlotEndsOnTimeAfterAWallClockStep) {
  if (!InChildUnderFakeWallClock()) return;
  ASSERT_NO_FATAL_FAILURE(SetWallClockInChild(absl::Hours(1)));
  HashGate gate(
      {.slots = 1, .max_waiters = 1, .max_wait = absl::Milliseconds(200)});
  HashGate::Slot held = gate.Acquire();
  ASSERT_TRUE(held.ok());
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(gate.Acquire().ok());
    EXPECT_LT(SecondsSince(t0), 10);
  }
  { HashGate::Slot release = std::move(held); }
  EXPECT_TRUE(gate.Acquire().ok());
}

}  // namespace
}  // namespace sallyport::ca
