#include "ssh/session/session.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "ssh/transport/messages.h"

namespace sallyport::ssh::session {
namespace {

constexpr std::string_view kKeepalive = "keepalive@openssh.com";

bool IsAuthMessage(uint8_t type) {
  return type == transport::kMsgServiceRequest ||
         type == transport::kMsgServiceAccept || (type >= 50 && type <= 79);
}

bool IsConnectionMessage(uint8_t type) { return type >= 80 && type <= 127; }

}  // namespace

// ---- SessionHandler defaults

void SessionHandler::OnChannelOpen(Channel channel, std::string_view, Bytes) {
  (void)channel.Reject(connection::OpenFailure::kUnknownChannelType,
                       "unknown channel type");
}

void SessionHandler::OnChannelRequest(Channel channel, std::string_view,
                                      bool want_reply, Bytes,
                                      connection::RequestId request) {
  if (want_reply) (void)channel.Reply(request, false);
}

// ---- Channel

namespace {
absl::Status NoChannel() { return absl::NotFoundError("no such channel"); }
}  // namespace

bool Channel::valid() const {
  return session_ != nullptr && session_->connection_ != nullptr &&
         session_->connection_->HasChannel(id_);
}

absl::Status Channel::Accept() {
  if (!valid()) return NoChannel();
  auto it = session_->channels_.find(id_);
  if (it != session_->channels_.end()) it->second.open_deadline.reset();
  return session_->connection_->AcceptChannel(id_);
}

absl::Status Channel::Reject(connection::OpenFailure reason,
                             std::string_view description) {
  if (!valid()) return NoChannel();
  session_->channels_.erase(id_);
  return session_->connection_->RejectChannel(id_, reason, description);
}

absl::StatusOr<size_t> Channel::Send(Bytes data, uint32_t stream) {
  if (!valid()) return NoChannel();
  return session_->connection_->SendData(id_, data, stream);
}

absl::StatusOr<size_t> Channel::Queue(Bytes data, uint32_t stream) {
  if (!valid()) return NoChannel();
  return session_->connection_->QueueData(id_, data, stream);
}

uint32_t Channel::SendWindow() const {
  return valid() ? session_->connection_->SendWindow(id_) : 0;
}

size_t Channel::QueuedBytes() const {
  return valid() ? session_->connection_->QueuedBytes(id_) : 0;
}

size_t Channel::QueueRoom() const {
  return valid() ? session_->connection_->QueueRoom(id_) : 0;
}

absl::Status Channel::SendEof() {
  if (!valid()) return NoChannel();
  return session_->connection_->SendEof(id_);
}

absl::Status Channel::Close() {
  if (!valid()) return NoChannel();
  return session_->connection_->Close(id_);
}

absl::Status Channel::SetBridged() {
  if (!valid()) return NoChannel();
  return session_->connection_->SetBridged(id_);
}

absl::Status Channel::SendRequest(std::string_view type, bool want_reply,
                                  Bytes data) {
  if (!valid()) return NoChannel();
  return session_->connection_->SendRequest(id_, type, want_reply, data);
}

absl::Status Channel::Reply(connection::RequestId request, bool success) {
  if (!valid()) return NoChannel();
  return session_->connection_->ReplyRequest(id_, request, success);
}

absl::Status Channel::Reply(bool success) {
  if (!valid()) return NoChannel();
  return session_->connection_->ReplyRequest(id_, success);
}

void Channel::Consume(size_t n) {
  if (valid()) session_->connection_->Consume(id_, n);
}

// ---- Router: connection events to the application, with the session's
// limits applied on the way.

class Session::Router : public connection::ConnectionHandler {
 public:
  explicit Router(Session& s) : s_(s) {}

