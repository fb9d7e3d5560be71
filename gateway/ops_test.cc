// GatewayOps: each proxy event becomes one log line (text or JSON, the
// format switchable at run time) and moves its metric; peer-chosen channel
// kinds cannot make series of their own; refusal texts map to stable codes.
#include "gateway/ops.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gateway/event_sender.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace sallyport::gateway {
namespace {

class GatewayOpsTest : public ::testing::Test {
 protected:
  GatewayOps ops_{base::LogFormat::kJson, [this](std::string_view line) {
                    absl::MutexLock lock(&mu_);
                    lines_.emplace_back(line);
                  }};
  std::vector<std::string> Lines() {
    absl::MutexLock lock(&mu_);
    return lines_;
  }
  std::string Render() { return ops_.registry().Render(); }

  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
  LogConnection conn_{7, "127.0.0.1:5000", "alice", "s1"};
};

TEST_F(GatewayOpsTest, AWholeSessionIsLoggedAsJsonAndCounted) {
  ops_.ConnectionOpened(conn_);
  ops_.AuthDecision(conn_,
                    {true, "root", "web01", "publickey", "alice", 3, "", ""});
  ops_.UpstreamConnect(conn_, {"web01", "127.0.0.1:22", "root", true,
                               absl::Milliseconds(12), ""});
  ops_.ChannelOpened(conn_, {0, "session", "root", "web01", ""});
  ops_.Bytes(true, 10);
  ops_.Bytes(false, 32);
  ops_.ChannelClosed(conn_, {0, "session", "root", "web01", ""},
                     {.in = 10, .out = 32});
  ops_.ChannelRefused(conn_, {1, "x11", "root", "web01", ""}, "x11 refused");
  ops_.ConnectionClosed(conn_, kOutcomeOk, absl::Seconds(2), 10, 32, "");
  ops_.CaRpc("AuthorizeChannel", absl::Milliseconds(3));

  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 7u);
  std::vector<std::string> events;
  for (const std::string& line : lines) {
    google::protobuf::Struct s;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &s).ok())
        << line;
    events.push_back(s.fields().at("event").string_value());
    EXPECT_EQ(s.fields().at("session").string_value(), "s1") << line;
  }
  EXPECT_EQ(events,
            (std::vector<std::string>{
                "connection.open", "auth", "upstream.connect", "channel.open",
                "channel.close", "channel.refused", "connection.close"}));
  const std::string m = Render();
  for (const char* series : {
           "sallyport_gateway_connections 0\n",
           "sallyport_gateway_connections_accepted_total 1\n",
           "sallyport_gateway_connections_closed_total{outcome=\"ok\"} 1\n",
           "sallyport_gateway_sessions_active 0\n",
           "sallyport_gateway_channels_opened_total{kind=\"session\"} 1\n",
           "sallyport_gateway_channels_refused_total{kind=\"x11\"} 1\n",
           "sallyport_gateway_channels_open 0\n",
           "sallyport_gateway_bytes_total{direction=\"client_to_target\"} 10\n",
           "sallyport_gateway_bytes_total{direction=\"target_to_client\"} 32\n",
           "sallyport_gateway_upstream_connect_seconds_count 1\n",
           "sallyport_gateway_ca_rpc_seconds_count{method=\"AuthorizeChannel\"}"
           " "
           "1\n",
       }) {
    EXPECT_TRUE(absl::StrContains(m, series)) << series << "\n" << m;
  }
}

