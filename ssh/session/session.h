// ServerSession and ClientSession: transport + auth + connection behind one
// router. Applications implement SessionHandler (channel events, lifecycle)
// and, on the server, auth::AuthPolicy; they never see message numbers.
// Both roles expose the same channel model through Channel handles.
//
// I/O-free like the layers below: a driver (ssh/net, or a test moving bytes
// in memory) feeds input with Feed()/PrepareInput()+CommitInput(), calls
// Process() to dispatch it, writes PendingOutput() and Consume()s it, and
// calls OnTimer() at NextDeadline(). While dispatch_paused() (a server
// waiting for an asynchronous auth decision) the driver should stop reading;
// the session calls the wake callback when dispatch may go on or when it
// produced output outside Process()/OnTimer().
//
// Everything runs on the caller's thread (one strand per session).
#ifndef SALLYPORT_SSH_SESSION_SESSION_H_
#define SALLYPORT_SSH_SESSION_SESSION_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "ssh/auth/auth.h"
#include "ssh/connection/connection.h"
#include "ssh/transport/transport.h"

namespace sallyport::ssh::session {

using wire::Bytes;

class Session;

// One channel of a session, in either role. A cheap handle: copy it freely;
// calls on a channel that no longer exists return kNotFound (or do nothing).
class Channel {
 public:
  Channel() = default;
  Channel(Session* session, uint32_t id) : session_(session), id_(id) {}

  uint32_t id() const { return id_; }
  Session* session() const { return session_; }
  // Whether the channel still exists in the connection.
  bool valid() const;

  // Answers the peer's open (OnChannelOpen), now or later.
  absl::Status Accept();
  absl::Status Reject(connection::OpenFailure reason,
                      std::string_view description);
  // As Connection::SendData: takes what the peer's window allows, returns
  // how much (0: wait for OnWindowAvailable; also 0 while queued output
  // waits).
  absl::StatusOr<size_t> Send(Bytes data, uint32_t stream = 0);
  // As Connection::QueueData: sends what the window allows and queues the
  // rest, up to ConnectionOptions::max_queued_bytes on the channel; returns
  // the bytes taken (0 when the queue is full: wait for OnQueuedDataSent).
  // Queued data, requests, EOF and CLOSE go out in the order called.
  absl::StatusOr<size_t> Queue(Bytes data, uint32_t stream = 0);
  uint32_t SendWindow() const;
  // Bytes in the channel's outbound queue, and how many more Queue takes.
  size_t QueuedBytes() const;
  size_t QueueRoom() const;
  absl::Status SendEof();
  absl::Status Close();
  // As Connection::SetBridged: for each channel of a bridge, our CLOSE
  // waits for Close() after the peer's (OnClose reports the peer's; the
  // channel stays valid() until Close()), and requests that arrive after
  // our Close() still reach OnChannelRequest.
  absl::Status SetBridged();
  absl::Status SendRequest(std::string_view type, bool want_reply,
                           Bytes data = {});
  // Answers the peer's want_reply request `request` (from
  // OnChannelRequest), now or later; replies go out in the peer's order.
  absl::Status Reply(connection::RequestId request, bool success);
  // Answers the oldest unanswered want_reply request of the peer.
  absl::Status Reply(bool success);
  // The application is done with n bytes it was handed in OnData.
  void Consume(size_t n);

  friend bool operator==(const Channel& a, const Channel& b) {
    return a.session_ == b.session_ && a.id_ == b.id_;
  }

 private:
  Session* session_ = nullptr;
  uint32_t id_ = 0;
};

// What the application implements: the same for both roles.
class SessionHandler {
 public:
  virtual ~SessionHandler() = default;

  // ---- lifecycle
  // The first key exchange completed.
  virtual void OnHandshakeDone(Session&) {}
  // Server: the client authenticated (see ServerSession::identity()).
  // Client: the server accepted us. Channels may be opened from now on.
  virtual void OnAuthenticated(Session&) {}
  // The session ended (once): `why` is the transport's close status. Flush
  // PendingOutput() (it may hold a DISCONNECT) and close the stream.
  virtual void OnEnd(Session&, const absl::Status& /*why*/) {}

