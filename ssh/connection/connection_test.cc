// Two connection layers over two in-memory transports.
#include "ssh/connection/connection.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "ssh/connection/connection_test_fixture.h"
#include "ssh/transport/test_peers.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::connection {
namespace {

TEST_F(ConnectionTest, SessionLifecycleDataAndRequests) {
  uint32_t id = OpenSession();
  EXPECT_EQ(server_rec_.events, std::vector<std::string>{"open session"});
  EXPECT_EQ(client_rec_.events.back(), "open-result 0 ok");
  ASSERT_TRUE(
      client_->SendRequest(id, "exec", true, SerializeStringRequest("uname"))
          .ok());
  Pump();
  EXPECT_EQ(client_rec_.events.back(), "reply success");
  ASSERT_TRUE(client_->SendData(id, wire::AsBytes("to server")).ok());
  ASSERT_TRUE(server_->SendData(0, wire::AsBytes("out")).ok());
  ASSERT_TRUE(
      server_->SendData(0, wire::AsBytes("err"), kExtendedDataStderr).ok());
  Pump();
  EXPECT_EQ(server_rec_.data[0], "to server");
  EXPECT_EQ(client_rec_.data[id], "out");
  EXPECT_EQ(client_rec_.stderr_data[id], "err");
  // Server: exit-status, EOF, CLOSE; the client answers CLOSE.
  ASSERT_TRUE(
      server_->SendRequest(0, "exit-status", false, SerializeExitStatus(42))
          .ok());
  ASSERT_TRUE(server_->SendEof(0).ok());
  ASSERT_TRUE(server_->Close(0).ok());
  Pump();
  EXPECT_EQ(client_rec_.events[client_rec_.events.size() - 3],
            "request exit-status " + std::string("\0\0\0*", 4));
  EXPECT_EQ(client_rec_.events[client_rec_.events.size() - 2], "eof 0");
  EXPECT_EQ(client_rec_.events.back(), "close 0");
  EXPECT_EQ(server_rec_.events.back(), "close 0");
  EXPECT_EQ(client_->channel_count(), 0u);
  EXPECT_EQ(server_->channel_count(), 0u);
  EXPECT_FALSE(peers_->server->closed());
}

TEST_F(ConnectionTest, LargeDataGoesOutInMaxPacketMessagesOnBothStreams) {
  // SendData hands the transport the message header and the data as two
  // parts; on the wire each message must still be exactly RFC 4254 §5.2.
  uint32_t id = OpenSession();
  std::string payload(70000, '\0');
  for (size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<char>('a' + i % 26);
  auto taken =
      server_->SendData(0, wire::AsBytes(payload), kExtendedDataStderr);
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ(*taken, payload.size());
  peers_->Pump();
  ASSERT_EQ(peers_->client_received.size(), 3u);  // 32768 + 32768 + 4464
  const std::vector<uint8_t>& first = peers_->client_received[0];
  wire::Writer want;
  want.Byte(kMsgChannelExtendedData)
      .Uint32(id)
      .Uint32(kExtendedDataStderr)
      .String(wire::AsBytes(payload).subspan(0, 32768));
  EXPECT_EQ(first, want.data());
  Pump();
  EXPECT_EQ(client_rec_.stderr_data[id], payload);
  ASSERT_TRUE(server_->SendData(0, wire::AsBytes(payload)).ok());
  Pump();
  EXPECT_EQ(client_rec_.data[id], payload);
}

TEST_F(ConnectionTest, InPlaceDataMatchesSendDataAndStopsAtTheWindow) {
  // SendDataInPlace (data read straight into the packets) must put the same
  // messages on the wire as SendData, and never offer more than the window.
  client_rec_.auto_consume = false;
  uint32_t id = OpenSession();
  std::string payload(70000, '\0');
  for (size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<char>('a' + i % 26);
  size_t offered = 0;
  auto copy_in = [&](absl::Span<const absl::Span<uint8_t>> slots) -> size_t {
    size_t n = 0;
    for (auto slot : slots) {
      EXPECT_LE(slot.size(), 32768u);
      std::copy(payload.begin() + static_cast<std::ptrdiff_t>(n),
                payload.begin() + static_cast<std::ptrdiff_t>(n + slot.size()),
                slot.begin());
      n += slot.size();
    }
    offered = n;
    return n;
  };
  auto sent =
      server_->SendDataInPlace(0, payload.size(), kExtendedDataStderr, copy_in);
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(*sent, payload.size());
  peers_->Pump();
  ASSERT_EQ(peers_->client_received.size(), 3u);  // 32768 + 32768 + 4464
  wire::Writer want;
  want.Byte(kMsgChannelExtendedData)
      .Uint32(id)
      .Uint32(kExtendedDataStderr)
      .String(wire::AsBytes(payload).subspan(0, 32768));
  EXPECT_EQ(peers_->client_received[0], want.data());
  Pump();
  EXPECT_EQ(client_rec_.stderr_data[id], payload);

  // The window (2 MiB, 70000 used, nothing consumed) caps the offer.
  const size_t window = server_->SendWindow(0);
  EXPECT_EQ(window, (2u << 20) - payload.size());
  auto zeros = [&](absl::Span<const absl::Span<uint8_t>> slots) -> size_t {
    size_t n = 0;
    for (auto slot : slots) {
      std::fill(slot.begin(), slot.end(), 0);
      n += slot.size();
    }
    offered = n;
    return n;
  };
  sent = server_->SendDataInPlace(0, 4u << 20, 0, zeros);
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(offered, window);
  EXPECT_EQ(*sent, window);
  EXPECT_EQ(server_->SendWindow(0), 0u);
  offered = 12345;
  sent = server_->SendDataInPlace(0, 100, 0, zeros);
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(*sent, 0u);
  EXPECT_EQ(offered, 12345u);  // not called with a closed window
  Pump();
  EXPECT_FALSE(peers_->client->closed()) << peers_->client->close_status();
  EXPECT_EQ(client_rec_.data[id].size(), window);
  // After EOF no more data is taken.
  ASSERT_TRUE(server_->SendEof(0).ok());
  EXPECT_EQ(server_->SendDataInPlace(0, 100, 0, zeros).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ConnectionTest, CloseBeforeEofAndSimultaneousClose) {
  uint32_t a = OpenSession();
  uint32_t b = OpenSession();
  ASSERT_TRUE(client_->Close(a).ok());  // close without EOF
  Pump();
  EXPECT_FALSE(client_->HasChannel(a));
  EXPECT_FALSE(server_->HasChannel(0));
  ASSERT_TRUE(client_->Close(b).ok());
  ASSERT_TRUE(server_->Close(1).ok());  // both at once
  Pump();
  EXPECT_EQ(client_->channel_count(), 0u);
  EXPECT_EQ(server_->channel_count(), 0u);
  EXPECT_FALSE(peers_->server->closed());
  EXPECT_FALSE(peers_->client->closed());
}

TEST_F(ConnectionTest, RefusedOpen) {
  server_rec_.auto_accept = false;
  uint32_t id = OpenSession();
  ASSERT_TRUE(
      server_->RejectChannel(0, OpenFailure::kAdministrativelyProhibited, "no")
          .ok());
  Pump();
  EXPECT_EQ(client_rec_.events.back(),
            "open-result " + std::to_string(id) + " refused");
  EXPECT_FALSE(client_->HasChannel(id));
}

TEST_F(ConnectionTest, SlowReaderStopsTheWriterAtTheWindow) {
  server_rec_.auto_consume = false;
  uint32_t id = OpenSession();
  std::string chunk(100000, 'x');
  size_t accepted = 0;
  for (int i = 0; i < 100; ++i) {
    auto n = client_->SendData(id, wire::AsBytes(chunk));
    ASSERT_TRUE(n.ok());
    accepted += *n;
    Pump();
  }
  // Exactly one window's worth went out; nothing else is buffered anywhere.
  EXPECT_EQ(accepted, 2u << 20);
  EXPECT_EQ(server_->Unconsumed(0), 2u << 20);
  EXPECT_EQ(client_->SendWindow(id), 0u);
  EXPECT_LT(peers_->client->BufferedOutputBytes(), 1000u);
  // The reader consumes half: the window reopens and the writer is told.
  server_->Consume(0, 1 << 20);
  Pump();
  EXPECT_GE(client_rec_.window_available, 1);
  EXPECT_EQ(client_->SendWindow(id), 1u << 20);
}

TEST_F(ConnectionTest, PeerIgnoringTheWindowIsDisconnected) {
  ConnectionOptions small;
  small.initial_window = 1000;
  Build({}, small);
  uint32_t id = OpenSession();
  (void)id;
  // A misbehaving client writes CHANNEL_DATA past the window directly.
  wire::Writer w;
  w.Byte(kMsgChannelData).Uint32(0).String(std::string(1500, 'y'));
  ASSERT_TRUE(peers_->client->Send(w.data()).ok());
  Pump();
  EXPECT_TRUE(peers_->server->closed());
  EXPECT_NE(peers_->server->close_status().message().find("beyond its window"),
            std::string::npos)
      << peers_->server->close_status();
}

TEST_F(ConnectionTest, WindowAdjustOverflowIsDisconnected) {
  OpenSession();
  wire::Writer w;
  w.Byte(kMsgChannelWindowAdjust).Uint32(0).Uint32(0xffffffffu);
  ASSERT_TRUE(peers_->client->Send(w.data()).ok());
  Pump();
  EXPECT_TRUE(peers_->server->closed());
}

TEST_F(ConnectionTest, UnknownChannelIdIsDisconnected) {
  for (uint8_t type : {kMsgChannelData, kMsgChannelEof, kMsgChannelClose,
                       kMsgChannelRequest, kMsgChannelWindowAdjust}) {
    Build({}, {});
    wire::Writer w;
    w.Byte(type).Uint32(77).String("x");
    ASSERT_TRUE(peers_->client->Send(w.data()).ok());
    Pump();
    EXPECT_TRUE(peers_->server->closed()) << int(type);
  }
}

TEST_F(ConnectionTest, DataAfterEofIsDroppedAndDoubleCloseIsAnError) {
  uint32_t id = OpenSession();
  ASSERT_TRUE(client_->SendEof(id).ok());
  Pump();
  wire::Writer w;
  w.Byte(kMsgChannelData).Uint32(0).String("late");
  ASSERT_TRUE(peers_->client->Send(w.data()).ok());
  Pump();
  EXPECT_EQ(server_rec_.data[0], "");
  EXPECT_FALSE(peers_->server->closed());
  ASSERT_TRUE(client_->Close(id).ok());
  Pump();
  wire::Writer again;
  again.Byte(kMsgChannelClose).Uint32(0);
  ASSERT_TRUE(peers_->client->Send(again.data()).ok());
  Pump();
  EXPECT_TRUE(peers_->server->closed());  // the channel no longer exists
}

TEST_F(ConnectionTest, ChannelCapAndManyChannels) {
  ConnectionOptions few;
  few.max_channels = 8;
  Build({}, few);
  std::vector<uint32_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(*client_->OpenChannel("session"));
  Pump();
  int ok = 0, refused = 0;
  for (const auto& e : client_rec_.events) {
    if (e.ends_with(" ok")) ++ok;
    if (e.ends_with(" refused")) ++refused;
  }
  EXPECT_EQ(ok, 8);
  EXPECT_EQ(refused, 2);
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(
        client_->SendData(ids[i], wire::AsBytes(std::string(50000, 'a' + i)))
            .ok());
  }
  Pump();
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(server_rec_.data[i], std::string(50000, 'a' + i));
}

TEST_F(ConnectionTest, GlobalRequests) {
  ASSERT_TRUE(client_->SendGlobalRequest("keepalive@openssh.com", true).ok());
  ASSERT_TRUE(client_
                  ->SendGlobalRequest(
                      "tcpip-forward", true,
                      wire::AsBytes(std::string("\0\0\0\0\0\0\0\x50", 8)))
                  .ok());
  Pump();
  EXPECT_EQ(client_rec_.events,
            (std::vector<std::string>{"global-reply failure",
                                      "global-reply failure"}));
  EXPECT_FALSE(peers_->server->closed());
  // A reply nobody asked for is a protocol error.
  const uint8_t stray = kMsgRequestSuccess;
  ASSERT_TRUE(peers_->server->Send(absl::MakeConstSpan(&stray, 1)).ok());
  Pump();
  EXPECT_TRUE(peers_->client->closed());
}

TEST_F(ConnectionTest, KeepaliveChannelRequestIsAnswered) {
  uint32_t id = OpenSession();
  ASSERT_TRUE(client_->SendRequest(id, "keepalive@openssh.com", true).ok());
  Pump();
  EXPECT_EQ(client_rec_.events.back(), "reply failure");
}

TEST(RequestMessagesTest, RoundTripsAndRefusals) {
  PtyRequest p{
      "xterm-256color", 120, 40, 0, 0, std::string("\x81\0\0\x96\0\0", 6)};
  auto p2 = PtyRequest::Parse(p.Serialize());
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(p2->term, "xterm-256color");
  EXPECT_EQ(p2->rows, 40u);
  auto bad = p.Serialize();
  bad.push_back(0);
  EXPECT_FALSE(PtyRequest::Parse(bad).ok());
  // Terminal modes (§8): each opcode 1..159 has a 4-byte argument; one cut
  // short is refused (sshd ends the connection on it: found by a red-team
  // run through the gateway). TTY_OP_END or an opcode from 160 stops the
  // parse; no modes at all is fine.
  for (const auto& [modes, ok] : std::vector<std::pair<std::string, bool>>{
           {std::string("\x01\x00\x00", 3), false},
           {std::string("\x01\0\0\0\x03\x35", 6), false},
           {std::string("\x01\0\0\0\x03\0", 6), true},
           {std::string("\x01\0\0\0\x03", 5), true},
           {std::string("\xa0junk", 5), true},
           {std::string(), true}}) {
    PtyRequest m = p;
    m.modes = modes;
    EXPECT_EQ(PtyRequest::Parse(m.Serialize()).ok(), ok) << modes.size();
  }
  DirectTcpip d{"127.0.0.1", 8080, "10.0.0.1", 5555};
  EXPECT_EQ(DirectTcpip::Parse(d.Serialize())->port, 8080u);
  d.port = 70000;
  EXPECT_FALSE(DirectTcpip::Parse(d.Serialize()).ok());
  EXPECT_FALSE(
      ParseStringRequest(SerializeStringRequest(std::string("a\0b", 3))).ok());
  EXPECT_EQ(*ParseExitStatus(SerializeExitStatus(7)), 7u);
  ExitSignal s{"TERM", false, "killed", ""};
  EXPECT_EQ(ExitSignal::Parse(s.Serialize())->signal, "TERM");
}

}  // namespace
}  // namespace sallyport::ssh::connection
