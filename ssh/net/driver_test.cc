// Our client and server roles over a real loopback TCP connection through
// the Asio driver: key exchange, service request, a stand-in for userauth,
// then megabytes both ways with small rekey limits, so several rekeys
// happen, started by each side, with every byte checked in order.
#include "ssh/net/driver.h"

#include <asio/experimental/as_tuple.hpp>
#include <memory>
#include <utility>

#include "gtest/gtest.h"
#include "ssh/crypto/keys.h"
#include "ssh/net/bulk_lane.h"
#include "ssh/net/spawn.h"
#include "ssh/transport/messages.h"
#include "ssh/wire/reader.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::net {
namespace {

using transport::Transport;

std::vector<uint8_t> DataMsg(uint32_t n) {
  wire::Writer w;
  w.Byte(94).Uint32(n);
  std::string body(20000 + n % 3000, static_cast<char>('A' + n % 23));
  w.String(body);
  return w.Take();
}

class Peer : public MessageHandler {
 public:
  Peer(bool client, uint32_t total) : client_(client), total_(total) {}
  TransportDriver* driver = nullptr;
  std::string error;
  uint32_t received = 0;
  bool peer_done = false;

  absl::Status OnHandshakeDone(Transport& t) override {
    if (!client_) return absl::OkStatus();
    return t.Send(transport::SerializeServiceMsg(transport::kMsgServiceRequest,
                                                 "ssh-userauth"));
  }

  absl::Status OnMessage(Transport& t, wire::Bytes p) override {
    switch (p[0]) {
      case transport::kMsgServiceRequest:
        return t.Send(transport::SerializeServiceMsg(
            transport::kMsgServiceAccept, "ssh-userauth"));
      case transport::kMsgServiceAccept: {
        wire::Writer w;
        w.Byte(transport::kMsgUserauthRequest)
            .String("u")
            .String("ssh-connection")
            .String("none");
        return t.Send(w.data());
      }
      case transport::kMsgUserauthRequest: {
        const uint8_t ok = transport::kMsgUserauthSuccess;
        if (auto s = t.Send(absl::MakeConstSpan(&ok, 1)); !s.ok()) return s;
        authenticated_ = true;
        if (!client_) (void)t.StartRekey();  // the server starts one explicitly
        Produce(t);
        return absl::OkStatus();
      }
      case transport::kMsgUserauthSuccess:
        authenticated_ = true;
        Produce(t);
        return absl::OkStatus();
      case 94: {
        std::vector<uint8_t> expected = DataMsg(received);
        if (!std::equal(p.begin(), p.end(), expected.begin(), expected.end())) {
          error = "message " + std::to_string(received) + " differs";
          return absl::DataLossError(error);
        }
        if (++received == total_) {
          const uint8_t done = 95;
          if (auto s = t.Send(absl::MakeConstSpan(&done, 1)); !s.ok()) return s;
        }
        MaybeFinish(t);
        return absl::OkStatus();
      }
      case 95:
        peer_done = true;
        MaybeFinish(t);
        return absl::OkStatus();
    }
    return absl::OkStatus();
  }

  void OnProgress(Transport& t) override { Produce(t); }

 private:
  void Produce(Transport& t) {
    while (authenticated_ && sent_ < total_ &&
           driver->OutputBacklog() < (1u << 20)) {
      if (!t.Send(DataMsg(sent_)).ok()) break;
      ++sent_;
    }
  }
  void MaybeFinish(Transport& t) {
    if (client_ && peer_done && received == total_) {
      t.Disconnect(transport::DisconnectReason::kByApplication, "done");
    }
  }