  // ---- channels
  // The peer opens a channel: Accept() or Reject() it, now or later (within
  // SessionOptions::open_timeout, or the session rejects it). The default
  // rejects it.
  virtual void OnChannelOpen(Channel channel, std::string_view type,
                             Bytes extra);
  // The peer's open was neither accepted nor rejected within
  // SessionOptions::open_timeout: the session rejected it (kConnectFailed,
  // "open timed out"). The channel is gone (Accept() and Reject() return
  // kNotFound) and its id may be given to the peer's next open: whatever
  // the application kept for it ends here.
  virtual void OnChannelOpenTimedOut(Channel) {}
  // Our OpenChannel was confirmed (OK) or refused/timed out (the status
  // says why, with the peer's reason code and description when it refused;
  // the channel is gone).
  virtual void OnChannelOpenResult(Channel, const connection::OpenResult&) {}
  // Data on stream 0 (CHANNEL_DATA) or on the data type code the peer's
  // CHANNEL_EXTENDED_DATA carries: any uint32, of which RFC 4254 defines only
  // 1 (stderr); the handler decides what to do with others (the gateway
  // drops them). Call Consume(n) once done with it (the
  // span is valid only during the call): unconsumed bytes hold the
  // peer's window shut.
  virtual void OnData(Channel channel, uint32_t stream, Bytes data) = 0;
  virtual void OnEof(Channel) {}
  // The channel is closed in both directions and forgotten after this.
  virtual void OnClose(Channel) {}
  // A channel request; if want_reply, answer with Reply(request, ok), now
  // or later (`request` is connection::kNoReply otherwise). The default
  // refuses it. "env" requests beyond the session's limits are refused
  // before they reach here.
  virtual void OnChannelRequest(Channel channel, std::string_view type,
                                bool want_reply, Bytes data,
                                connection::RequestId request);
  virtual void OnChannelRequestReply(Channel, bool /*success*/) {}
  // The peer's window for the channel opened (queued output flushed as
  // far as it allows): Send may take more.
  virtual void OnWindowAvailable(Channel) {}
  // n bytes queued by Channel::Queue went on the wire.
  virtual void OnQueuedDataSent(Channel, size_t /*n*/) {}

  // ---- global requests (keepalive@openssh.com is answered by the layer)
  // Return true/false to answer now, or nullopt to answer later with
  // Session::ReplyGlobalRequest(request, ...) (only when want_reply).
  // Refused by default.
  virtual std::optional<bool> OnGlobalRequest(std::string_view /*name*/,
                                              bool /*want_reply*/,
                                              Bytes /*data*/,
                                              connection::RequestId) {
    return false;
  }
  virtual void OnGlobalRequestReply(bool /*success*/, Bytes /*data*/) {}
};

struct SessionOptions {
  transport::TransportOptions transport;
  connection::ConnectionOptions connection;

  // A channel the peer opened and the application neither accepted nor
  // rejected within this time is rejected (kConnectFailed); one we opened
  // and the peer neither confirmed nor refused is reported failed
  // (kDeadlineExceeded), stops counting against max_channels
  // (Connection::AbandonOpen) and is closed once the peer answers.
  absl::Duration open_timeout = absl::Seconds(30);

  // "env" requests per channel (OpenSSH keeps at most ~128 variables) and
  // the largest one (name + value); requests beyond either are refused
  // without reaching the application.
  size_t max_env_requests = 128;
  size_t max_env_request_bytes = 16 * 1024;

  // Post-auth liveness (OpenSSH ClientAliveInterval/ClientAliveCountMax):
  // after `alive_interval` without input, send keepalive@openssh.com (want
  // reply); after `alive_count_max` unanswered probes, disconnect.
  // Zero interval: off.
  absl::Duration alive_interval = absl::ZeroDuration();
  int alive_count_max = 3;
};

// The part common to both roles: the I/O-free driver interface, channels,
// global requests and ending.
class Session {
 public:
  virtual ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // ---- input
  void Feed(Bytes data) { transport_->Feed(data); }
  absl::Span<uint8_t> PrepareInput(size_t n) {
    return transport_->PrepareInput(n);
  }
  void CommitInput(size_t n) { transport_->CommitInput(n); }
  // Dispatches the messages buffered in the transport, until none is left,
  // dispatch pauses or the session ends.
  void Process();
  // Sends the channels' queued output as far as the windows and the
  // transport allow. Process() and OnTimer() do it themselves; a driver
  // using HandleMessage() calls it after each batch of input and when the
  // transport took its output (the transport refuses channel output while
  // its key-exchange queue is full).
  void FlushOutput();
  // A server waits for an asynchronous auth decision: stop reading.
  virtual bool dispatch_paused() const { return false; }

