// GatewayConnection's channels (see gateway_connection.h): opening with
// the recorder's tap and RBAC, the ordered request relay, and data both
// ways with the windows as the only buffers.
#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "audit/events.h"
#include "gateway/connection_internal.h"
#include "gateway/gateway_connection.h"
#include "gateway/proxy.h"
#include "ssh/connection/messages.h"
#include "ssh/transport/packet_codec.h"
#include "ssh/wire/reader.h"
#include "ssh/wire/writer.h"

namespace sallyport::gateway {

namespace gw = gateway::v1;
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

// A request's type and data fit in one packet: the caps on what waits
// never refuse a request alone.
static_assert(kMaxQueuedRequestBytes >= ssh::transport::kMaxPacketLength);
static_assert(kMaxHeldHostRequestBytes >= ssh::transport::kMaxPacketLength);

bool EnvAllowed(std::string_view name) {
  return name == "LANG" || absl::StartsWith(std::string(name), "LC_");
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
  if (b.tap != nullptr) b.tap->Close(Now());
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
                                           "': ", Safe(answer.reason())));
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

void GatewayConnection::OnChannelRequest(Channel ch, std::string_view type,
                                         bool want_reply, Bytes data,
                                         ssh::connection::RequestId request) {
  Bridge* b = FindDown(ch.id());
  if (b == nullptr || !b->up_open) {
    if (want_reply) (void)ch.Reply(request, false);
    return;
  }
  if (b->requests.size() >= limits_.max_queued_requests) {
    CloseBridge(*b, "too many queued channel requests");
    return;
  }
  size_t queued_bytes = type.size() + data.size();
  for (const PendingRequest& q : b->requests) {
    queued_bytes += q.type.size() + q.data.size();
  }
  if (queued_bytes > kMaxQueuedRequestBytes) {
    CloseBridge(*b, absl::StrCat("queued channel requests exceed ",
                                 kMaxQueuedRequestBytes >> 10, " KiB"));
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
      // The pty-req record marks a terminal session: the tap then keeps
      // its input by default (record_input unset) and replay knows it.
      if (!TapOk(b, b.tap->Request(Now(), Direction::kInput, t, pty->term)) ||
          !TapOk(b, b.tap->WindowChange(Now(), pty->columns, pty->rows))) {
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
      if (!TapOk(b, b.tap->WindowChange(Now(), wc->columns, wc->rows))) {
        return;
      }
      Forward(b, std::move(r));
    } else if (t == "signal" || t == "break" || t == "eow@openssh.com") {
      // eow@openssh.com: the user's client can write no more of the
      // command's output (`ssh gw cmd | head`); the host stops the command
      // from writing.
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
                    StartCommand(br, std::move(*shared), kind, a);
                  }
                  if (FindDown(br.down.id()) == &br) ProcessRequests(br);
                });
      return;
    } else if (t == "auth-agent-req@openssh.com") {
      if (RequestAgentForwarding(b, std::move(r))) return;
    } else if (t == "x11-req") {
      // ssh only says "X11 forwarding request failed": say why.
      Refuse(b, r,
             "X11 forwarding is not allowed through Sallyport "
             "(\"x11-req\" is not allowed)",
             true);
    } else {
      Refuse(b, r, absl::StrCat("\"", Safe(t), "\" is not allowed"), false);
    }
  }
}

