// Private to //gateway:proxy: the pieces gateway_connection.cc (auth),
// upstream.cc (the connection to the host) and the channel files
// (channel_bridge.cc, channel_requests.cc, channel_data.cc) share.
#ifndef SALLYPORT_GATEWAY_CONNECTION_INTERNAL_H_
#define SALLYPORT_GATEWAY_CONNECTION_INTERNAL_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/safe_text.h"
#include "gateway/gateway_connection.h"
#include "gateway/target_name.h"
#include "ssh/connection/connection.h"
#include "ssh/net/driver.h"
#include "ssh/net/session_handler.h"
#include "ssh/session/session.h"

namespace sallyport::gateway {
namespace connection_internal {

// Peer or CA text for a log line or a message to the user.
inline std::string Safe(std::string_view s) { return base::SafeText(s, 128); }
inline std::string Safe(absl::string_view s) {
  return base::SafeText(std::string_view(s.data(), s.size()), 128);
}
inline std::string Safe(const std::string& s) { return base::SafeText(s, 128); }
// A CA's reason for the user (a refusal): the CA wrote the names in it
// escaped already, so a backslash stays (Safe showed a key id's "\x0a" as
// "\x5cx0a"), and up to 512 bytes (Safe's 128 cut off the advice at the
// end of "... was not issued by this CA (it has no record of serial N;
// log in with `sp login`)"). Found by a red-team run.
inline std::string CaReason(std::string_view s) {
  return base::EscapeControlsInMessage(s, 512);
}

// What a user is told when the login certificate lacks an extension. The
// CA grants it at `sp login` only when one of the user's roles allows the
// kind then, so the next step is a role, then a new certificate.
inline constexpr char kNoPortForwardInCertificate[] =
    "port forwarding is not permitted by your certificate (none of your "
    "roles allowed port-forward when you ran `sp login`; if one does now, "
    "run `sp login` again, otherwise ask an administrator)";
inline constexpr char kNoAgentForwardInCertificate[] =
    "agent forwarding is not permitted by your certificate (none of your "
    "roles allowed agent-forward when you ran `sp login`; if one does now, "
    "run `sp login` again, otherwise ask an administrator)";

// Why a direct-tcpip channel to port 0 is refused (a jump or a forward).
inline constexpr char kPortZeroRefused[] =
    "port 0 is not a port to connect to; name the host's port (e.g. "
    "web01:22)";

// Each bridged channel's outbound queue (ConnectionOptions::
// max_queued_bytes) on both connections: the other side's whole window
// (data not yet consumed there is all that can be queued here) plus room
// for what else goes in the queue, which the library counts against the
// same limit: the requests forwarded behind queued data (sshd sends the
// 25-byte exit-status when the command exits, before the output left in
// its buffers) and the gateway's own lines. With only the window, a full
// queue refused 25 bytes of output and the bridge aborted the channel
// "not keeping up" (GatewayTest.AHostRequestQueuedBehindUnreadOutput...).
inline constexpr size_t kBridgeQueueBytes =
    size_t{ssh::connection::ConnectionOptions{}.initial_window} + (64 << 10);

// How much longer than limits.channel_open_timeout the host's opens
// (forwarded-tcpip, auth-agent) may wait in the upstream session: they
// wait for the user's client, whose open times out after
// channel_open_timeout, and the gateway then refuses the host's open
// saying so. With the same timeout the library, which got the host's
// open first, refused it first ("open timed out") without telling the
// gateway, which kept the bridge for a host channel that was gone.
inline constexpr absl::Duration kHostOpenGrace = absl::Seconds(5);

// Notices kept for the user until a session channel opens.
inline constexpr size_t kMaxNotices = 8;

// "HOST:PORT", or "[HOST]:PORT" for an IPv6 literal (AuthorizeChannel's
// destination form).
std::string HostPort(std::string_view host, uint32_t port);

// A user name without '+' that is a valid login: a jump-only connection
// (`ssh -J LOGIN@gw ...`).
inline bool IsJumpUser(std::string_view user) {
  return user.find('+') == std::string_view::npos && ValidateLogin(user).ok();
}

}  // namespace connection_internal

// The upstream connection: our ClientSession to the host, on the same
// executor; events go to the GatewayConnection.
class GatewayConnection::Upstream : public ssh::session::SessionHandler {
 public:
  explicit Upstream(GatewayConnection& c) : c_(c) {}
  void OnAuthenticated(ssh::session::Session&) override { c_.UpstreamReady(); }
  void OnEnd(ssh::session::Session&, const absl::Status& why) override {
    end_status = why;
  }
  void OnChannelOpenResult(ssh::session::Channel ch,
                           const ssh::connection::OpenResult& r) override {
    c_.OnUpstreamOpenResult(ch, r);
  }
  void OnData(ssh::session::Channel ch, uint32_t stream,
              ssh::wire::Bytes data) override {
    c_.OnUpstreamData(ch, stream, data);
  }
  void OnEof(ssh::session::Channel ch) override { c_.OnUpstreamEof(ch); }
  void OnClose(ssh::session::Channel ch) override { c_.OnUpstreamClose(ch); }
  void OnChannelRequest(ssh::session::Channel ch, std::string_view type,
                        bool want_reply, ssh::wire::Bytes data,
                        ssh::connection::RequestId request) override {
    c_.OnUpstreamRequest(ch, type, want_reply, data, request);
  }
  void OnChannelRequestReply(ssh::session::Channel ch, bool success) override {
    c_.OnUpstreamReply(ch, success);
  }
  void OnQueuedDataSent(ssh::session::Channel ch, size_t n) override {
    c_.OnUpstreamQueuedDataSent(ch, n);
  }
  // The host opens forwarded-tcpip (-R) and auth-agent@openssh.com
  // channels; anything else is refused there.
  void OnChannelOpen(ssh::session::Channel ch, std::string_view type,
                     ssh::wire::Bytes extra) override {
    c_.OnUpstreamChannelOpen(ch, type, extra);
  }
  void OnChannelOpenTimedOut(ssh::session::Channel ch) override {
    c_.OnUpstreamChannelOpenTimedOut(ch);
  }
  void OnGlobalRequestReply(bool success, ssh::wire::Bytes data) override {
    c_.OnUpstreamGlobalReply(success, data);
  }

  GatewayConnection& c_;
  // Destroyed in reverse: handler, session, then the driver.
  std::unique_ptr<ssh::net::TransportDriver> driver;
  std::unique_ptr<ssh::session::ClientSession> session;
  std::unique_ptr<ssh::net::SessionMessageHandler> handler;
  absl::Status end_status;
  bool done = false;
  // Started before the user authenticated (GatewayConnection::
  // StartUpstream); identities_given once ProvideUpstreamIdentity ran.
  bool early = false;
  bool identities_given = false;
};

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_CONNECTION_INTERNAL_H_
