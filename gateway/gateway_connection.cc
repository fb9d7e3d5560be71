#include "gateway/gateway_connection.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/safe_text.h"
#include "gateway/ca_client.h"
#include "gateway/connection_internal.h"
#include "ssh/connection/messages.h"
#include "ssh/wire/reader.h"

// GCC 12 at -O1 (the ASan config) reports a false
// -Wmismatched-new-delete for the frames of Asio coroutines.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace sallyport::gateway {

namespace gw = gateway::v1;
using connection_internal::CaReason;
using connection_internal::IsJumpUser;
using connection_internal::kBridgeQueueBytes;
using connection_internal::Safe;
using ssh::session::Channel;
using ssh::wire::Bytes;

namespace {

// What a user is told when the library refused their certificate: the
// reason whole (it was cut at 128 bytes, mid-timestamp) and the one hint
// that applies to it.
std::string CertificateRefusalBanner(std::string_view reason) {
  const std::string_view code = AuthFailureCode(reason);
  std::string hint;
  if (code == "expired") {
    hint = "Your certificate has expired: run `sp login` for a new one.";
  } else if (code == "not-yet-valid") {
    hint = "Your certificate is not valid yet: check this machine's clock.";
  } else if (code == "revoked") {
    hint =
        "Your certificate was revoked: run `sp login`; if that is refused, "
        "ask an administrator.";
  } else if (code == "principal") {
    hint =
        "That login is not one of your certificate's logins (listed above; "
        "`sp status` shows them too): connect as LOGIN+HOST with one of "
        "them, or ask an administrator for a role with that login.";
  } else {
    hint =
        "Run `sp login` for a fresh certificate; connect as LOGIN+HOST "
        "(e.g. root+web01).";
  }
  return absl::StrCat("sallyport: certificate refused: ",
                      base::SafeText(reason, 512), "\r\n", hint, "\r\n");
}

// "OpenSSH" first (that is what OpenSSH's compatibility table keys on for
// eow@openssh.com), then who we are.
constexpr char kGatewaySoftwareVersion[] = "OpenSSH_9.0 Sallyport_0.1";

// Sent at the first plain key, which may come before the certificate that
// then logs in (an agent's keys are offered first): worded so that it does
// not contradict a login that succeeds.
constexpr char kCertificatesOnly[] =
    "Sallyport accepts OpenSSH certificates only, not plain keys: if ssh has "
    "no Sallyport certificate to offer, log in with `sp login` first.\r\n";

// What the user sees when the gateway cannot tell whether a certificate is
// revoked (CaClient::kRevocationListStale).
constexpr char kRevocationsUnknown[] =
    "sallyport: the gateway cannot check certificate revocations right now "
    "(it has not heard from the Sallyport CA for longer than "
    "revocation_grace), so no session can be authorized; try again "
    "later.\r\n";

// What the user sees when the CA refuses the session.
std::string RefusalBanner(const absl::Status& st, const Target& t) {
  switch (st.code()) {
    case absl::StatusCode::kNotFound:
      return absl::StrCat("sallyport: host \"", Safe(t.host),
                          "\" is not in the inventory.\r\n");
    case absl::StatusCode::kPermissionDenied:
      return absl::StrCat(
          "sallyport: access to ", Safe(t.login), "@", Safe(t.host),
          " denied: ", CaReason(std::string(st.message())), "\r\n");
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return "sallyport: the Sallyport CA is unreachable, so no session can "
             "be authorized right now; try again later.\r\n";
    default:
      return absl::StrCat("sallyport: the session was refused: ",
                          CaReason(std::string(st.message())), "\r\n");
  }
}

}  // namespace

