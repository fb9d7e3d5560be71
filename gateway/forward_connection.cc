// GatewayConnection's forwarding (see gateway_connection.h): jump-only
// connections and `ssh -J` passthrough, and the relays the gateway makes
// itself. `-R`, agent forwarding and the channels the host opens back to
// the user are in reverse_channels.cc.
#include <arpa/inet.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "audit/events.h"
#include "gateway/connection_internal.h"
#include "gateway/gateway_connection.h"
#include "ssh/connection/messages.h"
#include "ssh/net/listener.h"
#include "ssh/net/spawn.h"

// GCC 12 at -O1 (the ASan config) reports a false
// -Wmismatched-new-delete for the frames of Asio coroutines.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace sallyport::gateway {

namespace gw = gateway::v1;
using connection_internal::HostPort;
using connection_internal::Safe;
using ssh::connection::OpenFailure;
using ssh::session::Channel;
using ssh::wire::Bytes;

std::string connection_internal::HostPort(std::string_view host,
                                          uint32_t port) {
  if (host.find(':') != std::string_view::npos)
    return absl::StrCat("[", std::string(host), "]:", port);
  return absl::StrCat(std::string(host), ":", port);
}

namespace {

// An IPv4 or IPv6 address literal (a jump may name its host by one of its
// inventory addresses).
bool IsIpLiteral(const std::string& s) {
  in6_addr v6;
  in_addr v4;
  return inet_pton(AF_INET, s.c_str(), &v4) == 1 ||
         inet_pton(AF_INET6, s.c_str(), &v6) == 1;
}

}  // namespace

// ------------------------------------------------------- authentication

absl::Status GatewayConnection::NoteIdentity(const ssh::auth::AuthAttempt& a) {
  user_ = a.certificate->key_id;
  user_certificate_line_ = a.certificate->ToLine();
  cert_serial_ = a.certificate->serial;
  key_fingerprint_ = a.certificate->KeyFingerprint();
  ca_fingerprint_ = a.certificate->CaFingerprint();
  permissions_ = a.permissions;
  valid_before_ = a.certificate->valid_before >= uint64_t{1} << 62
                      ? absl::InfiniteFuture()
                      : absl::FromUnixSeconds(
                            static_cast<int64_t>(a.certificate->valid_before));
  return proxy_.UseCertificate(this, cert_serial_, key_fingerprint_);
}

ssh::auth::AuthDecision GatewayConnection::DecideJump(
    const ssh::auth::AuthAttempt& a) {
  using ssh::auth::AuthResult;
  if (!a.certificate.has_value()) return RefusePlainKey();
  if (!a.signed_request) return {AuthResult::kAccept, "certificate query"};
  // The library verified the certificate (our user CA, type, validity,
  // the user name among its principals, not revoked); the CA verifies it
  // again with every AuthorizeChannel.
  mode_ = Mode::kJump;
  target_ = Target{a.user, ""};
  if (absl::Status st = NoteIdentity(a); !st.ok()) {
    return RefuseRevokedMeanwhile(st);
  }
  if (absl::Status held = proxy_.AcquireUser(user_); !held.ok()) {
    // Closed as "limit", as a LOGIN+HOST connection refused by it is (it
    // was "auth-failed").
    limit_refused_ = true;
    Log(absl::StrCat("event=auth.denied peer=", peer_, " ", Describe(),
                     " reason=max_sessions_per_user"));
    SendRefusalBanner(absl::StrCat("sallyport: ", held.message(), ".\r\n"));
    return {AuthResult::kReject, "max_sessions_per_user"};
  }
  user_counted_ = true;
  return {AuthResult::kAccept, "jump-only connection"};
}

// ------------------------------------------------------------ ssh -J

void GatewayConnection::RejectOpen(Channel ch, OpenFailure reason,
                                   const std::string& why,
                                   const std::string& destination,
                                   const std::string& host) {
  Log(absl::StrCat("event=channel.refused ", Describe(),
                   " type=direct-tcpip destination=\"", Safe(destination),
                   "\" reason=\"", Safe(why), "\""));
  // A refused jump is what a security team looks for (probing internal
  // addresses through the bastion): it was only a detail line, with no
  // audit event and no count.
  ReportChannelRefused("direct-tcpip", destination, ch.id(), why, host);
  (void)ch.Reject(reason, why);
  WakeDown();
}

