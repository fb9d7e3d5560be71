// ServerSession + ClientSession in memory: authentication (also decided
// later), channels, deferred replies and queued output, the session's
// limits (env requests, open timeout, keepalive liveness, login grace) and
// EndAt.
#include "ssh/session/session.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "ssh/connection/messages.h"
#include "ssh/session/session_test_util.h"

namespace sallyport::ssh::session {
namespace {

using testing::Link;
using testing::PairSetup;
using testing::Settle;

// Records what a session's application sees; accepts "session" channels and
// every request except "refuse-me"; echoes data.
struct App : SessionHandler {
  bool handshake = false, authenticated = false, ended = false;
  absl::Status end_status;
  std::map<uint32_t, std::string> data;
  std::vector<std::string> requests;
  std::vector<absl::Status> open_results;
  std::vector<bool> request_replies;
  std::vector<Channel> accepted;
  // Opens of the peer's that the session rejected for want of an answer
  // (OnChannelOpenTimedOut), and whether Accept() still worked then.
  std::vector<uint32_t> timed_out;
  bool accept_after_timeout_ok = false;
  std::map<uint32_t, int> eofs;
  // Channel data received when each request / the EOF arrived.
  std::vector<size_t> data_at_request;
  std::map<uint32_t, size_t> data_at_eof;
  bool accept_opens = true;
  bool echo = false;

  void OnHandshakeDone(Session&) override { handshake = true; }
  void OnAuthenticated(Session&) override { authenticated = true; }
  void OnEnd(Session&, const absl::Status& why) override {
    ended = true;
    end_status = why;
  }
  void OnChannelOpen(Channel c, std::string_view type, Bytes) override {
    if (!accept_opens) return;  // never answers
    if (type == "session") {
      (void)c.Accept();
      accepted.push_back(c);
    } else {
      (void)c.Reject(connection::OpenFailure::kUnknownChannelType, "no");
    }
  }
  void OnChannelOpenTimedOut(Channel c) override {
    timed_out.push_back(c.id());
    accept_after_timeout_ok = c.Accept().ok();
  }
  void OnChannelOpenResult(Channel, const connection::OpenResult& s) override {
    open_results.push_back(s.status);
  }
  void OnData(Channel c, uint32_t, Bytes d) override {
    data[c.id()].append(d.begin(), d.end());
    if (echo) (void)c.Send(d);
    c.Consume(d.size());
  }
  void OnChannelRequest(Channel c, std::string_view type, bool want_reply,
                        Bytes, connection::RequestId) override {
    requests.emplace_back(type);
    data_at_request.push_back(data[c.id()].size());
    if (want_reply) (void)c.Reply(type != "refuse-me");
  }
  void OnChannelRequestReply(Channel, bool ok) override {
    request_replies.push_back(ok);
  }
  void OnEof(Channel c) override {
    ++eofs[c.id()];
    data_at_eof[c.id()] = data[c.id()].size();
  }
};

struct Pair {
  PairSetup setup;
  App server_app, client_app;
  std::unique_ptr<ServerSession> server;
  std::unique_ptr<ClientSession> client;
  Link link;

