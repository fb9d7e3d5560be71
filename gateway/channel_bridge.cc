// GatewayConnection's channels (see gateway_connection.h): opening with
// the recorder's tap and RBAC (AuthorizeChannel, cached per connection),
// and closing a bridge. GatewayConnection is implemented across several
// .cc files: the user's requests are relayed in channel_requests.cc, data
// both ways with the windows as the only buffers in channel_data.cc.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "audit/events.h"
#include "gateway/connection_internal.h"
#include "gateway/gateway_connection.h"
#include "gateway/proxy.h"
#include "ssh/connection/messages.h"
#include "ssh/wire/reader.h"

namespace sallyport::gateway {

namespace gw = gateway::v1;
using connection_internal::CaReason;
using connection_internal::Safe;
using ssh::connection::OpenFailure;
using ssh::session::Channel;
using ssh::wire::Bytes;

namespace {

// What the user reads when the CA gave no decision (the channel is refused:
// fail closed). An unreachable or silent CA is said so plainly, as at login
// (RefusalBanner); gRPC's own text goes to the trace (event=authz.error).
std::string CaFailureReason(const absl::Status& st) {
  switch (st.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return "the Sallyport CA is unreachable, so the gateway cannot "
             "authorize this channel right now; try again later";
    default:
      return absl::StrCat("the Sallyport CA could not decide (",
                          Safe(st.message()), ")");
  }
}

}  // namespace

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
    ReportChannelRefused(kind, "", ch.id(), why);
    (void)ch.Reject(reason, why);
  };
  if (upstream_error_.has_value()) {
    refuse(OpenFailure::kConnectFailed, *upstream_error_);
    return;
  }
  // Revoked since login, or the revocation list is no longer current:
  // no new channel (the connection itself is ended on revocation).
  if (absl::Status st =
          proxy_.options().ca->CheckNotRevoked(cert_serial_, key_fingerprint_);
      !st.ok()) {
    refuse(OpenFailure::kAdministrativelyProhibited, std::string(st.message()));
    return;
  }
  if (AtChannelLimit()) {
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
  if (mode_ == Mode::kJump) {
    if (kind == "direct-tcpip") {
      OpenJump(ch, extra);
    } else {
      refuse(OpenFailure::kAdministrativelyProhibited,
             "this connection only carries ssh -J (ProxyJump); for a session "
             "connect as LOGIN+HOST (e.g. root+web01)");
    }
    return;
  }
  auto b = std::make_unique<Bridge>();
  b->serial = next_serial_++;
  b->down = ch;
  b->type = kind;
  b->open_extra.assign(extra.begin(), extra.end());
  b->info = SessionChannelInfo(ch.id(), kind);
  Bridge& bridge = *b;
  if (kind == "direct-tcpip") {
    auto dest = ssh::connection::DirectTcpip::Parse(extra);
    if (!dest.ok()) {
      refuse(OpenFailure::kConnectFailed, "malformed direct-tcpip request");
      return;
    }
    bridge.info.destination =
        connection_internal::HostPort(dest->host, dest->port);
    if (dest->port == 0) {
      RejectDown(bridge, OpenFailure::kConnectFailed,
                 connection_internal::kPortZeroRefused);
      return;
    }
    if (!permissions_.has_value() || !permissions_->permit_port_forwarding) {
      refuse(OpenFailure::kAdministrativelyProhibited,
             connection_internal::kNoPortForwardInCertificate);
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
  if (!AttachTap(b)) return;
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
                   " destination=\"", Safe(b.info.destination), "\" reason=\"",
                   Safe(description), "\""));
  ReportChannelRefused(b.type, b.info.destination, b.down.id(), description);
  (void)b.down.Reject(reason, description);
  WakeDown();
  if (b.tap != nullptr) b.tap->Close(Monotonic());
  if (b.up.valid() && b.up.session() != nullptr) by_up_.erase(b.up.id());
  bridges_.erase(b.down.id());  // b is gone
}