GatewayConnection::GatewayConnection(
    Proxy& proxy, asio::ip::tcp::socket socket,
    std::shared_ptr<ssh::net::PreAuthSlot> slot)
    : proxy_(proxy),
      executor_(socket.get_executor()),
      slot_(std::move(slot)),
      socket_(std::move(socket)),
      limits_(proxy.limits()) {
  asio::error_code ec;
  auto ep = socket_->remote_endpoint(ec);
  if (!ec) peer_ = ep.address().to_string();
  session_id_ = proxy_.NewSessionId();
  log_conn_.id = proxy_.NewConnectionId();
  log_conn_.session = session_id_;
  if (!ec) log_conn_.peer = absl::StrCat(peer_, ":", ep.port());
  window_budget_ = std::make_shared<ssh::connection::WindowBudget>(
      limits_.max_buffered_bytes_per_connection);
}

GatewayConnection::GatewayConnection(
    Proxy& proxy, std::unique_ptr<ssh::net::ByteStream> stream,
    JumpOrigin origin)
    : proxy_(proxy),
      executor_(stream->executor()),
      peer_(origin.peer),
      stream_(std::move(stream)),
      origin_(std::move(origin)),
      limits_(proxy.limits()) {
  session_id_ = proxy_.NewSessionId();
  log_conn_.id = proxy_.NewConnectionId();
  log_conn_.session = session_id_;
  log_conn_.peer = absl::StrCat(peer_, " via ", origin_->outer_session);
  window_budget_ = origin_->window_budget != nullptr
                       ? origin_->window_budget
                       : std::make_shared<ssh::connection::WindowBudget>(
                             limits_.max_buffered_bytes_per_connection);
}

