// SessionDriver on real loopback TCP connections with short timeouts: every
// timer of a session fires on a real connection (our open unanswered, the
// peer's open unanswered, keepalive liveness, EndAt from outside the
// callbacks, the listener's login grace while an auth decision is pending),
// authentication lifts the login grace and frees the pre-auth slot, and the
// handler's OnEnd comes once however the connection ends. Each test would
// run into its guard (and fail) if its timer were not driven.
#include "ssh/net/session_driver.h"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "ssh/net/test_peer.h"
#include "ssh/session/session.h"
#include "ssh/session/session_test_util.h"

namespace sallyport::ssh::net {
namespace {

using session::Channel;
using session::Session;
using wire::Bytes;

// Records what a session's application sees.
class App : public session::SessionHandler {
 public:
  // How a channel the peer opens is answered: accept, or never answer.
  bool answer_opens = true;
  bool authenticated = false;
  std::vector<connection::OpenResult> open_results;
  int opens_seen = 0;
  int ends = 0;
  absl::Status end;
  std::function<void(Session&)> on_authenticated;

  void OnAuthenticated(Session& s) override {
    authenticated = true;
    if (on_authenticated) on_authenticated(s);
  }
  void OnChannelOpen(Channel ch, std::string_view, Bytes) override {
    ++opens_seen;
    if (answer_opens) {
      EXPECT_TRUE(ch.Accept().ok());
    }
  }
  void OnChannelOpenResult(Channel, const connection::OpenResult& r) override {
    open_results.push_back(r);
  }
  void OnData(Channel ch, uint32_t, Bytes data) override {
    ch.Consume(data.size());
  }
  void OnEnd(Session&, const absl::Status& why) override {
    ++ends;
    end = why;
  }
};

// A session on a SessionDriver, running on the io_context.
struct Peer {
  std::unique_ptr<SessionDriver> driver;
  std::optional<absl::Status> result;  // Run's status, once it returned
  absl::Time ended;

  Session& session() { return driver->session(); }
  void Start(asio::io_context& io) {
    asio::co_spawn(
        io,
        [this]() -> asio::awaitable<void> {
          absl::Status s = co_await driver->Run();
          ended = absl::Now();
          result = s;
        },
        [](std::exception_ptr e) {
          if (e) ADD_FAILURE() << "a driver coroutine threw";
        });
  }
};

// Runs `io` until `done` or the guard passes; returns whether `done`.
bool RunUntil(asio::io_context& io, const std::function<bool()>& done,
              absl::Duration guard = absl::Seconds(20)) {
  const absl::Time limit = absl::Now() + guard;
  while (!done()) {
    if (absl::Now() >= limit) return false;
    io.run_for(std::chrono::milliseconds(10));
  }
  return true;
}

// A server and a client session over loopback TCP, on the real clock.
struct Pair {
  asio::io_context io;
  session::testing::PairSetup keys;
  App server_app, client_app;
  session::ServerSessionOptions server_options;
  session::ClientSessionOptions client_options;
  session::ServerSession* server_session = nullptr;
  Peer server, client;

  Pair() {
    server_options = keys.ServerOptions();
    server_options.transport.clock = nullptr;
    client_options = keys.ClientOptions();
    client_options.transport.clock = nullptr;
  }

  // Creates both sessions and drivers (the server with `slot`, if any) and
  // starts them.
  void Start(std::shared_ptr<PreAuthSlot> slot = nullptr) {
    auto [client_socket, server_socket] = testing::LoopbackPair(io);
    auto s = session::ServerSession::Create(server_options, server_app);
    ASSERT_TRUE(s.ok()) << s.status();
    server_session = s->get();
    auto sd = SessionDriver::Create(std::move(server_socket), std::move(*s));
    ASSERT_TRUE(sd.ok()) << sd.status();
    server.driver = std::move(*sd);
    if (slot != nullptr) server.driver->AttachPreAuthSlot(std::move(slot));
    auto c = session::ClientSession::Create(client_options, client_app);
    ASSERT_TRUE(c.ok()) << c.status();
    auto cd = SessionDriver::Create(std::move(client_socket), std::move(*c));
    ASSERT_TRUE(cd.ok()) << cd.status();
    client.driver = std::move(*cd);
    server.Start(io);
    client.Start(io);
  }

