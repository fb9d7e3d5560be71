// One downstream connection through the gateway (see gateway/proxy.h):
//   - user authentication: certificates only, signed by a user CA key from
//     the CA, valid, not revoked, listing LOGIN; the user name must be
//     LOGIN+HOST (gateway/target_name.h). The signed request goes
//     asynchronous: IssueSessionCertificate both re-checks the user with
//     the CA (RBAC selects the host and grants the login) and yields the
//     upstream certificate. Refusals send a banner saying why.
//   - the connection ends at the certificate's valid_before, saying so.
//   - upstream: our ClientSession to the inventory address with the
//     ephemeral key and session certificate; the host key is verified by
//     the inventory's trust ("host-ca" or "pinned-key"), never TOFU.
//   - channels: "session" (shell, exec, subsystem sftp) and "direct-tcpip"
//     (port forwarding) are authorized per kind with AuthorizeChannel
//     (cached per tuple for the connection); everything else is refused
//     with a reason. Each bridged channel is tapped by the Recorder before
//     it opens; a failing tap ends the channel.
// Everything runs on the downstream socket's executor.
#ifndef SALLYPORT_GATEWAY_GATEWAY_CONNECTION_H_
#define SALLYPORT_GATEWAY_GATEWAY_CONNECTION_H_

#include <asio.hpp>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gateway/proxy.h"
#include "gateway/recorder.h"
#include "gateway/target_name.h"
#include "proto/gateway.pb.h"
#include "ssh/net/driver.h"
#include "ssh/net/session_handler.h"
#include "ssh/session/session.h"

