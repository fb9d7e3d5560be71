// An SSH connection inside an SSH channel: an outer client/server pair over
// loopback TCP, a "direct-tcpip" channel between them made a ByteStream on
// both ends (ChannelStream), and an inner ServerSession/ClientSession pair
// on TransportDrivers over it. The inner client logs in with a key, opens
// a session channel and sends 50 MiB of pseudo-random data; the inner
// server hashes what arrives and sends the SHA-256 back. Both digests must
// match, and the bytes held for the outer channel stay under its window.
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "ssh/connection/messages.h"
#include "ssh/crypto/hash.h"
#include "ssh/net/channel_stream.h"
#include "ssh/net/driver.h"
#include "ssh/net/session_handler.h"
#include "ssh/net/test_peer.h"
#include "ssh/session/session.h"
#include "ssh/session/session_test_util.h"

namespace sallyport::ssh::net {
namespace {

using session::Channel;
using session::Session;
using session::SessionHandler;
using wire::Bytes;

constexpr size_t kChunk = 64 << 10;
// The inner server's receive window: larger than the outer one, so it is
// the outer channel that stops the inner sender.
constexpr uint32_t kInnerWindow = 32 << 20;
// Replies to one read may overshoot the driver's high watermark by this.
constexpr size_t kSlack = 256 << 10;

// A session on a driver, running on the io_context.
struct Node {
  std::unique_ptr<TransportDriver> driver;
  std::unique_ptr<Session> session;  // destroyed before the driver
  std::unique_ptr<SessionMessageHandler> handler;
  bool done = false;
  absl::Status end;
};

std::unique_ptr<Node> StartNode(asio::io_context& io,
                                std::unique_ptr<ByteStream> stream,
                                std::unique_ptr<Session> session,
                                std::function<void()> on_progress,
                                std::function<void(Node&)> on_done) {
  auto node = std::make_unique<Node>();
  node->session = std::move(session);
  node->driver = std::make_unique<TransportDriver>(
      std::move(stream), node->session->ReleaseTransport());
  node->handler = std::make_unique<SessionMessageHandler>(
      *node->session, *node->driver, std::move(on_progress));
  Node* n = node.get();
  asio::co_spawn(
      io,
      [n, on_done]() -> asio::awaitable<void> {
        n->end = co_await n->driver->Run(*n->handler);
        n->done = true;
        if (on_done) on_done(*n);
      },
      [](std::exception_ptr e) {
        if (e) ADD_FAILURE() << "a driver coroutine threw";
      });
  return node;
}

// The outer sessions: forward the events of the one nested channel to its
// ChannelPort; everything else is refused.
class OuterHandler : public SessionHandler {
 public:
  std::shared_ptr<ChannelPort> port;

  void OnData(Channel ch, uint32_t stream, Bytes data) override {
    if (Ours(ch)) {
      port->OnData(stream, data);
    } else {
      ch.Consume(data.size());
    }
  }
  void OnEof(Channel ch) override {
    if (Ours(ch)) port->OnEof();
  }
  void OnClose(Channel ch) override {
    if (Ours(ch)) port->OnClose();
  }
  void OnWindowAvailable(Channel ch) override {
    if (Ours(ch)) port->OnWindowAvailable();
  }
  void OnQueuedDataSent(Channel ch, size_t) override {
    if (Ours(ch)) port->OnQueuedDataSent();
  }
  void OnEnd(Session&, const absl::Status&) override {
    if (port) port->Detach();
  }

 private:
  bool Ours(const Channel& ch) const { return port && port->channel() == ch; }
};

// What ChannelStream::Create needs from the outer node: its driver's output
// room (the node starts before the channel opens, so it is looked up then).
ChannelPort::OutputRoom RoomOf(const std::unique_ptr<Node>& node) {
  return [&node] { return node->driver->OutputRoomBytes(); };
}
// The outer node's progress tells the port (a write waiting for room).
std::function<void()> ProgressTo(OuterHandler& handler) {
  return [&handler] {
    if (handler.port != nullptr) handler.port->OnOutputProgress();
  };
}

// The inner server: hashes the session channel's data; at EOF sends the
// digest back, then EOF and CLOSE.
class InnerServer : public SessionHandler {
 public:
  crypto::Hasher hasher{crypto::HashAlgorithm::kSha256};
  uint64_t received = 0;
  std::vector<uint8_t> digest;
  std::function<void()> on_session;  // after accepting the session channel