TEST_F(GatewayOpsTest, GaugesFollowOpenSessionsAndChannels) {
  ops_.ConnectionOpened(conn_);
  ops_.AuthDecision(conn_,
                    {true, "root", "web01", "publickey", "alice", 3, "", ""});
  ops_.ChannelOpened(conn_, {0, "session", "root", "web01", ""});
  std::string m = Render();
  EXPECT_TRUE(absl::StrContains(m, "sallyport_gateway_connections 1\n")) << m;
  EXPECT_TRUE(absl::StrContains(m, "sallyport_gateway_sessions_active 1\n"))
      << m;
  EXPECT_TRUE(absl::StrContains(m, "sallyport_gateway_channels_open 1\n")) << m;
  // A refused login is no session.
  LogConnection other{8, "127.0.0.1:5001", "", "s2"};
  ops_.ConnectionOpened(other);
  ops_.AuthDecision(other,
                    {false, "", "", "publickey", "", 0, "", "plain-key"});
  ops_.ConnectionClosed(other, kOutcomeAuthFailed, absl::Seconds(1), 0, 0, "");
  m = Render();
  EXPECT_TRUE(absl::StrContains(m, "sallyport_gateway_sessions_active 1\n"))
      << m;
  EXPECT_TRUE(absl::StrContains(
      m, "sallyport_gateway_auth_failures_total{reason=\"plain-key\"} 1\n"))
      << m;
  // Nor is a jump-only connection (its recorded jumps are inner
  // connections, each a session): opened and closed, the gauge stays.
  LogConnection jump{9, "127.0.0.1:5002", "", "s3"};
  ops_.ConnectionOpened(jump);
  jump.jump_only = true;  // as the connection marks it at its authentication
  ops_.AuthDecision(jump, {true, "root", "", "publickey", "alice", 3, "", ""});
  EXPECT_TRUE(
      absl::StrContains(Render(), "sallyport_gateway_sessions_active 1\n"));
  ops_.ConnectionClosed(jump, kOutcomeOk, absl::Seconds(1), 0, 0, "");
  m = Render();
  EXPECT_TRUE(absl::StrContains(m, "sallyport_gateway_sessions_active 1\n"))
      << m;
  EXPECT_TRUE(
      absl::StrContains(m, "sallyport_gateway_jump_connections_total 1\n"))
      << m;
  EXPECT_TRUE(absl::StrContains(
      m,
      "sallyport_gateway_connections_closed_total{outcome=\"auth-failed\"} "
      "1\n"))
      << m;
}

// A session the gateway ended (its certificate revoked, ...) was a session
// all the same: the gauge goes down, the close is counted under its
// outcome, and its log line is a failure that says why.
TEST_F(GatewayOpsTest, ASessionTheGatewayEndedIsCountedByWhy) {
  const std::vector<std::string_view> outcomes = {
      kOutcomeRevoked, kOutcomeExpired,         kOutcomeIdleTimeout,
      kOutcomeDrained, kOutcomeRecordingFailed, kOutcomeRevocationsUnknown};
  for (std::string_view outcome : outcomes) {
    EXPECT_TRUE(IsSessionOutcome(outcome)) << outcome;
    ops_.ConnectionOpened(conn_);
    ops_.AuthDecision(conn_,
                      {true, "root", "web01", "publickey", "alice", 3, "", ""});
    ops_.ConnectionClosed(conn_, outcome, absl::Seconds(2), 10, 32, "why");
  }
  EXPECT_TRUE(IsSessionOutcome(kOutcomeOk));
  EXPECT_FALSE(IsSessionOutcome(kOutcomeAuthFailed));
  EXPECT_FALSE(IsSessionOutcome(kOutcomeTimeout));
  const std::string m = Render();
  EXPECT_TRUE(absl::StrContains(m, "sallyport_gateway_sessions_active 0\n"))
      << m;
  size_t closes = 0;
  for (const std::string& line : Lines()) {
    google::protobuf::Struct s;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &s).ok())
        << line;
    if (s.fields().at("event").string_value() != "connection.close") continue;
    ASSERT_LT(closes, outcomes.size());
    EXPECT_EQ(s.fields().at("outcome").string_value(), "failure") << line;
    EXPECT_EQ(s.fields().at("result").string_value(), outcomes[closes]) << line;
    EXPECT_EQ(s.fields().at("reason").string_value(), "why") << line;
    const std::string series =
        absl::StrCat("sallyport_gateway_connections_closed_total{outcome=\"",
                     std::string(outcomes[closes]), "\"} 1\n");
    EXPECT_TRUE(absl::StrContains(m, series)) << series << m;
    ++closes;
  }
  EXPECT_EQ(closes, outcomes.size());
}

TEST_F(GatewayOpsTest, PeerChosenChannelKindsShareOneSeries) {
  for (int i = 0; i < 500; ++i) {
    ops_.ChannelRefused(conn_,
                        {1, "evil-" + std::to_string(i), "root", "web01", ""},
                        "not allowed");
  }
  const std::string m = Render();
  EXPECT_TRUE(absl::StrContains(
      m, "sallyport_gateway_channels_refused_total{kind=\"other\"} 500\n"))
      << m;
  EXPECT_FALSE(absl::StrContains(m, "evil-")) << m;
}

