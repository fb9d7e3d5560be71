// A recorded ProxyJump's user who stops reading, in our SSH library
// alone: an SSH connection inside an SSH channel as in nested_test.cc (an
// outer client/server pair over loopback TCP, its "direct-tcpip" channel
// made a ByteStream on both ends, an inner session pair over it), where
// the inner server produces and the user's inner client stops reading.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "ssh/connection/connection.h"
#include "ssh/net/byte_stream.h"
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
  OuterServer outer_server_handler;
  outer_server_handler.on_open = [&](Channel ch, Bytes) {
    ASSERT_TRUE(ch.Accept().ok());
    std::unique_ptr<ByteStream> stream =
        NestedStream(io, ch, outer_server, outer_server_handler);
    auto s =
        session::ServerSession::Create(ServerOptions(inner_keys), producer);
    ASSERT_TRUE(s.ok()) << s.status();
    inner_server = StartNode(
        io, std::move(stream), std::move(*s), [&] { producer.Pump(); },
        nullptr);
    producer.node = inner_server.get();
  };
  OuterClient outer_client_handler;
  outer_client_handler.on_open = [&](Channel ch) {
    std::unique_ptr<ByteStream> stream =
        NestedStream(io, ch, outer_client, outer_client_handler);
    session::ClientSessionOptions o = ClientOptions(inner_keys);
    o.connection.initial_window = kHugeWindow;
    auto s = session::ClientSession::Create(std::move(o), reader);
    ASSERT_TRUE(s.ok()) << s.status();
    inner_client =
        StartNode(io, std::move(stream), std::move(*s), nullptr, nullptr);
  };
  // The session channel is open: the user stops reading its socket.
  reader.on_open = [&] { outer_client->driver->PauseInput(); };
  const absl::Status started =
      StartOuterPair(io, outer_keys, outer_server_handler, outer_server,
                     outer_client_handler, outer_client, kHugeWindow);
  ASSERT_TRUE(started.ok()) << started;

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
}  // namespace sallyport::ssh::net::testing