  void OnChannelOpen(Channel ch, std::string_view type, Bytes) override {
    if (type == "session") {
      EXPECT_TRUE(ch.Accept().ok());
      if (on_session) on_session();
    } else {
      (void)ch.Reject(connection::OpenFailure::kUnknownChannelType, "no");
    }
  }
  void OnData(Channel ch, uint32_t stream, Bytes data) override {
    EXPECT_EQ(stream, 0u);
    hasher.Update(data);
    received += data.size();
    ch.Consume(data.size());
  }
  void OnEof(Channel ch) override {
    digest = hasher.Finish();
    auto n = ch.Send(digest);
    EXPECT_TRUE(n.ok() && *n == digest.size());
    EXPECT_TRUE(ch.SendEof().ok());
    EXPECT_TRUE(ch.Close().ok());
  }
};

// The inner client: sends `total` pseudo-random bytes (hashing them) on a
// session channel as the window and its driver's output room allow, then
// EOF; reads the server's digest; disconnects once the channel closed.
class InnerClient : public SessionHandler {
 public:
  explicit InnerClient(uint64_t total) : total(total) {}
  const uint64_t total;
  Node* node = nullptr;
  Channel channel;
  crypto::Hasher hasher{crypto::HashAlgorithm::kSha256};
  std::vector<uint8_t> digest;         // of what we sent
  std::vector<uint8_t> server_digest;  // what the server sent back
  uint64_t sent = 0;
  absl::Time started, finished;

  void OnAuthenticated(Session& s) override {
    EXPECT_TRUE(s.OpenChannel("session").ok());
  }
  void OnChannelOpenResult(Channel ch,
                           const connection::OpenResult& r) override {
    ASSERT_TRUE(r.ok()) << r.status;
    channel = ch;
    started = absl::Now();
    Pump();
  }
  void OnWindowAvailable(Channel) override { Pump(); }
  void OnData(Channel ch, uint32_t, Bytes data) override {
    server_digest.insert(server_digest.end(), data.begin(), data.end());
    ch.Consume(data.size());
  }
  void OnClose(Channel) override {
    finished = absl::Now();
    node->session->Disconnect("done");
  }

  void Pump() {
    if (!channel.valid() || eof_sent_ || node == nullptr) return;
    while (sent < total && node->driver->OutputRoom()) {
      if (offset_ == chunk_.size()) Refill();
      Bytes piece = Bytes(chunk_).subspan(offset_);
      if (piece.size() > total - sent) piece = piece.first(total - sent);
      absl::StatusOr<size_t> n = channel.Send(piece);
      ASSERT_TRUE(n.ok()) << n.status();
      if (*n == 0) return;  // OnWindowAvailable
      hasher.Update(piece.first(*n));
      offset_ += *n;
      sent += *n;
    }
    if (sent == total) {
      eof_sent_ = true;
      digest = hasher.Finish();
      EXPECT_TRUE(channel.SendEof().ok());
    }
  }

