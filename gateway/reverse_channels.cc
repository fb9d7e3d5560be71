// GatewayConnection's reverse direction (see gateway_connection.h): `-R`
// (tcpip-forward) and agent forwarding, with the channels the host opens
// back to the user. The jump and relay half is in forward_connection.cc.
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "audit/events.h"
#include "base/plural.h"
#include "gateway/connection_internal.h"
#include "gateway/gateway_connection.h"
#include "ssh/connection/messages.h"
#include "ssh/wire/reader.h"

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

namespace {

// The data of tcpip-forward and cancel-tcpip-forward (RFC 4254 §7.1).
struct ForwardRequest {
  std::string address;
  uint32_t port = 0;
};

absl::StatusOr<ForwardRequest> ParseForwardRequest(Bytes data) {
  ssh::wire::Reader r(data);
  ForwardRequest f;
  absl::StatusOr<std::string_view> address = r.ReadCString(1024);
  if (!address.ok()) return address.status();
  absl::StatusOr<uint32_t> port = r.ReadUint32();
  if (!port.ok()) return port.status();
  if (absl::Status st = r.ExpectEnd(); !st.ok()) return st;
  if (*port > 65535) return absl::InvalidArgumentError("port out of range");
  f.address = std::string(*address);
  f.port = *port;
  return f;
}

// Where the host listens for `-R`, as a forward destination for RBAC
// (the RBAC has no kind of its own for remote forwarding: it is a
// "port-forward" whose destination is the listen address on the host).
std::string ListenDestination(const ForwardRequest& f) {
  const std::string host =
      f.address.empty() || f.address == "*" ? "0.0.0.0" : f.address;
  return HostPort(host, f.port);
}

}  // namespace

// ---------------------------------------------------------------- -R

void GatewayConnection::Notify(const std::string& line) {
  for (auto& [id, b] : bridges_) {
    if (b->type == "session" && b->up_open && !b->down_closed) {
      QueueNotice(*b, line);
      WakeDown();
      return;
    }
  }
  if (notices_.size() < connection_internal::kMaxNotices)
    notices_.push_back(line);
}

void GatewayConnection::FlushNotices(Bridge& b) {
  for (const std::string& line : notices_) QueueNotice(b, line);
  notices_.clear();
  WakeDown();
}

std::optional<bool> GatewayConnection::OnRemoteForward(
    bool cancel, bool want_reply, Bytes data,
    ssh::connection::RequestId request) {
  const std::string what = cancel ? "cancel-tcpip-forward" : "tcpip-forward";
  std::string listen;  // once parsed
  // Every refusal is logged and audited (channel.refused, kind = the
  // request), like a refused channel.
  auto refuse = [&](const std::string& why) {
    Log(absl::StrCat("event=request.refused ", Describe(), " global=", what,
                     " reason=\"", Safe(why), "\""));
    ReportChannelRefused(what, listen, 0, why);
    return std::optional<bool>(false);
  };
  if (mode_ != Mode::kRecorded)
    return refuse("remote forwarding needs a LOGIN+HOST connection");
  absl::StatusOr<ForwardRequest> f = ParseForwardRequest(data);
  if (!f.ok()) return refuse("malformed request");
  const std::pair<std::string, uint32_t> key(f->address, f->port);
  listen = ListenDestination(*f);
  if (cancel) {
    if (remote_forwards_.count(key) == 0)
      return refuse("no such remote forward");
    // Each one waits for the host's answer (and for the upstream): as many
    // as there may be forwards, not as many as the user sends.
    if (remote_cancels_pending_ >= limits_.max_remote_forwards) {
      return refuse(absl::StrCat(
          "at most ",
          base::Plural(limits_.max_remote_forwards, "cancel-tcpip-forward"),
          " waiting at a time"));
    }
    ++remote_cancels_pending_;
  } else {
    auto tell = [&](const std::string& why) {
      Notify(absl::StrCat("sallyport: remote forwarding (-R) of ", Safe(listen),
                          " refused: ", why, "\r\n"));
      return refuse(why);
    };
    if (!permissions_->permit_port_forwarding)
      return tell(connection_internal::kNoPortForwardInCertificate);
    if (remote_forwards_.size() + remote_forwards_pending_ >=
        limits_.max_remote_forwards) {
      return tell(absl::StrCat(
          "at most ",
          base::Plural(limits_.max_remote_forwards, "remote forward"),
          " per connection"));
    }
    if (f->port == 0)
      return tell(
          "choose a port (a port allocated by the host is not "
          "supported)");
    ++remote_forwards_pending_;
  }
  // Decided and answered later, never inside this call.
  std::weak_ptr<GatewayConnection> weak = weak_from_this();
  std::vector<uint8_t> copy(data.begin(), data.end());
  asio::post(executor_, [weak, cancel, want_reply, request, key, listen, what,
                         copy = std::move(copy)]() mutable {
    auto self = weak.lock();
    if (self == nullptr || self->down_ended_) return;
    GatewayConnection* c = self.get();
    auto reply = [c, want_reply, request](bool ok, Bytes d) {
      if (!want_reply || c->down_ended_) return;
      (void)c->down_->ReplyGlobalRequest(request, ok, d);
      c->WakeDown();
    };
    auto ask_host = [c, cancel, key, listen, what, reply,
                     copy = std::move(copy)](bool ready) {
      if (!ready || c->upstream_ == nullptr ||
          c->upstream_->session == nullptr ||
          !c->upstream_->session->SendGlobalRequest(what, true, copy).ok()) {
        c->ForwardRequestDone(cancel);
        reply(false, {});
        return;
      }
      c->WakeUp();
      c->upstream_replies_.push_back([c, cancel, key, listen, what, reply](
                                         bool ok, Bytes d) {
        c->ForwardRequestDone(cancel);
        if (ok && cancel) c->remote_forwards_.erase(key);
        if (ok && !cancel) {
          c->remote_forwards_.insert(key);
          c->observer().AuditEvent(c->log_conn_, audit::kEventPortForwardListen,
                                   {{"host", c->target_.host},
                                    {"login", c->target_.login},
                                    {"listen", listen}});
        }
        c->Log(absl::StrCat("event=forward.remote ", c->Describe(), " ", what,
                            " listen=", Safe(listen), " ok=", ok));
        reply(ok, d);
      });
    };
    if (cancel) {
      c->WhenUpstream(std::move(ask_host));
      return;
    }
    c->AuthorizeFor(
        "port-forward", c->target_.host, listen,
        [c, listen, reply, ask_host = std::move(ask_host)](
            const gw::AuthorizeChannelResponse& a) mutable {
          if (!a.allowed()) {
            --c->remote_forwards_pending_;
            c->Notify(absl::StrCat("sallyport: remote forwarding (-R) of ",
                                   Safe(listen), " refused: ", a.reason(),
                                   "\r\n"));
            c->Log(absl::StrCat("event=request.refused ", c->Describe(),
                                " global=tcpip-forward reason=\"",
                                Safe(a.reason()), "\""));
            c->ReportChannelRefused("tcpip-forward", listen, 0, a.reason());
            reply(false, {});
            return;
          }
          c->WhenUpstream(std::move(ask_host));
        });
  });
  if (!want_reply) return false;  // no answer goes out
  return std::nullopt;
}