GatewayConnection::~GatewayConnection() {
  *alive_ = false;
  // Run() unregisters when it ends; a coroutine destroyed mid-run (the
  // io_context going away) or unwound by an exception never gets there,
  // and the proxy's lists (EndAll, EndRevoked's index) must not keep a
  // pointer to this. A no-op when Run() did unregister.
  proxy_.Unregister(this);
  // Recorded jumps this connection did not end (EndJumpPorts): the
  // io_context shutting down destroys it mid-run. Their inner connections
  // may be destroyed after it and must not reach into its session, which
  // goes with it (UBSan: ChannelPort::WakeSession on a destroyed Session,
  // gateway_proxyjump_load_e2e_test at the gateway's exit).
  for (auto& [id, jump] : jump_ports_) jump.port->Detach();
  // The recording: channels still open close now, then the session ends.
  for (auto& [id, b] : bridges_) {
    if (b->tap != nullptr) b->tap->Close(Monotonic());
    b->tap.reset();
  }
  if (proxy_.options().recorder != nullptr) {
    proxy_.options().recorder->EndSession(session_id_, ending_);
  }
  if (user_counted_) proxy_.ReleaseUser(user_);
  if (uses_jump_count_) *origin_->jump_count_used = false;
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

void GatewayConnection::EndAt(absl::Time when, const std::string& reason,
                              std::string_view outcome) {
  // The certificate's expiry stays in force when it comes first
  // (ArmDeadline keeps the earliest end).
  ArmDeadline(when, reason, outcome);
}

void GatewayConnection::AnnounceEnd(absl::Time when,
                                    const std::string& reason) {
  const absl::Time now = Now();
  if (down_ended_ || when <= now || when >= valid_before_) return;
  Notify(absl::StrCat(
      "\r\nsallyport: ", reason, ": this connection will be closed at ",
      absl::FormatTime("%H:%M:%S UTC", when, absl::UTCTimeZone()), " (in ",
      absl::ToInt64Seconds(absl::Ceil(when - now, absl::Seconds(1))),
      " s); connect again then to carry on.\r\n"));
}

asio::awaitable<void> GatewayConnection::Run() {
  auto self = shared_from_this();
  const ProxyOptions& po = proxy_.options();
  ssh::session::ServerSessionOptions o;
  o.transport.clock = po.clock;
  if (origin_.has_value()) {
    // Inner (recorded ProxyJump): the host's name, certified by our CA.
    o.transport.host_keys = {origin_->host_key};
    o.transport.login_grace_time = limits_.login_grace;
  } else {
    o.transport.host_keys = proxy_.host_keys();
  }
  // OpenSSH sends eow@openssh.com (its output is closed, e.g. `ssh gw cmd |
  // head`) only to servers whose version starts with "OpenSSH".
  o.transport.software_version = kGatewaySoftwareVersion;
  if (slot_ != nullptr) o.transport.login_grace_time = slot_->remaining();
  o.open_timeout = limits_.channel_open_timeout;
  o.max_env_requests = limits_.max_env_requests;
  o.max_env_request_bytes = limits_.max_env_request_bytes;
  o.connection.max_channels = limits_.max_channels_per_connection;
  o.connection.max_queued_bytes = kBridgeQueueBytes;
  o.connection.window_budget = window_budget_.get();
  o.auth.policy = this;
  o.auth.clock = po.clock;
  o.auth.trusted_user_cas = po.ca->user_ca_keys();
  o.auth.max_attempts = limits_.max_auth_tries;
  if (!peer_.empty()) o.auth.peer_address = peer_;
  o.auth.principal_for_user = [this](std::string_view user) -> std::string {
    if (origin_.has_value()) {
      // Inside a ProxyJump the user name is the login (root@web01).
      if (IsJumpUser(user)) {
        target_error_.reset();
        return std::string(user);
      }
      target_error_ = absl::StrCat(
          "through ProxyJump, log in as the login on ", Safe(origin_->host),
          " (e.g. root@", Safe(origin_->host), "), not \"", Safe(user), "\"");
      return "";
    }
    absl::StatusOr<Target> t = ParseTarget(user);
    if (!t.ok() && IsJumpUser(user)) {
      target_error_.reset();
      return std::string(user);  // a jump-only connection's login
    }
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
  // gwrest: a certificate of a CA key we do not hold yet (rotated in at
  // the CA since the last fetch): fetch the keys again (rate-limited in
  // CaClient) and handle the request again, off this thread's stack.
  o.auth.unknown_ca = [this, ca](const ssh::crypto::PublicKey&) {
    std::weak_ptr<GatewayConnection> weak = weak_from_this();
    ca->RefreshUserCaKeysSoon(executor_,
                              [weak](std::vector<ssh::crypto::PublicKey> keys) {
                                auto self = weak.lock();
                                if (self == nullptr || self->down_ == nullptr)
                                  return;
                                self->no_ca_keys_ = keys.empty();
                                (void)self->down_->RecheckAuth(std::move(keys));
                              });
    return true;
  };
  o.auth.log = [this](const ssh::auth::AuthAttempt* a, bool accepted,
                      std::string_view reason) {
    if (accepted) return;
    Log(absl::StrCat("event=auth.refused peer=", peer_, " reason=\"",
                     Safe(reason), "\""));
    // Our revocation list is stale (the CA has been away too long): the
    // certificate may be fine, and a new one would not help either.
    const bool revocations_unknown =
        reason.find(CaClient::kRevocationListStale) != std::string_view::npos;
    std::string code;
    if (revocations_unknown) {
      ca_refusal_code_.clear();  // this refusal is not the CA's
      code = "ca-unavailable";
    } else if (ca_refusal_code_.empty()) {
      code = AuthFailureCode(reason);
    } else {
      code = std::exchange(ca_refusal_code_, std::string());
    }
    // ssh offers the plain key after its certificate was refused: that is
    // its fallback, not a second failed login (each refused login was
    // counted twice, and the connection's reason became plain-key).
    if (code != kPlainKeyCode) {
      certificate_refused_ = true;
      ReportAuth(false, code);
    } else if (!certificate_refused_) {
      ReportAuth(false, code);
    }
    // Refusals the library made before asking us (certificate checks):
    // tell the user why, once per distinct reason.
    if (a == nullptr && down_ != nullptr && banners_sent_ < 3) {
      ++banners_sent_;
      SendRefusalBanner(
          no_ca_keys_
              ? RefusalBanner(absl::UnavailableError("no CA keys"), Target())
          : revocations_unknown ? std::string(kRevocationsUnknown)
          : target_error_.has_value()
              ? absl::StrCat("sallyport: ", *target_error_,
                             "\r\nConnect as LOGIN+HOST (e.g. "
                             "root+web01).\r\n")
              : CertificateRefusalBanner(reason));
    }
  };
  observer().ConnectionOpened(log_conn_);
  // gwrefuse: the CA has not been reached since the gateway started (no
  // user CA keys): every certificate is refused (nothing is trusted), and
  // the user is told the CA is unreachable instead of seeing the
  // connection drop.
  if (o.auth.trusted_user_cas.empty()) {
    no_ca_keys_ = true;
    Log(absl::StrCat("event=conn.refused peer=", peer_,
                     " reason=\"no user CA keys from the CA yet\""));
  }
  absl::StatusOr<std::unique_ptr<ssh::session::ServerSession>> s =
      ssh::session::ServerSession::Create(std::move(o), *this);
  if (!s.ok()) {
    Log(absl::StrCat("event=conn.error reason=\"", Safe(s.status().message()),
                     "\""));
    ReportClosed(s.status());
    co_return;
  }
  down_ = std::move(*s);
  if (stream_ != nullptr) {
    down_driver_ = std::make_unique<ssh::net::TransportDriver>(
        std::move(stream_), down_->ReleaseTransport());
  } else {
    down_driver_ = std::make_unique<ssh::net::TransportDriver>(
        std::move(*socket_), down_->ReleaseTransport());
    socket_.reset();
  }
  down_handler_ = std::make_unique<ssh::net::SessionMessageHandler>(
      *down_, *down_driver_, [this] { OnDownProgress(); });
  if (slot_ != nullptr) slot_->Attach(down_driver_.get());
  proxy_.Register(this);
  Log(absl::StrCat("event=conn.open peer=", peer_));
  // Recorded ProxyJump: the connection to the host starts early, once the
  // user showed the jump's identity here (DecideInner).
  absl::Status why = co_await down_driver_->Run(*down_handler_);
  down_ended_ = true;
  if (slot_ != nullptr) slot_->Attach(nullptr);
  proxy_.Unregister(this);
  Log(absl::StrCat("event=conn.close ", Describe(), " reason=\"",
                   Safe(why.ToString()), "\""));
  // Take the upstream down with us.
  if (upstream_ != nullptr && upstream_->driver != nullptr &&
      !upstream_->done) {
    upstream_->session->Disconnect("the user disconnected");
    upstream_->driver->Wake();
  }
  for (auto& [id, b] : bridges_) {
    if (b->tap != nullptr) b->tap->Close(Monotonic());
    b->tap.reset();
    ReportChannelClosed(*b);
  }
  EndRelays();
  EndJumpPorts();
  if (idle_timer_ != nullptr) idle_timer_->cancel();
  ReportClosed(why);
}

// ---------------------------------------------------------------- auth

ssh::auth::AuthDecision GatewayConnection::Decide(
    const ssh::auth::AuthAttempt& a) {
  using ssh::auth::AuthResult;
  if (origin_.has_value()) return DecideInner(a);
  absl::StatusOr<Target> t = ParseTarget(a.user);
  if (!t.ok() && IsJumpUser(a.user)) return DecideJump(a);
  if (!t.ok()) {
    SendRefusalBanner(
        absl::StrCat("sallyport: ", t.status().message(),
                     "\r\nConnect as LOGIN+HOST (e.g. root+web01).\r\n"));
    return {AuthResult::kReject, std::string(t.status().message())};
  }
  return DecideRecorded(a, *t);
}

ssh::auth::AuthDecision GatewayConnection::DecideRecorded(
    const ssh::auth::AuthAttempt& a, const Target& t) {
  using ssh::auth::AuthResult;
  if (!a.certificate.has_value()) return RefusePlainKey();
  if (!a.signed_request) return {AuthResult::kAccept, "certificate query"};
  // The signed request: ask the CA (RBAC + the user's certificate again)
  // for the session certificate of the ephemeral key.
  target_ = t;
  if (absl::Status st = NoteIdentity(a); !st.ok()) {
    return RefuseRevokedMeanwhile(st);
  }
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
  // The proof that the user signed in here (a certificate alone is public):
  // what the user's client signed for this request and its signature, the
  // library having verified both. On an inner connection (recorded
  // ProxyJump) it is the inner login, whose user name is the login.
  request.set_userauth_signed_data(
      std::string(a.signed_data.begin(), a.signed_data.end()));
  request.set_userauth_signature(
      std::string(a.signature.begin(), a.signature.end()));
  std::weak_ptr<GatewayConnection> weak = weak_from_this();
  // Waited for until the login grace ends (not only rpc_deadline): a CA
  // slowed by load answers late rather than the login being refused while
  // the client may still log in. Inner connections (recorded ProxyJump)
  // have no slot: rpc_deadline.
  proxy_.options().ca->IssueSessionCertificate(
      std::move(request), executor_,
      [weak](absl::StatusOr<gw::IssueSessionCertificateResponse> r) {
        if (auto self = weak.lock()) self->AuthDecided(std::move(r));
      },
      slot_ != nullptr ? absl::Now() + slot_->remaining()
                       : absl::InfiniteFuture());
  return {AuthResult::kPending, "asking the CA"};
}

void GatewayConnection::RefuseAuth(const std::string& log_reason,
                                   const std::string& banner) {
  if (down_ == nullptr || down_ended_ || down_->pending_auth() == nullptr)
    return;
  SendRefusalBanner(banner);
  (void)down_->CompleteAuth({ssh::auth::AuthResult::kReject, log_reason});
}

void GatewayConnection::SendRefusalBanner(std::string_view text) {
  // ssh tries each of its keys in turn: the same refusal is shown once.
  if (text == last_banner_) return;
  last_banner_ = std::string(text);
  (void)down_->SendAuthBanner(text);
}

ssh::auth::AuthDecision GatewayConnection::RefuseRevokedMeanwhile(
    const absl::Status& st) {
  // The library's words for its own check, so that the log, the audit
  // code and the banner are those of a certificate it refused.
  if (absl::IsInternal(st)) {
    // Not about the certificate (Proxy::UseCertificate: the connection is
    // not registered, which its closing does first).
    return {ssh::auth::AuthResult::kReject,
            absl::StrCat("gateway error: ", st.message())};
  }
  const std::string reason =
      absl::StrCat("revoked or revocation status unknown: ", st.message());
  SendRefusalBanner(absl::IsUnavailable(st) ? kRevocationsUnknown
                                            : CertificateRefusalBanner(reason));
  return {ssh::auth::AuthResult::kReject, reason};
}

ssh::auth::AuthDecision GatewayConnection::RefusePlainKey() {
  if (last_banner_.empty()) SendRefusalBanner(kCertificatesOnly);
  return {ssh::auth::AuthResult::kReject, "plain key (certificates only)"};
}

void GatewayConnection::AuthDecided(
    absl::StatusOr<gw::IssueSessionCertificateResponse> r) {
  if (down_ == nullptr || down_ended_ || down_->pending_auth() == nullptr)
    return;
  if (!r.ok()) {
    ca_refusal_code_ = CaRefusalCode(r.status());
    Log(absl::StrCat("event=auth.denied peer=", peer_, " ", Describe(),
                     " reason=\"", Safe(r.status().ToString()), "\""));
    RefuseAuth(std::string(r.status().message()),
               RefusalBanner(r.status(), target_));
    return;
  }
  // An inner connection (recorded ProxyJump) is a session too: the first
  // of its jump connection's uses the jump connection's count, each other
  // one counts one more (one ControlMaster jump connection carried any
  // number of sessions past max_sessions_per_user).
  const bool share_jump_count =
      origin_.has_value() && !*origin_->jump_count_used;
  if (absl::Status held =
          share_jump_count ? absl::OkStatus() : proxy_.AcquireUser(user_);
      !held.ok()) {
    limit_refused_ = true;
    ca_refusal_code_ = "max-sessions-per-user";
    Log(absl::StrCat("event=auth.denied peer=", peer_, " ", Describe(),
                     " reason=max_sessions_per_user"));
    RefuseAuth("max_sessions_per_user",
               absl::StrCat("sallyport: ", held.message(), ".\r\n"));
    return;
  }
  user_counted_ = !share_jump_count;
  if (share_jump_count) {
    *origin_->jump_count_used = true;
    uses_jump_count_ = true;
  }
  session_cert_ = std::move(*r);
  // LOGIN+ADDRESS: the CA found the inventory host by an address; the
  // session goes by the host's name from here on (decisions, recording).
  if (!origin_.has_value() && !session_cert_->host().name().empty()) {
    target_.host = session_cert_->host().name();
  }
  // The session kinds the CA allowed with the certificate are this
  // session's decisions for them (AuthorizeFor looks there first): their
  // channels need no AuthorizeChannel call.
  for (const gw::AuthorizeChannelResponse& d :
       session_cert_->session_decisions()) {
    if (!d.allowed() ||
        (d.kind() != "shell" && d.kind() != "exec" && d.kind() != "sftp")) {
      continue;
    }
    session_decisions_[AuthzKey(d.kind(), target_.host, "", 0)] = d;
  }
  record_best_effort_ = session_cert_->record_mode() == "best_effort";
  record_never_ = session_cert_->record() == "never";
  if (session_cert_->has_record_input()) {
    record_input_ = session_cert_->record_input();
  }
  (void)down_->CompleteAuth({ssh::auth::AuthResult::kAccept, "CA agreed"});
}

void GatewayConnection::OnAuthenticated(ssh::session::Session&) {
  if (slot_ != nullptr) slot_->Authenticated();
  authenticated_ = true;
  session_started_ = Now();
  session_started_monotonic_ = Monotonic();
  // Past the handshake: this connection's reads and sends yield to the
  // thread's connections still in theirs (ssh/net/bulk_lane.h).
  if (down_driver_ != nullptr) down_driver_->SetBulk(true);
  ReportAuth(true, "");
  StartIdleWatch();
  Log(absl::StrCat("event=auth.ok peer=", peer_, " ", Describe(), " record=",
                   mode_ == Mode::kJump ? std::string("jump-only")
                                        : session_cert_->record()));
  // Unless an earlier end is armed already (a drain that began while the
  // user was authenticating: Proxy::Register); ArmDeadline keeps the
  // earliest, and an infinite valid_before arms nothing.
  ArmDeadline(valid_before_,
              "your Sallyport certificate expired (valid_before reached); "
              "run `sp login` and connect again",
              kOutcomeExpired);
  // A jump-only connection has no upstream of its own: each direct-tcpip
  // is decided and relayed by itself (forward_connection.cc).
  if (mode_ != Mode::kRecorded) return;
  if (upstream_ == nullptr) {
    StartUpstream(/*early=*/false);
  } else if (early_upstream_failure_.has_value()) {
    UpstreamFailed(*std::exchange(early_upstream_failure_, std::nullopt));
  } else {
    ProvideUpstreamIdentity();
  }
}

void GatewayConnection::OnEnd(ssh::session::Session&, const absl::Status&) {}

Recorder& GatewayConnection::SessionRecorder() {
  return RecorderFor(record_never_ ? "never" : "always");
}

Recorder& GatewayConnection::RecorderFor(std::string_view record) {
  // Only an explicit "never" turns recording off: anything else (empty,
  // unknown) records, so a CA that says nothing fails safe.
  static NullRecorder* const unrecorded = new NullRecorder();
  if (record == "never") return *unrecorded;
  return *proxy_.options().recorder;
}

}  // namespace sallyport::gateway
