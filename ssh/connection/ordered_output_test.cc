// The per-channel ordered outbound queue (data, requests, EOF, CLOSE), the
// open-failure details and Close() of a channel still opening.
#include <string>

#include "gtest/gtest.h"
#include "ssh/connection/connection.h"
#include "ssh/connection/connection_test_fixture.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::connection {
namespace {

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

// The server (receiver) gives a small window and consumes only when told.
class OrderedOutputTest : public ConnectionTest {
 protected:
  void SetUp() override {
    ConnectionOptions client, server;
    client.max_queued_bytes = 6000;
    server.initial_window = 1000;
    Build(client, server);
    server_rec_.auto_consume = false;
    id_ = OpenSession();
  }
  // The server consumes everything it has, until nothing more arrives.
  void Drain() {
    for (int i = 0; i < 100; ++i) {
      const uint64_t n = server_->Unconsumed(0);
      server_->Consume(0, n);
      Pump();
      if (n == 0 && server_->Unconsumed(0) == 0) break;
    }
  }
  uint32_t id_ = 0;
};

TEST_F(OrderedOutputTest, EofAndCloseGoOutAfterTheQueuedDataAndRequests) {
  const std::string out = Pattern(5000), err = Pattern(700);
  auto taken = client_->QueueData(id_, wire::AsBytes(out));
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ(*taken, out.size());  // 1000 sent at once, 4000 queued
  EXPECT_EQ(client_->QueuedBytes(id_), 4000u);
  ASSERT_TRUE(
      client_->QueueData(id_, wire::AsBytes(err), kExtendedDataStderr).ok());
  ASSERT_TRUE(
      client_->SendRequest(id_, "exit-status", false, SerializeExitStatus(3))
          .ok());
  ASSERT_TRUE(client_->SendEof(id_).ok());
  ASSERT_TRUE(client_->Close(id_).ok());
  // Nothing may overtake the queue: no data past it, no request, no EOF.
  // After EOF and Close the channel takes no more data.
  EXPECT_EQ(client_->SendData(id_, wire::AsBytes("x")).status().code(),
            absl::StatusCode::kFailedPrecondition);
  Pump();
  EXPECT_EQ(server_rec_.data[0], out.substr(0, 1000));
  EXPECT_EQ(server_rec_.events, std::vector<std::string>{"open session"});
  EXPECT_TRUE(client_->HasChannel(id_));

  Drain();
  EXPECT_EQ(server_rec_.data[0], out);
  EXPECT_EQ(server_rec_.stderr_data[0], err);
  EXPECT_EQ(client_rec_.queued_sent, 4000u + err.size());
  EXPECT_EQ(
      server_rec_.events,
      (std::vector<std::string>{
          "open session", "request exit-status " + std::string("\0\0\0\3", 4),
          "eof 0", "close 0"}));
  EXPECT_FALSE(client_->HasChannel(id_));
  EXPECT_FALSE(peers_->server->closed()) << peers_->server->close_status();
}

TEST_F(OrderedOutputTest, QueueTakesAtMostMaxQueuedBytes) {
  // Window 1000 + queue 6000: of 10000 bytes, 7000 are taken.
  const std::string big = Pattern(10000);
  auto taken = client_->QueueData(id_, wire::AsBytes(big));
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ(*taken, 7000u);
  EXPECT_EQ(client_->QueuedBytes(id_), 6000u);
  EXPECT_EQ(client_->QueueRoom(id_), 0u);
  // Full: nothing more, and requests are refused rather than queued.
  EXPECT_EQ(*client_->QueueData(id_, wire::AsBytes("more")), 0u);
  EXPECT_EQ(client_
                ->SendRequest(id_, "window-change", false,
                              WindowChange{80, 24, 0, 0}.Serialize())
                .code(),
            absl::StatusCode::kResourceExhausted);
  // The zero-copy and direct paths do not overtake the queue.
  EXPECT_EQ(*client_->SendData(id_, wire::AsBytes("x")), 0u);
  bool called = false;
  auto fill = [&](absl::Span<const absl::Span<uint8_t>>) -> size_t {
    called = true;
    return 0;
  };
  EXPECT_EQ(*client_->SendDataInPlace(id_, 100, 0, fill), 0u);
  EXPECT_FALSE(called);

  // The reader consumes: the queue drains in order and room comes back.
  Drain();
  EXPECT_EQ(client_->QueuedBytes(id_), 0u);
  EXPECT_EQ(client_->QueueRoom(id_), 6000u);
  EXPECT_EQ(server_rec_.data[0], big.substr(0, 7000));
  // With the queue empty the zero-copy path works again.
  auto rest = wire::AsBytes(big).subspan(7000);
  auto copy = [&](absl::Span<const absl::Span<uint8_t>> slots) -> size_t {
    size_t n = 0;
    for (auto slot : slots) {
      std::copy(rest.begin() + n, rest.begin() + n + slot.size(), slot.begin());
      n += slot.size();
    }
    return n;
  };
  auto sent = client_->SendDataInPlace(id_, rest.size(), 0, copy);
  ASSERT_TRUE(sent.ok());
  EXPECT_GT(*sent, 0u);
  EXPECT_LE(*sent, 1000u);
  Drain();
  EXPECT_EQ(server_rec_.data[0], big.substr(0, 7000 + *sent));
}

TEST_F(OrderedOutputTest, PeerCloseDropsWhatIsStillQueued) {
  ASSERT_TRUE(client_->QueueData(id_, wire::AsBytes(Pattern(3000))).ok());
  ASSERT_TRUE(client_->SendEof(id_).ok());
  ASSERT_TRUE(server_->Close(0).ok());
  Pump();
  EXPECT_FALSE(client_->HasChannel(id_));
  EXPECT_FALSE(server_->HasChannel(0));
  EXPECT_EQ(client_rec_.events.back(), "close " + std::to_string(id_));
  EXPECT_FALSE(peers_->server->closed()) << peers_->server->close_status();
  EXPECT_FALSE(peers_->client->closed()) << peers_->client->close_status();
}

TEST_F(ConnectionTest, QueueKeepsOrderThroughARekeyAndAFullTransport) {
  // The client's transport holds at most 20,000 bytes while a key exchange
  // runs; what it refuses waits in the channel's queue until Flush().
  Build({}, {},
        [](transport::TransportOptions& c, transport::TransportOptions&) {
          c.max_queued_bytes = 20000;
        });
  uint32_t id = OpenSession();
  ASSERT_TRUE(peers_->client->StartRekey().ok());
  std::string data(100000, '\0');
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<char>('A' + (i / 7) % 26);
  auto taken = client_->QueueData(id, wire::AsBytes(data));
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ(*taken, data.size());
  EXPECT_GT(client_->QueuedBytes(id), 50000u);  // most of it refused for now
  ASSERT_TRUE(
      client_->SendRequest(id, "exit-status", false, SerializeExitStatus(0))
          .ok());
  ASSERT_TRUE(client_->SendEof(id).ok());
  Pump();
  EXPECT_EQ(peers_->client->kex_count(), 2);
  EXPECT_LT(server_rec_.data[0].size(), data.size());
  // The kex is over: the rest goes out, then the request, then EOF.
  ASSERT_TRUE(client_->Flush().ok());
  Pump();
  EXPECT_EQ(client_->QueuedBytes(id), 0u);
  EXPECT_EQ(server_rec_.data[0], data);
  EXPECT_EQ(server_rec_.events,
            (std::vector<std::string>{
                "open session",
                "request exit-status " + std::string("\0\0\0\0", 4), "eof 0"}));
  EXPECT_FALSE(peers_->server->closed()) << peers_->server->close_status();
}

TEST_F(ConnectionTest, OpenFailureKeepsReasonAndDescription) {
  server_rec_.auto_accept = false;
  auto id = client_->OpenChannel("direct-tcpip");
  ASSERT_TRUE(id.ok());
  Pump();
  ASSERT_TRUE(
      server_->RejectChannel(0, OpenFailure::kConnectFailed, "no route to db1")
          .ok());
  Pump();
  const OpenResult& r = client_rec_.last_open_result;
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.reason, OpenFailure::kConnectFailed);
  EXPECT_EQ(r.description, "no route to db1");
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(r.status.message().find("no route to db1"), std::string::npos);
  // A reason code outside RFC 4254's list is kept as it came.
  auto third = client_->OpenChannel("session");
  ASSERT_TRUE(third.ok());
  peers_->Pump();
  peers_->server_received.clear();  // the server never sees it
  wire::Writer w;
  w.Byte(kMsgChannelOpenFailure)
      .Uint32(*third)
      .Uint32(77)
      .String("y")
      .String("");
  ASSERT_TRUE(peers_->server->Send(w.data()).ok());
  Pump();
  EXPECT_EQ(static_cast<uint32_t>(client_rec_.last_open_result.reason), 77u);
  EXPECT_EQ(client_rec_.last_open_result.description, "y");
}

