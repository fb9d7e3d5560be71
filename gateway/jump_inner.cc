// GatewayConnection's recorded ProxyJump (issue 13, DESIGN.md §7 path 2;
// see gateway_connection.h): the jump-only side starts an inner connection
// over a direct-tcpip channel, and the inner side's authentication.
#include <utility>

#include "absl/strings/str_cat.h"
#include "audit/events.h"
#include "gateway/connection_internal.h"
#include "gateway/gateway_connection.h"
#include "gateway/jump_host_certs.h"
#include "ssh/cert/certificate.h"
#include "ssh/net/spawn.h"

// GCC 12 at -O1 (the ASan config) reports a false
// -Wmismatched-new-delete for the frames of Asio coroutines.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace sallyport::gateway {

namespace gw = gateway::v1;
using connection_internal::Safe;
using ssh::connection::OpenFailure;
using ssh::session::Channel;

// ------------------------------------------------ the jump-only side

size_t GatewayConnection::JumpsAwaitingLogin() const {
  size_t n = host_cert_waits_.size();
  for (const auto& [id, jump] : jump_ports_) {
    std::shared_ptr<GatewayConnection> inner = jump.inner.lock();
    if (inner != nullptr && !inner->authenticated_ && !inner->down_ended_) ++n;
  }
  return n;
}

void GatewayConnection::StartRecordedJump(Channel ch,
                                          const gw::HostRecord& host,
                                          const std::string& destination) {
  const uint32_t id = ch.id();
  if (const size_t waiting = JumpsAwaitingLogin();
      waiting >= kMaxJumpsAwaitingLogin) {
    RejectOpen(ch, OpenFailure::kResourceShortage,
               absl::StrCat("this connection already has ", waiting,
                            " recorded ProxyJumps waiting for their login (at "
                            "most ",
                            kMaxJumpsAwaitingLogin,
                            " at a time); log in to those or close them first"),
               destination, host.name());
    return;
  }
  const uint64_t serial = next_serial_++;
  pending_jumps_[id] = {
      serial, connection_internal::HostPort(host.name(), host.port()),
      absl::StrCat("the Sallyport CA did not issue a host certificate for ",
                   Safe(host.name()), " in time")};
  std::vector<ssh::transport::ServerHostKey> keys = proxy_.host_keys();
  if (keys.empty()) {
    pending_jumps_.erase(id);
    RejectOpen(ch, OpenFailure::kResourceShortage,
               "the gateway has no host key for a recorded ProxyJump",
               destination, host.name());
    return;
  }
  // The gateway's host key (serve loads one, the key its host certificate
  // certifies), certified for the host's name: the CA certifies no other
  // key than the one the gateway enrolled with.
  ssh::transport::ServerHostKey key{keys.front().key, {}};
  const std::string name = host.name();
  const std::string fingerprint = key.key.public_key().FingerprintSha256();
  if (std::optional<std::vector<uint8_t>> cached =
          proxy_.target_certificates().Get(name, fingerprint, Now())) {
    key.certificate = std::move(*cached);
    Log(absl::StrCat("event=jump.host_cert ", Describe(), " channel=", id,
                     " to=", Safe(name),
                     " source=", std::string(kJumpCertCached)));
    observer().JumpHostCertificate(kJumpCertCached);
    LaunchInner(ch, host, destination, std::move(key));
    return;
  }
  gw::IssueHostCertificateForTargetRequest request;
  request.set_host(name);
  request.set_ssh_public_key(key.key.public_key().ToAuthorizedKeysLine());
  std::weak_ptr<GatewayConnection> weak = weak_from_this();
  auto shared_key =
      std::make_shared<ssh::transport::ServerHostKey>(std::move(key));
  host_cert_waits_.insert(serial);
  proxy_.options().ca->IssueHostCertificateForTarget(
      std::move(request), executor_,
      [weak, ch, id, serial, host, destination, fingerprint, shared_key](
          absl::StatusOr<gw::IssueHostCertificateForTargetResponse> r) {
        auto self = weak.lock();
        if (self == nullptr) return;
        self->host_cert_waits_.erase(serial);
        if (self->down_ended_) return;
        auto it = self->pending_jumps_.find(id);
        if (it == self->pending_jumps_.end() || it->second.serial != serial)
          return;
        const std::string& name = host.name();
        absl::StatusOr<ssh::cert::Certificate> cert =
            r.ok() ? ssh::cert::Certificate::FromLine(
                         r->certificate().ssh_certificate())
                   : absl::StatusOr<ssh::cert::Certificate>(r.status());
        // What the user's ssh will check of it, and that it is for our key:
        // a wrong one is refused here, with the reason, not by every ssh.
        absl::Status usable =
            cert.ok() ? CheckTargetCertificate(
                            *cert, shared_key->key.public_key(), name,
                            self->proxy_.options().ca->host_ca_keys(),
                            &self->proxy_.clock())
                      : cert.status();
        if (!usable.ok()) {
          self->pending_jumps_.erase(id);
          self->Log(absl::StrCat("event=jump.host_cert_refused ",
                                 self->Describe(), " channel=", id,
                                 " to=", Safe(name), " reason=\"",
                                 Safe(usable.message()), "\""));
          self->RejectOpen(
              ch, OpenFailure::kConnectFailed,
              absl::StrCat("no host certificate for ", Safe(name),
                           " from the Sallyport CA: ", Safe(usable.message())),
              destination, name);
          return;
        }
        const absl::Time valid_before =
            cert->valid_before >= uint64_t{1} << 62
                ? absl::InfiniteFuture()
                : absl::FromUnixSeconds(
                      static_cast<int64_t>(cert->valid_before));
        self->proxy_.target_certificates().Put(name, fingerprint, cert->blob,
                                               valid_before);
        shared_key->certificate = cert->blob;
        self->Log(absl::StrCat("event=jump.host_cert ", self->Describe(),
                               " channel=", id, " to=", Safe(name),
                               " source=", std::string(kJumpCertIssued)));
        self->observer().JumpHostCertificate(kJumpCertIssued);
        self->LaunchInner(ch, host, destination, *shared_key);
      });
}

