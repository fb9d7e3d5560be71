// GatewayConnection's upstream (see gateway_connection.h): the connection
// to the inventory host with the session certificate, started when the
// user has authenticated, or for a recorded ProxyJump's inner connection
// early, while its user is still authenticating.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/safe_text.h"
#include "gateway/connection_internal.h"
#include "gateway/gateway_connection.h"
#include "ssh/cert/certificate.h"
#include "ssh/cert/host_cert_policy.h"
#include "ssh/net/spawn.h"

// GCC 12 at -O1 (the ASan config) reports a false
// -Wmismatched-new-delete for the frames of Asio coroutines.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace sallyport::gateway {

namespace gw = gateway::v1;
using connection_internal::kBridgeQueueBytes;
using connection_internal::kHostOpenGrace;
using connection_internal::Safe;
using ssh::connection::OpenFailure;

void GatewayConnection::StartUpstream(bool early) {
  upstream_ = std::make_unique<Upstream>(*this);
  upstream_->early = early;
  auto self = shared_from_this();
  ssh::net::Spawn(
      executor_,
      [self]() -> asio::awaitable<void> { co_await self->RunUpstream(); },
      "gateway upstream");
}

absl::StatusOr<ssh::auth::ClientIdentity> GatewayConnection::UpstreamIdentity()
    const {
  auto cert = ssh::cert::Certificate::FromLine(
      session_cert_->certificate().ssh_certificate());
  if (!cert.ok() || !ephemeral_.has_value()) {
    return absl::InvalidArgumentError(
        "the CA sent an unreadable session certificate");
  }
  return ssh::auth::ClientIdentity{*ephemeral_, std::move(cert->blob)};
}

asio::awaitable<void> GatewayConnection::RunUpstream() {
  const bool early = upstream_->early;
  const gw::HostRecord& host =
      early ? origin_->host_record : session_cert_->host();
  const absl::Duration started = Monotonic();
  upstream_started_ = started;
  const std::string where = absl::StrCat(
      Safe(host.name()), " (", Safe(host.address()), ":", host.port(), ")");
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
    UpstreamFailed(absl::StrCat(
        "host ", where, " has no usable host key trust (", Safe(host.trust()),
        ") in the inventory; ask an administrator"));
    co_return;
  }
  std::optional<ssh::auth::ClientIdentity> identity;
  if (!early) {
    absl::StatusOr<ssh::auth::ClientIdentity> id = UpstreamIdentity();
    if (!id.ok()) {
      UpstreamFailed(std::string(id.status().message()));
      co_return;
    }
    identity = std::move(*id);
  }
  absl::StatusOr<asio::ip::tcp::socket> sock = co_await ssh::net::Dial(
      executor_, host.address(), static_cast<uint16_t>(host.port()),
      limits_.upstream_connect_timeout, proxy_.options().egress_addresses);
  if (!sock.ok()) {
    UpstreamFailed(absl::StrCat("cannot reach ", where, ": ",
                                Safe(sock.status().message())));
    co_return;
  }
  if (down_ended_) co_return;
  ssh::session::ClientSessionOptions o;
  // Each user channel is bridged to one of the host's, and the host's own
  // opens (forwarded-tcpip, agent) count too: the connection's limit is
  // AtChannelLimit's, both ways, so the library's is only a backstop above
  // it (its default, 64, refused the 65th of a larger limit, and a lower
  // one would refuse the host's opens before the gateway reports them).
  o.connection.max_channels =
      std::max<size_t>(64, 2 * limits_.max_channels_per_connection);
  o.connection.max_queued_bytes = kBridgeQueueBytes;
  o.connection.window_budget = window_budget_.get();
  // The host's opens wait for the user's client: the gateway answers them
  // when the user's side does, or refuses them when it times out.
  o.open_timeout = limits_.channel_open_timeout + kHostOpenGrace;
  o.transport.clock = proxy_.options().clock;
  o.transport.host_key_policy = policy;
  o.transport.login_grace_time = limits_.upstream_connect_timeout;
  if (early) {
    // The user has as long as an inner connection's login grace.
    o.transport.login_grace_time += limits_.login_grace;
    o.auth.identities_later = true;
  } else {
    o.auth.user = target_.login;
    o.auth.identities.push_back(std::move(*identity));
  }
  auto session = ssh::session::ClientSession::Create(std::move(o), *upstream_);
  if (!session.ok()) {
    UpstreamFailed(Safe(session.status().message()));
    co_return;
  }
  upstream_->session = std::move(*session);
  upstream_->driver = std::make_unique<ssh::net::TransportDriver>(
      std::move(*sock), upstream_->session->ReleaseTransport());
  upstream_->handler = std::make_unique<ssh::net::SessionMessageHandler>(
      *upstream_->session, *upstream_->driver, [this] { OnUpProgress(); });
  Log(absl::StrCat("event=upstream.connect ", Describe(),
                   " address=", Safe(host.address()), ":", host.port(),
                   " tcp_ms=", absl::ToInt64Milliseconds(Monotonic() - started),
                   early ? " early=1" : ""));
  // The user authenticated here while this connection was being made.
  if (early && authenticated_) ProvideUpstreamIdentity();
  absl::Status why = co_await upstream_->driver->Run(*upstream_->handler);
  upstream_->done = true;
  if (!upstream_ready_) {
    // Whole: a refused host key names the certificate, its serial and CA
    // fingerprint before why (`principal "web05" is not listed`), and
    // Safe's 128 bytes cut that off.
    UpstreamFailed(absl::StrCat(
        "connection to ", where, " failed: ",
        base::SafeText(
            std::string_view(why.message().data(), why.message().size()),
            512)));
    co_return;
  }
  Log(absl::StrCat("event=upstream.close ", Describe(), " reason=\"",
                   Safe(why.ToString()), "\""));
  if (!down_ended_) {
    down_->Disconnect(
        absl::StrCat("the connection to ", Safe(host.name()), " ended"));
    WakeDown();
  }
}

