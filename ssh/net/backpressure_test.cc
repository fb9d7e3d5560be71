// Hostile peers against the driver over real loopback TCP with small kernel
// buffers: a client that floods messages provoking replies and never reads
// them (PINGs after login, "none" auth requests in the login grace), a
// handler that pauses dispatch, deadlines, and idle buffers.
#include <asio/experimental/as_tuple.hpp>
#include <chrono>
#include <functional>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "ssh/net/driver.h"
#include "ssh/net/spawn.h"
#include "ssh/net/test_peer.h"
#include "ssh/transport/messages.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::net {
namespace {

using testing::kEcho;
using testing::kEchoReply;
using transport::Transport;
constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr int kSocketBuffer = 64 << 10;
// Replies to one read may overshoot the high watermark by this much.
constexpr size_t kSlack = 64 << 10;

std::vector<uint8_t> PingMsg() {
  wire::Writer w;
  w.Byte(transport::kMsgPing).String(std::string(1000, 'p'));
  return w.Take();
}
std::vector<uint8_t> NoneAuthMsg() {
  wire::Writer w;
  w.Byte(transport::kMsgUserauthRequest)
      .String("mallory")
      .String("ssh-connection")
      .String("none");
  return w.Take();
}
std::vector<uint8_t> EchoMsg(size_t size = 1) {
  std::vector<uint8_t> m(size, 'e');
  m[0] = kEcho;
  return m;
}

// Logs in (when `authenticate`), then stops reading and sends `flood`
// messages up to `limit` bytes, keeping its own backlog small.
class FloodClient : public MessageHandler {
 public:
  FloodClient(bool authenticate, std::function<std::vector<uint8_t>()> flood,
              uint64_t limit)
      : authenticate_(authenticate), flood_(std::move(flood)), limit_(limit) {}

  TransportDriver* driver = nullptr;
  uint64_t sent = 0;
  bool flooding = false;
  int echo_replies = 0;

  absl::Status OnHandshakeDone(Transport& t) override {
    return t.Send(transport::SerializeServiceMsg(transport::kMsgServiceRequest,
                                                 "ssh-userauth"));
  }
  absl::Status OnMessage(Transport& t, wire::Bytes p) override {
    if (p[0] == transport::kMsgServiceAccept) {
      if (!authenticate_) Start(t);
      if (authenticate_) return t.Send(NoneAuthMsg());
    }
    if (p[0] == transport::kMsgUserauthSuccess) Start(t);
    if (p[0] == kEchoReply) {
      ++echo_replies;
      t.Disconnect(transport::DisconnectReason::kByApplication, "done");
    }
    return absl::OkStatus();
  }
  void OnProgress(Transport& t) override { Produce(t); }

 private:
  void Start(Transport& t) {
    driver->PauseInput();
    flooding = true;
    Produce(t);
  }
  void Produce(Transport& t) {
    while (flooding && sent < limit_ && driver->OutputBacklog() < (256 << 10)) {
      std::vector<uint8_t> m = flood_();
      if (!t.Send(m).ok()) return;
      sent += m.size();
    }
  }

