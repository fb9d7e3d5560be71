// Test-only pieces for an SSH connection inside an SSH channel
// (nested_test.cc, nested_paused_user_test.cc): sessions on drivers
// running on one io_context, an outer client/server pair whose one
// "direct-tcpip" channel is made a ByteStream on both ends (ChannelStream),
// for an inner session pair to run over.
#ifndef SALLYPORT_SSH_NET_NESTED_TEST_UTIL_H_
#define SALLYPORT_SSH_NET_NESTED_TEST_UTIL_H_

#include <asio.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "ssh/connection/messages.h"
#include "ssh/net/byte_stream.h"
#include "ssh/net/channel_stream.h"
#include "ssh/net/driver.h"
#include "ssh/net/session_handler.h"
#include "ssh/session/session.h"
#include "ssh/session/session_test_util.h"

namespace sallyport::ssh::net::testing {

// Replies to one read may overshoot the driver's high watermark by this.
inline constexpr size_t kSlack = 256 << 10;

// A session on a driver, running on the io_context.
struct Node {
  std::unique_ptr<TransportDriver> driver;
  std::unique_ptr<session::Session> session;  // destroyed before the driver
  std::unique_ptr<SessionMessageHandler> handler;
  bool done = false;
  absl::Status end;
};

// Runs `session` on a driver over `stream` on `io`; `on_progress` is the
// handler's progress callback, `on_done` (if set) is called once the
// driver's Run returned (node->done and node->end set). A driver
// coroutine that throws is a test failure.
std::unique_ptr<Node> StartNode(asio::io_context& io,
                                std::unique_ptr<ByteStream> stream,
                                std::unique_ptr<session::Session> session,
                                std::function<void()> on_progress,
                                std::function<void(Node&)> on_done);

// The outer sessions: forward the events of the one nested channel to its
// ChannelPort; everything else is refused.
class OuterHandler : public session::SessionHandler {
 public:
  std::shared_ptr<ChannelPort> port;

  void OnData(session::Channel ch, uint32_t stream, wire::Bytes data) override;
  void OnEof(session::Channel ch) override;
  void OnClose(session::Channel ch) override;
  void OnWindowAvailable(session::Channel ch) override;
  void OnQueuedDataSent(session::Channel ch, size_t) override;
  void OnEnd(session::Session&, const absl::Status&) override;

 private:
  bool Ours(const session::Channel& ch) const;
};

// The outer server: hands the first "direct-tcpip" channel opened to it,
// with its open's data, to `on_open` (which accepts it); rejects any other.
struct OuterServer : OuterHandler {
  std::function<void(session::Channel, wire::Bytes)> on_open;
  void OnChannelOpen(session::Channel ch, std::string_view type,
                     wire::Bytes extra) override;
};

// The outer client: once logged in, opens a "direct-tcpip" channel to
// inner.example:22 and hands it to `on_open` once open (a refusal is a
// test failure).
struct OuterClient : OuterHandler {
  std::function<void(session::Channel)> on_open;
  void OnAuthenticated(session::Session& s) override;
  void OnChannelOpenResult(session::Channel ch,
                           const connection::OpenResult& r) override;
};

// Starts the outer pair on `io` over a loopback TCP pair, with `keys`:
// `server_handler`'s server session as `server`, then `client_handler`'s
// client session as `client`; `client_window`, when not 0, is the window
// the client advertises per channel. An error when a session cannot be
// made (the server may have started).
absl::Status StartOuterPair(asio::io_context& io,
                            session::testing::PairSetup& keys,
                            OuterServer& server_handler,
                            std::unique_ptr<Node>& server,
                            OuterClient& client_handler,
                            std::unique_ptr<Node>& client,
                            uint32_t client_window = 0);

// `ch`, the nested channel of `node`'s session (run by `handler`), as a
// ByteStream (ChannelStream) for an inner session: its port becomes
// handler.port, and writes wait for room in `node`'s driver's output.
std::unique_ptr<ByteStream> NestedStream(asio::io_context& io,
                                         session::Channel ch,
                                         const std::unique_ptr<Node>& node,
                                         OuterHandler& handler);
// The outer node's progress tells the port (a write waiting for room).
std::function<void()> ProgressTo(OuterHandler& handler);

// `keys`' options with the real clock, for sessions on drivers.
session::ServerSessionOptions ServerOptions(session::testing::PairSetup& keys);
session::ClientSessionOptions ClientOptions(session::testing::PairSetup& keys);

}  // namespace sallyport::ssh::net::testing

#endif  // SALLYPORT_SSH_NET_NESTED_TEST_UTIL_H_