void GatewayConnection::WhenUpstream(std::function<void(bool)> then) {
  if (upstream_ready_) {
    then(true);
  } else if (upstream_error_.has_value()) {
    then(false);
  } else {
    after_upstream_.push_back(std::move(then));
  }
}

void GatewayConnection::OnUpstreamGlobalReply(bool success, Bytes data) {
  if (upstream_replies_.empty()) return;
  auto done = std::move(upstream_replies_.front());
  upstream_replies_.pop_front();
  done(success, data);
}

// ---------------------------------------------------- agent forwarding

bool GatewayConnection::RequestAgentForwarding(Bridge& b, PendingRequest r) {
  if (!permissions_->permit_agent_forwarding) {
    Refuse(b, r, connection_internal::kNoAgentForwardInCertificate, true);
    return false;
  }
  b.busy = true;
  auto shared = std::make_shared<PendingRequest>(std::move(r));
  Authorize(b, "agent-forward", "",
            [this, shared](Bridge& br, const gw::AuthorizeChannelResponse& a) {
              br.busy = false;
              if (!a.allowed()) {
                Refuse(br, *shared,
                       absl::StrCat("agent forwarding refused: ", a.reason()),
                       true);
              } else if (!br.tap
                              ->Request(Monotonic(), Direction::kInput,
                                        shared->type, "")
                              .ok()) {
                CloseBridge(br, "recording failed");
                return;
              } else {
                agent_forwarding_ = true;
                Log(absl::StrCat("event=agent.forward ", Describe(),
                                 " channel=", br.down.id()));
                Forward(br, std::move(*shared));
              }
              if (FindDown(br.down.id()) == &br) ProcessRequests(br);
            });
  return true;
}

// ------------------------------------------- channels the host opens

void GatewayConnection::OnUpstreamChannelOpen(Channel ch, std::string_view type,
                                              Bytes extra) {
  const std::string kind(type);
  std::optional<ssh::connection::DirectTcpip> forwarded;
  std::string destination;
  if (kind == "forwarded-tcpip") {
    auto f = ssh::connection::DirectTcpip::Parse(extra);
    if (f.ok()) {
      forwarded = *f;
      destination = HostPort(f->host, f->port);
    }
  }
  auto refuse = [&](const std::string& why) {
    RefuseReverse(ch, kind, destination,
                  OpenFailure::kAdministrativelyProhibited, why);
  };
  if (down_ended_) return refuse("the user is gone");
  if (AtChannelLimit()) return refuse("too many channels on this connection");
  if (kind == "forwarded-tcpip") {
    if (!forwarded.has_value()) return refuse("malformed forwarded-tcpip");
    // Only for a forward the user asked for and RBAC allowed.
    if (remote_forwards_.count({forwarded->host, forwarded->port}) == 0)
      return refuse("no such remote forward");
    OpenReverse(ch, kind, extra, destination);
    return;
  }
  if (kind == "auth-agent@openssh.com") {
    if (!agent_forwarding_) return refuse("agent forwarding is not allowed");
    OpenReverse(ch, kind, {}, "");
    return;
  }
  refuse("channel type not allowed through Sallyport");
}