  bool authenticate_;
  std::function<std::vector<uint8_t>()> flood_;
  uint64_t limit_;
};

struct FloodResult {
  uint64_t sent = 0;
  bool stalled = false;
  bool server_blocked_at_stall = false;
  size_t server_peak = 0;
  absl::Status server_end;
  absl::Duration server_lifetime;
  int echo_replies = 0;
  int finished = 0;
};

DriverOptions SmallWatermarks() {
  DriverOptions o;
  o.high_watermark = 1 << 20;
  o.low_watermark = 512 << 10;
  o.close_flush_timeout = absl::Milliseconds(300);
  return o;
}

// Runs the flood until the client's sending stalls for 500 ms (the server
// stopped reading) or the limit is sent. With `resume`, the client then
// reads again and sends one kEcho, whose reply ends the connection.
FloodResult RunFlood(bool authenticate,
                     std::function<std::vector<uint8_t>()> flood,
                     uint64_t limit, absl::Duration login_grace, bool resume,
                     DriverOptions server_options = SmallWatermarks()) {
  asio::io_context io;
  auto [client_socket, server_socket] =
      testing::LoopbackPair(io, kSocketBuffer);
  TransportDriver server(std::move(server_socket),
                         testing::ServerTransport(login_grace), server_options);
  TransportDriver client(std::move(client_socket), testing::ClientTransport());
  testing::MinimalServer server_handler(authenticate);
  FloodClient client_handler(authenticate, std::move(flood), limit);
  client_handler.driver = &client;
  FloodResult r;
  const absl::Time start = absl::Now();
  auto done = [&] {
    if (++r.finished == 2) io.stop();
  };
  Spawn(
      io.get_executor(),
      [&]() -> asio::awaitable<void> {
        r.server_end = co_await server.Run(server_handler);
        r.server_lifetime = absl::Now() - start;
        if (!resume) client.Abort();
        done();
      },
      "peer");
  Spawn(
      io.get_executor(),
      [&]() -> asio::awaitable<void> {
        (void)co_await client.Run(client_handler);
        done();
      },
      "peer");
  Spawn(
      io.get_executor(),
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(io);
        uint64_t last = 0;
        absl::Time last_change = absl::Now();
        while (client_handler.sent < limit) {
          timer.expires_after(std::chrono::milliseconds(20));
          co_await timer.async_wait(kUseTuple);
          if (client_handler.sent != last || !client_handler.flooding) {
            last = client_handler.sent;
            last_change = absl::Now();
          } else if (absl::Now() - last_change > absl::Milliseconds(500)) {
            r.stalled = true;
            break;
          }
        }
        r.server_blocked_at_stall = server.blocked_by_backlog();
        client_handler.flooding = false;
        if (resume) {
          client.ResumeInput();
          (void)client.transport().Send(EchoMsg());
          client.Wake();
        }
      },
      "peer");
  io.run_for(std::chrono::seconds(60));
  r.sent = client_handler.sent;
  r.server_peak = server.peak_buffered_bytes();
  r.echo_replies = client_handler.echo_replies;
  return r;
}

TEST(BackpressureTest, PingFloodFromAPeerThatDoesNotReadStopsTheReader) {
  constexpr uint64_t kLimit = uint64_t{400} << 20;
  FloodResult r = RunFlood(true, PingMsg, kLimit, absl::Seconds(120), true);
  EXPECT_EQ(r.finished, 2);
  EXPECT_TRUE(r.stalled) << "the server read all " << r.sent << " bytes";
  EXPECT_LT(r.sent, kLimit);
  EXPECT_TRUE(r.server_blocked_at_stall);
  EXPECT_LE(r.server_peak, SmallWatermarks().high_watermark + kSlack);
  // Once the client reads again, the server drains, reads on, and answers
  // the message sent after the flood (input pause + resume on both sides).
  EXPECT_EQ(r.echo_replies, 1);
  EXPECT_NE(r.server_end.message().find("peer disconnected"), std::string::npos)
      << r.server_end;
}

TEST(BackpressureTest, NoneAuthFloodInLoginGraceIsBoundedAndEndsOnTime) {
  constexpr uint64_t kLimit = 8 << 20;
  const absl::Duration grace = absl::Seconds(12);
  // Each "none" request earns a short USERAUTH_FAILURE, so the server's
  // output backlog fills slowly; a 128 KiB high watermark lets the flood stall
  // well inside the grace even under ASan on a loaded machine (with 1 MiB it
  // once ran out of grace after 1.3 MB sent).
  DriverOptions options = SmallWatermarks();
  options.high_watermark = 128 << 10;
  options.low_watermark = 64 << 10;
  FloodResult r = RunFlood(false, NoneAuthMsg, kLimit, grace, false, options);
  EXPECT_EQ(r.finished, 2);
  EXPECT_TRUE(r.stalled) << "the server read all " << r.sent << " bytes";
  EXPECT_LT(r.sent, kLimit);
  EXPECT_LE(r.server_peak, options.high_watermark + kSlack);
  // The server's writes are stuck (the client never reads), yet the login
  // grace ends the connection: the stream is closed after the flush timeout.
  EXPECT_TRUE(r.server_blocked_at_stall);
  EXPECT_EQ(r.server_end.code(), absl::StatusCode::kDeadlineExceeded)
      << r.server_end;
  EXPECT_LT(r.server_lifetime, grace + absl::Seconds(2));
}