void GatewayConnection::LaunchInner(Channel ch, const gw::HostRecord& record,
                                    const std::string& destination,
                                    ssh::transport::ServerHostKey host_key) {
  const std::string& host = record.name();
  const uint32_t id = ch.id();
  pending_jumps_.erase(id);
  if (down_ended_) return;
  absl::StatusOr<ssh::cert::Certificate> outer =
      ssh::cert::Certificate::FromLine(user_certificate_line_);
  if (!outer.ok() || !ch.Accept().ok()) {
    RejectOpen(ch, OpenFailure::kResourceShortage,
               "the recorded ProxyJump could not start", destination, host);
    return;
  }
  // The inner connection writes into `ch` only while our transport to the
  // user has room (OnDownProgress wakes it): the jump channel's window is
  // the user's to choose and may be 4 GiB.
  auto [stream, port] =
      ssh::net::ChannelStream::Create(executor_, ch, [this]() -> size_t {
        return down_driver_ == nullptr ? 0 : down_driver_->OutputRoomBytes();
      });
  JumpOrigin origin{host,
                    user_,
                    outer->signature_key_blob,
                    peer_,
                    session_id_,
                    std::move(host_key),
                    record,
                    jump_count_used_,
                    window_budget_};
  auto inner = std::make_shared<GatewayConnection>(proxy_, std::move(stream),
                                                   std::move(origin));
  jump_ports_[id] =
      JumpChannel{port, host, inner->session_id_, Monotonic(), inner};
  Log(absl::StrCat("event=jump.record ", Describe(), " channel=", id,
                   " to=", Safe(host), " inner_session=", inner->session_id_));
  observer().AuditEvent(log_conn_, audit::kEventProxyJump,
                        {{"channel", int64_t{id}},
                         {"host", host},
                         {"destination", host},
                         {"mode", std::string(kJumpModeRecorded)},
                         {"inner_session", inner->session_id_}});
  ssh::net::Spawn(
      executor_, [inner]() -> asio::awaitable<void> { co_await inner->Run(); },
      "gateway inner session");
  WakeDown();
}

