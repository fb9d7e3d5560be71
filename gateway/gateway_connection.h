// One downstream connection through the gateway (see gateway/proxy.h):
//   - user authentication: certificates only, signed by a user CA key from
//     the CA, valid, not revoked, listing LOGIN; the user name must be
//     LOGIN+HOST (gateway/target_name.h). The signed request goes
//     asynchronous: IssueSessionCertificate both re-checks the user with
//     the CA (RBAC selects the host and grants the login; the user's signed
//     userauth request shows the CA the user logged in) and yields the
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
//   - forwarding (gateway/reverse_channels.cc): `-R` (tcpip-forward,
//     decided as "port-forward" with the listen address as destination,
//     at most max_remote_forwards per connection) and agent forwarding
//     ("agent-forward") are passed to the host when a role allows them;
//     the host's forwarded-tcpip and auth-agent@openssh.com channels are
//     bridged back to the user through the tap.
//   - jump-only connections (`ssh -J gw LOGIN@HOST`,
//     gateway/forward_connection.cc): a user name without
//     '+' is a login (it must be one of the certificate's principals, as
//     for LOGIN+HOST); the certificate alone authenticates it (our user
//     CA, valid, not revoked; the CA re-verifies it on every channel).
//     Such a connection carries only direct-tcpip: to an inventory host's
//     SSH port (or 22) it is a ProxyJump, relayed as passthrough when the
//     role allows "proxyjump-passthrough" for (user, that login, host);
//     to another port of an inventory host it is a port-forward decision
//     (relayed from the gateway, through the tap). Hosts are resolved only
//     by the CA's inventory.
//   - recorded ProxyJump (issue 13, gateway/jump_inner.cc): a jump to an
//     inventory host's SSH port that the role does not pass through
//     (no "proxyjump-passthrough") is accepted and terminated by an inner
//     GatewayConnection running over that channel (ssh/net ChannelStream):
//     it presents the gateway's host key with a host certificate for the
//     host from the CA (IssueHostCertificateForTarget, cached per host),
//     takes the login as the user name, accepts only a certificate of the
//     jump connection's identity (same key id, same user CA key), and then
//     is a LOGIN+HOST recorded session in every respect.
// Everything runs on the downstream socket's executor.
#ifndef SALLYPORT_GATEWAY_GATEWAY_CONNECTION_H_
#define SALLYPORT_GATEWAY_GATEWAY_CONNECTION_H_

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gateway/channel_bridge.h"
#include "gateway/forward_relay.h"
#include "gateway/jump_state.h"
#include "gateway/proxy.h"
#include "gateway/recorder.h"
#include "gateway/recording_gate.h"
#include "gateway/target_name.h"
#include "proto/gateway.pb.h"
#include "ssh/connection/connection.h"
#include "ssh/net/channel_stream.h"
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
  // An inner connection over `stream` (a jump channel of another
  // connection on the same executor).
  GatewayConnection(Proxy& proxy, std::unique_ptr<ssh::net::ByteStream> stream,
                    JumpOrigin origin);
  ~GatewayConnection() override;

  // Runs the connection until the downstream side ended and the upstream
  // side is torn down.
  asio::awaitable<void> Run();
  // Ends the connection at `when` with `reason` (told to the user), unless
  // the certificate's valid_before comes first; when it does end so, the
  // session ends with `outcome` (gateway/observer.h: kOutcomeRevoked, ...)
  // instead of "ok". On the executor.
  void EndAt(absl::Time when, const std::string& reason,
             std::string_view outcome);
  // Tells the user, on a session channel's stderr (or the first one to
  // open), that the connection ends at `when` for `reason` (a drain), when
  // that is later than now and before the certificate's own end.
  void AnnounceEnd(absl::Time when, const std::string& reason);
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
  // The user's channel did not open within limits_.channel_open_timeout
  // and the session refused it: its bridge is refused and removed (the
  // host's side closed once the host confirms it).
  void OnChannelOpenTimedOut(ssh::session::Channel ch) override;
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
  // Channels we open to the user (forwarded-tcpip, auth-agent).
  void OnChannelOpenResult(ssh::session::Channel ch,
                           const ssh::connection::OpenResult& r) override;
  void OnWindowAvailable(ssh::session::Channel ch) override;

  // ---- AuthPolicy
  ssh::auth::AuthDecision Decide(const ssh::auth::AuthAttempt& a) override;

 private:
  class Upstream;
  // How the user addressed the gateway: LOGIN+HOST (a recorded session
  // with an upstream) or a plain login (jump-only: direct-tcpip only).
  enum class Mode { kRecorded, kJump };
  // One bridged channel (gateway/channel_bridge.h).
  using PendingRequest = PendingChannelRequest;
  using Bridge = ChannelBridge;

  void AuthDecided(
      absl::StatusOr<gateway::v1::IssueSessionCertificateResponse> r);
  void RefuseAuth(const std::string& log_reason, const std::string& banner);
  // Every auth-phase banner that refuses goes out through here.
  void SendRefusalBanner(std::string_view text);
  // A plain key (not a certificate): refused, with "log in with `sp login`
  // first" unless a banner already went out. After a certificate refused
  // with its reason, ssh offers the plain key of the same identity, and
  // that banner would contradict the reason the user was just given.
  ssh::auth::AuthDecision RefusePlainKey();
  // `early`: an inner connection's upstream, started before its user has
  // authenticated (see JumpOrigin::host_record); ProvideUpstreamIdentity
  // authenticates it once the session certificate is here.
  void StartUpstream(bool early);
  asio::awaitable<void> RunUpstream();
  void ProvideUpstreamIdentity();
  // The session certificate's key, certificate and login for the host.
  absl::StatusOr<ssh::auth::ClientIdentity> UpstreamIdentity() const;
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
  // Forward's second half: `r` goes to the host now.
  void SendRequestUp(Bridge& b, PendingRequest r);
  void Refuse(Bridge& b, const PendingRequest& r, const std::string& why,
              bool tell_user);
  // Starts an allowed shell, exec or subsystem; `a` (its decision) may
  // force a command, as may the certificate.
  void StartCommand(Bridge& b, PendingRequest r, const std::string& kind,
                    const gateway::v1::AuthorizeChannelResponse& a);
  void CloseBridge(Bridge& b, const std::string& why);
  // Queues a line of the gateway's own for the user (stderr of `down`).
  void QueueNotice(Bridge& b, std::string_view line);
  // Extended data the bridge does not pass (kHostExtendedDataCode: none
  // from the user, only stderr from the host): true when `stream` is such,
  // and then its window is given back on `ch`, the drop counted
  // (ExtendedDataDropped) and logged once per channel and side.
  bool DropExtendedData(Bridge& b, ssh::session::Channel ch, bool from_user,
                        uint32_t stream, size_t n);
  // `n` bytes of extended data of `code` dropped on the user's `channel`
  // (a bridge's, a relay's or a jump's; its window already given back):
  // counted (ExtendedDataDropped), and logged unless `logged` (then set).
  void ReportExtendedDataDropped(uint32_t channel, bool from_user,
                                 uint32_t code, size_t n, bool& logged);
  // Tap + queue upstream + consume what went out (see OnData).
  void ForwardInput(Bridge& b, uint32_t stream, ssh::wire::Bytes data);
  void FlushHeld(Bridge& b);
  void MaybeForget(Bridge& b);
  // Record before forward (gateway/channel_recording.cc): sends what the
  // gate released, data up to *budget bytes (taken off it); false when the
  // bridge is gone.
  bool ReleaseGates(Bridge& b, size_t* budget);
  void SendInput(Bridge& b, uint32_t stream, ssh::wire::Bytes data);
  void SendOutput(Bridge& b, uint32_t stream, ssh::wire::Bytes data);
  // `n` bytes of the host's data on `b` went into the user's transport
  // (or left `down`'s queue into it): the host's window for them reopens
  // now if that transport's output has room (DownOutputRoom), else once it
  // drained (OnDownProgress). GiveBackToUser is the same the other way.
  void GiveBackToHost(Bridge& b, size_t n);
  void GiveBackToUser(Bridge& b, size_t n);
  // Whether the user's (host's) transport may take more data: its driver's
  // output backlog is below the low watermark (TransportDriver::
  // OutputRoom), or there is no such connection any more.
  bool DownOutputRoom() const;
  bool UpOutputRoom() const;
  // The drivers' progress (a write completed, input was processed): what
  // waited for output room goes on (owed windows, relays, jump channels).
  void OnDownProgress();
  void OnUpProgress();
  // The taps' wake (ChannelInfo::wake): posts OnRecorderWake once.
  std::function<void()> RecorderWake();
  void OnRecorderWake();
  // Recording policy (issue 14, channel_recording.cc). AttachTap: the
  // tap for `b`; when the recorder refuses, strict refuses the channel
  // (false: `b` is gone) and best effort opens it unrecorded. TapOk: the
  // result of a tap call; a failure ends the channel with the reason
  // (strict: false, `b` is closing) or goes on unrecorded (best effort).
  bool AttachTap(Bridge& b);
  bool TapOk(Bridge& b, const absl::Status& st);
  // Whether what the host sends on `b` may still go to the user: the
  // user's connection is up and the bridge was not aborted. EOF and
  // requests may follow the user's CLOSE; data also needs !b.down_closed.
  bool ToUser(const Bridge& b) const { return !down_ended_ && !b.aborted; }
  // Best effort: the tap is replaced by one that records nothing and
  // what waited for the recorder is released (on the next wake).
  void GoUnrecorded(Bridge& b, const absl::Status& why);
  void ReportRecordingFailed(Bridge& b, const absl::Status& why,
                             std::string_view outcome);
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

  // The signed request of LOGIN+HOST (or of an inner connection): the
  // CA's session certificate, asynchronously.
  ssh::auth::AuthDecision DecideRecorded(const ssh::auth::AuthAttempt& a,
                                         const Target& t);

  // ---- recorded ProxyJump (gateway/jump_inner.cc; JumpOrigin and
  // JumpChannel in gateway/jump_state.h)
  // Recorded jumps whose user has not logged in yet (inner connections,
  // and those waiting for their host certificate): at most
  // kMaxJumpsAwaitingLogin.
  size_t JumpsAwaitingLogin() const;
  // The outer (jump-only) side: a jump to `host` the role does not pass
  // through becomes an inner recorded session on channel `ch`;
  // `destination` (HOST:PORT as the user named it) for refusals.
  void StartRecordedJump(ssh::session::Channel ch,
                         const gateway::v1::HostRecord& host,
                         const std::string& destination);
  void LaunchInner(ssh::session::Channel ch,
                   const gateway::v1::HostRecord& host,
                   const std::string& destination,
                   ssh::transport::ServerHostKey host_key);
  ssh::net::ChannelPort* FindJumpPort(uint32_t id);
  // A jump channel ended (`why`): the jump.end log line and the
  // proxyjump.close audit event with the bytes each way.
  void ReportJumpClosed(uint32_t id, const JumpChannel& jump,
                        std::string_view why);
  void EndJumpPorts();
  // The inner side: the user name is the login; the certificate must be
  // the jump connection's identity.
  ssh::auth::AuthDecision DecideInner(const ssh::auth::AuthAttempt& a);

  // ---- forwarding (gateway/forward_connection.cc)
  ssh::auth::AuthDecision DecideJump(const ssh::auth::AuthAttempt& a);
  // Takes the identity of a signed request's certificate (user, serial,
  // key fingerprint, expiry, ...) and has the proxy index it for
  // EndRevoked (Proxy::UseCertificate); not OK when the certificate was
  // revoked (or the list went stale) since the library checked it: the
  // caller refuses with RefuseRevokedMeanwhile.
  absl::Status NoteIdentity(const ssh::auth::AuthAttempt& a);
  // Tells the user why (as for the library's own revocation refusal) and
  // returns the refusal.
  ssh::auth::AuthDecision RefuseRevokedMeanwhile(const absl::Status& st);
  void OpenJump(ssh::session::Channel ch, ssh::wire::Bytes extra);
  // Refuses a direct-tcpip channel (a jump or a forward through a jump
  // connection) and reports it like every refused channel: log line,
  // channel.refused audit event, metric. `destination` HOST:PORT when known;
  // `host` the inventory name it is about when known (a jump-only
  // connection has no host of its own).
  void RejectOpen(ssh::session::Channel ch, ssh::connection::OpenFailure reason,
                  const std::string& why, const std::string& destination = "",
                  const std::string& host = "");
  // Relays the pending channel `ch` to address:port once connected:
  // passthrough (events only) or a recorded port forward; `record` is
  // the decision's (AuthorizeChannelResponse.record): "never" spools
  // nothing (RecorderFor).
  void StartRelay(ssh::session::Channel ch, const std::string& host,
                  const std::string& destination, bool passthrough,
                  std::string address, uint16_t port, std::string_view record);
  TcpRelay* FindRelay(uint32_t id);
  // The user's channel `id` of a jump-only connection did not open in
  // time (OnChannelOpenTimedOut): what waited for it (the CA's answer, a
  // relay's connect) is dropped, a relay freed (its connection, when made,
  // closed at once), and the channel audited as refused. False when
  // nothing of a jump waited on `id`.
  bool ForgetTimedOutJump(uint32_t id);
  void PumpRelays();
  void EndRelays();

  // ---- `-R`, agent forwarding, channels the host opens
  // (gateway/reverse_channels.cc)
  std::optional<bool> OnRemoteForward(bool cancel, bool want_reply,
                                      ssh::wire::Bytes data,
                                      ssh::connection::RequestId request);
  void Notify(const std::string& line);
  void FlushNotices(Bridge& b);
  // True when it went asynchronous (the bridge is busy; the answer
  // resumes the request queue).
  bool RequestAgentForwarding(Bridge& b, PendingRequest r);
  void OnUpstreamChannelOpen(ssh::session::Channel ch, std::string_view type,
                             ssh::wire::Bytes extra);
  // The host's open `ch` was not answered in time and the upstream
  // session refused it (a backstop: the user's side times out first, see
  // kHostOpenGrace): its bridge is refused, and the user's side closed
  // once it answers.
  void OnUpstreamChannelOpenTimedOut(ssh::session::Channel ch);
  void OpenReverse(ssh::session::Channel up, const std::string& type,
                   ssh::wire::Bytes extra, const std::string& destination);
  // Refuses the host's channel open `up` of `kind` saying `why`: logged and,
  // while the user is connected, the audit event channel.refused.
  void RefuseReverse(ssh::session::Channel up, const std::string& kind,
                     const std::string& destination,
                     ssh::connection::OpenFailure reason,
                     const std::string& why);
  void OnUpstreamGlobalReply(bool success, ssh::wire::Bytes data);
  // Runs `then(true)` once the upstream is ready (now if it is), or
  // `then(false)` if it failed.
  void WhenUpstream(std::function<void(bool ready)> then);
  // AuthorizeChannel for (login, `host`, kind, destination), answered
  // from session_decisions_ or the per-connection cache (at most
  // kMaxCachedAuthorizations answers; never a jump's) when they have it;
  // `done` runs on the executor while the connection lives (or never).
  // `jump_port`: see
  // AuthorizeChannelRequest (a jump, whose kind the CA decides).
  void AuthorizeFor(
      const std::string& kind, const std::string& host,
      const std::string& destination,
      std::function<void(const gateway::v1::AuthorizeChannelResponse&)> done,
      uint32_t jump_port = 0);
  // The key of authz_cache_ and session_decisions_.
  static std::string AuthzKey(const std::string& kind, const std::string& host,
                              const std::string& destination,
                              uint32_t jump_port);

  void WakeDown();
  void WakeUp();
  void Log(const std::string& line) const;
  std::string Describe() const;
  absl::Time Now() const { return proxy_.clock().Now(); }
  // For durations and recording offsets (base::Clock::Monotonic()).
  absl::Duration Monotonic() const { return proxy_.clock().Monotonic(); }

  Proxy& proxy_;
  asio::any_io_executor executor_;
  std::string peer_;
  std::shared_ptr<ssh::net::PreAuthSlot> slot_;
  std::optional<asio::ip::tcp::socket> socket_;
  // Instead of socket_: the byte stream of an inner connection.
  std::unique_ptr<ssh::net::ByteStream> stream_;
  // Set for an inner connection (recorded ProxyJump).
  std::optional<JumpOrigin> origin_;
  // What the channel windows of this connection, its upstream and its
  // inner connections hold together (limits.max_buffered_bytes_per_
  // connection); an inner connection shares its jump connection's. Before
  // the sessions that use it, so it outlives them.
  std::shared_ptr<ssh::connection::WindowBudget> window_budget_;
  // Jump channels carrying an inner connection (by down id).
  std::map<uint32_t, JumpChannel> jump_ports_;
  std::unique_ptr<ssh::net::TransportDriver> down_driver_;
  std::unique_ptr<ssh::session::ServerSession> down_;
  std::unique_ptr<ssh::net::SessionMessageHandler> down_handler_;
  bool down_ended_ = false;
  int banners_sent_ = 0;
  // A certificate was refused on this connection (a plain key offered
  // after it is not reported as another failure).
  bool certificate_refused_ = false;
  // The last auth-phase banner sent (a refusal's reason, or the plain-key
  // one): SendRefusalBanner does not repeat it, and RefusePlainKey sends
  // its own only while it is empty (no banner went out yet).
  std::string last_banner_;
  // Why the last user name was not LOGIN+HOST (for the refusal banner).
  std::optional<std::string> target_error_;
  // No user CA keys yet when the connection arrived (gwrefuse).
  bool no_ca_keys_ = false;

  // Identity, once the CA agreed.
  std::string session_id_;
  Target target_;
  std::string user_;  // key id of the user's certificate
  std::string user_certificate_line_;
  uint64_t cert_serial_ = 0;
  std::string key_fingerprint_;
  // SHA256:... of the CA key that signed the user's certificate (as the
  // CA's cert.issued event names it).
  std::string ca_fingerprint_;
  std::optional<ssh::cert::CertificatePermissions> permissions_;
  bool user_counted_ = false;
  std::optional<ssh::crypto::PrivateKey> ephemeral_;
  std::optional<gateway::v1::IssueSessionCertificateResponse> session_cert_;
  absl::Time valid_before_ = absl::InfiniteFuture();

  std::unique_ptr<Upstream> upstream_;
  bool upstream_ready_ = false;
  std::optional<std::string> upstream_error_;
  // An early upstream's failure before the user authenticated: reported
  // (and the user told) once they have, as if it had started then.
  std::optional<std::string> early_upstream_failure_;
  std::vector<uint64_t> waiting_for_upstream_;  // bridge serials

  uint64_t next_serial_ = 1;
  std::map<uint32_t, std::unique_ptr<Bridge>> bridges_;  // by down id
  std::map<uint32_t, Bridge*> by_up_;
  // A recorder wake is posted and not yet run (record before forward).
  std::shared_ptr<std::atomic<bool>> wake_posted_ =
      std::make_shared<std::atomic<bool>>(false);
  // The session kinds the CA allowed with the session certificate
  // (IssueSessionCertificateResponse.session_decisions: at most shell,
  // exec and sftp), by AuthzKey.
  std::map<std::string, gateway::v1::AuthorizeChannelResponse>
      session_decisions_;
  // AuthorizeChannel's answers on this connection, by AuthzKey; at most
  // kMaxCachedAuthorizations (proxy.h).
  std::map<std::string, gateway::v1::AuthorizeChannelResponse> authz_cache_;
  // The session's recording policy (IssueSessionCertificateResponse).
  bool record_best_effort_ = false;
  std::optional<bool> record_input_;
  // The session's `record` (IssueSessionCertificateResponse.record, the
  // roles' `record: always|never`, recording winning when they disagree):
  // true only for exactly "never". Then no channel content reaches the
  // spool (SessionRecorder is a NullRecorder); the audit events (session
  // start/end, channel open/close, commands) are sent as for any session.
  bool record_never_ = false;
  // The recorder of this session's channels: options().recorder, or a
  // NullRecorder when record_never_.
  Recorder& SessionRecorder();
  // As SessionRecorder for a relay a jump-only connection decided with
  // `record` (AuthorizeChannelResponse.record).
  Recorder& RecorderFor(std::string_view record);

  // Forwarding state (gateway/forward_connection.cc, reverse_channels.cc).
  Mode mode_ = Mode::kRecorded;
  std::map<uint32_t, std::shared_ptr<TcpRelay>> relays_;  // by down id
  // Relays whose channel the user closed, still writing what the user sent
  // (TcpRelay::OnClose): counted against the channel limit until they end,
  // and ended with the connection.
  std::map<TcpRelay*, std::shared_ptr<TcpRelay>> closing_relays_;
  // direct-tcpip opens of a jump-only connection waiting for the CA, by
  // down id (PendingJump, gateway/jump_state.h).
  std::map<uint32_t, PendingJump> pending_jumps_;
  // Serials of recorded jumps waiting for their host certificate
  // (JumpsAwaitingLogin counts them).
  std::set<uint64_t> host_cert_waits_;
  // Jump connection: shared with its inner connections (JumpOrigin::
  // jump_count_used). Inner connection: its session holds a
  // max_sessions_per_user count (its own or the jump connection's).
  std::shared_ptr<bool> jump_count_used_ = std::make_shared<bool>(false);
  bool uses_jump_count_ = false;
  // Remote forwards the host accepted (listen address, port), and those
  // being decided or requested; together at most max_remote_forwards.
  std::set<std::pair<std::string, uint32_t>> remote_forwards_;
  size_t remote_forwards_pending_ = 0;
  // cancel-tcpip-forward requests waiting for the host's answer (or the
  // upstream); at most max_remote_forwards.
  size_t remote_cancels_pending_ = 0;
  // A tcpip-forward (`cancel`: a cancel-tcpip-forward) was answered or
  // failed: it no longer waits.
  void ForwardRequestDone(bool cancel) {
    --(cancel ? remote_cancels_pending_ : remote_forwards_pending_);
  }
  // Our want_reply global requests to the host, oldest first.
  std::deque<std::function<void(bool, ssh::wire::Bytes)>> upstream_replies_;
  std::vector<std::function<void(bool)>> after_upstream_;
  bool agent_forwarding_ = false;
  // Refusals the user could not be told yet (no channel open), written
  // to the first session channel's stderr; at most kMaxNotices.
  std::deque<std::string> notices_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  // ---- operations (gwops): the observer's view, limits, idle timeout
  // (gateway/connection_ops.cc).
  ProxyObserver& observer() { return proxy_.observer(); }
  LogChannel ChannelLog(const Bridge& b) const;
  // A channel's recording metadata: this session (its id, start, user,
  // login and host) and the channel's id and type.
  ChannelInfo SessionChannelInfo(uint32_t channel_id,
                                 std::string_view type) const;
  void ReportAuth(bool allowed, std::string_view code);
  static std::string CaRefusalCode(const absl::Status& st);
  // `host`: the inventory host it is about, when not the connection's.
  void ReportChannelRefused(std::string_view kind, const std::string& dest,
                            uint32_t id, std::string_view reason,
                            const std::string& host = "");
  void ReportChannelClosed(Bridge& b);
  // Audit events of a started command: exec.command for an exec, and
  // filetransfer.start for sftp and scp -t/-f (gwev).
  // `requested`, when a forced command replaced the user's: what the user
  // asked for (its request type, and its command or subsystem).
  struct Requested {
    std::string type, text;
  };
  void ReportCommand(const Bridge& b, std::string_view type,
                     std::string_view kind, const std::string& command,
                     const std::optional<Requested>& requested);
  void ReportUpstream(bool ok, std::string_view reason);
  void ReportClosed(const absl::Status& why);
  // Payload relayed on `b`; resets the idle clock.
  void NoteData(Bridge& b, bool client_to_target, size_t n);
  // The same for a connection's relays (ssh -J passthrough, forwards
  // relayed from the gateway): no Bridge.
  void NoteConnectionData(bool client_to_target, size_t n);
  void StartIdleWatch();
  asio::awaitable<void> WatchIdle();
  // Sets the downstream deadline unless an earlier one is armed (the
  // earliest end wins; InfiniteFuture arms nothing): at `when` the user is
  // told `reason` and the session ends as `outcome`, which ReportClosed
  // reports when the deadline is what ended the connection.
  void ArmDeadline(absl::Time when, const std::string& reason,
                   std::string_view outcome);

  // As they were when the connection came (a SIGHUP's limits apply to
  // new connections): every limit of this connection is read here, never
  // from proxy_.options(), which holds the limits the gateway started with.
  const ProxyLimits limits_;
  // Whether the connection has max_channels_per_connection channels, in
  // either direction: the user's (bridges, relays, relays still writing
  // after the user's CLOSE, jump channels) and the
  // host's (forwarded-tcpip, auth-agent bridges).
  bool AtChannelLimit() const {
    return bridges_.size() + relays_.size() + closing_relays_.size() +
               jump_ports_.size() >=
           limits_.max_channels_per_connection;
  }
  LogConnection log_conn_;
  // On Monotonic(), for the connection's duration (connection.close,
  // session.end): a wall clock set back during it made that negative.
  const absl::Duration opened_at_ = Monotonic();
  // When the user authenticated (Now()): the session's start, as its
  // session.start event and its recording (ChannelInfo) give it; and the
  // same instant on Monotonic(), from which its records' offsets are.
  absl::Time session_started_ = absl::InfinitePast();
  absl::Duration session_started_monotonic_;
  uint64_t bytes_in_ = 0, bytes_out_ = 0;
  bool authenticated_ = false;
  // Refusals reported so far (ReportChannelRefused; kMaxRefusalsReported).
  uint64_t refusals_ = 0;
  // The deadline armed last (ArmDeadline) and the session's outcome if it
  // ends the connection.
  absl::Time deadline_at_ = absl::InfiniteFuture();
  std::string_view deadline_outcome_;
  // How the session ended (ReportClosed), for its recording's end record.
  SessionEnding ending_;
  std::string auth_failure_;  // the last refusal code, if any
  bool limit_refused_ = false;
  // Set by AuthDecided for the refusal the auth library logs next.
  std::string ca_refusal_code_;
  // When the upstream connection began, on Monotonic() (its latency).
  absl::Duration upstream_started_;
  bool upstream_reported_ = false;
  std::chrono::steady_clock::time_point last_data_ =
      std::chrono::steady_clock::now();
  std::unique_ptr<asio::steady_timer> idle_timer_;
};

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_GATEWAY_CONNECTION_H_