// Pauses dispatch at the first kEcho for 300 ms, then resumes.
class PausingServer : public testing::MinimalServer {
 public:
  PausingServer() : MinimalServer(true) {}
  TransportDriver* driver = nullptr;
  bool paused = false;
  bool paused_once = false;
  uint64_t received_at_pause = 0;
  uint64_t received_at_resume = 0;
  std::unique_ptr<asio::steady_timer> timer;

  bool DispatchPaused() override { return paused; }
  absl::Status OnMessage(Transport& t, wire::Bytes p) override {
    absl::Status s = MinimalServer::OnMessage(t, p);
    if (p[0] == kEcho && !paused_once) {
      paused_once = paused = true;
      received_at_pause = t.bytes_received();
      timer = std::make_unique<asio::steady_timer>(driver->executor());
      timer->expires_after(std::chrono::milliseconds(300));
      timer->async_wait([this](const asio::error_code&) {
        received_at_resume = driver->transport().bytes_received();
        paused = false;
        driver->ResumeDispatch();
      });
    }
    return s;
  }
};

// Logs in, sends `count` kEcho messages of 1 KiB, disconnects after all
// replies.
class EchoClient : public MessageHandler {
 public:
  explicit EchoClient(int count) : count_(count) {}
  TransportDriver* driver = nullptr;
  int replies = 0;
  absl::Status OnHandshakeDone(Transport& t) override {
    return t.Send(transport::SerializeServiceMsg(transport::kMsgServiceRequest,
                                                 "ssh-userauth"));
  }
  absl::Status OnMessage(Transport& t, wire::Bytes p) override {
    if (p[0] == transport::kMsgServiceAccept) return t.Send(NoneAuthMsg());
    if (p[0] == transport::kMsgUserauthSuccess) {
      authenticated_ = true;
      OnProgress(t);
    }
    if (p[0] == kEchoReply && ++replies == count_)
      t.Disconnect(transport::DisconnectReason::kByApplication, "done");
    return absl::OkStatus();
  }
  void OnProgress(Transport& t) override {
    while (authenticated_ && sent_ < count_ &&
           driver->OutputBacklog() < (256 << 10)) {
      if (!t.Send(EchoMsg(1024)).ok()) return;
      ++sent_;
    }
  }

 private:
  int count_;
  int sent_ = 0;
  bool authenticated_ = false;
};

TEST(BackpressureTest, DispatchPauseStopsReadingAfterASmallBound) {
  asio::io_context io;
  auto [client_socket, server_socket] =
      testing::LoopbackPair(io, kSocketBuffer);
  DriverOptions options;
  options.paused_input_limit = 32 << 10;
  TransportDriver server(std::move(server_socket), testing::ServerTransport(),
                         options);
  TransportDriver client(std::move(client_socket), testing::ClientTransport());
  PausingServer server_handler;
  server_handler.driver = &server;
  constexpr int kCount = 2000;  // 2 MiB
  EchoClient client_handler(kCount);
  client_handler.driver = &client;
  int finished = 0;
  Spawn(
      io.get_executor(),
      [&]() -> asio::awaitable<void> {
        (void)co_await server.Run(server_handler);
        if (++finished == 2) io.stop();
      },
      "peer");
  Spawn(
      io.get_executor(),
      [&]() -> asio::awaitable<void> {
        (void)co_await client.Run(client_handler);
        if (++finished == 2) io.stop();
      },
      "peer");
  io.run_for(std::chrono::seconds(60));
  EXPECT_EQ(finished, 2);
  ASSERT_TRUE(server_handler.paused_once);
  EXPECT_GT(server_handler.received_at_resume, 0u);
  EXPECT_LE(
      server_handler.received_at_resume - server_handler.received_at_pause,
      options.paused_input_limit);
  EXPECT_EQ(server_handler.echoes, kCount);
  EXPECT_EQ(client_handler.replies, kCount);
}