 private:
  void Refill() {  // xorshift64*
    chunk_.resize(kChunk);
    for (size_t i = 0; i < kChunk; i += 8) {
      state_ ^= state_ >> 12;
      state_ ^= state_ << 25;
      state_ ^= state_ >> 27;
      const uint64_t v = state_ * 0x2545F4914F6CDD1Dull;
      for (int b = 0; b < 8; ++b)
        chunk_[i + b] = static_cast<uint8_t>(v >> (8 * b));
    }
    offset_ = 0;
  }
  std::vector<uint8_t> chunk_;
  size_t offset_ = 0;
  uint64_t state_ = 0x9E3779B97F4A7C15ull;
  bool eof_sent_ = false;
};

// Real clock for sessions on drivers.
session::ServerSessionOptions ServerOptions(session::testing::PairSetup& keys) {
  auto o = keys.ServerOptions();
  o.transport.clock = nullptr;
  return o;
}
session::ClientSessionOptions ClientOptions(session::testing::PairSetup& keys) {
  auto o = keys.ClientOptions();
  o.transport.clock = nullptr;
  return o;
}

// Runs the nested pair until the inner client sent `total` bytes and got
// the digest back, and checks digests and memory bounds. With a non-zero
// `pause`, the inner server stops reading for that long once its session
// channel is open, while the inner client keeps sending. With non-zero
// `extended_codes`, the outer client first sends a byte of extended data
// of each code from 1 to that on the outer channel.
void RunNested(uint64_t total, absl::Duration pause,
               uint32_t extended_codes = 0) {
  asio::io_context io;
  session::testing::PairSetup outer_keys, inner_keys;
  InnerServer inner_server_app;
  InnerClient inner_client_app(total);
  // Declared after the handlers (sessions refer to them); the inner nodes
  // after the outer ones, so they go first (their streams use the outer
  // channels).
  std::unique_ptr<Node> outer_server, outer_client, inner_server, inner_client;
  const uint32_t outer_window =
      ServerOptions(outer_keys).connection.initial_window;

  auto [client_socket, server_socket] = testing::LoopbackPair(io);

  // Outer server: accepts the direct-tcpip channel and runs the inner
  // server over it.
  struct OuterServer : OuterHandler {
    std::function<void(Channel, Bytes)> on_open;
    void OnChannelOpen(Channel ch, std::string_view type,
                       Bytes extra) override {
      if (type != "direct-tcpip" || port != nullptr) {
        (void)ch.Reject(connection::OpenFailure::kAdministrativelyProhibited,
                        "one nested channel");
        return;
      }
      on_open(ch, extra);
    }
  } outer_server_handler;
  outer_server_handler.on_open = [&](Channel ch, Bytes extra) {
    auto target = connection::DirectTcpip::Parse(extra);
    ASSERT_TRUE(target.ok()) << target.status();
    EXPECT_EQ(target->host, "inner.example");
    EXPECT_EQ(target->port, 22u);
    ASSERT_TRUE(ch.Accept().ok());
    auto [stream, port] =
        ChannelStream::Create(io.get_executor(), ch, RoomOf(outer_server));
    outer_server_handler.port = port;
    session::ServerSessionOptions o = ServerOptions(inner_keys);
    o.connection.initial_window = kInnerWindow;
    auto s = session::ServerSession::Create(std::move(o), inner_server_app);
    ASSERT_TRUE(s.ok()) << s.status();
    inner_server =
        StartNode(io, std::move(stream), std::move(*s), nullptr, nullptr);
  };

  // Outer client: opens the direct-tcpip channel once logged in and runs
  // the inner client over it; disconnects once the inner client is done.
  struct OuterClient : OuterHandler {
    std::function<void(Channel)> on_open;
    void OnAuthenticated(Session& s) override {
      connection::DirectTcpip target{"inner.example", 22, "127.0.0.1", 50000};
      EXPECT_TRUE(s.OpenChannel("direct-tcpip", target.Serialize()).ok());
    }
    void OnChannelOpenResult(Channel ch,
                             const connection::OpenResult& r) override {
      ASSERT_TRUE(r.ok()) << r.status;
      on_open(ch);
    }
  } outer_client_handler;
  outer_client_handler.on_open = [&](Channel ch) {
    const uint8_t e = 'e';
    for (uint32_t code = 1; code <= extended_codes; ++code) {
      absl::StatusOr<size_t> taken = ch.Queue(Bytes(&e, 1), code);
      ASSERT_TRUE(taken.ok() && *taken == 1) << code;
    }
    auto [stream, port] =
        ChannelStream::Create(io.get_executor(), ch, RoomOf(outer_client));
    outer_client_handler.port = port;
    auto s = session::ClientSession::Create(ClientOptions(inner_keys),
                                            inner_client_app);
    ASSERT_TRUE(s.ok()) << s.status();
    inner_client = StartNode(
        io, std::move(stream), std::move(*s), [&] { inner_client_app.Pump(); },
        [&](Node&) {
          outer_client->session->Disconnect("inner connection done");
          outer_client->driver->Wake();
        });
    inner_client_app.node = inner_client.get();
  };

  // While the inner server does not read, the inner client keeps sending
  // until the outer window is full: the outer server's end holds at most
  // one window, all of it still unconsumed in the outer connection.
  asio::steady_timer pause_timer(io);
  bool paused_checked = false;
  inner_server_app.on_session = [&] {
    if (pause <= absl::ZeroDuration()) return;
    inner_server->driver->PauseInput();
    pause_timer.expires_after(absl::ToChronoNanoseconds(pause));
    pause_timer.async_wait([&](const asio::error_code& ec) {
      if (ec) return;
      const ChannelPort& port = *outer_server_handler.port;
      EXPECT_GT(port.held_bytes(), 0u);
      EXPECT_LE(port.held_bytes(), outer_window);
      EXPECT_EQ(
          outer_server->session->connection()->Unconsumed(port.channel().id()),
          port.held_bytes());
      // The sender stalled before the inner window: what it sent is held
      // in bounded places (the outer window, socket buffers, the inner
      // client's driver below its watermark).
      EXPECT_LT(inner_client_app.sent, kInnerWindow);
      std::printf(
          "paused inner server: %zu bytes held in the outer channel, "
          "%llu sent\n",
          port.held_bytes(),
          static_cast<unsigned long long>(inner_client_app.sent));
      paused_checked = true;
      inner_server->driver->ResumeInput();
    });
  };

  {
    auto s = session::ServerSession::Create(ServerOptions(outer_keys),
                                            outer_server_handler);
    ASSERT_TRUE(s.ok()) << s.status();
    outer_server =
        StartNode(io, std::make_unique<TcpStream>(std::move(server_socket)),
                  std::move(*s), ProgressTo(outer_server_handler), nullptr);
  }
  {
    auto s = session::ClientSession::Create(ClientOptions(outer_keys),
                                            outer_client_handler);
    ASSERT_TRUE(s.ok()) << s.status();
    outer_client =
        StartNode(io, std::make_unique<TcpStream>(std::move(client_socket)),
                  std::move(*s), ProgressTo(outer_client_handler), nullptr);
  }

  // Generous bound (ASan): abort everything if the run hangs.
  bool timed_out = false;
  asio::steady_timer guard(io, std::chrono::seconds(120));
  guard.async_wait([&](const asio::error_code& ec) {
    if (ec) return;
    timed_out = true;
    for (Node* n : {outer_server.get(), outer_client.get(), inner_server.get(),
                    inner_client.get()}) {
      if (n != nullptr && !n->done) n->driver->Abort();
    }
  });
  // Cancel the guard once every driver finished.
  asio::steady_timer poll(io);
  std::function<void()> check = [&] {
    bool all = true;
    for (Node* n : {outer_server.get(), outer_client.get(), inner_server.get(),
                    inner_client.get()}) {
      if (n == nullptr || !n->done) all = false;
    }
    if (all || timed_out) {
      guard.cancel();
      return;
    }
    poll.expires_after(std::chrono::milliseconds(20));
    poll.async_wait([&](const asio::error_code& ec) {
      if (!ec) check();
    });
  };
  check();
  io.run();

  ASSERT_FALSE(timed_out) << "sent " << inner_client_app.sent << ", received "
                          << inner_server_app.received;
  EXPECT_EQ(paused_checked, pause > absl::ZeroDuration());
  ASSERT_NE(inner_client, nullptr);
  ASSERT_NE(inner_server, nullptr);
  EXPECT_EQ(inner_client_app.sent, total);
  EXPECT_EQ(inner_server_app.received, total);
  ASSERT_EQ(inner_client_app.digest.size(), 32u);
  EXPECT_EQ(inner_server_app.digest, inner_client_app.digest);
  EXPECT_EQ(inner_client_app.server_digest, inner_client_app.digest);
  // The inner connection really ran inside the outer one, authenticated.
  EXPECT_TRUE(inner_server->session->authenticated());
  EXPECT_TRUE(inner_client->session->authenticated());
  EXPECT_GT(inner_server->driver->transport().kex_count(), 0);

  // Memory: the channel's receiver holds at most one outer window (it
  // consumes only what the inner driver read), and no driver buffers past
  // its high watermark.
  EXPECT_GT(outer_server_handler.port->peak_held_bytes(), 0u);
  EXPECT_LE(outer_server_handler.port->peak_held_bytes(), outer_window);
  EXPECT_LE(outer_client_handler.port->peak_held_bytes(), outer_window);
  const size_t bound = DriverOptions().high_watermark + kSlack;
  for (Node* n : {outer_server.get(), outer_client.get(), inner_server.get(),
                  inner_client.get()}) {
    EXPECT_LE(n->driver->peak_buffered_bytes(), bound);
  }

  const double seconds = absl::ToDoubleSeconds(inner_client_app.finished -
                                               inner_client_app.started);
  std::printf(
      "nested: %llu MiB in %.2f s (%.1f MiB/s); peak held in the outer "
      "channel %zu bytes (window %u)\n",
      static_cast<unsigned long long>(total >> 20), seconds,
      static_cast<double>(total >> 20) / seconds,
      outer_server_handler.port->peak_held_bytes(), outer_window);
}

TEST(NestedTest, SshInsideDirectTcpipPasses50MiBWithMatchingSha256) {
  RunNested(50ull << 20, absl::ZeroDuration());
}

// Extended data on the outer channel (stderr and other codes, as a jump
// channel's user may send): the ports drop it, giving its window back, so
// the inner connection sees only the channel's data (fails if it reached
// the inner stream: the inner server then reads "e..." for a banner).
TEST(NestedTest, ExtendedDataOnTheOuterChannelNeverReachesTheInnerStream) {
  RunNested(1ull << 20, absl::ZeroDuration(), /*extended_codes=*/10000);
}

// The outer channel is the inner connection's backpressure: a reader that
// stops stops the sender, and the bytes held stay under one window (fails
// if the stream Consume()d data before the inner driver read it).
TEST(NestedTest, InnerReaderThatStopsStopsTheSenderWithinOneWindow) {
  RunNested(64ull << 20, absl::Seconds(2));
}

// The user of a recorded ProxyJump advertises a 4 GiB window on both the
// outer (jump) channel and the inner session channel and stops reading its
// socket, while the host behind the inner server keeps sending. The outer
// window is no brake, so only the outer driver's output room stops the
// inner connection's writes into the outer channel (ChannelStream): the
// outer server buffers no more than its high watermark and the producer
// stops. Once the user reads again, every byte arrives, in order. Fails if
// ChannelStream::WriteSome hands everything to the channel the window
// allows (the outer server buffered the whole 32 MiB).
TEST(NestedTest, UserWithAHugeWindowWhoStopsReadingStopsTheInnerSender) {
  constexpr uint64_t kTotal = 32ull << 20;
  constexpr uint32_t kHugeWindow = 0xfff00000u;
  asio::io_context io;
  session::testing::PairSetup outer_keys, inner_keys;
  auto pattern = [](uint64_t i) { return static_cast<uint8_t>(i % 251); };

  // The inner server stands in for the gateway's bridge: it queues the
  // host's bytes on the user's session channel while its driver has room.
  struct Producer : SessionHandler {
    std::function<uint8_t(uint64_t)> pattern;
    Node* node = nullptr;
    Channel channel;
    uint64_t produced = 0;
    std::vector<uint8_t> chunk;
    void OnChannelOpen(Channel ch, std::string_view, Bytes) override {
      EXPECT_TRUE(ch.Accept().ok());
      channel = ch;
      Pump();
    }
    void OnData(Channel ch, uint32_t, Bytes data) override {
      ch.Consume(data.size());
    }
    void OnWindowAvailable(Channel) override { Pump(); }
    void OnQueuedDataSent(Channel, size_t) override { Pump(); }
    void Pump() {
      if (node == nullptr || !channel.valid()) return;
      while (produced < kTotal && node->driver->OutputRoom()) {
        chunk.resize(std::min<uint64_t>(32 << 10, kTotal - produced));
        for (size_t i = 0; i < chunk.size(); ++i)
          chunk[i] = pattern(produced + i);
        absl::StatusOr<size_t> n = channel.Queue(chunk);
        ASSERT_TRUE(n.ok()) << n.status();
        if (*n == 0) return;
        produced += *n;
      }
      node->driver->Wake();
    }
  } producer;
  producer.pattern = pattern;
  // The user's inner client: checks every byte against the pattern.
  struct Reader : SessionHandler {
    std::function<uint8_t(uint64_t)> pattern;
    std::function<void()> on_open;
    uint64_t received = 0;
    uint64_t mismatches = 0;
    void OnAuthenticated(Session& s) override {
      EXPECT_TRUE(s.OpenChannel("session").ok());
    }
    void OnChannelOpenResult(Channel,
                             const connection::OpenResult& r) override {
      ASSERT_TRUE(r.ok()) << r.status;
      on_open();
    }
    void OnData(Channel ch, uint32_t, Bytes data) override {
      for (uint8_t byte : data) {
        if (byte != pattern(received)) ++mismatches;
        ++received;
      }
      ch.Consume(data.size());
    }
  } reader;
  reader.pattern = pattern;

  std::unique_ptr<Node> outer_server, outer_client, inner_server, inner_client;
  auto [client_socket, server_socket] = testing::LoopbackPair(io);

  struct OuterServer : OuterHandler {
    std::function<void(Channel)> on_open;
    void OnChannelOpen(Channel ch, std::string_view, Bytes) override {
      on_open(ch);
    }
  } outer_server_handler;
  outer_server_handler.on_open = [&](Channel ch) {
    ASSERT_TRUE(ch.Accept().ok());
    auto [stream, port] =
        ChannelStream::Create(io.get_executor(), ch, RoomOf(outer_server));
    outer_server_handler.port = port;
    auto s =
        session::ServerSession::Create(ServerOptions(inner_keys), producer);
    ASSERT_TRUE(s.ok()) << s.status();
    inner_server = StartNode(
        io, std::move(stream), std::move(*s), [&] { producer.Pump(); },
        nullptr);
    producer.node = inner_server.get();
  };
  struct OuterClient : OuterHandler {
    std::function<void(Channel)> on_open;
    void OnAuthenticated(Session& s) override {
      connection::DirectTcpip target{"inner.example", 22, "127.0.0.1", 50000};
      EXPECT_TRUE(s.OpenChannel("direct-tcpip", target.Serialize()).ok());
    }
    void OnChannelOpenResult(Channel ch,
                             const connection::OpenResult& r) override {
      ASSERT_TRUE(r.ok()) << r.status;
      on_open(ch);
    }
  } outer_client_handler;
  outer_client_handler.on_open = [&](Channel ch) {
    auto [stream, port] =
        ChannelStream::Create(io.get_executor(), ch, RoomOf(outer_client));
    outer_client_handler.port = port;
    session::ClientSessionOptions o = ClientOptions(inner_keys);
    o.connection.initial_window = kHugeWindow;
    auto s = session::ClientSession::Create(std::move(o), reader);
    ASSERT_TRUE(s.ok()) << s.status();
    inner_client =
        StartNode(io, std::move(stream), std::move(*s), nullptr, nullptr);
  };
  // The session channel is open: the user stops reading its socket.
  reader.on_open = [&] { outer_client->driver->PauseInput(); };
  {
    auto s = session::ServerSession::Create(ServerOptions(outer_keys),
                                            outer_server_handler);
    ASSERT_TRUE(s.ok()) << s.status();
    outer_server =
        StartNode(io, std::make_unique<TcpStream>(std::move(server_socket)),
                  std::move(*s), ProgressTo(outer_server_handler), nullptr);
  }
  {
    session::ClientSessionOptions o = ClientOptions(outer_keys);
    o.connection.initial_window = kHugeWindow;
    auto s = session::ClientSession::Create(std::move(o), outer_client_handler);
    ASSERT_TRUE(s.ok()) << s.status();
    outer_client =
        StartNode(io, std::make_unique<TcpStream>(std::move(client_socket)),
                  std::move(*s), ProgressTo(outer_client_handler), nullptr);
  }

  // Until the producer is done or has not moved for a second (stopped).
  uint64_t last = 0;
  int still = 0;
  while (producer.produced < kTotal && still < 10) {
    io.run_for(std::chrono::milliseconds(100));
    still = producer.produced > 0 && producer.produced == last ? still + 1 : 0;
    last = producer.produced;
  }
  ASSERT_NE(outer_server, nullptr);
  ASSERT_NE(inner_server, nullptr);
  const size_t bound = DriverOptions().high_watermark + kSlack;
  std::printf(
      "paused user: produced %llu MiB; outer server peak %zu KiB, inner "
      "server peak %zu KiB\n",
      static_cast<unsigned long long>(producer.produced >> 20),
      outer_server->driver->peak_buffered_bytes() >> 10,
      inner_server->driver->peak_buffered_bytes() >> 10);
  EXPECT_LT(producer.produced, kTotal);
  EXPECT_LE(outer_server->driver->peak_buffered_bytes(), bound);
  EXPECT_LE(inner_server->driver->peak_buffered_bytes(), bound);

  // The user reads again: everything arrives, in order.
  outer_client->driver->ResumeInput();
  for (int i = 0; i < 1200 && reader.received < kTotal; ++i)
    io.run_for(std::chrono::milliseconds(100));
  EXPECT_EQ(reader.received, kTotal);
  EXPECT_EQ(reader.mismatches, 0u);
  EXPECT_LE(outer_server->driver->peak_buffered_bytes(), bound);

  for (Node* n : {inner_client.get(), inner_server.get(), outer_client.get(),
                  outer_server.get()}) {
    if (n != nullptr && !n->done) n->driver->Abort();
  }
  io.run_for(std::chrono::seconds(2));
}

}  // namespace
}  // namespace sallyport::ssh::net