void GatewayConnection::OnChannelOpenTimedOut(Channel ch) {
  if (ForgetTimedOutJump(ch.id())) return;
  Bridge* b = FindDown(ch.id());
  if (b == nullptr || b->reverse) return;
  // What it still waited for. The session rejected the user's open, so the
  // host's open must not become a channel the user never got (an audited
  // channel.open, a bridge kept until the connection ends, one of the
  // host's MaxSessions held).
  std::string waited;
  if (b->up.valid()) {
    waited = b->type == "direct-tcpip"
                 ? absl::StrCat(Safe(target_.host), " did not connect to ",
                                Safe(b->info.destination), " in time")
                 : absl::StrCat(Safe(target_.host),
                                " did not open the channel in time");
  } else if (!upstream_ready_) {
    waited = absl::StrCat("the connection to ", Safe(target_.host),
                          " was not ready in time");
  } else {
    waited = "the Sallyport CA did not authorize the channel in time";
  }
  // The host's side, when it opens, is closed (OnUpstreamOpenResult); a
  // pending authorization or upstream finds no bridge.
  RejectDown(*b, OpenFailure::kConnectFailed,
             absl::StrCat("the channel did not open within ",
                          absl::FormatDuration(limits_.channel_open_timeout),
                          ": ", waited));
}

void GatewayConnection::OnUpstreamOpenResult(
    Channel ch, const ssh::connection::OpenResult& r) {
  Bridge* b = FindUp(ch.id());
  if (b == nullptr) {
    // Its bridge is gone (the user's side was refused meanwhile, e.g. it
    // timed out): the host's channel is not needed.
    if (r.ok()) {
      (void)ch.Close();
      WakeUp();
    }
    return;
  }
  if (!r.ok()) {
    by_up_.erase(ch.id());
    b->up = Channel();
    // The host's own words (sshd: "open failed" when its MaxSessions is
    // reached, "Connection refused" for a forward), said to be the host's.
    const std::string what =
        b->type == "direct-tcpip"
            ? absl::StrCat(Safe(target_.host), " could not connect to ",
                           Safe(b->info.destination))
            : absl::StrCat(Safe(target_.host), " refused the channel");
    RejectDown(*b, r.reason,
               r.description.empty()
                   ? what
                   : absl::StrCat(what, ": ", Safe(r.description)));
    return;
  }
  b->up_open = true;
  if (down_ended_) return;
  (void)b->down.Accept();
  // Each side's CLOSE waits for the other's (MaybeForget): what the host
  // sends after the user's client closed (exit-status) still reaches it.
  (void)b->down.SetBridged();
  (void)b->up.SetBridged();
  if (b->type == "session") FlushNotices(*b);
  b->reported_open = true;
  observer().ChannelOpened(log_conn_, ChannelLog(*b));
  Log(absl::StrCat("event=channel.open ", Describe(), " channel=", b->down.id(),
                   " type=", b->type, " destination=\"",
                   Safe(b->info.destination), "\""));
  WakeDown();
}

void GatewayConnection::Authorize(
    Bridge& b, const std::string& kind, const std::string& destination,
    std::function<void(Bridge&, const gw::AuthorizeChannelResponse&)> done) {
  const uint32_t id = b.down.id();
  const uint64_t serial = b.serial;
  AuthorizeFor(kind, target_.host, destination,
               [this, id, serial,
                done = std::move(done)](const gw::AuthorizeChannelResponse& a) {
                 Bridge* br = FindDown(id);
                 if (br == nullptr || br->serial != serial) return;
                 done(*br, a);
               });
}

std::string GatewayConnection::AuthzKey(const std::string& kind,
                                        const std::string& host,
                                        const std::string& destination,
                                        uint32_t jump_port) {
  return absl::StrCat(kind, "\n", host, "\n", destination, "\n", jump_port);
}