void GatewayConnection::ProvideUpstreamIdentity() {
  // Until the session exists RunUpstream calls this once it does.
  if (upstream_ == nullptr || upstream_->session == nullptr ||
      upstream_->done || upstream_->identities_given) {
    return;
  }
  upstream_->identities_given = true;
  const gw::HostRecord& was = origin_->host_record;
  const gw::HostRecord& is = session_cert_->host();
  std::string failed;
  if (was.name() != is.name() || was.address() != is.address() ||
      was.port() != is.port() || was.trust() != is.trust() ||
      was.host_key() != is.host_key()) {
    // The inventory changed between the jump's decision and the session
    // certificate's: the connection made went to the old record.
    failed = absl::StrCat("the inventory entry for ", Safe(is.name()),
                          " changed while connecting; connect again");
  } else if (absl::StatusOr<ssh::auth::ClientIdentity> id = UpstreamIdentity();
             !id.ok()) {
    failed = std::string(id.status().message());
  } else {
    std::vector<ssh::auth::ClientIdentity> ids;
    ids.push_back(std::move(*id));
    // A session that ended meanwhile is reported when its driver returns.
    (void)upstream_->session->ProvideIdentities(target_.login, std::move(ids));
    WakeUp();
    return;
  }
  UpstreamFailed(failed);
  upstream_->session->Disconnect(failed);
  WakeUp();
}

void GatewayConnection::UpstreamReady() {
  upstream_ready_ = true;
  // Set up: from now on its reads and sends take turns with the thread's
  // other bulk work (ssh/net/bulk_lane.h).
  if (upstream_->driver != nullptr) upstream_->driver->SetBulk(true);
  ReportUpstream(true, "");
  Log(absl::StrCat("event=upstream.ready ", Describe()));
  std::vector<uint64_t> waiting = std::move(waiting_for_upstream_);
  for (uint64_t serial : waiting) {
    for (auto& [id, b] : bridges_) {
      if (b->serial == serial) {
        // A refused open erases the bridge (RejectDown): leave the loop
        // before its iterator moves on.
        OpenUpstreamChannel(*b);
        break;
      }
    }
  }
  for (auto& then : std::exchange(after_upstream_, {})) then(true);
  WakeUp();
}

void GatewayConnection::UpstreamFailed(const std::string& message) {
  if (upstream_error_.has_value()) return;  // said once
  if (down_ended_) {
    // The user's connection ended first (the user left, or the gateway
    // refused their channel) and took the upstream down with it: not a
    // failure of the target, so no upstream.connect failure is reported.
    upstream_error_ = message;
    Log(absl::StrCat("event=upstream.abandoned ", Describe(), " reason=\"",
                     message, "\""));
    return;
  }
  if (upstream_ != nullptr && upstream_->early && !authenticated_) {
    // Before the user authenticated: kept for OnAuthenticated (a user who
    // never does is told nothing about the host).
    if (!early_upstream_failure_.has_value()) early_upstream_failure_ = message;
    return;
  }
  upstream_error_ = message;
  ReportUpstream(false, message);
  Log(absl::StrCat("event=upstream.failed ", Describe(), " reason=\"", message,
                   "\""));
  if (down_ended_) return;
  for (auto& then : std::exchange(after_upstream_, {})) then(false);
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

}  // namespace sallyport::gateway
