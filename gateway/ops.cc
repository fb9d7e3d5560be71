#include "gateway/ops.h"

#include <string>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "audit/events.h"

namespace sallyport::gateway {

namespace {
// Channel kinds are label values: a peer's unknown channel type must not
// make a series of its own.
std::string KindLabel(std::string_view kind) {
  static constexpr std::string_view kKnown[] = {
      "session",        "direct-tcpip",  "shell",
      "exec",           "sftp",          "subsystem",
      "port-forward",   "tcpip-forward", "x11",
      "x11-req",        "agent-forward", "auth-agent@openssh.com",
      "pty-req",        "env",           "proxyjump-passthrough",
      "forwarded-tcpip"};
  for (std::string_view k : kKnown) {
    if (kind == k) return std::string(k);
  }
  return "other";
}

// Port forwards are audited as such, with their direction: direct-tcpip
// channels the user opens (ssh -L, -D, -W) and forwarded-tcpip channels
// the host opens for a remote forward (ssh -R).
bool IsPortForward(std::string_view kind) {
  return kind == "direct-tcpip" || kind == "forwarded-tcpip";
}
std::string ForwardDirection(std::string_view kind) {
  return kind == "forwarded-tcpip" ? "remote" : "local";
}
}  // namespace

GatewayOps::GatewayOps(base::LogFormat format, GatewayLog::Sink sink,
                       const base::Clock* clock, LogLevel level)
    : sink_(std::move(sink)),
      clock_(clock),
      log_(std::make_shared<GatewayLog>(format, sink_, clock_, level)),
      format_(format),
      bytes_in_(metrics_.bytes.WithLabels({"client_to_target"})),
      bytes_out_(metrics_.bytes.WithLabels({"target_to_client"})),
      ext_dropped_user_bytes_(
          metrics_.extended_data_dropped_bytes.WithLabels({"user"})),
      ext_dropped_user_messages_(
          metrics_.extended_data_dropped_messages.WithLabels({"user"})),
      ext_dropped_host_bytes_(
          metrics_.extended_data_dropped_bytes.WithLabels({"host"})),
      ext_dropped_host_messages_(
          metrics_.extended_data_dropped_messages.WithLabels({"host"})),
      upstream_latency_(metrics_.upstream_connect_seconds.Get()) {
  // Series a scrape shows at 0 before their first event.
  for (std::string_view mode : {kJumpModeRecorded, kJumpModePassthrough}) {
    metrics_.jumps.WithLabels({std::string(mode)});
  }
  for (std::string_view source : {kJumpCertIssued, kJumpCertCached}) {
    metrics_.jump_host_certificates.WithLabels({std::string(source)});
  }
}

void GatewayOps::SetLogFormat(base::LogFormat format) {
  absl::MutexLock lock(&mu_);
  log_ = std::make_shared<GatewayLog>(format, sink_, clock_, log_->level());
  format_ = format;
}

void GatewayOps::SetLogLevel(LogLevel level) {
  absl::MutexLock lock(&mu_);
  log_->set_level(level);
}

base::LogFormat GatewayOps::log_format() const {
  absl::MutexLock lock(&mu_);
  return format_;
}

std::shared_ptr<GatewayLog> GatewayOps::log() const {
  absl::MutexLock lock(&mu_);
  return log_;
}

void GatewayOps::Notice(std::string_view event, std::string_view message,
                        bool success) {
  log()->Event(event, success, LogConnection{},
               {{"message", std::string(message)}});
}

void GatewayOps::Detail(std::string_view message) {
  std::shared_ptr<GatewayLog> l = log();
  if (l->level() > LogLevel::kDebug) return;
  l->Event("detail", true, LogConnection{}, {{"message", std::string(message)}},
           LogLevel::kDebug);
}

void GatewayOps::CaRpc(std::string_view rpc, absl::Duration latency) {
  metrics_.ca_rpc_seconds.WithLabels({std::string(rpc)})
      .Observe(absl::ToDoubleSeconds(latency));
}

void GatewayOps::SetEventSender(EventSender* sender) {
  sender_.store(sender, std::memory_order_release);
}

void GatewayOps::Send(const LogConnection& c, std::string_view code,
                      const std::vector<base::LogField>& fields,
                      absl::Time at) {
  EventSender* sender = sender_.load(std::memory_order_acquire);
  if (sender == nullptr || c.session.empty()) return;
  if (at == absl::InfinitePast()) {
    at = clock_ != nullptr ? clock_->Now() : absl::Now();
  }
  (void)sender->Enqueue(code, c.session, c.user, at, fields);
}

void GatewayOps::SessionEvent(std::string_view code,
                              std::string_view session_id,
                              std::string_view user,
                              const std::vector<base::LogField>& fields) {
  LogConnection c;
  c.session = std::string(session_id);
  c.user = std::string(user);
  Send(c, code, fields);
}

void GatewayOps::AuditEvent(const LogConnection& c, std::string_view code,
                            const std::vector<base::LogField>& fields) {
  if (code == audit::kEventProxyJump) {
    for (const auto& [name, value] : fields) {
      if (name != "mode") continue;
      if (const std::string* mode = std::get_if<std::string>(&value)) {
        metrics_.jumps.WithLabels({*mode}).Inc();
      }
    }
  }
  log()->Event(code, true, c, fields);
  Send(c, code, fields);
}

void GatewayOps::RecordingFailed(const LogConnection& c, const LogChannel& ch,
                                 std::string_view record_mode,
                                 std::string_view outcome,
                                 std::string_view reason) {
  std::vector<base::LogField> fields = {
      {"channel", int64_t{ch.id}},
      {"record_mode", std::string(record_mode)},
      {"outcome", std::string(outcome)},
      {"reason", std::string(reason)}};
  Send(c, audit::kEventRecordingFailed, fields);
  // A failure of the gateway's own (its spool), logged at `error` too. In
  // the line, what the gateway did is `action`: `outcome` is the line's
  // own (failure).
  fields[2].first = "action";
  log()->Event(audit::kEventRecordingFailed, false, c, std::move(fields),
               LogLevel::kError);
}

void GatewayOps::ConnectionDropped() { metrics_.connections_dropped.Inc(); }

void GatewayOps::ConnectionOpened(const LogConnection& c) {
  metrics_.connections_accepted.Inc();
  metrics_.connections_current.Add(1);
  log()->ConnectionOpened(c);
}

void GatewayOps::ConnectionClosed(const LogConnection& c,
                                  std::string_view outcome, absl::Duration d,
                                  uint64_t bytes_in, uint64_t bytes_out,
                                  std::string_view reason) {
  // The gauges first: a scrape that sees the close counted sees them
  // without the connection (gateway_ops_e2e_test waits for the counter,
  // then reads sessions_active: once in a full-suite run it read 1).
  const bool session = IsSessionOutcome(outcome);
  metrics_.connections_current.Add(-1);
  if (session && !c.jump_only) metrics_.sessions_active.Add(-1);
  metrics_.connections_closed.WithLabels({std::string(outcome)}).Inc();
  log()->ConnectionClosed(c, outcome, d, bytes_in, bytes_out, reason);
  // A session existed only when the user authenticated: "ok", or why the
  // gateway ended it ("revoked", "expired", ...).
  if (session) {
    Send(c, audit::kEventSessionEnd,
         {{"outcome", std::string(outcome)},
          {"duration_ms", absl::ToInt64Milliseconds(d)},
          {"bytes_in", static_cast<int64_t>(bytes_in)},
          {"bytes_out", static_cast<int64_t>(bytes_out)},
          {"reason", std::string(reason)}});
  }
}

void GatewayOps::AuthDecision(const LogConnection& c,
                              const LogAuthDecision& d) {
  if (d.allowed) {
    // A jump-only connection carries others' sessions (its recorded jumps
    // are inner connections, each counted at its own authentication) or
    // passthrough relays: it is counted as a jump connection only.
    if (c.jump_only) {
      metrics_.jump_connections.Inc();
    } else {
      metrics_.sessions_active.Add(1);
    }
  } else {
    metrics_.auth_failures.WithLabels({d.reason}).Inc();
  }
  log()->AuthDecision(c, d);
  if (d.allowed) {
    Send(c, audit::kEventSessionStart,
         {{"login", d.login},
          {"host", d.host},
          {"peer", c.peer},
          {"serial", static_cast<int64_t>(d.serial)},
          {"ca_fingerprint", d.ca_fingerprint}},
         d.at);  // the recording's started_at too
  } else {
    Send(c, audit::kEventSessionRefused,
         {{"peer", c.peer},
          {"login", d.login},
          {"host", d.host},
          {"reason", d.reason}});
  }
}

void GatewayOps::ChannelOpened(const LogConnection& c, const LogChannel& ch) {
  metrics_.channels_opened.WithLabels({KindLabel(ch.kind)}).Inc();
  metrics_.channels_open.Add(1);
  log()->ChannelOpened(c, ch);
  if (IsPortForward(ch.kind)) {
    Send(c, audit::kEventPortForwardOpen,
         {{"channel", int64_t{ch.id}},
          {"host", ch.host},
          {"login", ch.login},
          {"destination", ch.destination},
          {"direction", ForwardDirection(ch.kind)}});
  } else {
    Send(c, audit::kEventChannelOpen,
         {{"channel", int64_t{ch.id}},
          {"kind", ch.kind},
          {"login", ch.login},
          {"host", ch.host}});
  }
}

void GatewayOps::ChannelRefused(const LogConnection& c, const LogChannel& ch,
                                std::string_view reason) {
  metrics_.channels_refused.WithLabels({KindLabel(ch.kind)}).Inc();
  log()->ChannelRefused(c, ch, reason);
  std::vector<base::LogField> fields = {{"channel", int64_t{ch.id}},
                                        {"kind", ch.kind},
                                        {"login", ch.login},
                                        {"host", ch.host},
                                        {"reason", std::string(reason)}};
  if (!ch.destination.empty())
    fields.push_back({"destination", ch.destination});
  Send(c, audit::kEventChannelRefused, fields);
}

void GatewayOps::ChannelRefusedUnreported(const LogChannel& ch) {
  metrics_.channels_refused.WithLabels({KindLabel(ch.kind)}).Inc();
}

void GatewayOps::ChannelRefusalsUnreported(const LogConnection& c,
                                           const LogChannel& of,
                                           uint64_t count) {
  LogChannel ch = of;
  ch.id = 0;
  ch.kind = "*";
  ch.destination.clear();
  const std::string reason =
      absl::StrCat(count,
                   " more refusals on this connection were counted in "
                   "sallyport_gateway_channels_refused_total but not logged or "
                   "audited one by one (the first ",
                   kMaxRefusalsReported, " were)");
  log()->ChannelRefused(c, ch, reason);
  Send(c, audit::kEventChannelRefused,
       {{"channel", int64_t{0}},
        {"kind", ch.kind},
        {"login", ch.login},
        {"host", ch.host},
        {"reason", reason},
        {"unreported", static_cast<int64_t>(count)}});
}

void GatewayOps::ChannelClosed(const LogConnection& c, const LogChannel& ch,
                               const ChannelBytes& bytes) {
  metrics_.channels_open.Add(-1);
  log()->ChannelClosed(
      c, ch, bytes.in, bytes.out,
      !bytes.exit_signal.empty()      ? "signal " + bytes.exit_signal
      : bytes.exit_status.has_value() ? absl::StrCat(*bytes.exit_status)
                                      : std::string());
  const bool forward = IsPortForward(ch.kind);
  std::vector<base::LogField> fields = {{"channel", int64_t{ch.id}}};
  if (forward) {
    fields.push_back({"destination", ch.destination});
    fields.push_back({"direction", ForwardDirection(ch.kind)});
  } else {
    fields.push_back({"kind", ch.kind});
  }
  fields.push_back({"bytes_in", static_cast<int64_t>(bytes.in)});
  fields.push_back({"bytes_out", static_cast<int64_t>(bytes.out)});
  fields.push_back(
      {"ext_dropped_bytes_in", static_cast<int64_t>(bytes.ext_dropped_in)});
  fields.push_back(
      {"ext_dropped_bytes_out", static_cast<int64_t>(bytes.ext_dropped_out)});
  // How the command ended, when the host said.
  if (bytes.exit_status.has_value()) {
    fields.push_back({"exit_status", int64_t{*bytes.exit_status}});
  }
  if (!bytes.exit_signal.empty()) {
    fields.push_back({"exit_signal", bytes.exit_signal});
  }
  Send(c, forward ? audit::kEventPortForwardClose : audit::kEventChannelClose,
       fields);
}

void GatewayOps::UpstreamConnect(const LogConnection& c, const LogUpstream& u) {
  if (u.ok) upstream_latency_.Observe(absl::ToDoubleSeconds(u.latency));
  log()->UpstreamConnect(c, u);
  if (!u.ok) {
    Send(c, audit::kEventUpstreamFailed,
         {{"host", u.host},
          {"address", u.address},
          {"login", u.login},
          {"reason", u.reason}});
  }
}

void GatewayOps::Bytes(bool client_to_target, uint64_t n) {
  (client_to_target ? bytes_in_ : bytes_out_).Inc(n);
}

void GatewayOps::ExtendedDataDropped(bool from_user, uint64_t n) {
  (from_user ? ext_dropped_user_bytes_ : ext_dropped_host_bytes_).Inc(n);
  (from_user ? ext_dropped_user_messages_ : ext_dropped_host_messages_).Inc();
}

void GatewayOps::JumpHostCertificate(std::string_view source) {
  metrics_.jump_host_certificates.WithLabels({std::string(source)}).Inc();
}

}  // namespace sallyport::gateway