  void OnChannelOpen(uint32_t id, std::string_view type, Bytes extra) override {
    ChannelState& state = s_.channels_[id];
    state.open_deadline = s_.clock_->Now() + s_.options_.open_timeout;
    s_.handler_.OnChannelOpen(Channel(&s_, id), type, extra);
  }
  void OnChannelOpenResult(uint32_t id,
                           const connection::OpenResult& result) override {
    auto it = s_.channels_.find(id);
    if (it != s_.channels_.end() && it->second.timed_out) {
      // Reported failed already; the late answer only closes it.
      if (result.ok()) {
        (void)s_.connection_->Close(id);
      } else {
        s_.channels_.erase(it);
      }
      return;
    }
    if (it != s_.channels_.end()) it->second.open_deadline.reset();
    if (!result.ok()) s_.channels_.erase(id);
    s_.handler_.OnChannelOpenResult(Channel(&s_, id), result);
  }
  void OnData(uint32_t id, uint32_t stream, Bytes data) override {
    auto it = s_.channels_.find(id);
    if (it != s_.channels_.end() && it->second.timed_out) {
      s_.connection_->Consume(id, data.size());
      return;
    }
    s_.handler_.OnData(Channel(&s_, id), stream, data);
  }
  void OnEof(uint32_t id) override {
    if (!TimedOut(id)) s_.handler_.OnEof(Channel(&s_, id));
  }
  void OnClose(uint32_t id) override {
    const bool timed_out = TimedOut(id);
    s_.channels_.erase(id);
    if (!timed_out) s_.handler_.OnClose(Channel(&s_, id));
  }
  void OnChannelRequest(uint32_t id, std::string_view type, bool want_reply,
                        Bytes data, connection::RequestId request) override {
    if (TimedOut(id)) {
      if (want_reply) (void)s_.connection_->ReplyRequest(id, request, false);
      return;
    }
    if (type == "env") {
      ChannelState& state = s_.channels_[id];
      if (state.env_requests >= s_.options_.max_env_requests ||
          data.size() > s_.options_.max_env_request_bytes) {
        if (want_reply) (void)s_.connection_->ReplyRequest(id, request, false);
        return;
      }
      ++state.env_requests;
    }
    s_.handler_.OnChannelRequest(Channel(&s_, id), type, want_reply, data,
                                 request);
  }
  void OnChannelRequestReply(uint32_t id, bool success) override {
    if (!TimedOut(id))
      s_.handler_.OnChannelRequestReply(Channel(&s_, id), success);
  }
  std::optional<bool> OnGlobalRequest(std::string_view name, bool want_reply,
                                      Bytes data,
                                      connection::RequestId request) override {
    return s_.handler_.OnGlobalRequest(name, want_reply, data, request);
  }
  void OnGlobalRequestReply(bool success, Bytes data) override {
    bool probe = false;
    if (!s_.global_replies_.empty()) {
      probe = s_.global_replies_.front();
      s_.global_replies_.pop_front();
    }
    if (probe) {
      // Any answer (OpenSSH answers keepalive with FAILURE) proves life.
      s_.alive_unanswered_ = std::max(0, s_.alive_unanswered_ - 1);
      return;
    }
    s_.handler_.OnGlobalRequestReply(success, data);
  }
  void OnWindowAvailable(uint32_t id) override {
    if (!TimedOut(id)) s_.handler_.OnWindowAvailable(Channel(&s_, id));
  }
  void OnQueuedDataSent(uint32_t id, size_t n) override {
    if (!TimedOut(id)) s_.handler_.OnQueuedDataSent(Channel(&s_, id), n);
  }