TEST_F(ConnectionTest, CloseWhileOpeningSendsCloseOnConfirmation) {
  auto id = client_->OpenChannel("session");
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(client_->Close(*id).ok());
  EXPECT_EQ(client_->QueueData(*id, wire::AsBytes("x")).status().code(),
            absl::StatusCode::kFailedPrecondition);
  Pump();
  // The server accepted and then saw CLOSE; both sides forgot the channel,
  // and the client heard OnClose, not an open result.
  EXPECT_EQ(server_rec_.events,
            (std::vector<std::string>{"open session", "close 0"}));
  EXPECT_EQ(client_rec_.events,
            std::vector<std::string>{"close " + std::to_string(*id)});
  EXPECT_EQ(client_->channel_count(), 0u);
  EXPECT_EQ(server_->channel_count(), 0u);
  EXPECT_FALSE(peers_->server->closed()) << peers_->server->close_status();
  EXPECT_FALSE(peers_->client->closed()) << peers_->client->close_status();
}

TEST_F(ConnectionTest, CloseWhileOpeningThenRefusedReportsTheRefusal) {
  server_rec_.auto_accept = false;
  auto id = client_->OpenChannel("session");
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(client_->Close(*id).ok());
  Pump();
  ASSERT_TRUE(
      server_->RejectChannel(0, OpenFailure::kResourceShortage, "busy").ok());
  Pump();
  EXPECT_EQ(client_rec_.events,
            std::vector<std::string>{"open-result " + std::to_string(*id) +
                                     " refused"});
  EXPECT_EQ(client_rec_.last_open_result.reason,
            OpenFailure::kResourceShortage);
  EXPECT_EQ(client_->channel_count(), 0u);
  EXPECT_EQ(server_->channel_count(), 0u);
  EXPECT_FALSE(peers_->server->closed()) << peers_->server->close_status();
  EXPECT_FALSE(peers_->client->closed()) << peers_->client->close_status();
}

}  // namespace
}  // namespace sallyport::ssh::connection