void GatewayConnection::OpenJump(Channel ch, Bytes extra) {
  auto dest = ssh::connection::DirectTcpip::Parse(extra);
  if (!dest.ok()) {
    RejectOpen(ch, OpenFailure::kConnectFailed,
               "malformed direct-tcpip request");
    return;
  }
  // Names that are neither host names nor IP addresses never reach the
  // CA or a log line.
  if (absl::Status st = ValidateHostName(dest->host);
      !st.ok() && !IsIpLiteral(dest->host)) {
    RejectOpen(
        ch, OpenFailure::kAdministrativelyProhibited,
        absl::StrCat(st.message(), "; only inventory hosts can be reached"),
        HostPort(Safe(dest->host), dest->port));
    return;
  }
  // Port 0 is no port to connect to, and a jump_port of 0 would ask the CA
  // for no jump at all (a decision for the host, relayed to its SSH port).
  if (dest->port == 0) {
    RejectOpen(ch, OpenFailure::kConnectFailed,
               connection_internal::kPortZeroRefused,
               HostPort(Safe(dest->host), dest->port));
    return;
  }
  const uint32_t id = ch.id();
  const uint64_t serial = next_serial_++;
  const std::string host = dest->host;  // an inventory name or address
  const uint32_t port = dest->port;
  pending_jumps_[id] = {serial, HostPort(host, port),
                        "the Sallyport CA did not authorize the channel in "
                        "time"};
  // One decision: the CA resolves the host (by name, or by address and
  // port) and decides the kind from the port: the host's SSH port (or 22)
  // is a jump ("proxyjump-passthrough", carried as the CA's jump_mode
  // says: "passthrough" relayed, "record" terminated here), another port
  // a "port-forward" relayed from the gateway.
  AuthorizeFor(
      "proxyjump-passthrough", host, "",
      [this, ch, id, serial, host,
       port](const gw::AuthorizeChannelResponse& a) {
        auto it = pending_jumps_.find(id);
        if (it == pending_jumps_.end() || it->second.serial != serial) return;
        pending_jumps_.erase(it);
        if (a.host().name().empty()) {
          // Not in the inventory (or the CA could not decide).
          RejectOpen(ch, OpenFailure::kAdministrativelyProhibited, a.reason(),
                     HostPort(host, port));
          return;
        }
        const gw::HostRecord& record = a.host();
        const bool passthrough = a.kind() != "port-forward";
        if (!passthrough && !permissions_->permit_port_forwarding) {
          RejectOpen(ch, OpenFailure::kAdministrativelyProhibited,
                     connection_internal::kNoPortForwardInCertificate,
                     HostPort(host, port), record.name());
          return;
        }
        if (!a.allowed()) {
          RejectOpen(ch, OpenFailure::kAdministrativelyProhibited, a.reason(),
                     HostPort(host, port), record.name());
          return;
        }
        if (passthrough && a.jump_mode() == "record") {
          // The CA decided a recorded ProxyJump (no role passes it
          // through): an inner session (gateway/jump_inner.cc), decided by
          // RBAC like LOGIN+HOST once the user logs in to it.
          StartRecordedJump(ch, record, HostPort(host, port));
          return;
        }
        StartRelay(ch, record.name(), HostPort(host, port), passthrough,
                   record.address(),
                   static_cast<uint16_t>(passthrough ? record.port() : port),
                   a.record());
      },
      port);
}