namespace sallyport::gateway {

class GatewayConnection
    : public std::enable_shared_from_this<GatewayConnection>,
      public ssh::session::SessionHandler,
      public ssh::auth::AuthPolicy {
 public:
  GatewayConnection(Proxy& proxy, asio::ip::tcp::socket socket,
                    std::shared_ptr<ssh::net::PreAuthSlot> slot);
  ~GatewayConnection() override;

  // Runs the connection until the downstream side ended and the upstream
  // side is torn down.
  asio::awaitable<void> Run();
  // Ends the connection at `when` with `reason` (on the executor).
  void EndAt(absl::Time when, const std::string& reason);
  asio::any_io_executor executor() { return executor_; }
  // Whether the user authenticated with a certificate of this serial
  // (non-zero) or for a key of this fingerprint (non-empty).
  bool UsesCertificate(uint64_t serial,
                       const std::string& key_fingerprint) const {
    return (serial != 0 && serial == cert_serial_) ||
           (!key_fingerprint.empty() && key_fingerprint == key_fingerprint_);
  }

  // ---- downstream (ServerSession) events
  void OnAuthenticated(ssh::session::Session&) override;
  void OnEnd(ssh::session::Session&, const absl::Status& why) override;
  void OnChannelOpen(ssh::session::Channel ch, std::string_view type,
                     ssh::wire::Bytes extra) override;
  void OnData(ssh::session::Channel ch, uint32_t stream,
              ssh::wire::Bytes data) override;
  void OnEof(ssh::session::Channel ch) override;
  void OnClose(ssh::session::Channel ch) override;
  void OnChannelRequest(ssh::session::Channel ch, std::string_view type,
                        bool want_reply, ssh::wire::Bytes data,
                        ssh::connection::RequestId request) override;
  void OnQueuedDataSent(ssh::session::Channel ch, size_t n) override;
  std::optional<bool> OnGlobalRequest(std::string_view name, bool want_reply,
                                      ssh::wire::Bytes data,
                                      ssh::connection::RequestId) override;

  // ---- AuthPolicy
  ssh::auth::AuthDecision Decide(const ssh::auth::AuthAttempt& a) override;

 private:
  class Upstream;
  struct PendingRequest {
    std::string type;
    bool want_reply = false;
    std::vector<uint8_t> data;
    ssh::connection::RequestId id = ssh::connection::kNoReply;
  };
  // A downstream channel and its upstream twin.
  struct Bridge {
    uint64_t serial = 0;
    ssh::session::Channel down;
    ssh::session::Channel up;
    std::string type;  // "session" or "direct-tcpip"
    std::vector<uint8_t> open_extra;
    ChannelInfo info;
    std::unique_ptr<ChannelTap> tap;
    bool up_open = false;
    bool down_closed = false, up_closed = false;
    bool started = false;  // shell/exec/subsystem went out
    bool busy = false;     // waiting for an authorization
    std::deque<PendingRequest> requests;
    // Downstream want_reply requests forwarded upstream, oldest first.
    std::deque<ssh::connection::RequestId> forwarded;
    // User data (and EOF) that arrived while requests before it wait for
    // an authorization: it must reach the host after them. Not consumed
    // yet, so the channel window bounds it.
    std::deque<std::pair<uint32_t, std::vector<uint8_t>>> held;
    bool eof_held = false;
  };

  void AuthDecided(
      absl::StatusOr<gateway::v1::IssueSessionCertificateResponse> r);
  void RefuseAuth(const std::string& log_reason, const std::string& banner);
  void StartUpstream();
  asio::awaitable<void> RunUpstream();
  void UpstreamReady();
  void UpstreamFailed(const std::string& message);

  // Channels.
  Bridge* FindDown(uint32_t id);
  Bridge* FindUp(uint32_t id);
  void OpenUpstreamChannel(Bridge& b);
  void AttachTapAndOpen(Bridge& b);
  void RejectDown(Bridge& b, ssh::connection::OpenFailure reason,
                  const std::string& description);
  void ProcessRequests(Bridge& b);
  void ProcessRequestQueue(Bridge& b);
  void Forward(Bridge& b, PendingRequest r);
  void Refuse(Bridge& b, const PendingRequest& r, const std::string& why,
              bool tell_user);
  void StartCommand(Bridge& b, PendingRequest r, const std::string& kind);
  void CloseBridge(Bridge& b, const std::string& why);
  // Tap + queue upstream + consume what went out (see OnData).
  void ForwardInput(Bridge& b, uint32_t stream, ssh::wire::Bytes data);
  void FlushHeld(Bridge& b);
  void MaybeForget(Bridge& b);
  // AuthorizeChannel with the per-connection cache; `done` runs on the
  // executor with the bridge still alive (or never).
  void Authorize(
      Bridge& b, const std::string& kind, const std::string& destination,
      std::function<void(Bridge&, const gateway::v1::AuthorizeChannelResponse&)>
          done);

  // Upstream events (from Upstream).
  void OnUpstreamOpenResult(ssh::session::Channel ch,
                            const ssh::connection::OpenResult& r);
  void OnUpstreamData(ssh::session::Channel ch, uint32_t stream,
                      ssh::wire::Bytes data);
  void OnUpstreamEof(ssh::session::Channel ch);
  void OnUpstreamClose(ssh::session::Channel ch);
  void OnUpstreamRequest(ssh::session::Channel ch, std::string_view type,
                         bool want_reply, ssh::wire::Bytes data,
                         ssh::connection::RequestId request);
  void OnUpstreamReply(ssh::session::Channel ch, bool success);
  void OnUpstreamQueuedDataSent(ssh::session::Channel ch, size_t n);

  void WakeDown();
  void WakeUp();
  void Log(const std::string& line) const;
  std::string Describe() const;
  absl::Time Now() const { return proxy_.clock().Now(); }

  Proxy& proxy_;
  asio::any_io_executor executor_;
  std::string peer_;
  std::shared_ptr<ssh::net::PreAuthSlot> slot_;
  std::optional<asio::ip::tcp::socket> socket_;
  std::unique_ptr<ssh::net::TransportDriver> down_driver_;
  std::unique_ptr<ssh::session::ServerSession> down_;
  std::unique_ptr<ssh::net::SessionMessageHandler> down_handler_;
  bool down_ended_ = false;
  int banners_sent_ = 0;
  // Why the last user name was not LOGIN+HOST (for the refusal banner).
  std::optional<std::string> target_error_;
  bool plain_key_banner_sent_ = false;
  // No user CA keys yet when the connection arrived (gwrefuse).
  bool no_ca_keys_ = false;

  // Identity, once the CA agreed.
  std::string session_id_;
  Target target_;
  std::string user_;  // key id of the user's certificate
  std::string user_certificate_line_;
  uint64_t cert_serial_ = 0;
  std::string key_fingerprint_;
  std::optional<ssh::cert::CertificatePermissions> permissions_;
  bool user_counted_ = false;
  std::optional<ssh::crypto::PrivateKey> ephemeral_;
  std::optional<gateway::v1::IssueSessionCertificateResponse> session_cert_;
  absl::Time valid_before_ = absl::InfiniteFuture();

  std::unique_ptr<Upstream> upstream_;
  bool upstream_ready_ = false;
  std::optional<std::string> upstream_error_;
  std::vector<uint64_t> waiting_for_upstream_;  // bridge serials

  uint64_t next_serial_ = 1;
  std::map<uint32_t, std::unique_ptr<Bridge>> bridges_;  // by down id
  std::map<uint32_t, Bridge*> by_up_;
  std::map<std::string, gateway::v1::AuthorizeChannelResponse> authz_cache_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_GATEWAY_CONNECTION_H_