 private:
  bool TimedOut(uint32_t id) const {
    auto it = s_.channels_.find(id);
    return it != s_.channels_.end() && it->second.timed_out;
  }
  Session& s_;
};

// ---- Session

Session::Session(SessionOptions options, SessionHandler& handler)
    : options_(std::move(options)),
      handler_(handler),
      clock_(options_.transport.clock != nullptr ? options_.transport.clock
                                                 : base::Clock::Real()) {}

Session::~Session() = default;

absl::Status Session::Init() {
  options_.transport.clock = clock_;
  ASSIGN_OR_RETURN(owned_transport_,
                   transport::Transport::Create(options_.transport));
  transport_ = owned_transport_.get();
  router_ = std::make_unique<Router>(*this);
  connection_ = std::make_unique<connection::Connection>(*transport_, *router_,
                                                         options_.connection);
  last_input_ = clock_->Now();
  return absl::OkStatus();
}

void Session::NoteHandshakeDone() {
  if (handshake_reported_ || closed() || !transport_->handshake_done()) return;
  handshake_reported_ = true;
  if (OnHandshake().ok()) handler_.OnHandshakeDone(*this);
}

void Session::Process() {
  const uint64_t received = transport_->bytes_received();
  while (!closed() && !dispatch_paused()) {
    NoteHandshakeDone();
    std::optional<Bytes> msg = transport_->Next();
    if (!msg.has_value()) break;
    if (absl::Status s = Dispatch(*msg); !s.ok()) break;
  }
  NoteHandshakeDone();
  FlushOutput();
  if (transport_->bytes_received() != received) {
    last_input_ = clock_->Now();
    alive_unanswered_ = 0;
  }
  CheckEnded();
}

void Session::FlushOutput() {
  if (connection_ == nullptr || !authenticated_ || closed()) return;
  (void)connection_->Flush();  // an error has disconnected: CheckEnded
  CheckEnded();
}

absl::Status Session::HandleMessage(Bytes payload) {
  NoteHandshakeDone();
  last_input_ = clock_->Now();
  alive_unanswered_ = 0;
  absl::Status s = Dispatch(payload);
  CheckEnded();
  return s;
}

absl::Status Session::Dispatch(Bytes payload) {
  const uint8_t type = payload[0];
  if (IsAuthMessage(type)) return HandleAuthMessage(payload);
  if (IsConnectionMessage(type)) {
    // The transport hands these up only once authenticated.
    return connection_->Handle(payload);
  }
  // Not ours (and not the transport's): RFC 4253 §11.4.
  transport_->SendUnimplemented();
  return absl::OkStatus();
}

void Session::BecomeAuthenticated() {
  if (authenticated_) return;
  authenticated_ = true;
  last_input_ = clock_->Now();
  handler_.OnAuthenticated(*this);
}

void Session::CheckEnded() {
  if (!closed() || end_reported_) return;
  end_reported_ = true;
  handler_.OnEnd(*this, close_status());
}

absl::Time Session::NextDeadline() const {
  if (closed()) return absl::InfiniteFuture();
  absl::Time t = transport_->NextDeadline();
  if (end_at_.has_value()) t = std::min(t, *end_at_);
  for (const auto& [id, state] : channels_) {
    if (state.open_deadline.has_value()) t = std::min(t, *state.open_deadline);
  }
  if (authenticated_ && options_.alive_interval > absl::ZeroDuration()) {
    t = std::min(
        t, last_input_ + options_.alive_interval * (alive_unanswered_ + 1));
  }
  return t;
}

void Session::OnTimer() {
  if (closed()) {
    CheckEnded();  // closed by the driver (a deadline of its own)
    return;
  }
  const absl::Time now = clock_->Now();
  if (end_at_.has_value() && now >= *end_at_) {
    transport_->Disconnect(transport::DisconnectReason::kByApplication,
                           end_reason_,
                           absl::DeadlineExceededError(end_reason_));
    CheckEnded();
    return;
  }
  transport_->OnTimer();
  if (!closed()) CheckTimeouts(now);
  FlushOutput();
  CheckEnded();
}

void Session::NoteDriverEnded(const absl::Status& why) {
  if (!closed()) {
    transport_->Disconnect(
        transport::DisconnectReason::kConnectionLost, "connection lost",
        why.ok() ? absl::UnavailableError("connection closed") : why);
  }
  CheckEnded();
}

void Session::CheckTimeouts(absl::Time now) {
  if (authenticated_ && options_.alive_interval > absl::ZeroDuration() &&
      now >= last_input_ + options_.alive_interval * (alive_unanswered_ + 1)) {
    if (alive_unanswered_ >= options_.alive_count_max) {
      const std::string why =
          absl::StrCat("no answer to ", alive_unanswered_, " keepalive probes");
      transport_->Disconnect(transport::DisconnectReason::kByApplication, why,
                             absl::DeadlineExceededError(why));
      return;
    }
    ++alive_unanswered_;
    if (connection_->SendGlobalRequest(kKeepalive, true).ok()) {
      global_replies_.push_back(true);
    }
  }
  std::vector<uint32_t> expired;
  for (const auto& [id, state] : channels_) {
    if (state.open_deadline.has_value() && now >= *state.open_deadline)
      expired.push_back(id);
  }
  for (uint32_t id : expired) {
    // The handler, called for an earlier one, may have answered or
    // rejected this one meanwhile.
    auto it = channels_.find(id);
    if (it == channels_.end() || !it->second.open_deadline.has_value())
      continue;
    ChannelState& state = it->second;
    state.open_deadline.reset();
    if (state.opened_by_us) {
      state.timed_out = true;
      // Its place among max_channels is free again (unless too many opens
      // are abandoned already: then it keeps counting until answered).
      (void)connection_->AbandonOpen(id);
      connection::OpenResult result;
      result.status =
          absl::DeadlineExceededError("the peer did not answer the open");
      result.reason = connection::OpenFailure::kConnectFailed;
      result.description = "open timed out";
      handler_.OnChannelOpenResult(Channel(this, id), result);
    } else {
      channels_.erase(id);
      (void)connection_->RejectChannel(
          id, connection::OpenFailure::kConnectFailed, "open timed out");
      handler_.OnChannelOpenTimedOut(Channel(this, id));
    }
  }
}

absl::StatusOr<Channel> Session::OpenChannel(std::string_view type,
                                             Bytes extra) {
  if (!authenticated_ || closed())
    return absl::FailedPreconditionError("not authenticated");
  ASSIGN_OR_RETURN(uint32_t id, connection_->OpenChannel(type, extra));
  ChannelState& state = channels_[id];
  state.opened_by_us = true;
  state.open_deadline = clock_->Now() + options_.open_timeout;
  // The OPEN and a new deadline: the driver may be asleep (the caller is
  // often another session's callback, e.g. a bridge).
  Wake();
  return Channel(this, id);
}

absl::Status Session::SendGlobalRequest(std::string_view name, bool want_reply,
                                        Bytes data) {
  if (!authenticated_ || closed())
    return absl::FailedPreconditionError("not authenticated");
  RETURN_IF_ERROR(connection_->SendGlobalRequest(name, want_reply, data));
  if (want_reply) global_replies_.push_back(false);
  return absl::OkStatus();
}

absl::Status Session::ReplyGlobalRequest(connection::RequestId request,
                                         bool success, Bytes data) {
  if (!authenticated_ || closed())
    return absl::FailedPreconditionError("not authenticated");
  return connection_->ReplyGlobalRequest(request, success, data);
}

void Session::Disconnect(std::string_view description) {
  if (closed()) return;
  transport_->Disconnect(transport::DisconnectReason::kByApplication,
                         description);
  CheckEnded();
  Wake();
}

void Session::EndAt(absl::Time when, std::string reason) {
  if (end_at_.has_value() && *end_at_ <= when) return;
  end_at_ = when;
  end_reason_ = std::move(reason);
  Wake();
}

// ---- ServerSession

ServerSession::ServerSession(ServerSessionOptions options,
                             SessionHandler& handler)
    : Session(static_cast<SessionOptions>(options), handler),
      auth_options_(std::move(options.auth)) {}

absl::StatusOr<std::unique_ptr<ServerSession>> ServerSession::Create(
    ServerSessionOptions options, SessionHandler& handler) {
  if (options.auth.policy == nullptr)
    return absl::InvalidArgumentError("ServerSession needs an auth policy");
  options.transport.role = transport::Role::kServer;
  std::unique_ptr<ServerSession> s(
      new ServerSession(std::move(options), handler));
  RETURN_IF_ERROR(s->Init());
  if (s->auth_options_.clock == nullptr) s->auth_options_.clock = s->clock_;
  s->auth_ = std::make_unique<auth::ServerAuth>(*s->transport_,
                                                std::move(s->auth_options_));
  return s;
}

bool ServerSession::dispatch_paused() const { return auth_->pending(); }

absl::Status ServerSession::HandleAuthMessage(Bytes payload) {
  absl::Status s = auth_->Handle(payload);
  AfterAuth();
  return s;
}

void ServerSession::AfterAuth() {
  if (auth_->authenticated()) BecomeAuthenticated();
}

absl::Status ServerSession::CompleteAuth(auth::AuthDecision decision) {
  if (closed()) return absl::FailedPreconditionError("session ended");
  absl::Status s = auth_->Complete(std::move(decision));
  AfterAuth();
  CheckEnded();
  // Dispatch may go on (and the answer is waiting to be written).
  Wake();
  return s;
}

absl::Status ServerSession::RecheckAuth(
    std::vector<crypto::PublicKey> trusted_user_cas) {
  if (closed()) return absl::FailedPreconditionError("session ended");
  absl::Status s = auth_->Recheck(std::move(trusted_user_cas));
  AfterAuth();
  CheckEnded();
  Wake();
  return s;
}

// ---- ClientSession

ClientSession::ClientSession(ClientSessionOptions options,
                             SessionHandler& handler)
    : Session(static_cast<SessionOptions>(options), handler),
      auth_options_(std::move(options.auth)) {}

absl::StatusOr<std::unique_ptr<ClientSession>> ClientSession::Create(
    ClientSessionOptions options, SessionHandler& handler) {
  options.transport.role = transport::Role::kClient;
  std::unique_ptr<ClientSession> s(
      new ClientSession(std::move(options), handler));
  RETURN_IF_ERROR(s->Init());
  s->auth_ = std::make_unique<auth::ClientAuth>(*s->transport_,
                                                std::move(s->auth_options_));
  return s;
}

absl::Status ClientSession::OnHandshake() { return auth_->Start(); }

absl::Status ClientSession::ProvideIdentities(
    std::string user, std::vector<auth::ClientIdentity> ids) {
  if (closed()) return absl::FailedPreconditionError("session ended");
  absl::Status s = auth_->Provide(std::move(user), std::move(ids));
  CheckEnded();
  Wake();
  return s;
}

absl::Status ClientSession::HandleAuthMessage(Bytes payload) {
  absl::Status s = auth_->Handle(payload);
  if (auth_->authenticated()) BecomeAuthenticated();
  return s;
}

}  // namespace sallyport::ssh::session