  // For a driver that takes the messages out of the transport itself (the
  // ssh/net TransportDriver and its MessageHandler): one message the
  // transport's Next() returned. Process() is this in a loop. An error
  // means the session disconnected.
  absl::Status HandleMessage(Bytes payload);
  // The same driver reports the first completed key exchange here (Process
  // notices it by itself).
  void NoteHandshakeDone();

  // ---- output
  Bytes PendingOutput() const { return transport_->PendingOutput(); }
  void Consume(size_t n) { transport_->Consume(n); }
  size_t BufferedOutputBytes() const {
    return transport_->BufferedOutputBytes();
  }

  // ---- time
  // When OnTimer() must next run: the transport's deadlines (login grace,
  // rekey, kex timeout), EndAt, open timeouts and keepalive probes.
  absl::Time NextDeadline() const;
  void OnTimer();
  // For a driver whose connection ended (stream lost, or the driver closed
  // the transport itself, e.g. at a deadline of its own): closes the
  // transport if it is still open (why: the driver's status; nothing more
  // is written) and reports OnEnd if it has not been reported yet. Safe to
  // call more than once.
  void NoteDriverEnded(const absl::Status& why);

  // The driver's hook: called (on the session's strand) when dispatch may
  // go on after a pause, or when output was produced outside Process() and
  // OnTimer() (e.g. by Complete()).
  void set_wake(std::function<void()> wake) { wake_ = std::move(wake); }
  // Call after producing output from outside the driver's callbacks.
  void Wake() {
    if (wake_) wake_();
  }

  // ---- channels (after authentication)
  // kFailedPrecondition before authentication; as Connection::OpenChannel
  // otherwise. The result arrives in OnChannelOpenResult. Wakes the driver
  // (the open's deadline is new), so it may be called from anywhere on the
  // session's strand.
  absl::StatusOr<Channel> OpenChannel(std::string_view type, Bytes extra = {});
  Channel channel(uint32_t id) { return Channel(this, id); }
  absl::Status SendGlobalRequest(std::string_view name, bool want_reply,
                                 Bytes data = {});
  // Answers a global request OnGlobalRequest left open (nullopt); `data`
  // is the REQUEST_SUCCESS payload. Replies go out in the peer's order.
  absl::Status ReplyGlobalRequest(connection::RequestId request, bool success,
                                  Bytes data = {});

  // ---- ending
  // Sends DISCONNECT (by application) with `description` and ends.
  void Disconnect(std::string_view description);
  // At `when` (by the transport's clock), disconnect saying `reason` (e.g.
  // "certificate expired"): a certificate's valid_before. The earliest of
  // several calls wins.
  void EndAt(absl::Time when, std::string reason);

  // ---- state
  bool closed() const { return transport_->closed(); }
  const absl::Status& close_status() const {
    return transport_->close_status();
  }
  bool authenticated() const { return authenticated_; }
  transport::Transport& transport() { return *transport_; }
  const transport::Transport& transport() const { return *transport_; }
  // Hands the transport's ownership to a driver that must own it (ssh/net
  // TransportDriver); the session keeps using it, so the driver must
  // outlive the session's use of it. Once only; null afterwards.
  std::unique_ptr<transport::Transport> ReleaseTransport() {
    return std::move(owned_transport_);
  }
  // Null before authentication.
  connection::Connection* connection() { return connection_.get(); }
  // Keepalive probes sent and not yet answered.
  int unanswered_alive_probes() const { return alive_unanswered_; }

 protected:
  Session(SessionOptions options, SessionHandler& handler);
  absl::Status Init();
  // Role-specific routing of service and auth messages.
  virtual absl::Status HandleAuthMessage(Bytes payload) = 0;
  virtual absl::Status OnHandshake() { return absl::OkStatus(); }
  // Called by the role once authentication succeeded.
  void BecomeAuthenticated();
  // Ends the session after an error from a layer (already disconnected).
  void CheckEnded();