  bool Authenticated() {
    return RunUntil(io, [&] {
      return server_app.authenticated && client_app.authenticated;
    });
  }
  // Ends whatever still runs and lets the coroutines return.
  void Finish() {
    if (!client.result.has_value()) client.driver->driver().Abort();
    if (!server.result.has_value()) server.driver->driver().Abort();
    EXPECT_TRUE(RunUntil(io, [&] {
      return client.result.has_value() && server.result.has_value();
    }));
  }
};

TEST(SessionDriverTest, RefusesASessionWhoseTransportIsTaken) {
  asio::io_context io;
  session::testing::PairSetup keys;
  App app;
  auto s = session::ServerSession::Create(keys.ServerOptions(), app);
  ASSERT_TRUE(s.ok());
  auto transport = (*s)->ReleaseTransport();
  auto [a, b] = testing::LoopbackPair(io);
  auto d = SessionDriver::Create(std::move(a), std::move(*s));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SessionDriverTest, OurOpenThatThePeerNeverAnswersFailsAtTheTimeout) {
  Pair p;
  const absl::Duration timeout = absl::Milliseconds(200);
  p.client_options.open_timeout = timeout;
  p.server_options.open_timeout = absl::Hours(1);
  p.server_app.answer_opens = false;
  p.Start();
  ASSERT_TRUE(p.Authenticated());
  const absl::Time opened = absl::Now();
  ASSERT_TRUE(p.client.session().OpenChannel("session").ok());
  ASSERT_TRUE(RunUntil(p.io, [&] {
    return !p.client_app.open_results.empty();
  })) << "the open timeout never fired";
  EXPECT_GE(absl::Now() - opened, timeout);
  EXPECT_EQ(p.server_app.opens_seen, 1);
  const connection::OpenResult& r = p.client_app.open_results[0];
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDeadlineExceeded) << r.status;
  EXPECT_EQ(r.description, "open timed out");
  EXPECT_FALSE(p.client.result.has_value());  // the session goes on
  p.Finish();
}

TEST(SessionDriverTest, ThePeersOpenThatWeNeverAnswerIsRejectedAtTheTimeout) {
  Pair p;
  p.server_options.open_timeout = absl::Milliseconds(200);
  p.client_options.open_timeout = absl::Hours(1);
  p.server_app.answer_opens = false;
  p.Start();
  ASSERT_TRUE(p.Authenticated());
  ASSERT_TRUE(p.client.session().OpenChannel("session").ok());
  ASSERT_TRUE(RunUntil(p.io, [&] {
    return !p.client_app.open_results.empty();
  })) << "the server never rejected the open";
  const connection::OpenResult& r = p.client_app.open_results[0];
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.reason, connection::OpenFailure::kConnectFailed);
  EXPECT_EQ(r.description, "open timed out");
  p.Finish();
}

TEST(SessionDriverTest, KeepaliveEndsAPeerThatStoppedReading) {
  Pair p;
  p.server_options.alive_interval = absl::Milliseconds(100);
  p.server_options.alive_count_max = 2;
  p.Start();
  ASSERT_TRUE(p.Authenticated());
  p.client.driver->driver().PauseInput();  // alive, but never answers
  ASSERT_TRUE(RunUntil(p.io, [&] { return p.server.result.has_value(); }))
      << "the keepalive probes never ended the connection";
  EXPECT_EQ(p.server.result->code(), absl::StatusCode::kDeadlineExceeded)
      << *p.server.result;
  EXPECT_TRUE(absl::StrContains(p.server.result->message(),
                                "no answer to 2 keepalive probes"))
      << *p.server.result;
  EXPECT_EQ(p.server_app.ends, 1);
  EXPECT_EQ(p.server_app.end, *p.server.result);
  p.Finish();
}

TEST(SessionDriverTest, KeepaliveKeepsAPeerThatAnswers) {
  Pair p;
  const absl::Duration interval = absl::Milliseconds(40);
  p.server_options.alive_interval = interval;
  p.server_options.alive_count_max = 1;
  p.Start();
  ASSERT_TRUE(p.Authenticated());
  const uint64_t client_in = p.client.session().transport().bytes_received();
  // Idle for many intervals: each probe is answered by the client's layer.
  EXPECT_FALSE(RunUntil(
      p.io, [&] { return p.server.result.has_value(); }, interval * 15))
      << *p.server.result;
  // The probes did go out (the client received bytes while idle).
  EXPECT_GT(p.client.session().transport().bytes_received(), client_in);
  EXPECT_LE(p.server.session().unanswered_alive_probes(), 1);
  p.Finish();
}