  explicit Pair(
      const std::function<void(ServerSessionOptions&)>& customize = nullptr,
      const std::function<void(ClientSessionOptions&)>& customize_client =
          nullptr) {
    ServerSessionOptions so = setup.ServerOptions();
    if (customize) customize(so);
    server = *ServerSession::Create(std::move(so), server_app);
    ClientSessionOptions co = setup.ClientOptions();
    if (customize_client) customize_client(co);
    client = *ClientSession::Create(std::move(co), client_app);
    link.client = client.get();
    link.server = server.get();
  }
  void Run() { Settle({&link}); }
  // Moves the clock and fires both sides' timers.
  void Advance(absl::Duration d) {
    setup.clock->Advance(d);
    server->OnTimer();
    client->OnTimer();
    Run();
  }
};

TEST(SessionTest, AuthenticatesAndCarriesChannelDataBothWays) {
  Pair p;
  p.server_app.echo = true;
  p.Run();
  ASSERT_TRUE(p.server_app.authenticated);
  ASSERT_TRUE(p.client_app.authenticated);
  EXPECT_TRUE(p.server_app.handshake && p.client_app.handshake);
  ASSERT_TRUE(p.server->identity().has_value());
  EXPECT_EQ(p.server->identity()->user, "alice");

  auto channel = p.client->OpenChannel("session");
  ASSERT_TRUE(channel.ok()) << channel.status();
  p.Run();
  ASSERT_EQ(p.client_app.open_results.size(), 1u);
  EXPECT_TRUE(p.client_app.open_results[0].ok());
  ASSERT_TRUE(
      channel
          ->SendRequest("exec", true, connection::SerializeStringRequest("x"))
          .ok());
  ASSERT_TRUE(channel->SendRequest("refuse-me", true).ok());
  const std::string hello = "hello through the session";
  ASSERT_TRUE(
      channel
          ->Send(absl::MakeConstSpan(
              reinterpret_cast<const uint8_t*>(hello.data()), hello.size()))
          .ok());
  p.Run();
  EXPECT_EQ(p.server_app.requests,
            (std::vector<std::string>{"exec", "refuse-me"}));
  EXPECT_EQ(p.client_app.request_replies, (std::vector<bool>{true, false}));
  EXPECT_EQ(p.server_app.data.begin()->second, hello);
  EXPECT_EQ(p.client_app.data[channel->id()], hello);  // the echo
}

// A client set up with identities_later: the user and identities it would
// have had are kept here for ProvideIdentities.
struct LaterIdentities {
  std::string user;
  std::vector<auth::ClientIdentity> ids;
  std::function<void(ClientSessionOptions&)> Customize() {
    return [this](ClientSessionOptions& o) {
      user = std::exchange(o.auth.user, "");
      ids = std::exchange(o.auth.identities, {});
      o.auth.identities_later = true;
    };
  }
};

TEST(SessionTest, IdentitiesGivenLaterAuthenticateOnlyThen) {
  LaterIdentities later;
  Pair p(nullptr, later.Customize());
  std::string& user = later.user;
  std::vector<auth::ClientIdentity>& ids = later.ids;
  p.Run();
  // Keys exchanged and the service accepted, but no USERAUTH_REQUEST yet
  // (the server's policy was never asked).
  EXPECT_TRUE(p.client_app.handshake && p.server_app.handshake);
  EXPECT_TRUE(p.client->service_accepted());
  EXPECT_FALSE(p.server->identity().has_value());
  EXPECT_FALSE(p.client_app.authenticated || p.server_app.authenticated);
  ASSERT_TRUE(p.client->ProvideIdentities(user, ids).ok());
  p.Run();
  EXPECT_TRUE(p.client_app.authenticated && p.server_app.authenticated);
  ASSERT_TRUE(p.server->identity().has_value());
  EXPECT_EQ(p.server->identity()->user, "alice");
  // Once only.
  EXPECT_EQ(p.client->ProvideIdentities(user, ids).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(SessionTest, IdentitiesGivenBeforeTheServiceIsAcceptedWaitForIt) {
  LaterIdentities later;
  Pair p(nullptr, later.Customize());
  std::string& user = later.user;
  std::vector<auth::ClientIdentity>& ids = later.ids;
  ASSERT_TRUE(p.client->ProvideIdentities(user, ids).ok());
  p.Run();
  EXPECT_TRUE(p.client_app.authenticated && p.server_app.authenticated);
}

TEST(SessionTest, IdentitiesCannotBeGivenTwice) {
  Pair p;
  EXPECT_EQ(p.client->ProvideIdentities("alice", {}).code(),
            absl::StatusCode::kFailedPrecondition);
  p.Run();
  EXPECT_TRUE(p.client_app.authenticated);
}

TEST(SessionTest, NoChannelBeforeAuthentication) {
  Pair p;
  EXPECT_EQ(p.client->OpenChannel("session").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(SessionTest, AsyncAuthDecisionArrivesLaterWhileTheClientKeepsSending) {
  Pair p;
  p.setup.policy.defer = true;
  p.Run();
  ASSERT_EQ(p.setup.policy.pending_asked, 1);
  ASSERT_NE(p.server->pending_auth(), nullptr);
  EXPECT_TRUE(p.server->dispatch_paused());
  EXPECT_FALSE(p.client_app.authenticated);

  // The client keeps sending (transport IGNORE messages) while the server
  // waits: nothing is dispatched, and the pause is what the link (driver)
  // sees.
  const uint8_t ignore[] = {transport::kMsgIgnore, 0, 0, 0, 0};
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(p.client->transport().Send(ignore).ok());
    p.setup.clock->Advance(absl::Milliseconds(10));
    p.server->OnTimer();
    p.Run();
  }
  EXPECT_GT(p.client->PendingOutput().size(), 0u);  // not read meanwhile
  EXPECT_FALSE(p.client_app.authenticated);
  EXPECT_FALSE(p.server->closed());

  // 200 ms later the decision arrives; dispatch resumes.
  bool woken = false;
  p.server->set_wake([&] { woken = true; });
  ASSERT_TRUE(
      p.server->CompleteAuth(p.setup.policy.Verdict(*p.server->pending_auth()))
          .ok());
  EXPECT_TRUE(woken);
  EXPECT_FALSE(p.server->dispatch_paused());
  p.Run();
  EXPECT_TRUE(p.server_app.authenticated);
  EXPECT_TRUE(p.client_app.authenticated);
  EXPECT_EQ(p.client->PendingOutput().size(), 0u);
  auto channel = p.client->OpenChannel("session");
  ASSERT_TRUE(channel.ok());
  p.Run();
  ASSERT_EQ(p.client_app.open_results.size(), 1u);
  EXPECT_TRUE(p.client_app.open_results[0].ok());
}

TEST(SessionTest, AsyncAuthDecisionThatNeverArrivesHitsLoginGrace) {
  Pair p([](ServerSessionOptions& o) {
    o.transport.login_grace_time = absl::Seconds(10);
  });
  p.setup.policy.defer = true;
  p.Run();
  ASSERT_TRUE(p.server->dispatch_paused());
  EXPECT_LE(p.server->NextDeadline(), p.setup.clock->Now() + absl::Seconds(10));
  p.Advance(absl::Seconds(9));
  EXPECT_FALSE(p.server->closed());
  p.Advance(absl::Seconds(2));
  EXPECT_TRUE(p.server->closed());
  EXPECT_TRUE(p.server_app.ended);
  EXPECT_EQ(p.server_app.end_status.code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(p.client->closed());  // it got the DISCONNECT
  EXPECT_EQ(p.server->CompleteAuth({}).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(SessionTest, EnvRequestsAreCappedPerChannel) {
  Pair p([](ServerSessionOptions& o) {
    o.max_env_requests = 128;
    o.max_env_request_bytes = 1024;
  });
  p.Run();
  auto channel = p.client->OpenChannel("session");
  ASSERT_TRUE(channel.ok());
  p.Run();
  auto env = [](size_t value_size) {
    connection::EnvRequest e;
    e.name = "LC_TEST";
    e.value = std::string(value_size, 'v');
    return e.Serialize();
  };
  // One too large: refused, never reaches the application.
  ASSERT_TRUE(channel->SendRequest("env", true, env(2000)).ok());
  // Exactly at the limit: all 128 reach the application; the 129th not.
  for (int i = 0; i < 129; ++i) {
    ASSERT_TRUE(channel->SendRequest("env", true, env(100)).ok());
    if (i % 16 == 0) p.Run();
  }
  p.Run();
  EXPECT_EQ(p.server_app.requests.size(), 128u);
  ASSERT_EQ(p.client_app.request_replies.size(), 130u);
  EXPECT_FALSE(p.client_app.request_replies.front());
  for (size_t i = 1; i < 129; ++i) EXPECT_TRUE(p.client_app.request_replies[i]);
  EXPECT_FALSE(p.client_app.request_replies.back());
  // Another channel has its own count.
  auto second = p.client->OpenChannel("session");
  ASSERT_TRUE(second.ok());
  p.Run();
  ASSERT_TRUE(second->SendRequest("env", true, env(100)).ok());
  p.Run();
  EXPECT_TRUE(p.client_app.request_replies.back());
}

TEST(SessionTest, DeferredRepliesKeepOrderAroundTheSessionsOwnRefusals) {
  // The application answers "later" requests only after the refused "env"
  // behind them: the session's refusal must answer the env request, not
  // the oldest unanswered one.
  struct Deferring : App {
    std::vector<std::pair<Channel, connection::RequestId>> held;
    void OnChannelRequest(Channel c, std::string_view type, bool want_reply,
                          Bytes, connection::RequestId request) override {
      requests.emplace_back(type);
      if (type == "later") {
        held.emplace_back(c, request);
      } else if (want_reply) {
        (void)c.Reply(request, true);
      }
    }
  };
  PairSetup setup;
  Deferring server_app;
  App client_app;
  ServerSessionOptions so = setup.ServerOptions();
  so.max_env_request_bytes = 64;
  auto server = *ServerSession::Create(std::move(so), server_app);
  auto client = *ClientSession::Create(setup.ClientOptions(), client_app);
  Link link{client.get(), server.get()};
  Settle({&link});
  auto channel = client->OpenChannel("session");
  ASSERT_TRUE(channel.ok());
  Settle({&link});
  connection::EnvRequest big;
  big.name = "LC_BIG";
  big.value = std::string(200, 'v');
  ASSERT_TRUE(channel->SendRequest("later", true).ok());
  ASSERT_TRUE(channel->SendRequest("env", true, big.Serialize()).ok());
  ASSERT_TRUE(channel->SendRequest("now", true).ok());
  ASSERT_TRUE(channel->SendRequest("later", true).ok());
  Settle({&link});
  // Nothing goes back before the first request is answered.
  EXPECT_TRUE(client_app.request_replies.empty());
  ASSERT_EQ(server_app.held.size(), 2u);
  // Answered out of order: the second first.
  ASSERT_TRUE(
      server_app.held[1].first.Reply(server_app.held[1].second, false).ok());
  Settle({&link});
  EXPECT_TRUE(client_app.request_replies.empty());
  ASSERT_TRUE(
      server_app.held[0].first.Reply(server_app.held[0].second, true).ok());
  Settle({&link});
  EXPECT_EQ(server_app.requests,
            (std::vector<std::string>{"later", "now", "later"}));
  EXPECT_EQ(client_app.request_replies,
            (std::vector<bool>{true, false, true, false}));
  EXPECT_FALSE(server->closed()) << server->close_status();
}

TEST(SessionTest, QueuedOutputFlowsAfterARekeyWithoutAnExplicitFlush) {
  // The server's transport holds at most 20,000 bytes during a key
  // exchange; the rest waits in the channel's queue, and the session
  // flushes it once the exchange is over. Data, exit-status and EOF keep
  // their order.
  Pair p([](ServerSessionOptions& o) { o.transport.max_queued_bytes = 20000; });
  p.Run();
  auto channel = p.client->OpenChannel("session");
  ASSERT_TRUE(channel.ok());
  p.Run();
  ASSERT_EQ(p.server_app.accepted.size(), 1u);
  Channel at_server = p.server_app.accepted[0];
  ASSERT_TRUE(at_server.valid());
  ASSERT_TRUE(p.server->transport().StartRekey().ok());
  std::string data(100000, '\0');
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<char>('a' + (i / 5) % 26);
  auto taken = at_server.Queue(absl::MakeConstSpan(
      reinterpret_cast<const uint8_t*>(data.data()), data.size()));
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ(*taken, data.size());
  EXPECT_GT(at_server.QueuedBytes(), 50000u);
  ASSERT_TRUE(
      at_server
          .SendRequest("exit-status", false, connection::SerializeExitStatus(3))
          .ok());
  ASSERT_TRUE(at_server.SendEof().ok());
  p.Run();
  EXPECT_GE(p.server->transport().kex_count(), 2);
  EXPECT_EQ(at_server.QueuedBytes(), 0u);
  const std::string& got = p.client_app.data[channel->id()];
  EXPECT_TRUE(got == data) << got.size() << " bytes of " << data.size();
  // In order: all the data, then exit-status, then EOF.
  ASSERT_FALSE(p.client_app.requests.empty());
  EXPECT_EQ(p.client_app.requests.back(), "exit-status");
  EXPECT_EQ(p.client_app.data_at_request.back(), data.size());
  EXPECT_EQ(p.client_app.eofs[channel->id()], 1);
  EXPECT_EQ(p.client_app.data_at_eof[channel->id()], data.size());
  EXPECT_FALSE(p.server->closed()) << p.server->close_status();
}

TEST(SessionTest, UnansweredOpenIsRejectedAfterTheOpenTimeout) {
  Pair p([](ServerSessionOptions& o) { o.open_timeout = absl::Seconds(5); });
  p.server_app.accept_opens = false;
  p.Run();
  ASSERT_TRUE(p.client->OpenChannel("session").ok());
  p.Run();
  p.Advance(absl::Seconds(4));
  EXPECT_TRUE(p.client_app.open_results.empty());
  p.Advance(absl::Seconds(2));
  ASSERT_EQ(p.client_app.open_results.size(), 1u);
  EXPECT_FALSE(p.client_app.open_results[0].ok());
  EXPECT_EQ(p.server->connection()->channel_count(), 0u);
}

// The application learns that the peer's open it left unanswered was
// rejected (a gateway waiting for the host's confirmation must give up its
// side too), once, and can no longer accept it.
TEST(SessionTest, AnOpenRejectedForWantOfAnAnswerIsReportedToTheHandler) {
  Pair p([](ServerSessionOptions& o) { o.open_timeout = absl::Seconds(5); });
  p.server_app.accept_opens = false;
  p.Run();
  absl::StatusOr<Channel> opened = p.client->OpenChannel("session");
  ASSERT_TRUE(opened.ok());
  p.Run();
  p.Advance(absl::Seconds(4));
  EXPECT_TRUE(p.server_app.timed_out.empty());
  p.Advance(absl::Seconds(2));
  ASSERT_EQ(p.server_app.timed_out.size(), 1u);
  EXPECT_FALSE(p.server_app.accept_after_timeout_ok);
  ASSERT_EQ(p.client_app.open_results.size(), 1u);
  EXPECT_FALSE(p.client_app.open_results[0].ok());
  p.Advance(absl::Seconds(30));
  EXPECT_EQ(p.server_app.timed_out.size(), 1u);
  // An open the application answered is not reported.
  p.server_app.accept_opens = true;
  ASSERT_TRUE(p.client->OpenChannel("session").ok());
  p.Run();
  p.Advance(absl::Seconds(30));
  EXPECT_EQ(p.server_app.timed_out.size(), 1u);
  EXPECT_EQ(p.client_app.open_results.size(), 2u);
}

TEST(SessionTest, OurTimedOutOpensFreeTheirPlacesUpToTheAbandonedCap) {
  constexpr size_t kMax = 2;
  Pair p([](ServerSessionOptions& o) { o.open_timeout = absl::Hours(1); },
         [](ClientSessionOptions& o) {
           o.open_timeout = absl::Seconds(5);
           o.connection.max_channels = kMax;
         });
  p.server_app.accept_opens = false;  // the server never answers
  p.Run();
  for (size_t i = 0; i < kMax; ++i)
    ASSERT_TRUE(p.client->OpenChannel("session").ok());
  p.Run();
  // At the limit.
  EXPECT_EQ(p.client->OpenChannel("session").status().code(),
            absl::StatusCode::kResourceExhausted);
  p.Advance(absl::Seconds(6));
  ASSERT_EQ(p.client_app.open_results.size(), kMax);
  EXPECT_EQ(p.client->connection()->abandoned_count(), kMax);
  // Their places are free: kMax more opens, which time out as well; the
  // abandoned cap (max_channels) is reached, so these keep counting.
  for (size_t i = 0; i < kMax; ++i)
    ASSERT_TRUE(p.client->OpenChannel("session").ok()) << i;
  p.Run();
  p.Advance(absl::Seconds(6));
  ASSERT_EQ(p.client_app.open_results.size(), 2 * kMax);
  for (const absl::Status& s : p.client_app.open_results)
    EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_EQ(p.client->connection()->abandoned_count(), kMax);
  EXPECT_EQ(p.client->OpenChannel("session").status().code(),
            absl::StatusCode::kResourceExhausted);
  // The server answers late (accepts all): each is closed at once, the
  // application hears nothing more, and every place is free again.
  p.server_app.accept_opens = true;
  for (uint32_t id = 0; id < 2 * kMax; ++id) {
    if (p.server->connection()->HasChannel(id)) {
      ASSERT_TRUE(p.server->channel(id).Accept().ok()) << id;
    }
  }
  p.Run();
  EXPECT_EQ(p.client_app.open_results.size(), 2 * kMax);
  EXPECT_EQ(p.client->connection()->channel_count(), 0u);
  EXPECT_EQ(p.client->connection()->abandoned_count(), 0u);
  for (size_t i = 0; i < kMax; ++i)
    EXPECT_TRUE(p.client->OpenChannel("session").ok()) << i;
}

TEST(SessionTest, EndAtDisconnectsSayingWhy) {
  Pair p;
  p.Run();
  const absl::Time valid_before = p.setup.clock->Now() + absl::Minutes(5);
  p.server->EndAt(valid_before, "certificate expired");
  EXPECT_EQ(p.server->NextDeadline(), valid_before);
  p.Advance(absl::Minutes(4));
  EXPECT_FALSE(p.server->closed());
  p.Advance(absl::Minutes(1));
  ASSERT_TRUE(p.server->closed());
  EXPECT_NE(p.server_app.end_status.message().find("certificate expired"),
            std::string::npos);
  ASSERT_TRUE(p.client->closed());
  EXPECT_NE(p.client_app.end_status.message().find("certificate expired"),
            std::string::npos)
      << p.client_app.end_status;
}

TEST(SessionTest, KeepaliveProbesKeepALivePeerAndEndADeadOne) {
  Pair p([](ServerSessionOptions& o) {
    o.alive_interval = absl::Seconds(15);
    o.alive_count_max = 3;
  });
  p.Run();
  // A live client answers every probe: a minute of silence changes nothing.
  for (int i = 0; i < 8; ++i) p.Advance(absl::Seconds(15));
  EXPECT_FALSE(p.server->closed());
  EXPECT_EQ(p.server->unanswered_alive_probes(), 0);
  // A client that stops reading: 3 probes go unanswered, then the end.
  p.link.client_reads = false;
  for (int i = 0; i < 3; ++i) {
    p.Advance(absl::Seconds(15));
    EXPECT_FALSE(p.server->closed()) << i;
  }
  EXPECT_EQ(p.server->unanswered_alive_probes(), 3);
  p.Advance(absl::Seconds(15));
  EXPECT_TRUE(p.server->closed());
  EXPECT_EQ(p.server_app.end_status.code(),
            absl::StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace sallyport::ssh::session
