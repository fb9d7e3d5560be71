// How the gateway ends a session and what it tells the user and its
// reports (the session.end audit event, the log, the metric): the
// certificate revoked at the CA (its revocation stream), a drain, the
// earliest of two ends, the certificate's valid-before, limits.idle_timeout
// and a failed recording. With gateway_test's fixture (real CA, sshd and
// OpenSSH client; see gateway_test_fixture.h).
#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/gateway_test_fixture.h"
#include "gateway/observer.h"
#include "gtest/gtest.h"
#include "ssh/cert/certificate_file.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/wall_clock_step.h"

namespace sallyport::gateway {
namespace {

using testing::RunResult;

TEST_F(GatewayTest, RevokingTheCertificateEndsTheSession) {
  RunResult r;
  std::thread client(
      [&] { r = Ssh(login_ + "+web01", "echo started; sleep 40; echo late"); });
  // Once the command runs, revoke alice's certificate.
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  while (!absl::StrContains(recorder_.DataFor("web01", Direction::kOutput),
                            "started") &&
         absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  auto cert = ssh::cert::LoadCertificate(cert_path_);
  ASSERT_TRUE(cert.ok());
  storage::Revocation rev;
  rev.serial = cert->serial;
  rev.reason = "lost laptop";
  rev.revoked_by = "admin";
  const absl::Time revoked = absl::Now();
  ASSERT_TRUE(env_->store().Revoke(rev).ok());
  client.join();
  EXPECT_LT(absl::Now() - revoked, absl::Seconds(20));
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "late")) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "revoked")) << r.err;
  // The session.end event, the log line and the metric say why it ended
  // (they said "ok", like a session the user ended).
  EXPECT_TRUE(SessionEndedAs("revoked"));
  // And a new connection is refused.
  RunResult again = Ssh(login_ + "+web01", "true");
  EXPECT_EQ(again.exit_code, 255) << again.Describe();
  EXPECT_TRUE(absl::StrContains(again.err, "revoked")) << again.err;
}

TEST_F(GatewayTest, DrainEndsSessionsAfterTheTimeoutWithAMessage) {
  RunResult r;
  std::thread client =
      StartLongSession("echo started; sleep 40; echo late", "started", &r);
  const absl::Time start = absl::Now();
  server_->Drain(absl::Seconds(2));
  client.join();
  EXPECT_GE(absl::Now() - start, absl::Seconds(2));
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  EXPECT_FALSE(absl::StrContains(r.out, "late")) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "gateway shutting down")) << r.err;
  EXPECT_EQ(server_->proxy().active_connections(), 0u);
  EXPECT_TRUE(SessionEndedAs("drained"));
  // No longer accepting.
  RunResult again = Ssh(login_ + "+web01", "true");
  EXPECT_EQ(again.exit_code, 255) << again.Describe();
}

// A drain is timed on the steady clock. The sessions' end (drain_timeout
// after the drain began) is a wall-clock time: with the wall clock set
// back an hour during the drain (NTP after a VM resume, `date -s`) it is
// an hour away, and the drain waited for it, the gateway (and the session)
// going on for that hour. It now ends them at drain_timeout, as drained.
TEST_F(GatewayTest, ADrainEndsOnTimeWhenTheClockStepsBackDuringIt) {
  if (!testing::InChildUnderFakeWallClock(absl::Seconds(90))) return;
  RunResult r;
  std::thread client =
      StartLongSession("echo started; sleep 100; echo late", "started", &r);
  // Longer than the step takes to show (SetWallClockInChild).
  constexpr absl::Duration kTimeout = absl::Seconds(15);
  const auto start = std::chrono::steady_clock::now();
  std::thread drain([&] { server_->Drain(kTimeout); });
  testing::SetWallClockInChild(-absl::Hours(1));
  drain.join();
  const double took = testing::SecondsSince(start);
  client.join();
  EXPECT_GE(took, absl::ToDoubleSeconds(kTimeout) - 1);
  EXPECT_LT(took, absl::ToDoubleSeconds(kTimeout) + 10);
  EXPECT_FALSE(absl::StrContains(r.out, "late")) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "gateway shutting down")) << r.err;
  EXPECT_EQ(server_->proxy().active_connections(), 0u);
  EXPECT_TRUE(SessionEndedAs("drained"));
}

