#include "gateway/gateway_connection.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/safe_text.h"
#include "ssh/cert/host_cert_policy.h"
#include "ssh/connection/messages.h"
#include "ssh/net/spawn.h"
#include "ssh/wire/reader.h"

namespace sallyport::gateway {

namespace gw = gateway::v1;
using ssh::connection::OpenFailure;
using ssh::session::Channel;
using ssh::wire::Bytes;

namespace {

constexpr char kCertificatesOnly[] =
    "Sallyport accepts OpenSSH certificates only: log in with `sp login` "
    "first.\r\n";

std::string Safe(std::string_view s) { return base::SafeText(s, 128); }
std::string Safe(absl::string_view s) {
  return base::SafeText(std::string_view(s.data(), s.size()), 128);
}
std::string Safe(const std::string& s) { return base::SafeText(s, 128); }

// What the user sees when the CA refuses the session.
std::string RefusalBanner(const absl::Status& st, const Target& t) {
  switch (st.code()) {
    case absl::StatusCode::kNotFound:
      return absl::StrCat("sallyport: host \"", Safe(t.host),
                          "\" is not in the inventory.\r\n");
    case absl::StatusCode::kPermissionDenied:
      return absl::StrCat("sallyport: access to ", Safe(t.login), "@",
                          Safe(t.host), " denied: ", Safe(st.message()),
                          "\r\n");
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return "sallyport: the Sallyport CA is unreachable, so no session can "
             "be authorized right now; try again later.\r\n";
    default:
      return absl::StrCat("sallyport: the session was refused: ",
                          Safe(st.message()), "\r\n");
  }
}

bool EnvAllowed(std::string_view name) {
  return name == "LANG" || absl::StartsWith(std::string(name), "LC_");
}

}  // namespace

// The upstream connection: our ClientSession to the host, on the same
// executor; events go to the GatewayConnection.
class GatewayConnection::Upstream : public ssh::session::SessionHandler {
 public:
  explicit Upstream(GatewayConnection& c) : c_(c) {}
  void OnAuthenticated(ssh::session::Session&) override { c_.UpstreamReady(); }
  void OnEnd(ssh::session::Session&, const absl::Status& why) override {
    end_status = why;
  }
  void OnChannelOpenResult(Channel ch,
                           const ssh::connection::OpenResult& r) override {
    c_.OnUpstreamOpenResult(ch, r);
  }
  void OnData(Channel ch, uint32_t stream, Bytes data) override {
    c_.OnUpstreamData(ch, stream, data);
  }
  void OnEof(Channel ch) override { c_.OnUpstreamEof(ch); }
  void OnClose(Channel ch) override { c_.OnUpstreamClose(ch); }
  void OnChannelRequest(Channel ch, std::string_view type, bool want_reply,
                        Bytes data,
                        ssh::connection::RequestId request) override {
    c_.OnUpstreamRequest(ch, type, want_reply, data, request);
  }
  void OnChannelRequestReply(Channel ch, bool success) override {
    c_.OnUpstreamReply(ch, success);
  }
  void OnQueuedDataSent(Channel ch, size_t n) override {
    c_.OnUpstreamQueuedDataSent(ch, n);
  }