void GatewayConnection::AuthorizeFor(
    const std::string& kind, const std::string& host,
    const std::string& destination,
    std::function<void(const gw::AuthorizeChannelResponse&)> done,
    uint32_t jump_port) {
  const std::string key = AuthzKey(kind, host, destination, jump_port);
  for (const auto* known : {&session_decisions_, &authz_cache_}) {
    auto cached = known->find(key);
    if (cached != known->end()) {
      done(cached->second);
      return;
    }
  }
  gw::AuthorizeChannelRequest request;
  request.set_user_certificate(user_certificate_line_);
  request.set_login(target_.login);
  request.set_host(host);
  request.set_kind(kind);
  request.set_destination(destination);
  request.set_jump_port(jump_port);
  std::weak_ptr<GatewayConnection> weak = weak_from_this();
  proxy_.options().ca->AuthorizeChannel(
      std::move(request), executor_,
      [weak, key, kind, host, jump_port,
       done = std::move(done)](absl::StatusOr<gw::AuthorizeChannelResponse> r) {
        auto self = weak.lock();
        if (self == nullptr || self->down_ended_) return;
        gw::AuthorizeChannelResponse answer;
        if (!r.ok()) {
          // Fail closed; not cached, so a later try may succeed.
          answer.set_allowed(false);
          answer.set_reason(CaFailureReason(r.status()));
          self->Log(absl::StrCat("event=authz.error ", self->Describe(),
                                 " kind=", kind, " to=", Safe(host),
                                 " error=\"", Safe(r.status().message()),
                                 "\""));
        } else {
          answer = std::move(*r);
          if (!answer.allowed() && !answer.role().empty()) {
            answer.set_reason(absl::StrCat("denied by role '",
                                           Safe(answer.role()),
                                           "': ", CaReason(answer.reason())));
          }
          // Full: not kept, asked again next time (a client asking for
          // ever new destinations must not grow the cache). A jump's
          // answer is not kept at all: it carries the host's inventory
          // record (the address relayed to) and the roles' verdict on
          // hosts other than the connection's own, and a jump connection
          // (ControlMaster) carries new jumps for hours after an
          // administrator removed the host or the role.
          if (jump_port == 0 &&
              self->authz_cache_.size() < kMaxCachedAuthorizations &&
              !answer.certificate_revoked()) {
            self->authz_cache_[key] = answer;
          }
        }
        // The CA knows of the revocation before the revocation stream
        // brought it here (another CA instance revoked it, or the stream
        // is down): the connection ends now, as it would by the stream,
        // so that no allow cached before can open another channel.
        if (answer.certificate_revoked()) {
          self->Log(absl::StrCat("event=revoked ", self->Describe(),
                                 " reason=\"", Safe(answer.reason()), "\""));
          self->EndAt(self->Now(), kCertificateRevoked, kOutcomeRevoked);
        }
        self->Log(
            absl::StrCat("event=authz ", self->Describe(),
                         " kind=", answer.kind().empty() ? kind : answer.kind(),
                         " to=", Safe(host), " allowed=", answer.allowed(),
                         " reason=\"", Safe(answer.reason()), "\""));
        done(answer);
      });
}

void GatewayConnection::CloseBridge(Bridge& b, const std::string& why) {
  Log(absl::StrCat("event=channel.abort ", Describe(), " channel=", b.down.id(),
                   " reason=\"", Safe(why), "\""));
  b.aborted = true;
  QueueNotice(b, absl::StrCat("sallyport: ", why, "\r\n"));
  (void)b.down.Close();
  if (b.up.valid()) (void)b.up.Close();
  WakeDown();
  WakeUp();
}

void GatewayConnection::QueueNotice(Bridge& b, std::string_view line) {
  const size_t before = b.down.QueuedBytes();
  absl::StatusOr<size_t> taken = b.down.Queue(ssh::wire::AsBytes(line), 1);
  const size_t after = b.down.QueuedBytes();
  if (taken.ok() && after > before) b.notice_queued += after - before;
}

void GatewayConnection::MaybeForget(Bridge& b) {
  if (!b.down_closed || (b.up_open && !b.up_closed)) return;
  // Record before forward: what waits for the recorder still goes out
  // (an exit-status may follow the user's CLOSE, as below).
  if (!b.gate.empty()) return;
  // Bridged channels: our CLOSE answers the peer's only now, after
  // everything the other side sent before its CLOSE.
  if (b.down.valid()) {
    (void)b.down.Close();
    WakeDown();
  }
  if (b.up.valid()) {
    (void)b.up.Close();
    WakeUp();
  }
  Log(absl::StrCat("event=channel.close ", Describe(),
                   " channel=", b.down.id()));
  ReportChannelClosed(b);
  if (b.tap != nullptr) b.tap->Close(Monotonic());
  if (b.up_open) by_up_.erase(b.up.id());
  bridges_.erase(b.down.id());
}

}  // namespace sallyport::gateway