void GatewayConnection::StartRelay(Channel ch, const std::string& host,
                                   const std::string& destination,
                                   bool passthrough, std::string address,
                                   uint16_t port, std::string_view record) {
  ChannelInfo info = SessionChannelInfo(ch.id(), "direct-tcpip");
  info.host = host;
  info.destination = destination;
  absl::StatusOr<std::unique_ptr<ChannelTap>> tap =
      RecorderFor(record).Attach(info);
  const std::string via = absl::StrCat(Safe(address), ":", port);
  // Passthrough records the events only: the bytes are the user's own
  // end-to-end encrypted SSH connection.
  if (tap.ok() && passthrough &&
      !(*tap)
           ->Request(Monotonic(), Direction::kInput, "proxyjump-passthrough",
                     absl::StrCat(host, " via ", via))
           .ok()) {
    (*tap)->Close(Monotonic());
    tap = absl::UnavailableError("the recorder refused the event");
  }
  if (!tap.ok()) {
    RejectOpen(ch, OpenFailure::kResourceShortage,
               absl::StrCat("the connection cannot be recorded: ",
                            Safe(tap.status().message())),
               destination, host);
    return;
  }
  const std::string event = passthrough ? "jump" : "forward";
  const std::string what =
      absl::StrCat(Describe(), " channel=", ch.id(), " to=", Safe(destination),
                   " via=", via);
  TcpRelay::Options o;
  o.down = ch;
  o.destination = destination;
  o.tap = std::move(*tap);
  o.record_data = !passthrough;
  o.clock = &proxy_.clock();
  o.wake = [this] { WakeDown(); };
  o.on_bytes = [this](bool client_to_target, size_t n) {
    NoteConnectionData(client_to_target, n);
  };
  const absl::Duration started = Monotonic();
  o.on_end = [this, passthrough, event, what, started, destination](
                 TcpRelay& r, const std::string& why) {
    // The caller holds a reference to r (its handler's or its own).
    closing_relays_.erase(&r);
    // Never started (its connect failed, or the user's open timed out
    // first): it was refused, not opened, so nothing ends.
    if (!r.started()) return;
    const std::string bytes =
        absl::StrCat("bytes_in=", r.bytes_in(), " bytes_out=", r.bytes_out());
    if (passthrough && r.tap() != nullptr)
      (void)r.tap()->Request(Monotonic(), Direction::kOutput, "passthrough-end",
                             bytes);
    Log(absl::StrCat(
        "event=", event, ".end ", what, " ", bytes,
        " duration_ms=", absl::ToInt64Milliseconds(Monotonic() - started),
        " reason=\"", Safe(why), "\""));
    observer().AuditEvent(
        log_conn_,
        passthrough ? audit::kEventProxyJumpClose
                    : audit::kEventPortForwardClose,
        {{"channel", int64_t{r.down().id()}},
         {"destination", destination},
         {"bytes_in", static_cast<int64_t>(r.bytes_in())},
         {"bytes_out", static_cast<int64_t>(r.bytes_out())},
         {"ext_dropped_bytes_in", static_cast<int64_t>(r.ext_dropped_in())},
         // Nothing comes back but the destination's TCP bytes.
         {"ext_dropped_bytes_out", int64_t{0}},
         {"duration_ms", absl::ToInt64Milliseconds(Monotonic() - started)}});
  };
  auto relay = std::make_shared<TcpRelay>(std::move(o));
  relays_[ch.id()] = relay;
  auto self = shared_from_this();
  const uint32_t id = ch.id();
  ssh::net::Spawn(
      executor_,
      [self, relay, id, address, port, event, what, passthrough, host,
       destination]() -> asio::awaitable<void> {
        absl::StatusOr<asio::ip::tcp::socket> sock =
            co_await ssh::net::Dial(self->executor_, address, port,
                                    self->limits_.upstream_connect_timeout,
                                    self->proxy_.options().egress_addresses);
        auto it = self->relays_.find(id);
        if (self->down_ended_ || it == self->relays_.end() ||
            it->second != relay) {
          relay->Shutdown("the channel is gone");
          co_return;
        }
        if (!sock.ok()) {
          self->relays_.erase(it);
          self->RejectOpen(relay->down(), OpenFailure::kConnectFailed,
                           absl::StrCat("cannot reach ", Safe(destination),
                                        " (", Safe(address), ":", port,
                                        "): ", Safe(sock.status().message())),
                           destination, host);
          relay->Shutdown("connect failed");
          co_return;
        }
        self->Log(absl::StrCat("event=", event, ".start ", what));
        self->observer().AuditEvent(
            self->log_conn_,
            passthrough ? audit::kEventProxyJump : audit::kEventPortForwardOpen,
            {{"channel", int64_t{id}},
             {"host", host},
             {"destination", destination},
             {"mode",
              std::string(passthrough ? kJumpModePassthrough : "forward")}});
        relay->Start(std::move(*sock));
      },
      "gateway relay");
}

TcpRelay* GatewayConnection::FindRelay(uint32_t id) {
  auto it = relays_.find(id);
  return it == relays_.end() ? nullptr : it->second.get();
}

bool GatewayConnection::ForgetTimedOutJump(uint32_t id) {
  std::string destination, waited;
  if (auto it = pending_jumps_.find(id); it != pending_jumps_.end()) {
    // The CA's answer, when it comes, finds nothing to answer.
    destination = std::move(it->second.destination);
    waited = std::move(it->second.waiting_for);
    pending_jumps_.erase(it);
  } else if (auto r = relays_.find(id);
             r != relays_.end() && !r->second->started()) {
    // Still connecting: the connect, when it completes, finds the relay
    // gone and closes its socket (StartRelay).
    std::shared_ptr<TcpRelay> relay = std::move(r->second);
    relays_.erase(r);
    destination = relay->destination();
    waited = absl::StrCat("the gateway did not connect to ", Safe(destination),
                          " in time");
    relay->Shutdown("the channel did not open in time");
  } else {
    return false;
  }
  const std::string why = absl::StrCat(
      "the channel did not open within ",
      absl::FormatDuration(limits_.channel_open_timeout), ": ", waited);
  Log(absl::StrCat("event=channel.refused ", Describe(), " type=direct-tcpip",
                   " destination=\"", Safe(destination), "\" reason=\"",
                   Safe(why), "\""));
  ReportChannelRefused("direct-tcpip", destination, id, why);
  return true;
}

void GatewayConnection::PumpRelays() {
  for (auto& [id, relay] : relays_) relay->Pump();
}

void GatewayConnection::OnWindowAvailable(Channel ch) {
  if (ssh::net::ChannelPort* port = FindJumpPort(ch.id()))
    port->OnWindowAvailable();  // rpj: recorded ProxyJump
  if (TcpRelay* relay = FindRelay(ch.id())) relay->Pump();
}

void GatewayConnection::EndRelays() {
  std::map<uint32_t, std::shared_ptr<TcpRelay>> relays = std::move(relays_);
  relays_.clear();
  for (auto& [id, relay] : relays) relay->Shutdown("the connection ended");
  std::map<TcpRelay*, std::shared_ptr<TcpRelay>> closing =
      std::move(closing_relays_);
  closing_relays_.clear();
  for (auto& [ptr, relay] : closing) relay->Shutdown("the connection ended");
  pending_jumps_.clear();
}

}  // namespace sallyport::gateway