void GatewayConnection::StartCommand(Bridge& b, PendingRequest r,
                                     const std::string& kind,
                                     const gw::AuthorizeChannelResponse& a) {
  // A forced command (the roles' or the certificate's force-command)
  // replaces shell, exec and subsystem. Two different ones: neither runs.
  std::optional<std::string> forced = permissions_->force_command;
  if (a.has_force_command()) {
    if (forced.has_value() && *forced != a.force_command()) {
      Refuse(b, r,
             absl::StrCat("your certificate's force-command and role '",
                          Safe(a.role()), "' force different commands"),
             true);
      return;
    }
    forced = a.force_command();
  }
  std::string summary;
  if (forced.has_value()) {
    r.type = "exec";
    r.data = ssh::connection::SerializeStringRequest(*forced);
    summary = *forced;
  } else if (r.type != "shell") {
    // A command the recording and the audit event cannot hold (longer
    // than 64 KiB, or with a NUL byte: sshd runs it up to the NUL) is
    // refused: forwarded, it ran with `command=""` recorded, so padding a
    // command hid it from the audit.
    auto s = ssh::connection::ParseStringRequest(r.data);
    if (!s.ok()) {
      Refuse(b, r,
             absl::StrCat("the ", r.type == "exec" ? "command" : "subsystem",
                          " cannot be recorded (", Safe(s.status().message()),
                          "), so it does not run"),
             true);
      return;
    }
    summary = *s;
  }
  b.started = true;
  Log(absl::StrCat("event=channel.start ", Describe(), " channel=", b.down.id(),
                   " kind=", kind, " command=\"", Safe(summary), "\""));
  if (!TapOk(b, b.tap->Request(Now(), Direction::kInput, r.type, summary))) {
    return;
  }
  ReportCommand(b, r.type, kind, summary);
  Forward(b, std::move(r));
}

void GatewayConnection::Forward(Bridge& b, PendingRequest r) {
  // Record before forward, as for data, EOF and CLOSE: the request (exec,
  // pty-req, ...) reaches the host only once the recorder has its record
  // and everything before it. Until then the bridge is busy, so the
  // requests and data behind it wait too (in order); ReleaseGates sends
  // it and goes on.
  if (b.gate.MustWait(RecordingGate::Side::kInput, b.tap.get())) {
    b.gate.Hold(RecordingGate::Side::kInput, RecordingGate::Item::kRequest,
                b.tap.get(), 0, r.type, {});
    b.parked = std::move(r);
    b.busy = true;
    return;
  }
  SendRequestUp(b, std::move(r));
}

void GatewayConnection::SendRequestUp(Bridge& b, PendingRequest r) {
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
  Log(absl::StrCat("event=request.refused ", Describe(),
                   " channel=", b.down.id(), " type=\"", Safe(r.type),
                   "\" reason=\"", Safe(why), "\""));
  ReportChannelRefused(r.type, "", b.down.id(), why);
  // gwrefuse: stock ssh exits at once (fatal) when the shell, exec or
  // subsystem request of its session channel fails, before it writes the
  // stderr data that came with the failure. So that the user sees why,
  // such a refusal is answered like a command that prints the reason on
  // stderr and exits 1; nothing reaches the host.
  if (tell_user && r.want_reply && !b.started &&
      (r.type == "shell" || r.type == "exec" || r.type == "subsystem")) {
    b.started = true;
    (void)b.down.Reply(r.id, true);
    QueueNotice(b, absl::StrCat("sallyport: ", why, "\r\n"));
    ssh::wire::Writer status;
    status.Uint32(1);
    (void)b.down.SendRequest("exit-status", false, status.data());
    (void)b.down.SendEof();
    (void)b.down.Close();
    if (b.up.valid()) (void)b.up.Close();
    WakeDown();
    WakeUp();
    return;
  }
  if (tell_user) {
    QueueNotice(b, absl::StrCat("sallyport: ", why, "\r\n"));
  }
  if (r.want_reply) (void)b.down.Reply(r.id, false);
  WakeDown();
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
  if (b.tap != nullptr) b.tap->Close(Now());
  if (b.up_open) by_up_.erase(b.up.id());
  bridges_.erase(b.down.id());
}

std::optional<bool> GatewayConnection::OnGlobalRequest(
    std::string_view name, bool want_reply, Bytes data,
    ssh::connection::RequestId request) {
  if (name == "tcpip-forward" || name == "cancel-tcpip-forward") {
    return OnRemoteForward(name == "cancel-tcpip-forward", want_reply, data,
                           request);
  }
  // Answered as unsupported without a log line: OpenSSH's
  // no-more-sessions, and the request PuTTY sends on every connection to
  // learn whether the server is PuTTY's own.
  if (name != "no-more-sessions@openssh.com" &&
      name != "simple@putty.projects.tartarus.org") {
    Log(absl::StrCat("event=request.refused ", Describe(), " global=\"",
                     Safe(name), "\""));
  }
  return false;
}

}  // namespace sallyport::gateway