// A session's duration (its session.end event, the connection.close log
// line) is measured on the steady clock: with the wall clock set back an
// hour during the session (NTP after a VM resume, `date -s`) it was
// recorded as about an hour less than nothing.
TEST_F(GatewayTest, ASessionsDurationHoldsWhenTheClockStepsBackDuringIt) {
  if (!testing::InChildUnderFakeWallClock()) return;
  RunResult r;
  std::thread client =
      StartLongSession("echo started; sleep 100; echo late", "started", &r);
  const auto start = std::chrono::steady_clock::now();
  testing::SetWallClockInChild(-absl::Hours(1));
  server_->proxy().EndAll(absl::Now(), "revocations unknown (test)",
                          kOutcomeRevocationsUnknown);
  client.join();
  const double most = testing::SecondsSince(start) + 60;
  EXPECT_TRUE(SessionEndedAs("revocations-unknown"));
  EXPECT_TRUE(OneDurationWithin("session.end", absl::Seconds(most)));
}

// The earliest end wins: an end for now (here the revocation list gone
// stale, revocation_fail_mode end_sessions) followed at once by a drain's
// later one left the session running until the drain's timeout, reported
// as drained (the end armed last won).
TEST_F(GatewayTest, ALaterEndDoesNotPutOffAnEarlierOne) {
  RunResult r;
  std::thread client =
      StartLongSession("echo started; sleep 40; echo late", "started", &r);
  const absl::Time start = absl::Now();
  server_->proxy().EndAll(absl::Now(), "revocations unknown (test)",
                          kOutcomeRevocationsUnknown);
  server_->Drain(absl::Seconds(30));
  client.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  EXPECT_FALSE(absl::StrContains(r.out, "late")) << r.Describe();
  EXPECT_TRUE(SessionEndedAs("revocations-unknown"));
}

class ShortCertificateTest : public GatewayTest {
 protected:
  void SetUp() override {
    // Long enough for a slow (sanitizer) setup to connect before it ends.
    cert_lifetime_ = absl::Seconds(25);
    GatewayTest::SetUp();
  }
};

TEST_F(ShortCertificateTest, TheSessionEndsAtValidBeforeAndSaysSo) {
  const absl::Time start = absl::Now();
  RunResult r = Ssh(login_ + "+web01", "echo started; sleep 55; echo late");
  const absl::Duration took = absl::Now() - start;
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.out, "started")) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "late")) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "certificate expired")) << r.err;
  EXPECT_LT(took, absl::Seconds(50));
  EXPECT_TRUE(SessionEndedAs("expired"));
}

class IdleTimeoutTest : public GatewayTest {
 protected:
  void SetUp() override {
    extra_yaml_ = "limits:\n  idle_timeout: 4s\n";
    GatewayTest::SetUp();
  }
};

// limits.idle_timeout ends a quiet session, and says that is why.
TEST_F(IdleTimeoutTest, AQuietSessionEndsAsIdle) {
  RunResult r = Ssh(login_ + "+web01", "sleep 40; echo late");
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "late")) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "limits.idle_timeout")) << r.err;
  EXPECT_TRUE(SessionEndedAs("idle-timeout"));
}

// Strict recording (the roles' default): the recorder fails mid-session,
// the session ends, and it is reported as ended by the recording failure.
TEST_F(GatewayTest, AFailedRecordingEndsTheSessionAsRecordingFailed) {
  RunResult r;
  std::thread client = StartLongSession(
      "echo started; sleep 3; echo more; sleep 40; echo late", "started", &r);
  recorder_.FailAll();
  client.join();
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "late")) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "the session recording failed"))
      << r.err;
  EXPECT_TRUE(SessionEndedAs("recording-failed"));
}

}  // namespace
}  // namespace sallyport::gateway