TEST(SessionDriverTest, EndAtSetFromOutsideTheCallbacksDisconnectsSayingWhy) {
  Pair p;
  p.Start();
  ASSERT_TRUE(p.Authenticated());
  // Later, from a posted task (as a CA answer would arrive): the driver's
  // timer sleeps with no deadline until EndAt re-arms it.
  const absl::Duration after = absl::Milliseconds(150);
  absl::Time set_at;
  asio::post(p.io, [&] {
    set_at = absl::Now();
    p.server.session().EndAt(set_at + after, "certificate expired");
  });
  ASSERT_TRUE(RunUntil(p.io, [&] {
    return p.server.result.has_value() && p.client.result.has_value();
  })) << "EndAt never fired";
  EXPECT_GE(p.server.ended - set_at, after);
  EXPECT_EQ(p.server.result->code(), absl::StatusCode::kDeadlineExceeded)
      << *p.server.result;
  EXPECT_EQ(p.server.result->message(), "certificate expired");
  // The client was told why.
  EXPECT_TRUE(
      absl::StrContains(p.client.result->message(), "certificate expired"))
      << *p.client.result;
  EXPECT_EQ(p.client_app.ends, 1);
  EXPECT_EQ(p.server_app.ends, 1);
}

TEST(SessionDriverTest, EndAtFromOnAuthenticated) {
  Pair p;
  p.server_app.on_authenticated = [](Session& s) {
    s.EndAt(absl::Now() + absl::Milliseconds(100), "certificate expired");
  };
  p.Start();
  ASSERT_TRUE(RunUntil(p.io, [&] { return p.client.result.has_value(); }))
      << "EndAt never fired";
  EXPECT_TRUE(p.client_app.authenticated);
  EXPECT_TRUE(
      absl::StrContains(p.client.result->message(), "certificate expired"))
      << *p.client.result;
  p.Finish();
}

TEST(SessionDriverTest, LoginGraceEndsAnAuthDecisionThatNeverArrives) {
  Pair p;
  p.keys.policy.defer = true;  // kPending, never completed
  auto budget = std::make_shared<PreAuthBudget>();
  ASSERT_TRUE(budget->TryAcquire(10));
  const absl::Duration grace = absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  p.Start(std::make_shared<PreAuthSlot>(budget, grace));
  ASSERT_TRUE(RunUntil(p.io, [&] { return p.server.result.has_value(); }))
      << "the login grace never fired";
  EXPECT_GE(p.server.ended - start, grace);
  EXPECT_EQ(p.keys.policy.pending_asked, 1);
  EXPECT_NE(p.server_session->pending_auth(), nullptr);
  EXPECT_EQ(p.server.result->code(), absl::StatusCode::kDeadlineExceeded)
      << *p.server.result;
  EXPECT_EQ(p.server.result->message(), "login grace time exceeded");
  EXPECT_FALSE(p.server_app.authenticated);
  EXPECT_EQ(p.server_app.ends, 1);
  EXPECT_EQ(p.server_app.end, *p.server.result);
  p.Finish();
  p.server.driver.reset();  // the slot goes with the connection
  EXPECT_EQ(budget->unauthenticated(), 0);
}

TEST(SessionDriverTest, AuthenticationLiftsTheLoginGraceAndFreesTheSlot) {
  Pair p;
  auto budget = std::make_shared<PreAuthBudget>();
  ASSERT_TRUE(budget->TryAcquire(10));
  const absl::Duration grace = absl::Milliseconds(300);
  p.Start(std::make_shared<PreAuthSlot>(budget, grace));
  ASSERT_TRUE(p.Authenticated());
  EXPECT_EQ(budget->unauthenticated(), 0);
  // Well past the grace deadline, the session still runs.
  EXPECT_FALSE(RunUntil(
      p.io, [&] { return p.server.result.has_value(); }, grace * 3))
      << *p.server.result;
  p.Finish();
}