ssh::net::ChannelPort* GatewayConnection::FindJumpPort(uint32_t id) {
  auto it = jump_ports_.find(id);
  return it == jump_ports_.end() ? nullptr : it->second.port.get();
}

void GatewayConnection::ReportJumpClosed(uint32_t id, const JumpChannel& jump,
                                         std::string_view why) {
  const uint64_t in = jump.port->bytes_received();
  const uint64_t out = jump.port->bytes_sent();
  const int64_t ms = absl::ToInt64Milliseconds(Monotonic() - jump.started);
  Log(absl::StrCat(
      "event=jump.end ", Describe(), " channel=", id, " to=", Safe(jump.host),
      " inner_session=", jump.inner_session, " bytes_in=", in,
      " bytes_out=", out, " duration_ms=", ms, " reason=\"", Safe(why), "\""));
  observer().AuditEvent(
      log_conn_, audit::kEventProxyJumpClose,
      {{"channel", int64_t{id}},
       {"destination", jump.host},
       {"mode", std::string(kJumpModeRecorded)},
       {"inner_session", jump.inner_session},
       {"bytes_in", static_cast<int64_t>(in)},
       {"bytes_out", static_cast<int64_t>(out)},
       {"ext_dropped_bytes_in", static_cast<int64_t>(jump.ext_dropped_in)},
       // The inner connection sends stream 0 only.
       {"ext_dropped_bytes_out", int64_t{0}},
       {"duration_ms", ms}});
}

void GatewayConnection::EndJumpPorts() {
  std::map<uint32_t, JumpChannel> jumps = std::move(jump_ports_);
  jump_ports_.clear();
  for (auto& [id, jump] : jumps) {
    jump.port->Detach();
    ReportJumpClosed(id, jump, "the jump connection ended");
  }
}

// ---------------------------------------------------- the inner side

ssh::auth::AuthDecision GatewayConnection::DecideInner(
    const ssh::auth::AuthAttempt& a) {
  using ssh::auth::AuthResult;
  // The library checked the certificate (our user CA, validity, the login
  // among its principals, not revoked). It must also be the identity that
  // opened the jump: a different user inside the tunnel is refused.
  if (a.certificate.has_value() &&
      (a.certificate->key_id != origin_->user ||
       a.certificate->signature_key_blob != origin_->ca_key_blob)) {
    const std::string why =
        absl::StrCat("the certificate inside the ProxyJump (key id \"",
                     Safe(a.certificate->key_id),
                     "\") is not the identity of the jump connection (\"",
                     Safe(origin_->user), "\")");
    Log(absl::StrCat("event=jump.identity_mismatch peer=", peer_,
                     " outer_session=", origin_->outer_session,
                     " host=", Safe(origin_->host), " login=", Safe(a.user),
                     " reason=\"", why, "\""));
    ca_refusal_code_ = "identity-mismatch";
    if (banners_sent_ < 3) {
      ++banners_sent_;
      SendRefusalBanner(absl::StrCat("sallyport: ", why, "\r\n"));
    }
    return {AuthResult::kReject, why};
  }
  // The host is known (the jump's decision): the connection to it and its
  // key exchange run while the user finishes authenticating here (the CA's
  // session certificate), and only the authentication there waits for
  // that certificate. Not before the user showed the jump's identity (a
  // certificate the library verified: our CA, valid, this login, not
  // revoked): a jump channel nobody logs in to connects nowhere.
  if (a.certificate.has_value() && upstream_ == nullptr) {
    StartUpstream(/*early=*/true);
  }
  return DecideRecorded(a, Target{a.user, origin_->host});
}

}  // namespace sallyport::gateway
