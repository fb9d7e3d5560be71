#include "ssh/net/nested_test_util.h"

#include <exception>
#include <utility>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "ssh/net/test_peer.h"

namespace sallyport::ssh::net::testing {

using session::Channel;
using session::Session;
using wire::Bytes;

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

void OuterHandler::OnData(Channel ch, uint32_t stream, Bytes data) {
  if (Ours(ch)) {
    port->OnData(stream, data);
  } else {
    ch.Consume(data.size());
  }
}
void OuterHandler::OnEof(Channel ch) {
  if (Ours(ch)) port->OnEof();
}
void OuterHandler::OnClose(Channel ch) {
  if (Ours(ch)) port->OnClose();
}
void OuterHandler::OnWindowAvailable(Channel ch) {
  if (Ours(ch)) port->OnWindowAvailable();
}
void OuterHandler::OnQueuedDataSent(Channel ch, size_t) {
  if (Ours(ch)) port->OnQueuedDataSent();
}
void OuterHandler::OnEnd(Session&, const absl::Status&) {
  if (port) port->Detach();
}
bool OuterHandler::Ours(const Channel& ch) const {
  return port && port->channel() == ch;
}

void OuterServer::OnChannelOpen(Channel ch, std::string_view type,
                                Bytes extra) {
  if (type != "direct-tcpip" || port != nullptr) {
    (void)ch.Reject(connection::OpenFailure::kAdministrativelyProhibited,
                    "one nested channel");
    return;
  }
  on_open(ch, extra);
}

void OuterClient::OnAuthenticated(Session& s) {
  connection::DirectTcpip target{"inner.example", 22, "127.0.0.1", 50000};
  EXPECT_TRUE(s.OpenChannel("direct-tcpip", target.Serialize()).ok());
}
void OuterClient::OnChannelOpenResult(Channel ch,
                                      const connection::OpenResult& r) {
  ASSERT_TRUE(r.ok()) << r.status;
  on_open(ch);
}

absl::Status StartOuterPair(asio::io_context& io,
                            session::testing::PairSetup& keys,
                            OuterServer& server_handler,
                            std::unique_ptr<Node>& server,
                            OuterClient& client_handler,
                            std::unique_ptr<Node>& client,
                            uint32_t client_window) {
  auto [client_socket, server_socket] = LoopbackPair(io);
  absl::StatusOr<std::unique_ptr<session::ServerSession>> s =
      session::ServerSession::Create(ServerOptions(keys), server_handler);
  if (!s.ok()) return s.status();
  server = StartNode(io, std::make_unique<TcpStream>(std::move(server_socket)),
                     std::move(*s), ProgressTo(server_handler), nullptr);
  session::ClientSessionOptions o = ClientOptions(keys);
  if (client_window != 0) o.connection.initial_window = client_window;
  absl::StatusOr<std::unique_ptr<session::ClientSession>> c =
      session::ClientSession::Create(std::move(o), client_handler);
  if (!c.ok()) return c.status();
  client = StartNode(io, std::make_unique<TcpStream>(std::move(client_socket)),
                     std::move(*c), ProgressTo(client_handler), nullptr);
  return absl::OkStatus();
}

std::unique_ptr<ByteStream> NestedStream(asio::io_context& io, Channel ch,
                                         const std::unique_ptr<Node>& node,
                                         OuterHandler& handler) {
  // The node starts before the channel opens: its driver is looked up
  // when a write asks.
  auto [stream, port] = ChannelStream::Create(io.get_executor(), ch, [&node] {
    return node->driver->OutputRoomBytes();
  });
  handler.port = port;
  return std::move(stream);
}
std::function<void()> ProgressTo(OuterHandler& handler) {
  return [&handler] {
    if (handler.port != nullptr) handler.port->OnOutputProgress();
  };
}

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

}  // namespace sallyport::ssh::net::testing
