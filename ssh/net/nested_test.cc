// An SSH connection inside an SSH channel: an outer client/server pair over
// loopback TCP, a "direct-tcpip" channel between them made a ByteStream on
// both ends (ChannelStream), and an inner ServerSession/ClientSession pair
// on TransportDrivers over it. The inner client logs in with a key, opens
// a session channel and sends 50 MiB of pseudo-random data; the inner
// server hashes what arrives and sends the SHA-256 back. Both digests must
// match, and the bytes held for the outer channel stay under its window.
// A user who stops reading its socket is nested_paused_user_test.cc.
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
#include "ssh/net/byte_stream.h"
#include "ssh/net/channel_stream.h"
#include "ssh/net/driver.h"
#include "ssh/net/nested_test_util.h"
#include "ssh/session/session.h"
#include "ssh/session/session_test_util.h"

namespace sallyport::ssh::net::testing {
namespace {

using session::Channel;
using session::Session;
using session::SessionHandler;
using wire::Bytes;

constexpr size_t kChunk = 64 << 10;
// The inner server's receive window: larger than the outer one, so it is
// the outer channel that stops the inner sender.
constexpr uint32_t kInnerWindow = 32 << 20;

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

  // Outer server: accepts the direct-tcpip channel and runs the inner
  // server over it.
  OuterServer outer_server_handler;
  outer_server_handler.on_open = [&](Channel ch, Bytes extra) {
    auto target = connection::DirectTcpip::Parse(extra);
    ASSERT_TRUE(target.ok()) << target.status();
    EXPECT_EQ(target->host, "inner.example");
    EXPECT_EQ(target->port, 22u);
    ASSERT_TRUE(ch.Accept().ok());
    std::unique_ptr<ByteStream> stream =
        NestedStream(io, ch, outer_server, outer_server_handler);
    session::ServerSessionOptions o = ServerOptions(inner_keys);
    o.connection.initial_window = kInnerWindow;
    auto s = session::ServerSession::Create(std::move(o), inner_server_app);
    ASSERT_TRUE(s.ok()) << s.status();
    inner_server =
        StartNode(io, std::move(stream), std::move(*s), nullptr, nullptr);
  };

  // Outer client: opens the direct-tcpip channel once logged in and runs
  // the inner client over it; disconnects once the inner client is done.
  OuterClient outer_client_handler;
  outer_client_handler.on_open = [&](Channel ch) {
    const uint8_t e = 'e';
    for (uint32_t code = 1; code <= extended_codes; ++code) {
      absl::StatusOr<size_t> taken = ch.Queue(Bytes(&e, 1), code);
      ASSERT_TRUE(taken.ok() && *taken == 1) << code;
    }
    std::unique_ptr<ByteStream> stream =
        NestedStream(io, ch, outer_client, outer_client_handler);
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

  const absl::Status started =
      StartOuterPair(io, outer_keys, outer_server_handler, outer_server,
                     outer_client_handler, outer_client);
  ASSERT_TRUE(started.ok()) << started;

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

}  // namespace
}  // namespace sallyport::ssh::net::testing