void GatewayConnection::RefuseReverse(Channel up, const std::string& kind,
                                      const std::string& destination,
                                      OpenFailure reason,
                                      const std::string& why) {
  Log(absl::StrCat("event=channel.refused ", Describe(), " from=host type=\"",
                   Safe(kind), "\" destination=\"", Safe(destination),
                   "\" reason=\"", Safe(why), "\""));
  // Audited like the user's refused channels (the user is gone: the
  // session's events are over).
  if (!down_ended_) ReportChannelRefused(Safe(kind), destination, 0, why);
  (void)up.Reject(reason, why);
  WakeUp();
}

void GatewayConnection::OpenReverse(Channel up, const std::string& type,
                                    Bytes extra,
                                    const std::string& destination) {
  absl::StatusOr<Channel> down = down_->OpenChannel(type, extra);
  if (!down.ok()) {
    RefuseReverse(up, type, destination, OpenFailure::kResourceShortage,
                  "the user's connection takes no more channels");
    return;
  }
  auto b = std::make_unique<Bridge>();
  b->serial = next_serial_++;
  b->down = *down;
  b->up = up;
  b->type = type;
  b->reverse = true;
  b->up_open = true;
  b->info = SessionChannelInfo(down->id(), type);
  b->info.destination = destination;
  b->info.wake = RecorderWake();  // rec (#14): record before forward
  absl::StatusOr<std::unique_ptr<ChannelTap>> tap =
      SessionRecorder().Attach(b->info);
  if (tap.ok()) {
    b->tap = std::move(*tap);
    by_up_[up.id()] = b.get();
  } else if (record_best_effort_) {
    // As for the user's channels (AttachTap): on, unrecorded, and said so.
    GoUnrecorded(*b, tap.status());
    by_up_[up.id()] = b.get();
  } else {
    // Fail closed: the host's side is refused now, the user's side is
    // closed once it answers (OnChannelOpenResult).
    ReportRecordingFailed(*b, tap.status(), "channel-refused");
    RefuseReverse(up, type, destination, OpenFailure::kResourceShortage,
                  absl::StrCat("the channel cannot be recorded: ",
                               Safe(tap.status().message())));
    b->up = Channel();
    b->up_open = false;
  }
  bridges_[down->id()] = std::move(b);
  WakeDown();
}

void GatewayConnection::OnUpstreamChannelOpenTimedOut(Channel ch) {
  Bridge* b = FindUp(ch.id());
  if (b == nullptr || !b->reverse) return;
  by_up_.erase(ch.id());
  b->up = Channel();
  b->up_open = false;
  const std::string why =
      absl::StrCat("the user's client did not open the channel within ",
                   absl::FormatDuration(limits_.channel_open_timeout));
  Log(absl::StrCat("event=channel.refused ", Describe(), " from=host type=\"",
                   Safe(b->type), "\" destination=\"",
                   Safe(b->info.destination), "\" reason=\"", why, "\""));
  if (!down_ended_)
    ReportChannelRefused(Safe(b->type), b->info.destination, 0, why);
  // The user's side stays until the user's client answers (closed then,
  // OnChannelOpenResult) or its own open times out.
  if (b->tap != nullptr) {
    b->tap->Close(Monotonic());
    b->tap.reset();
  }
}

void GatewayConnection::OnChannelOpenResult(
    Channel ch, const ssh::connection::OpenResult& r) {
  Bridge* b = FindDown(ch.id());
  if (b == nullptr || !b->reverse) return;
  if (!r.ok()) {
    if (b->up.valid()) {
      by_up_.erase(b->up.id());
      // The session reports our open failed with kDeadlineExceeded when
      // the user's client did not answer within channel_open_timeout:
      // that is not a refusal (the user's client may never have seen it).
      const std::string why =
          r.status.code() == absl::StatusCode::kDeadlineExceeded
              ? absl::StrCat(
                    "the user's client did not open the channel within ",
                    absl::FormatDuration(limits_.channel_open_timeout))
          : r.description.empty()
              ? std::string("the user's client refused the channel")
              : absl::StrCat("the user's client refused the channel: ",
                             Safe(r.description));
      RefuseReverse(b->up, b->type, b->info.destination,
                    OpenFailure::kConnectFailed, why);
    }
    if (b->tap != nullptr) b->tap->Close(Monotonic());
    bridges_.erase(ch.id());  // b is gone
    return;
  }
  if (!b->up.valid() || b->tap == nullptr) {
    (void)ch.Close();
    WakeDown();
    return;
  }
  (void)b->up.Accept();
  b->reported_open = true;
  observer().ChannelOpened(log_conn_, ChannelLog(*b));
  Log(absl::StrCat("event=channel.open ", Describe(), " channel=", ch.id(),
                   " type=", b->type, " from=host destination=\"",
                   Safe(b->info.destination), "\""));
  WakeUp();
}

}  // namespace sallyport::gateway