TEST_F(GatewayOpsTest, TheLogFormatSwitchesAtRunTime) {
  ops_.Notice("gateway", "one");
  ops_.SetLogFormat(base::LogFormat::kText);
  ops_.Notice("gateway", "two \"quoted\"");
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].front(), '{') << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[1], "event=gateway")) << lines[1];
  EXPECT_TRUE(absl::StrContains(lines[1], "message=\"two \\\"quoted\\\"\""))
      << lines[1];
  EXPECT_EQ(ops_.log_format(), base::LogFormat::kText);
}

// pol (issue 14): the shipper's events (no live connection) go to the CA
// through the event sender with their session, user and fields.
TEST_F(GatewayOpsTest, ASessionEventIsSentWithItsFields) {
  absl::Mutex sent_mu;
  std::vector<gateway::v1::GatewayEvent> sent;
  EventSender sender(
      EventSenderOptions(),
      [&](const gateway::v1::RecordGatewayEventsRequest& r, absl::Duration) {
        absl::MutexLock lock(&sent_mu);
        for (const auto& e : r.events()) sent.push_back(e);
        return absl::OkStatus();
      });
  ops_.SetEventSender(&sender);
  ops_.SessionEvent(
      "recording.complete", "s9", "bob",
      {{"records", int64_t{12}}, {"status", std::string("ended")}});
  ASSERT_TRUE(sender.Flush(absl::Now() + absl::Seconds(60)).ok());
  ops_.SetEventSender(nullptr);
  absl::MutexLock lock(&sent_mu);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].type(), "recording.complete");
  EXPECT_EQ(sent[0].session_id(), "s9");
  EXPECT_EQ(sent[0].user(), "bob");
  ASSERT_EQ(sent[0].fields_size(), 2);
  EXPECT_EQ(sent[0].fields(0).name(), "records");
  EXPECT_EQ(sent[0].fields(0).number(), 12);
  EXPECT_EQ(sent[0].fields(1).name(), "status");
  EXPECT_EQ(sent[0].fields(1).text(), "ended");
}

// A recording that failed (the spool) is a failure of the gateway's own:
// logged even at log_level error (it was only in the debug trace before),
// with the fields the audit event carries.
TEST_F(GatewayOpsTest, ARecordingFailureIsLoggedAtTheErrorLevel) {
  ops_.SetLogLevel(LogLevel::kError);
  LogChannel ch;
  ch.id = 3;
  ch.kind = "shell";
  ops_.RecordingFailed(conn_, ch, "strict", "channel-refused",
                       "cannot write the spool: No space left on device");
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(absl::StrContains(lines[0], "\"event\":\"recording.failed\""))
      << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[0], "\"action\":\"channel-refused\""))
      << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[0], "No space left on device"))
      << lines[0];
}

TEST(AuthFailureCodeTest, MapsRefusalTextsToStableCodes) {
  EXPECT_EQ(AuthFailureCode("plain key (certificates only)"), "plain-key");
  EXPECT_EQ(AuthFailureCode("certificate expired"), "expired");
  EXPECT_EQ(AuthFailureCode("certificate not yet valid"), "not-yet-valid");
  EXPECT_EQ(AuthFailureCode("certificate revoked"), "revoked");
  EXPECT_EQ(AuthFailureCode("principal \"root\" not in certificate"),
            "principal");
  EXPECT_EQ(AuthFailureCode("signed by an untrusted CA"), "untrusted-ca");
  EXPECT_EQ(AuthFailureCode("signature did not verify"), "bad-signature");
  EXPECT_EQ(AuthFailureCode("something new"), "other");
  // Names someone chose (quoted) do not pick the code: a login "revoked",
  // a principal "expired-certs", a host "target".
  EXPECT_EQ(AuthFailureCode("principal \"revoked\" is not listed (the "
                            "certificate lists \"expired-certs\")"),
            "principal");
  EXPECT_EQ(AuthFailureCode("principal \"ops\" is not listed (the "
                            "certificate lists \"signature\", \"target\")"),
            "principal");
  // A quote inside a name is escaped (absl::CHexEscape) and does not end it.
  EXPECT_EQ(AuthFailureCode("principal \"a\\\" revoked\" is not listed"),
            "principal");
}

}  // namespace
}  // namespace sallyport::gateway