TEST(SessionDriverTest, AnAsyncDecisionInTimeAuthenticatesAndFreesTheSlot) {
  Pair p;
  p.keys.policy.defer = true;
  auto budget = std::make_shared<PreAuthBudget>();
  ASSERT_TRUE(budget->TryAcquire(10));
  p.Start(std::make_shared<PreAuthSlot>(budget, absl::Seconds(30)));
  ASSERT_TRUE(RunUntil(p.io, [&] {
    return p.server_session != nullptr &&
           p.server_session->pending_auth() != nullptr;
  }));
  ASSERT_TRUE(p.server_session
                  ->CompleteAuth(
                      p.keys.policy.Verdict(*p.server_session->pending_auth()))
                  .ok());
  ASSERT_TRUE(p.Authenticated());
  EXPECT_EQ(budget->unauthenticated(), 0);
  p.Finish();
}

// The decision arrives from a timer 200 ms after the policy answered
// "pending" (as a CA answer over gRPC would), while the client keeps sending
// IGNOREs: the server stays unauthenticated and open until then, reads what
// the client sends meanwhile (dispatch waits), and completes afterwards.
TEST(SessionDriverTest, AsyncDecision200msLaterByATimerWhileTheClientSends) {
  Pair p;
  p.keys.policy.defer = true;
  p.Start();
  ASSERT_TRUE(RunUntil(p.io, [&] {
    return p.server_session != nullptr &&
           p.server_session->pending_auth() != nullptr;
  }));
  const absl::Time pending_at = absl::Now();
  const uint64_t received_at_pending =
      p.server_session->transport().bytes_received();

  // The client sends an IGNORE every 20 ms until it is authenticated.
  int ignores_while_pending = 0;
  asio::steady_timer client_timer(p.io);
  std::function<void()> send_ignore = [&] {
    if (p.client_app.authenticated || p.client.result.has_value()) return;
    const uint8_t ignore[] = {transport::kMsgIgnore, 0, 0, 0, 0};
    if (!p.server_app.authenticated &&
        p.client.session().transport().Send(ignore).ok()) {
      ++ignores_while_pending;
    }
    p.client.driver->driver().Wake();
    client_timer.expires_after(std::chrono::milliseconds(20));
    client_timer.async_wait([&](const asio::error_code& e) {
      if (!e) send_ignore();
    });
  };
  send_ignore();

  // The decision, 200 ms later, from a timer on the same executor.
  bool authenticated_before_decision = true;
  bool closed_before_decision = true;
  uint64_t received_at_decision = 0;
  absl::Time decided_at;
  asio::steady_timer decision(p.io);
  decision.expires_after(std::chrono::milliseconds(200));
  decision.async_wait([&](const asio::error_code& e) {
    ASSERT_FALSE(e);
    authenticated_before_decision = p.server_app.authenticated;
    closed_before_decision = p.server_session->closed();
    received_at_decision = p.server_session->transport().bytes_received();
    decided_at = absl::Now();
    ASSERT_TRUE(p.server_session
                    ->CompleteAuth(p.keys.policy.Verdict(
                        *p.server_session->pending_auth()))
                    .ok());
  });
  ASSERT_TRUE(p.Authenticated());
  client_timer.cancel();
  EXPECT_FALSE(authenticated_before_decision);
  EXPECT_FALSE(closed_before_decision);
  EXPECT_GE(decided_at - pending_at, absl::Milliseconds(200));
  EXPECT_GE(ignores_while_pending, 5);
  // The server's driver went on reading what the client sent meanwhile (up
  // to its paused-input limit), and the session still carries channels.
  EXPECT_GT(received_at_decision, received_at_pending);
  auto channel = p.client.session().OpenChannel("session");
  ASSERT_TRUE(channel.ok()) << channel.status();
  ASSERT_TRUE(
      RunUntil(p.io, [&] { return !p.client_app.open_results.empty(); }));
  EXPECT_TRUE(p.client_app.open_results[0].ok());
  p.Finish();
}

TEST(SessionDriverTest, OnEndComesOnceWhenThePeerVanishes) {
  Pair p;
  p.Start();
  ASSERT_TRUE(p.Authenticated());
  p.client.driver->driver().Abort();
  ASSERT_TRUE(RunUntil(p.io, [&] { return p.server.result.has_value(); }));
  EXPECT_EQ(p.server.result->code(), absl::StatusCode::kUnavailable)
      << *p.server.result;
  EXPECT_EQ(p.server_app.ends, 1);
  EXPECT_EQ(p.server_app.end.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(p.server.session().closed());
  p.Finish();
  EXPECT_EQ(p.client_app.ends, 1);
}

}  // namespace
}  // namespace sallyport::ssh::net
