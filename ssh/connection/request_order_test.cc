// Requests from the peer answered later and in the peer's order, on
// channels and globally, keepalives included; the cap on unanswered ones.
#include <string>

#include "gtest/gtest.h"
#include "ssh/connection/connection.h"
#include "ssh/connection/connection_test_fixture.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::connection {
namespace {

TEST_F(ConnectionTest, ChannelRepliesGoOutInRequestOrder) {
  server_rec_.auto_reply = false;
  uint32_t id = OpenSession();
  for (const char* type : {"env", "pty-req", "shell"})
    ASSERT_TRUE(client_->SendRequest(id, type, true).ok());
  Pump();
  ASSERT_EQ(server_rec_.requests.size(), 3u);
  const RequestId env = server_rec_.requests[0].second;
  const RequestId pty = server_rec_.requests[1].second;
  const RequestId shell = server_rec_.requests[2].second;
  // Answering the last one first puts nothing on the wire.
  ASSERT_TRUE(server_->ReplyRequest(0, shell, true).ok());
  Pump();
  EXPECT_EQ(client_rec_.events.back(), "open-result 0 ok");
  // A keepalive behind them is answered by the layer itself, but in order.
  ASSERT_TRUE(client_->SendRequest(id, "keepalive@openssh.com", true).ok());
  Pump();
  EXPECT_EQ(client_rec_.events.back(), "open-result 0 ok");
  // The first answer releases itself only; the second releases the rest.
  ASSERT_TRUE(server_->ReplyRequest(0, env, false).ok());
  Pump();
  EXPECT_EQ(client_rec_.events.back(), "reply failure");
  ASSERT_TRUE(server_->ReplyRequest(0, pty, true).ok());
  Pump();
  EXPECT_EQ(client_rec_.events,
            (std::vector<std::string>{"open-result 0 ok", "reply failure",
                                      "reply success", "reply success",
                                      "reply failure"}));
  // Each request is answered once.
  EXPECT_EQ(server_->ReplyRequest(0, pty, true).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(server_->ReplyRequest(0, true).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(peers_->client->closed()) << peers_->client->close_status();
}

TEST_F(ConnectionTest, GlobalRepliesGoOutInRequestOrderKeepalivesToo) {
  server_rec_.global_answer = std::nullopt;  // answer later
  const std::string port_zero("\0\0\0\0\0\0\0\0", 8);
  ASSERT_TRUE(
      client_
          ->SendGlobalRequest("tcpip-forward", true, wire::AsBytes(port_zero))
          .ok());
  ASSERT_TRUE(client_->SendGlobalRequest("keepalive@openssh.com", true).ok());
  ASSERT_TRUE(
      client_->SendGlobalRequest("no-more-sessions@openssh.com", true).ok());
  Pump();
  ASSERT_EQ(server_rec_.global_requests.size(), 2u);
  // The keepalive (answered by the layer) waits for the tcpip-forward.
  EXPECT_TRUE(client_rec_.events.empty());
  ASSERT_TRUE(
      server_->ReplyGlobalRequest(server_rec_.global_requests[1], true).ok());
  Pump();
  EXPECT_TRUE(client_rec_.events.empty());
  // Success with the bound port as payload, then the rest in order.
  const std::string bound("\0\0\x1f\x90", 4);
  ASSERT_TRUE(server_
                  ->ReplyGlobalRequest(server_rec_.global_requests[0], true,
                                       wire::AsBytes(bound))
                  .ok());
  Pump();
  EXPECT_EQ(
      client_rec_.events,
      (std::vector<std::string>{"global-reply success", "global-reply failure",
                                "global-reply success"}));
  EXPECT_FALSE(peers_->client->closed()) << peers_->client->close_status();
}

TEST_F(ConnectionTest, UnansweredChannelRequestsAreCapped) {
  ConnectionOptions server;
  server.max_pending_requests = 4;
  Build({}, server);
  server_rec_.auto_reply = false;
  uint32_t id = OpenSession();
  // Four unanswered: fine. Requests without want_reply do not count.
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(client_->SendRequest(id, "env", true).ok());
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(client_->SendRequest(id, "window-change", false).ok());
  Pump();
  EXPECT_FALSE(peers_->server->closed());
  // Answered ones leave room.
  ASSERT_TRUE(server_->ReplyRequest(id, false).ok());
  ASSERT_TRUE(client_->SendRequest(id, "env", true).ok());
  Pump();
  EXPECT_FALSE(peers_->server->closed());
  // A fifth unanswered one ends the connection.
  ASSERT_TRUE(client_->SendRequest(id, "env", true).ok());
  Pump();
  EXPECT_TRUE(peers_->server->closed());
  EXPECT_EQ(peers_->server->close_status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(ConnectionTest, UnansweredGlobalRequestsAreCapped) {
  ConnectionOptions server;
  server.max_pending_requests = 4;
  Build({}, server);
  server_rec_.global_answer = std::nullopt;
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(client_->SendGlobalRequest("tcpip-forward", true).ok());
  Pump();
  EXPECT_FALSE(peers_->server->closed());
  // Keepalives count too while they wait behind the others.
  ASSERT_TRUE(client_->SendGlobalRequest("keepalive@openssh.com", true).ok());
  Pump();
  EXPECT_TRUE(peers_->server->closed());
  EXPECT_EQ(peers_->server->close_status().code(),
            absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace sallyport::ssh::connection
