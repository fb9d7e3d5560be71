// GatewayConnection's requests from the user (see gateway_connection.h):
// channel requests relayed in order (each authorized or refused, recorded
// before it is forwarded) and global requests. GatewayConnection is
// implemented across several .cc files: opening and closing a bridge is
// in channel_bridge.cc, data both ways in channel_data.cc.
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gateway/connection_internal.h"
#include "gateway/gateway_connection.h"
#include "gateway/proxy.h"
#include "ssh/connection/messages.h"
#include "ssh/transport/packet_codec.h"
#include "ssh/wire/writer.h"

namespace sallyport::gateway {

namespace gw = gateway::v1;
using connection_internal::Safe;
using ssh::session::Channel;
using ssh::wire::Bytes;

namespace {

// A request's type and data fit in one packet: the caps on what waits
// never refuse a request alone.
static_assert(kMaxQueuedRequestBytes >= ssh::transport::kMaxPacketLength);
static_assert(kMaxHeldHostRequestBytes >= ssh::transport::kMaxPacketLength);

bool EnvAllowed(std::string_view name) {
  return name == "LANG" || absl::StartsWith(std::string(name), "LC_");
}

}  // namespace

// ------------------------------------------------------------ requests

void GatewayConnection::OnChannelRequest(Channel ch, std::string_view type,
                                         bool want_reply, Bytes data,
                                         ssh::connection::RequestId request) {
  Bridge* b = FindDown(ch.id());
  if (b == nullptr || !b->up_open) {
    if (want_reply) (void)ch.Reply(request, false);
    return;
  }
  // A window-change queued behind another one replaces it: only the
  // latest size matters to the host (and to the recording, which gets it
  // when it goes out). A terminal resized by dragging sends dozens at
  // once, which filled the queue and closed the channel (found by a
  // red-team run: 80 in a burst while the recorder was writing).
  if (type == "window-change" && !want_reply && !b->requests.empty() &&
      b->requests.back().type == "window-change" &&
      !b->requests.back().want_reply) {
    b->requests.back().data.assign(data.begin(), data.end());
    b->requests.back().id = request;
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
      // One pty, before the command: sshd ends the whole connection (every
      // channel of the user's session to the host) on a second one
      // ("you already have a pty") or on modes it cannot parse, which the
      // gateway would only have reported as the host's connection ending.
      if (b.pty || b.started) {
        Refuse(b, r,
               b.pty ? "a pty was already requested on this channel"
                     : "a pty must be requested before the command",
               false);
        continue;
      }
      auto pty = ssh::connection::PtyRequest::Parse(r.data);
      if (!pty.ok()) {
        Refuse(b, r,
               absl::StrCat("malformed pty-req: ", pty.status().message()),
               false);
        continue;
      }
      // The pty-req record marks a terminal session: the tap then keeps
      // its input by default (record_input unset) and replay knows it.
      if (!TapOk(b, b.tap->Request(Monotonic(), Direction::kInput, t,
                                   pty->term)) ||
          !TapOk(b,
                 b.tap->WindowChange(Monotonic(), pty->columns, pty->rows))) {
        return;
      }
      b.pty = true;
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
      if (!TapOk(b, b.tap->WindowChange(Monotonic(), wc->columns, wc->rows))) {
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
  std::optional<Requested> requested;
  if (forced.has_value()) {
    // What the user asked for, for the audit: an exec's command or a
    // subsystem's name (a shell has none).
    requested = Requested{r.type, ""};
    if (r.type != "shell") {
      auto s = ssh::connection::ParseStringRequest(r.data);
      requested->text = s.ok() ? *s : "(unreadable)";
    }
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
  Log(absl::StrCat(
      "event=channel.start ", Describe(), " channel=", b.down.id(),
      " kind=", kind, " command=\"", Safe(summary), "\"",
      requested.has_value()
          ? absl::StrCat(" forced=true requested_type=", requested->type,
                         " requested=\"", Safe(requested->text), "\"")
          : std::string()));
  if (!TapOk(b,
             b.tap->Request(Monotonic(), Direction::kInput, r.type, summary))) {
    return;
  }
  ReportCommand(b, r.type, kind, summary, requested);
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