  SessionOptions options_;
  SessionHandler& handler_;
  const base::Clock* clock_;
  std::unique_ptr<transport::Transport> owned_transport_;
  transport::Transport* transport_ = nullptr;

 private:
  friend class Channel;
  class Router;  // connection::ConnectionHandler -> SessionHandler
  struct ChannelState {
    size_t env_requests = 0;
    std::optional<absl::Time> open_deadline;  // pending accept / our open
    bool opened_by_us = false;
    bool timed_out = false;  // our open timed out: close on answer
  };

  absl::Status Dispatch(Bytes payload);
  void CheckTimeouts(absl::Time now);

  std::unique_ptr<Router> router_;
  std::unique_ptr<connection::Connection> connection_;
  std::map<uint32_t, ChannelState> channels_;
  // For each of our want_reply global requests, in order: whether it is a
  // keepalive probe (its reply is ours, not the application's).
  std::deque<bool> global_replies_;
  std::function<void()> wake_;
  bool handshake_reported_ = false;
  bool authenticated_ = false;
  bool end_reported_ = false;
  std::optional<absl::Time> end_at_;
  std::string end_reason_;
  absl::Time last_input_;
  int alive_unanswered_ = 0;
};

struct ServerSessionOptions : SessionOptions {
  // policy is required (it may answer kPending: see CompleteAuth).
  auth::ServerAuthOptions auth;
};

class ServerSession : public Session {
 public:
  static absl::StatusOr<std::unique_ptr<ServerSession>> Create(
      ServerSessionOptions options, SessionHandler& handler);

  bool dispatch_paused() const override;
  // Completes the auth decision the policy answered kPending for (see
  // auth::ServerAuth::Complete), resumes dispatch and wakes the driver.
  // kFailedPrecondition when nothing is pending or the session ended.
  absl::Status CompleteAuth(auth::AuthDecision decision);
  // Handles the request that waits for the user CA keys again (the
  // unknown_ca hook of ServerAuthOptions answered true) with
  // `trusted_user_cas` (see auth::ServerAuth::Recheck), resumes dispatch
  // and wakes the driver.
  absl::Status RecheckAuth(std::vector<crypto::PublicKey> trusted_user_cas);
  // Sends a USERAUTH_BANNER (before authentication only; see
  // auth::ServerAuth::SendBanner), e.g. why a decision is a refusal.
  absl::Status SendAuthBanner(std::string_view text) {
    return auth_->SendBanner(text);
  }
  // The attempt waiting for a decision (null when none).
  const auth::AuthAttempt* pending_auth() const {
    return auth_->pending_attempt();
  }
  // Who authenticated (after OnAuthenticated).
  const std::optional<auth::AuthAttempt>& identity() const {
    return auth_->identity();
  }

 private:
  ServerSession(ServerSessionOptions options, SessionHandler& handler);
  absl::Status HandleAuthMessage(Bytes payload) override;
  void AfterAuth();

  auth::ServerAuthOptions auth_options_;
  std::unique_ptr<auth::ServerAuth> auth_;
};

struct ClientSessionOptions : SessionOptions {
  auth::ClientAuthOptions auth;
};

class ClientSession : public Session {
 public:
  static absl::StatusOr<std::unique_ptr<ClientSession>> Create(
      ClientSessionOptions options, SessionHandler& handler);

  // The server's USERAUTH_BANNER text (capped), if any.
  const std::string& banner() const { return auth_->banner(); }
  // The server accepted the ssh-userauth service. With no identities the
  // session ends right after (kUnauthenticated): a probe of the server.
  bool service_accepted() const { return auth_->service_accepted(); }
  // With auth.identities_later: the user and identities to authenticate
  // with (ClientAuth::Provide); sends at once if the server is ready for
  // them. Call on the session's strand.
  absl::Status ProvideIdentities(std::string user,
                                 std::vector<auth::ClientIdentity> ids);

 private:
  ClientSession(ClientSessionOptions options, SessionHandler& handler);
  absl::Status HandleAuthMessage(Bytes payload) override;
  absl::Status OnHandshake() override;

  auth::ClientAuthOptions auth_options_;
  std::unique_ptr<auth::ClientAuth> auth_;
};

}  // namespace sallyport::ssh::session

#endif  // SALLYPORT_SSH_SESSION_SESSION_H_
