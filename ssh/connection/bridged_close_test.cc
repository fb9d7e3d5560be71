// SetBridged: a bridge decides when our CLOSE answers the peer's, so that
// what the other side of the bridge still sends (a host's exit-status
// after the user's client closed its channel early, as OpenSSH's
// ControlMaster does for mux sessions) reaches the peer first; and it
// still sees requests that arrive after its own Close().
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "ssh/connection/connection.h"
#include "ssh/connection/connection_test_fixture.h"
#include "ssh/connection/messages.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::connection {
namespace {

TEST_F(ConnectionTest, BridgedChannelAnswersThePeersCloseOnlyOnClose) {
  const uint32_t id = OpenSession();
  ASSERT_TRUE(server_->SetBridged(0).ok());
  // The client sees requests after its own CLOSE, as OpenSSH does.
  ASSERT_TRUE(client_->SetBridged(id).ok());
  ASSERT_TRUE(client_->SendEof(id).ok());
  ASSERT_TRUE(client_->Close(id).ok());
  Pump();
  // The server saw the CLOSE; the client got none back yet.
  EXPECT_EQ(server_rec_.events.back(), "close 0");
  EXPECT_EQ(client_rec_.events.back(), "open-result 0 ok");
  ASSERT_TRUE(server_->HasChannel(0));
  // What the far side sent meanwhile still goes out: exit-status and EOF,
  // no data (the peer reads no more).
  EXPECT_EQ(
      server_->QueueData(0, wire::AsBytes(std::string("late"))).status().code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(server_->QueueRoom(0), 0u);
  ASSERT_TRUE(
      server_->SendRequest(0, "exit-status", false, SerializeExitStatus(7))
          .ok());
  ASSERT_TRUE(server_->SendEof(0).ok());
  Pump();
  EXPECT_EQ(client_rec_.events.back(), "eof 0");
  // Close() answers and forgets the channel without a second OnClose.
  const size_t server_events = server_rec_.events.size();
  ASSERT_TRUE(server_->Close(0).ok());
  EXPECT_FALSE(server_->HasChannel(0));
  Pump();
  EXPECT_EQ(server_rec_.events.size(), server_events);
  EXPECT_EQ(client_rec_.events,
            (std::vector<std::string>{"open-result 0 ok",
                                      std::string("request exit-status ") +
                                          std::string("\0\0\0\x07", 4),
                                      "eof 0", "close 0"}));
  EXPECT_FALSE(client_->HasChannel(id));
  EXPECT_FALSE(peers_->client->closed()) << peers_->client->close_status();
  EXPECT_FALSE(peers_->server->closed()) << peers_->server->close_status();
}

TEST_F(ConnectionTest, UnbridgedChannelAnswersThePeersCloseAtOnce) {
  const uint32_t id = OpenSession();
  ASSERT_TRUE(client_->Close(id).ok());
  Pump();
  EXPECT_EQ(server_rec_.events.back(), "close 0");
  EXPECT_FALSE(server_->HasChannel(0));
  EXPECT_EQ(client_rec_.events.back(), "close 0");
}

TEST_F(ConnectionTest, BridgedCloseDropsQueuedDataButKeepsRequests) {
  ConnectionOptions small;
  small.initial_window = 1000;
  Build(small, {});
  client_rec_.auto_consume = false;  // the client's window stays shut
  const uint32_t id = OpenSession();
  ASSERT_TRUE(server_->SetBridged(0).ok());
  ASSERT_TRUE(client_->SetBridged(id).ok());
  auto taken = server_->QueueData(0, wire::AsBytes(std::string(5000, 'x')));
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ(*taken, 5000u);
  ASSERT_TRUE(
      server_->SendRequest(0, "exit-status", false, SerializeExitStatus(3))
          .ok());
  ASSERT_TRUE(server_->Close(0).ok());  // queued behind the data
  Pump();
  EXPECT_EQ(client_rec_.data[id].size(), 1000u);
  EXPECT_EQ(client_rec_.events.back(), "open-result 0 ok");
  // The client gives up: the data nobody reads is dropped, the request
  // and our CLOSE go out, and the channel is gone.
  ASSERT_TRUE(client_->Close(id).ok());
  Pump();
  EXPECT_FALSE(server_->HasChannel(0));
  EXPECT_EQ(server_rec_.events.back(), "close 0");
  EXPECT_EQ(client_rec_.events.back(), "close 0");
  ASSERT_GE(client_rec_.events.size(), 2u);
  EXPECT_TRUE(
      absl::StartsWith(client_rec_.events[client_rec_.events.size() - 2],
                       "request exit-status"));
  EXPECT_EQ(client_rec_.data[id].size(), 1000u);
  EXPECT_FALSE(peers_->client->closed()) << peers_->client->close_status();
  EXPECT_FALSE(peers_->server->closed()) << peers_->server->close_status();
}

TEST_F(ConnectionTest, BridgedChannelSeesRequestsAfterItsClose) {
  for (bool bridged : {false, true}) {
    SCOPED_TRACE(bridged);
    Build({}, {});
    const uint32_t id = OpenSession();
    if (bridged) {
      ASSERT_TRUE(server_->SetBridged(0).ok());
    }
    // Crossing on the wire: the client's request and the server's CLOSE.
    ASSERT_TRUE(
        client_->SendRequest(id, "exit-status", false, SerializeExitStatus(0))
            .ok());
    ASSERT_TRUE(server_->Close(0).ok());
    Pump();
    const bool seen =
        std::find_if(server_rec_.events.begin(), server_rec_.events.end(),
                     [](const std::string& e) {
                       return absl::StartsWith(e, "request exit-status");
                     }) != server_rec_.events.end();
    EXPECT_EQ(seen, bridged);
    EXPECT_FALSE(server_->HasChannel(0));
    EXPECT_FALSE(client_->HasChannel(id));
    EXPECT_FALSE(peers_->server->closed()) << peers_->server->close_status();
    server_rec_ = Recorder();
    client_rec_ = Recorder();
  }
}

TEST_F(ConnectionTest, SecondCloseOnABridgedChannelIsAProtocolError) {
  OpenSession();
  ASSERT_TRUE(server_->SetBridged(0).ok());
  // A raw second CLOSE for the server's channel 0 (the client forgot it
  // after its own CLOSE, so it is written by hand).
  ASSERT_TRUE(client_->Close(0).ok());
  Pump();
  ASSERT_TRUE(server_->HasChannel(0));
  wire::Writer w;
  w.Byte(kMsgChannelClose).Uint32(0);
  EXPECT_FALSE(server_->Handle(w.data()).ok());
  EXPECT_TRUE(peers_->server->closed());
}

}  // namespace
}  // namespace sallyport::ssh::connection