// Runs a logged-in client/server pair; `body` runs once the client is
// authenticated and returns when the test is over.
class IdleClient : public MessageHandler {
 public:
  std::function<void()> on_login;
  absl::Status OnHandshakeDone(Transport& t) override {
    return t.Send(transport::SerializeServiceMsg(transport::kMsgServiceRequest,
                                                 "ssh-userauth"));
  }
  absl::Status OnMessage(Transport& t, wire::Bytes p) override {
    if (p[0] == transport::kMsgServiceAccept) return t.Send(NoneAuthMsg());
    if (p[0] == transport::kMsgUserauthSuccess && on_login) on_login();
    if (p[0] == kEchoReply) ++replies;
    return absl::OkStatus();
  }
  int replies = 0;
};

TEST(BackpressureTest, DeadlineEndsTheConnectionWithItsReason) {
  asio::io_context io;
  auto [client_socket, server_socket] = testing::LoopbackPair(io);
  TransportDriver server(std::move(server_socket), testing::ServerTransport());
  TransportDriver client(std::move(client_socket), testing::ClientTransport());
  testing::MinimalServer server_handler(true);
  IdleClient client_handler;
  client_handler.on_login = [&] {
    server.SetDeadline(absl::Now() + absl::Milliseconds(200),
                       "certificate expired");
  };
  absl::Status server_end, client_end;
  int finished = 0;
  Spawn(
      io.get_executor(),
      [&]() -> asio::awaitable<void> {
        server_end = co_await server.Run(server_handler);
        if (++finished == 2) io.stop();
      },
      "peer");
  Spawn(
      io.get_executor(),
      [&]() -> asio::awaitable<void> {
        client_end = co_await client.Run(client_handler);
        if (++finished == 2) io.stop();
      },
      "peer");
  io.run_for(std::chrono::seconds(20));
  EXPECT_EQ(finished, 2);
  EXPECT_EQ(server_end.code(), absl::StatusCode::kDeadlineExceeded)
      << server_end;
  EXPECT_NE(client_end.message().find("certificate expired"), std::string::npos)
      << client_end;
}

TEST(BackpressureTest, IdleConnectionReleasesBuffersAndDoesNotWakeUp) {
  asio::io_context io;
  auto [client_socket, server_socket] = testing::LoopbackPair(io);
  DriverOptions options;
  options.shrink_delay = absl::Milliseconds(100);
  TransportDriver server(std::move(server_socket), testing::ServerTransport(),
                         options);
  TransportDriver client(std::move(client_socket), testing::ClientTransport());
  testing::MinimalServer server_handler(true);
  IdleClient client_handler;
  size_t capacity_after_burst = 0, capacity_idle = 0;
  uint64_t wakeups_before = 0, wakeups_after = 0;
  client_handler.on_login = [&] {
    // A burst: 1 MiB in one message train.
    for (int i = 0; i < 64; ++i)
      (void)client.transport().Send(EchoMsg(16 << 10));
    client.Wake();
  };
  Spawn(
      io.get_executor(),
      [&]() -> asio::awaitable<void> {
        (void)co_await server.Run(server_handler);
      },
      "peer");
  Spawn(
      io.get_executor(),
      [&]() -> asio::awaitable<void> {
        (void)co_await client.Run(client_handler);
      },
      "peer");
  Spawn(
      io.get_executor(),
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(io);
        while (client_handler.replies < 64) {
          timer.expires_after(std::chrono::milliseconds(1));
          co_await timer.async_wait(kUseTuple);
        }
        capacity_after_burst = server.BufferCapacity();
        timer.expires_after(std::chrono::milliseconds(300));
        co_await timer.async_wait(kUseTuple);
        capacity_idle = server.BufferCapacity();
        wakeups_before = server.timer_wakeups();
        timer.expires_after(std::chrono::milliseconds(2500));
        co_await timer.async_wait(kUseTuple);
        wakeups_after = server.timer_wakeups();
        io.stop();
      },
      "peer");
  io.run_for(std::chrono::seconds(30));
  EXPECT_GE(capacity_after_burst, size_t{16} << 10);
  EXPECT_EQ(capacity_idle, 0u);
  EXPECT_EQ(wakeups_after, wakeups_before)
      << "an idle authenticated connection woke up";
}

}  // namespace
}  // namespace sallyport::ssh::net