  GatewayConnection& c_;
  // Destroyed in reverse: handler, session, then the driver.
  std::unique_ptr<ssh::net::TransportDriver> driver;
  std::unique_ptr<ssh::session::ClientSession> session;
  std::unique_ptr<ssh::net::SessionMessageHandler> handler;
  absl::Status end_status;
  bool done = false;
};

GatewayConnection::GatewayConnection(
    Proxy& proxy, asio::ip::tcp::socket socket,
    std::shared_ptr<ssh::net::PreAuthSlot> slot)
    : proxy_(proxy),
      executor_(socket.get_executor()),
      slot_(std::move(slot)),
      socket_(std::move(socket)) {
  asio::error_code ec;
  auto ep = socket_->remote_endpoint(ec);
  if (!ec) peer_ = ep.address().to_string();
  session_id_ = proxy_.NewSessionId();
}

GatewayConnection::~GatewayConnection() {
  *alive_ = false;
  if (user_counted_) proxy_.ReleaseUser(user_);
}

void GatewayConnection::Log(const std::string& line) const {
  proxy_.Log(absl::StrCat("session=", session_id_, " ", line));
}

std::string GatewayConnection::Describe() const {
  return absl::StrCat("user=\"", Safe(user_), "\" login=", target_.login,
                      " host=", target_.host);
}

void GatewayConnection::WakeDown() {
  if (down_driver_ != nullptr && !down_ended_) down_driver_->Wake();
}

void GatewayConnection::WakeUp() {
  if (upstream_ != nullptr && upstream_->driver != nullptr && !upstream_->done)
    upstream_->driver->Wake();
}

void GatewayConnection::EndAt(absl::Time when, const std::string& reason) {
  // The certificate's expiry stays in force when it comes first.
  if (down_driver_ != nullptr && !down_ended_ && when < valid_before_)
    down_driver_->SetDeadline(when, reason);
}

asio::awaitable<void> GatewayConnection::Run() {
  auto self = shared_from_this();
  const ProxyOptions& po = proxy_.options();
  ssh::session::ServerSessionOptions o;
  o.transport.clock = po.clock;
  o.transport.host_keys = po.host_keys;
  if (slot_ != nullptr) o.transport.login_grace_time = slot_->deadline() - absl::Now();
  o.max_env_requests = po.limits.max_env_requests;
  o.max_env_request_bytes = po.limits.max_env_request_bytes;
  o.connection.max_channels = po.limits.max_channels_per_connection;
  o.auth.policy = this;
  o.auth.clock = po.clock;
  o.auth.trusted_user_cas = po.ca->user_ca_keys();
  o.auth.max_attempts = po.limits.max_auth_tries;
  if (!peer_.empty()) o.auth.peer_address = peer_;
  o.auth.principal_for_user = [this](std::string_view user) -> std::string {
    absl::StatusOr<Target> t = ParseTarget(user);
    if (!t.ok()) {
      target_error_ = std::string(t.status().message());
      return "";  // never matches
    }
    target_error_.reset();
    return t->login;
  };
  CaClient* ca = po.ca;
  o.auth.revocation_check = [ca](const ssh::cert::Certificate& c) {
    return ca->CheckNotRevoked(c.serial, c.KeyFingerprint());
  };
  o.auth.log = [this](const ssh::auth::AuthAttempt* a, bool accepted,
                      std::string_view reason) {
    if (accepted) return;
    Log(absl::StrCat("event=auth.refused peer=", peer_, " reason=\"",
                     Safe(reason), "\""));
    // Refusals the library made before asking us (certificate checks):
    // tell the user why, once per distinct reason.
    if (a == nullptr && down_ != nullptr && banners_sent_ < 3) {
      ++banners_sent_;
      (void)down_->SendAuthBanner(
          target_error_.has_value()
              ? absl::StrCat("sallyport: ", *target_error_,
                             "\r\nConnect as LOGIN+HOST (e.g. "
                             "root+web01).\r\n")
              : absl::StrCat("sallyport: certificate refused: ", Safe(reason),
                             "\r\nRun `sp login` for a fresh certificate; "
                             "connect as LOGIN+HOST (e.g. root+web01).\r\n"));
    }
  };
  if (o.auth.trusted_user_cas.empty()) {
    Log(absl::StrCat("event=conn.refused peer=", peer_,
                     " reason=\"no user CA keys from the CA yet\""));
    co_return;
  }
  absl::StatusOr<std::unique_ptr<ssh::session::ServerSession>> s =
      ssh::session::ServerSession::Create(std::move(o), *this);
  if (!s.ok()) {
    Log(absl::StrCat("event=conn.error reason=\"", Safe(s.status().message()),
                     "\""));
    co_return;
  }
  down_ = std::move(*s);
  down_driver_ = std::make_unique<ssh::net::TransportDriver>(
      std::move(*socket_), down_->ReleaseTransport());
  socket_.reset();
  down_handler_ =
      std::make_unique<ssh::net::SessionMessageHandler>(*down_, *down_driver_);
  if (slot_ != nullptr) slot_->Attach(down_driver_.get());
  proxy_.Register(this);
  Log(absl::StrCat("event=conn.open peer=", peer_));
  absl::Status why = co_await down_driver_->Run(*down_handler_);
  down_ended_ = true;
  if (slot_ != nullptr) slot_->Attach(nullptr);
  proxy_.Unregister(this);
  Log(absl::StrCat("event=conn.close ", Describe(), " reason=\"",
                   Safe(why.ToString()), "\""));
  // Take the upstream down with us.
  if (upstream_ != nullptr && upstream_->driver != nullptr && !upstream_->done) {
    upstream_->session->Disconnect("the user disconnected");
    upstream_->driver->Wake();
  }
  for (auto& [id, b] : bridges_) {
    if (b->tap != nullptr) b->tap->Close(Now());
    b->tap.reset();
  }
}

// ---------------------------------------------------------------- auth

ssh::auth::AuthDecision GatewayConnection::Decide(
    const ssh::auth::AuthAttempt& a) {
  using ssh::auth::AuthResult;
  absl::StatusOr<Target> t = ParseTarget(a.user);
  if (!t.ok()) {
    (void)down_->SendAuthBanner(absl::StrCat(
        "sallyport: ", t.status().message(),
        "\r\nConnect as LOGIN+HOST (e.g. root+web01).\r\n"));
    return {AuthResult::kReject, std::string(t.status().message())};
  }
  if (!a.certificate.has_value()) {
    if (!plain_key_banner_sent_) {
      plain_key_banner_sent_ = true;
      (void)down_->SendAuthBanner(kCertificatesOnly);
    }
    return {AuthResult::kReject, "plain key (certificates only)"};
  }
  if (!a.signed_request) return {AuthResult::kAccept, "certificate query"};
  // The signed request: ask the CA (RBAC + the user's certificate again)
  // for the session certificate of the ephemeral key.
  target_ = *t;
  user_ = a.certificate->key_id;
  user_certificate_line_ = a.certificate->ToLine();
  permissions_ = a.permissions;
  valid_before_ = a.certificate->valid_before >= uint64_t{1} << 62
                      ? absl::InfiniteFuture()
                      : absl::FromUnixSeconds(
                            static_cast<int64_t>(a.certificate->valid_before));
  absl::StatusOr<ssh::crypto::PrivateKey> key =
      ssh::crypto::PrivateKey::GenerateEd25519();
  if (!key.ok()) return {AuthResult::kReject, "cannot generate a key"};
  ephemeral_ = std::move(*key);
  gw::IssueSessionCertificateRequest request;
  request.set_user_certificate(user_certificate_line_);
  request.set_session_id(session_id_);
  request.set_login(target_.login);
  request.set_host(target_.host);
  request.set_ephemeral_public_key(
      ephemeral_->public_key().ToAuthorizedKeysLine());
  std::weak_ptr<GatewayConnection> weak = weak_from_this();
  proxy_.options().ca->IssueSessionCertificate(
      std::move(request), executor_,
      [weak](absl::StatusOr<gw::IssueSessionCertificateResponse> r) {
        if (auto self = weak.lock()) self->AuthDecided(std::move(r));
      });
  return {AuthResult::kPending, "asking the CA"};
}

void GatewayConnection::RefuseAuth(const std::string& log_reason,
                                   const std::string& banner) {
  if (down_ == nullptr || down_ended_ || down_->pending_auth() == nullptr)
    return;
  (void)down_->SendAuthBanner(banner);
  (void)down_->CompleteAuth({ssh::auth::AuthResult::kReject, log_reason});
}

void GatewayConnection::AuthDecided(
    absl::StatusOr<gw::IssueSessionCertificateResponse> r) {
  if (down_ == nullptr || down_ended_ || down_->pending_auth() == nullptr)
    return;
  if (!r.ok()) {
    Log(absl::StrCat("event=auth.denied peer=", peer_, " ", Describe(),
                     " reason=\"", Safe(r.status().ToString()), "\""));
    RefuseAuth(std::string(r.status().message()),
               RefusalBanner(r.status(), target_));
    return;
  }
  if (!proxy_.AcquireUser(user_)) {
    Log(absl::StrCat("event=auth.denied peer=", peer_, " ", Describe(),
                     " reason=max_sessions_per_user"));
    RefuseAuth("max_sessions_per_user",
               absl::StrCat("sallyport: you already have ",
                            proxy_.options().limits.max_sessions_per_user,
                            " sessions through this gateway.\r\n"));
    return;
  }
  user_counted_ = true;
  session_cert_ = std::move(*r);
  (void)down_->CompleteAuth({ssh::auth::AuthResult::kAccept, "CA agreed"});
}

void GatewayConnection::OnAuthenticated(ssh::session::Session&) {
  if (slot_ != nullptr) slot_->Authenticated();
  Log(absl::StrCat("event=auth.ok peer=", peer_, " ", Describe(),
                   " record=", session_cert_->record()));
  if (valid_before_ != absl::InfiniteFuture()) {
    down_driver_->SetDeadline(
        valid_before_,
        "your Sallyport certificate expired (valid_before reached); run "
        "`sp login` and connect again");
  }
  StartUpstream();
}

void GatewayConnection::OnEnd(ssh::session::Session&, const absl::Status&) {}

// ------------------------------------------------------------ upstream

void GatewayConnection::StartUpstream() {
  upstream_ = std::make_unique<Upstream>(*this);
  auto self = shared_from_this();
  ssh::net::Spawn(
      executor_,
      [self]() -> asio::awaitable<void> { co_await self->RunUpstream(); },
      "gateway upstream");
}

asio::awaitable<void> GatewayConnection::RunUpstream() {
  const gw::HostRecord& host = session_cert_->host();
  const absl::Time started = absl::Now();
  const std::string where =
      absl::StrCat(Safe(host.name()), " (", Safe(host.address()), ":",
                   host.port(), ")");
  // Host key trust from the inventory: never trust on first use.
  std::shared_ptr<ssh::transport::HostKeyPolicy> policy;
  if (host.trust() == "host-ca") {
    ssh::cert::HostCertificatePolicy::Options p;
    p.trusted_cas = proxy_.options().ca->host_ca_keys();
    p.host_name = host.name();
    p.clock = proxy_.options().clock;
    auto made = ssh::cert::HostCertificatePolicy::Create(std::move(p));
    if (made.ok()) policy = std::move(*made);
  } else if (host.trust() == "pinned-key" && !host.host_key().empty()) {
    auto key = ssh::crypto::PublicKey::FromAuthorizedKeysLine(host.host_key());
    if (key.ok()) {
      policy = std::make_shared<ssh::transport::PinnedHostKeyPolicy>(
          std::vector<ssh::crypto::PublicKey>{*key});
    }
  }
  if (policy == nullptr) {
    UpstreamFailed(absl::StrCat("host ", where,
                                " has no usable host key trust (",
                                Safe(host.trust()),
                                ") in the inventory; ask an administrator"));
    co_return;
  }
  auto cert = ssh::cert::Certificate::FromLine(
      session_cert_->certificate().ssh_certificate());
  if (!cert.ok()) {
    UpstreamFailed("the CA sent an unreadable session certificate");
    co_return;
  }
  absl::StatusOr<asio::ip::tcp::socket> sock = co_await ssh::net::Dial(
      executor_, host.address(), static_cast<uint16_t>(host.port()),
      proxy_.options().limits.upstream_connect_timeout);
  if (!sock.ok()) {
    UpstreamFailed(absl::StrCat("cannot reach ", where, ": ",
                                Safe(sock.status().message())));
    co_return;
  }
  if (down_ended_) co_return;
  ssh::session::ClientSessionOptions o;
  o.transport.clock = proxy_.options().clock;
  o.transport.host_key_policy = policy;
  o.transport.login_grace_time = proxy_.options().limits.upstream_connect_timeout;
  o.auth.user = target_.login;
  o.auth.identities.push_back(
      ssh::auth::ClientIdentity{*ephemeral_, cert->blob});
  auto session = ssh::session::ClientSession::Create(std::move(o), *upstream_);
  if (!session.ok()) {
    UpstreamFailed(Safe(session.status().message()));
    co_return;
  }
  upstream_->session = std::move(*session);
  upstream_->driver = std::make_unique<ssh::net::TransportDriver>(
      std::move(*sock), upstream_->session->ReleaseTransport());
  upstream_->handler = std::make_unique<ssh::net::SessionMessageHandler>(
      *upstream_->session, *upstream_->driver);
  Log(absl::StrCat("event=upstream.connect ", Describe(), " address=",
                   Safe(host.address()), ":", host.port(), " tcp_ms=",
                   absl::ToInt64Milliseconds(absl::Now() - started)));
  absl::Status why = co_await upstream_->driver->Run(*upstream_->handler);
  upstream_->done = true;
  if (!upstream_ready_) {
    UpstreamFailed(absl::StrCat("connection to ", where, " failed: ",
                                Safe(why.message())));
    co_return;
  }
  Log(absl::StrCat("event=upstream.close ", Describe(), " reason=\"",
                   Safe(why.ToString()), "\""));
  if (!down_ended_) {
    down_->Disconnect(absl::StrCat("the connection to ", Safe(host.name()),
                                   " ended"));
    WakeDown();
  }
}

void GatewayConnection::UpstreamReady() {
  upstream_ready_ = true;
  Log(absl::StrCat("event=upstream.ready ", Describe()));
  std::vector<uint64_t> waiting = std::move(waiting_for_upstream_);
  for (uint64_t serial : waiting) {
    for (auto& [id, b] : bridges_) {
      if (b->serial == serial) OpenUpstreamChannel(*b);
    }
  }
  WakeUp();
}

void GatewayConnection::UpstreamFailed(const std::string& message) {
  upstream_error_ = message;
  Log(absl::StrCat("event=upstream.failed ", Describe(), " reason=\"",
                   message, "\""));
  if (down_ended_) return;
  std::vector<uint64_t> waiting = std::move(waiting_for_upstream_);
  for (uint64_t serial : waiting) {
    for (auto& [id, b] : bridges_) {
      if (b->serial == serial) {
        RejectDown(*b, OpenFailure::kConnectFailed, message);
        break;
      }
    }
  }
  down_->Disconnect(absl::StrCat("sallyport: ", message));
  WakeDown();
}

// ------------------------------------------------------------ channels

GatewayConnection::Bridge* GatewayConnection::FindDown(uint32_t id) {
  auto it = bridges_.find(id);
  return it == bridges_.end() ? nullptr : it->second.get();
}

GatewayConnection::Bridge* GatewayConnection::FindUp(uint32_t id) {
  auto it = by_up_.find(id);
  return it == by_up_.end() ? nullptr : it->second;
}

void GatewayConnection::OnChannelOpen(Channel ch, std::string_view type,
                                      Bytes extra) {
  const std::string kind(type);
  auto refuse = [&](OpenFailure reason, const std::string& why) {
    Log(absl::StrCat("event=channel.refused ", Describe(), " type=\"",
                     Safe(kind), "\" reason=\"", why, "\""));
    (void)ch.Reject(reason, why);
  };
  if (upstream_error_.has_value()) {
    refuse(OpenFailure::kConnectFailed, *upstream_error_);
    return;
  }
  if (bridges_.size() >= proxy_.options().limits.max_channels_per_connection) {
    refuse(OpenFailure::kResourceShortage,
           "too many channels on this connection");
    return;
  }
  if (kind != "session" && kind != "direct-tcpip") {
    refuse(OpenFailure::kAdministrativelyProhibited,
           absl::StrCat("channel type \"", Safe(kind),
                        "\" is not allowed through Sallyport"));
    return;
  }
  auto b = std::make_unique<Bridge>();
  b->serial = next_serial_++;
  b->down = ch;
  b->type = kind;
  b->open_extra.assign(extra.begin(), extra.end());
  b->info.session_id = session_id_;
  b->info.user = user_;
  b->info.login = target_.login;
  b->info.host = target_.host;
  b->info.channel_id = ch.id();
  b->info.type = kind;
  Bridge& bridge = *b;
  if (kind == "direct-tcpip") {
    auto dest = ssh::connection::DirectTcpip::Parse(extra);
    if (!dest.ok()) {
      refuse(OpenFailure::kConnectFailed, "malformed direct-tcpip request");
      return;
    }
    bridge.info.destination = absl::StrCat(dest->host, ":", dest->port);
    if (!permissions_.has_value() || !permissions_->permit_port_forwarding) {
      refuse(OpenFailure::kAdministrativelyProhibited,
             "port forwarding is not permitted by your certificate");
      return;
    }
    bridges_[ch.id()] = std::move(b);
    Authorize(bridge, "port-forward", bridge.info.destination,
              [this](Bridge& br, const gw::AuthorizeChannelResponse& a) {
                if (!a.allowed()) {
                  RejectDown(br, OpenFailure::kAdministrativelyProhibited,
                             a.reason());
                  return;
                }
                AttachTapAndOpen(br);
              });
    return;
  }
  bridges_[ch.id()] = std::move(b);
  AttachTapAndOpen(bridge);
}

void GatewayConnection::AttachTapAndOpen(Bridge& b) {
  absl::StatusOr<std::unique_ptr<ChannelTap>> tap =
      proxy_.options().recorder->Attach(b.info);
  if (!tap.ok()) {
    RejectDown(b, OpenFailure::kResourceShortage,
               absl::StrCat("the session cannot be recorded: ",
                            Safe(tap.status().message())));
    return;
  }
  b.tap = std::move(*tap);
  if (upstream_ready_) {
    OpenUpstreamChannel(b);
  } else {
    waiting_for_upstream_.push_back(b.serial);
  }
}

void GatewayConnection::OpenUpstreamChannel(Bridge& b) {
  absl::StatusOr<Channel> up =
      upstream_->session->OpenChannel(b.type, b.open_extra);
  if (!up.ok()) {
    RejectDown(b, OpenFailure::kResourceShortage,
               absl::StrCat("cannot open a channel to ", target_.host));
    return;
  }
  b.up = *up;
  by_up_[up->id()] = &b;
  WakeUp();
}

void GatewayConnection::RejectDown(Bridge& b, OpenFailure reason,
                                   const std::string& description) {
  Log(absl::StrCat("event=channel.refused ", Describe(), " type=", b.type,
                   " destination=\"", Safe(b.info.destination),
                   "\" reason=\"", Safe(description), "\""));
  (void)b.down.Reject(reason, description);
  WakeDown();
  if (b.tap != nullptr) b.tap->Close(Now());
  if (b.up.valid() && b.up.session() != nullptr) by_up_.erase(b.up.id());
  bridges_.erase(b.down.id());  // b is gone
}

void GatewayConnection::OnUpstreamOpenResult(
    Channel ch, const ssh::connection::OpenResult& r) {
  Bridge* b = FindUp(ch.id());
  if (b == nullptr) return;
  if (!r.ok()) {
    by_up_.erase(ch.id());
    b->up = Channel();
    RejectDown(*b, r.reason,
               r.description.empty() ? std::string("refused by the host")
                                     : r.description);
    return;
  }
  b->up_open = true;
  if (down_ended_) return;
  (void)b->down.Accept();
  Log(absl::StrCat("event=channel.open ", Describe(), " channel=",
                   b->down.id(), " type=", b->type, " destination=\"",
                   Safe(b->info.destination), "\""));
  WakeDown();
}

void GatewayConnection::Authorize(
    Bridge& b, const std::string& kind, const std::string& destination,
    std::function<void(Bridge&, const gw::AuthorizeChannelResponse&)> done) {
  const std::string key = absl::StrCat(kind, "\n", destination);
  auto cached = authz_cache_.find(key);
  if (cached != authz_cache_.end()) {
    done(b, cached->second);
    return;
  }
  gw::AuthorizeChannelRequest request;
  request.set_user_certificate(user_certificate_line_);
  request.set_login(target_.login);
  request.set_host(target_.host);
  request.set_kind(kind);
  request.set_destination(destination);
  std::weak_ptr<GatewayConnection> weak = weak_from_this();
  const uint32_t id = b.down.id();
  const uint64_t serial = b.serial;
  proxy_.options().ca->AuthorizeChannel(
      std::move(request), executor_,
      [weak, id, serial, key, kind,
       done = std::move(done)](absl::StatusOr<gw::AuthorizeChannelResponse> r) {
        auto self = weak.lock();
        if (self == nullptr || self->down_ended_) return;
        Bridge* br = self->FindDown(id);
        if (br == nullptr || br->serial != serial) return;
        gw::AuthorizeChannelResponse answer;
        if (!r.ok()) {
          // Fail closed; not cached, so a later try may succeed.
          answer.set_allowed(false);
          answer.set_reason(
              absl::StrCat("the Sallyport CA could not decide (",
                           Safe(r.status().message()), ")"));
        } else {
          answer = std::move(*r);
          if (!answer.allowed() && !answer.role().empty()) {
            answer.set_reason(absl::StrCat("denied by role '",
                                           Safe(answer.role()), "': ",
                                           Safe(answer.reason())));
          }
          self->authz_cache_[key] = answer;
        }
        self->Log(absl::StrCat("event=authz ", self->Describe(), " kind=",
                               kind, " allowed=", answer.allowed(),
                               " reason=\"", Safe(answer.reason()), "\""));
        done(*br, answer);
      });
}

void GatewayConnection::OnChannelRequest(Channel ch, std::string_view type,
                                         bool want_reply, Bytes data,
                                         ssh::connection::RequestId request) {
  Bridge* b = FindDown(ch.id());
  if (b == nullptr || !b->up_open) {
    if (want_reply) (void)ch.Reply(request, false);
    return;
  }
  if (b->requests.size() >= proxy_.options().limits.max_queued_requests) {
    CloseBridge(*b, "too many queued channel requests");
    return;
  }
  PendingRequest r;
  r.type = std::string(type);
  r.want_reply = want_reply;
  r.data.assign(data.begin(), data.end());
  r.id = request;
  b->requests.push_back(std::move(r));
  ProcessRequests(*b);
}

void GatewayConnection::ProcessRequests(Bridge& b) {
  ProcessRequestQueue(b);
  if (FindDown(b.down.id()) == &b) FlushHeld(b);
}

void GatewayConnection::ProcessRequestQueue(Bridge& b) {
  while (!b.requests.empty() && !b.busy) {
    PendingRequest r = std::move(b.requests.front());
    b.requests.pop_front();
    const std::string& t = r.type;
    if (b.type != "session") {
      Refuse(b, r, "requests on forwarded ports", false);
    } else if (t == "pty-req") {
      if (!permissions_->permit_pty) {
        Refuse(b, r, "your certificate does not permit a pty", true);
        continue;
      }
      auto pty = ssh::connection::PtyRequest::Parse(r.data);
      if (!pty.ok()) {
        Refuse(b, r, "malformed pty-req", false);
        continue;
      }
      if (!b.tap->WindowChange(Now(), pty->columns, pty->rows).ok()) {
        CloseBridge(b, "recording failed");
        return;
      }
      Forward(b, std::move(r));
    } else if (t == "env") {
      auto env = ssh::connection::EnvRequest::Parse(r.data);
      if (!env.ok() || !EnvAllowed(env->name)) {
        Refuse(b, r, "only LANG and LC_* are passed", false);
        continue;
      }
      Forward(b, std::move(r));
    } else if (t == "window-change") {
      auto wc = ssh::connection::WindowChange::Parse(r.data);
      if (!wc.ok()) {
        Refuse(b, r, "malformed window-change", false);
        continue;
      }
      if (!b.tap->WindowChange(Now(), wc->columns, wc->rows).ok()) {
        CloseBridge(b, "recording failed");
        return;
      }
      Forward(b, std::move(r));
    } else if (t == "signal" || t == "break") {
      Forward(b, std::move(r));
    } else if (t == "shell" || t == "exec" || t == "subsystem") {
      if (b.started) {
        Refuse(b, r, "a command already runs on this channel", false);
        continue;
      }
      std::string kind = t;
      if (t == "subsystem") {
        auto name = ssh::connection::ParseStringRequest(r.data, 256);
        if (!name.ok() || *name != "sftp") {
          Refuse(b, r,
                 absl::StrCat("subsystem \"",
                              Safe(name.ok() ? *name : std::string("?")),
                              "\" is not allowed (only sftp)"),
                 true);
          continue;
        }
        kind = "sftp";
      }
      b.busy = true;
      auto shared = std::make_shared<PendingRequest>(std::move(r));
      Authorize(b, kind, "",
                [this, shared, kind](Bridge& br,
                                     const gw::AuthorizeChannelResponse& a) {
                  br.busy = false;
                  if (!a.allowed()) {
                    Refuse(br, *shared, a.reason(), true);
                  } else {
                    StartCommand(br, std::move(*shared), kind);
                  }
                  if (FindDown(br.down.id()) == &br) ProcessRequests(br);
                });
      return;
    } else {
      // x11-req, auth-agent-req@openssh.com, anything else.
      Refuse(b, r, absl::StrCat("\"", Safe(t), "\" is not allowed"), false);
    }
  }
}

void GatewayConnection::StartCommand(Bridge& b, PendingRequest r,
                                     const std::string& kind) {
  std::string summary;
  if (permissions_->force_command.has_value()) {
    // force-command replaces shell, exec and subsystem.
    r.type = "exec";
    r.data = ssh::connection::SerializeStringRequest(
        *permissions_->force_command);
    summary = *permissions_->force_command;
  } else if (r.type != "shell") {
    auto s = ssh::connection::ParseStringRequest(r.data);
    if (s.ok()) summary = *s;
  }
  b.started = true;
  Log(absl::StrCat("event=channel.start ", Describe(), " channel=",
                   b.down.id(), " kind=", kind, " command=\"", Safe(summary),
                   "\""));
  if (!b.tap->Request(Now(), Direction::kInput, r.type, summary).ok()) {
    CloseBridge(b, "recording failed");
    return;
  }
  Forward(b, std::move(r));
}

void GatewayConnection::Forward(Bridge& b, PendingRequest r) {
  if (!b.up.valid()) {
    Refuse(b, r, "the host channel is gone", false);
    return;
  }
  absl::Status st = b.up.SendRequest(r.type, r.want_reply, r.data);
  if (!st.ok()) {
    Refuse(b, r, "cannot forward", false);
    return;
  }
  if (r.want_reply) b.forwarded.push_back(r.id);
  WakeUp();
}

void GatewayConnection::Refuse(Bridge& b, const PendingRequest& r,
                               const std::string& why, bool tell_user) {
  Log(absl::StrCat("event=request.refused ", Describe(), " channel=",
                   b.down.id(), " type=\"", Safe(r.type), "\" reason=\"",
                   Safe(why), "\""));
  if (tell_user) {
    const std::string line = absl::StrCat("sallyport: ", why, "\r\n");
    (void)b.down.Queue(ssh::wire::AsBytes(line), 1);
  }
  if (r.want_reply) (void)b.down.Reply(r.id, false);
  WakeDown();
}

void GatewayConnection::CloseBridge(Bridge& b, const std::string& why) {
  Log(absl::StrCat("event=channel.abort ", Describe(), " channel=",
                   b.down.id(), " reason=\"", Safe(why), "\""));
  const std::string line = absl::StrCat("sallyport: ", why, "\r\n");
  (void)b.down.Queue(ssh::wire::AsBytes(line), 1);
  (void)b.down.Close();
  if (b.up.valid()) (void)b.up.Close();
  WakeDown();
  WakeUp();
}

void GatewayConnection::MaybeForget(Bridge& b) {
  if (!b.down_closed || (b.up_open && !b.up_closed)) return;
  Log(absl::StrCat("event=channel.close ", Describe(), " channel=",
                   b.down.id()));
  if (b.tap != nullptr) b.tap->Close(Now());
  if (b.up_open) by_up_.erase(b.up.id());
  bridges_.erase(b.down.id());
}

// ------------------------------------------------------------ data

void GatewayConnection::OnData(Channel ch, uint32_t stream, Bytes data) {
  Bridge* b = FindDown(ch.id());
  if (b == nullptr || !b->up.valid() || b->up_closed) {
    ch.Consume(data.size());
    return;
  }
  if (b->busy || !b->requests.empty() || !b->held.empty()) {
    b->held.emplace_back(stream,
                         std::vector<uint8_t>(data.begin(), data.end()));
    return;
  }
  ForwardInput(*b, stream, data);
}

void GatewayConnection::ForwardInput(Bridge& b, uint32_t stream, Bytes data) {
  Channel ch = b.down;
  if (!b.tap->Data(Now(), Direction::kInput, stream, data).ok()) {
    ch.Consume(data.size());
    CloseBridge(b, "recording failed");
    return;
  }
  const size_t before = b.up.QueuedBytes();
  absl::StatusOr<size_t> taken = b.up.Queue(data, stream);
  if (!taken.ok() || *taken < data.size()) {
    ch.Consume(data.size());
    CloseBridge(b, "the host side is not keeping up");
    return;
  }
  // What went out at once is done with; the rest when it leaves the queue.
  ch.Consume(*taken - (b.up.QueuedBytes() - before));
  WakeUp();
  WakeDown();
}

void GatewayConnection::FlushHeld(Bridge& b) {
  while (!b.held.empty() && !b.busy && b.requests.empty()) {
    std::pair<uint32_t, std::vector<uint8_t>> piece =
        std::move(b.held.front());
    b.held.pop_front();
    if (!b.up.valid() || b.up_closed) {
      b.down.Consume(piece.second.size());
      continue;
    }
    ForwardInput(b, piece.first, piece.second);
  }
  if (b.held.empty() && b.eof_held && b.up.valid()) {
    b.eof_held = false;
    (void)b.up.SendEof();
    WakeUp();
  }
}

void GatewayConnection::OnQueuedDataSent(Channel ch, size_t n) {
  // Downstream queue drained: the host may send that much more.
  Bridge* b = FindDown(ch.id());
  if (b == nullptr || !b->up.valid()) return;
  b->up.Consume(n);
  WakeUp();
}

void GatewayConnection::OnUpstreamData(Channel ch, uint32_t stream,
                                       Bytes data) {
  Bridge* b = FindUp(ch.id());
  if (b == nullptr || down_ended_ || b->down_closed) {
    ch.Consume(data.size());
    return;
  }
  if (!b->tap->Data(Now(), Direction::kOutput, stream, data).ok()) {
    ch.Consume(data.size());
    CloseBridge(*b, "recording failed");
    return;
  }
  const size_t before = b->down.QueuedBytes();
  absl::StatusOr<size_t> taken = b->down.Queue(data, stream);
  if (!taken.ok() || *taken < data.size()) {
    ch.Consume(data.size());
    CloseBridge(*b, "the user side is not keeping up");
    return;
  }
  ch.Consume(*taken - (b->down.QueuedBytes() - before));
  WakeDown();
  WakeUp();
}

void GatewayConnection::OnUpstreamQueuedDataSent(Channel ch, size_t n) {
  Bridge* b = FindUp(ch.id());
  if (b == nullptr || down_ended_) return;
  b->down.Consume(n);
  WakeDown();
}

void GatewayConnection::OnEof(Channel ch) {
  Bridge* b = FindDown(ch.id());
  if (b == nullptr || !b->up.valid()) return;
  if (b->busy || !b->requests.empty() || !b->held.empty()) {
    b->eof_held = true;
    return;
  }
  (void)b->up.SendEof();
  WakeUp();
}

void GatewayConnection::OnUpstreamEof(Channel ch) {
  Bridge* b = FindUp(ch.id());
  if (b == nullptr || down_ended_) return;
  (void)b->down.SendEof();
  WakeDown();
}

void GatewayConnection::OnClose(Channel ch) {
  Bridge* b = FindDown(ch.id());
  if (b == nullptr) return;
  b->down_closed = true;
  if (b->up.valid() && !b->up_closed) {
    (void)b->up.Close();
    WakeUp();
  }
  MaybeForget(*b);
}

void GatewayConnection::OnUpstreamClose(Channel ch) {
  Bridge* b = FindUp(ch.id());
  if (b == nullptr) return;
  b->up_closed = true;
  if (!down_ended_ && !b->down_closed) {
    (void)b->down.Close();
    WakeDown();
  }
  MaybeForget(*b);
}

void GatewayConnection::OnUpstreamRequest(Channel ch, std::string_view type,
                                          bool want_reply, Bytes data,
                                          ssh::connection::RequestId request) {
  Bridge* b = FindUp(ch.id());
  const bool passes =
      type == "exit-status" || type == "exit-signal" || type == "eow@openssh.com";
  if (b == nullptr || down_ended_ || !passes) {
    if (want_reply) (void)ch.Reply(request, false);
    WakeUp();
    return;
  }
  std::string summary;
  if (type == "exit-status") {
    auto code = ssh::connection::ParseExitStatus(data);
    if (code.ok()) summary = absl::StrCat(*code);
  } else if (type == "exit-signal") {
    auto sig = ssh::connection::ExitSignal::Parse(data);
    if (sig.ok()) summary = sig->signal;
  }
  if (!b->tap->Request(Now(), Direction::kOutput, type, summary).ok()) {
    CloseBridge(*b, "recording failed");
    return;
  }
  (void)b->down.SendRequest(type, false, data);
  if (want_reply) (void)ch.Reply(request, true);
  WakeDown();
  WakeUp();
}

void GatewayConnection::OnUpstreamReply(Channel ch, bool success) {
  Bridge* b = FindUp(ch.id());
  if (b == nullptr || b->forwarded.empty() || down_ended_) return;
  const ssh::connection::RequestId id = b->forwarded.front();
  b->forwarded.pop_front();
  (void)b->down.Reply(id, success);
  WakeDown();
}

std::optional<bool> GatewayConnection::OnGlobalRequest(
    std::string_view name, bool, Bytes, ssh::connection::RequestId) {
  if (name != "no-more-sessions@openssh.com") {
    Log(absl::StrCat("event=request.refused ", Describe(), " global=\"",
                     Safe(name), "\""));
  }
  return false;
}

}  // namespace sallyport::gateway