  bool client_;
  uint32_t total_;
  uint32_t sent_ = 0;
  bool authenticated_ = false;
};

// Runs the two peers over `server_stream`/`client_stream` (on `io`) and
// checks that every message arrived after several rekeys.
// With `bulk`, both drivers take their reads and sends in turns through
// the thread's bulk lane (ssh/net/bulk_lane.h).
// A connected loopback TCP pair (server side, client side).
std::pair<std::unique_ptr<TcpStream>, std::unique_ptr<TcpStream>> LoopbackPair(
    asio::io_context& io) {
  asio::ip::tcp::acceptor acceptor(
      io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::ip::tcp::socket client(io), server(io);
  client.connect(acceptor.local_endpoint());
  acceptor.accept(server);
  return {std::make_unique<TcpStream>(std::move(server)),
          std::make_unique<TcpStream>(std::move(client))};
}

void RunRekeyingPair(asio::io_context& io,
                     std::unique_ptr<ByteStream> server_stream,
                     std::unique_ptr<ByteStream> client_stream,
                     bool bulk = false) {
  auto host = crypto::PrivateKey::GenerateEd25519();
  ASSERT_TRUE(host.ok());
  constexpr uint32_t kMessages = 400;  // ~8.6 MB each way

  Peer server_peer(false, kMessages), client_peer(true, kMessages);
  int server_kex = 0, client_kex = 0, server_ours = 0, client_ours = 0;
  absl::Status server_end, client_end;
  int finished = 0;
  auto done = [&] {
    if (++finished == 2) io.stop();
  };

  Spawn(
      io.get_executor(),
      [&]() -> asio::awaitable<void> {
        transport::TransportOptions o;
        o.role = transport::Role::kServer;
        o.host_keys.push_back(transport::ServerHostKey{*host, {}});
        o.rekey_bytes = 1 << 20;
        TransportDriver d(std::move(server_stream), *Transport::Create(o));
        d.SetBulk(bulk);
        server_peer.driver = &d;
        server_end = co_await d.Run(server_peer);
        server_kex = d.transport().kex_count();
        server_ours = d.transport().our_initiated_rekeys();
        done();
      },
      "peer");

  Spawn(
      io.get_executor(),
      [&]() -> asio::awaitable<void> {
        transport::TransportOptions o;
        o.role = transport::Role::kClient;
        o.host_key_policy = std::make_shared<transport::PinnedHostKeyPolicy>(
            std::vector<crypto::PublicKey>{host->public_key()});
        o.rekey_bytes = 700 << 10;
        TransportDriver d(std::move(client_stream), *Transport::Create(o));
        d.SetBulk(bulk);
        client_peer.driver = &d;
        client_end = co_await d.Run(client_peer);
        client_kex = d.transport().kex_count();
        client_ours = d.transport().our_initiated_rekeys();
        done();
      },
      "peer");

  io.run_for(std::chrono::seconds(120));
  EXPECT_EQ(finished, 2) << "did not finish within 120 s";

  EXPECT_EQ(client_peer.error, "");
  EXPECT_EQ(server_peer.error, "");
  EXPECT_EQ(server_peer.received, kMessages);
  EXPECT_EQ(client_peer.received, kMessages);
  EXPECT_EQ(client_end.code(), absl::StatusCode::kCancelled)
      << client_end;  // we said "done"
  EXPECT_NE(server_end.message().find("peer disconnected"), std::string::npos)
      << server_end;
  EXPECT_GE(client_ours, 2);
  EXPECT_GE(server_ours, 2);
  EXPECT_GE(client_kex, 5);
  EXPECT_EQ(client_kex, server_kex);
}

TEST(DriverTest, LoopbackRekeysStartedByEachSideLoseNothing) {
  asio::io_context io;
  auto [server, client] = LoopbackPair(io);
  RunRekeyingPair(io, std::move(server), std::move(client));
}

TEST(DriverTest, BulkDriversTakingTurnsLoseNothing) {
  asio::io_context io;
  auto [server, client] = LoopbackPair(io);
  RunRekeyingPair(io, std::move(server), std::move(client), /*bulk=*/true);
  EXPECT_EQ(BulkLane::Of(io.get_executor()).waiting(), 0u);
}

TEST(DriverTest, InMemoryPipeRekeysLoseNothing) {
  asio::io_context io;
  auto [a, b] = MakePipePair(io.get_executor());
  RunRekeyingPair(io, std::move(a), std::move(b));
}

TEST(DriverTest, ParseEndpoint) {
  EXPECT_EQ(ParseEndpoint("127.0.0.1:2222")->port(), 2222);
  EXPECT_TRUE(ParseEndpoint("[::1]:22")->address().is_v6());
  EXPECT_FALSE(ParseEndpoint("localhost:22").ok());
  EXPECT_FALSE(ParseEndpoint("127.0.0.1").ok());
  EXPECT_FALSE(ParseEndpoint("127.0.0.1:99999").ok());
  // The message names the whole input, not the piece left of the colon.
  EXPECT_EQ(ParseEndpoint("[::1").status().message(),
            "bad IP address in [::1 (expected IP:PORT or [IPv6]:PORT)");
}

}  // namespace
}  // namespace sallyport::ssh::net
