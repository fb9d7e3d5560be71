#include "gateway/ops.h"

#include <utility>

namespace sallyport::gateway {

namespace {
// Channel kinds are label values: a peer's unknown channel type must not
// make a series of its own.
std::string KindLabel(std::string_view kind) {
  static constexpr std::string_view kKnown[] = {
      "session",      "direct-tcpip",  "shell",
      "exec",         "sftp",          "subsystem",
      "port-forward", "tcpip-forward", "x11",
      "x11-req",      "agent-forward", "auth-agent@openssh.com",
      "pty-req",      "env",           "proxyjump-passthrough"};
  for (std::string_view k : kKnown) {
    if (kind == k) return std::string(k);
  }
  return "other";
}
}  // namespace

GatewayOps::GatewayOps(base::LogFormat format, GatewayLog::Sink sink,
                       const base::Clock* clock)
    : sink_(std::move(sink)),
      clock_(clock),
      log_(std::make_shared<GatewayLog>(format, sink_, clock_)),
      format_(format),
      bytes_in_(metrics_.bytes.WithLabels({"client_to_target"})),
      bytes_out_(metrics_.bytes.WithLabels({"target_to_client"})),
      upstream_latency_(metrics_.upstream_connect_seconds.Get()) {}

void GatewayOps::SetLogFormat(base::LogFormat format) {
  auto fresh = std::make_shared<GatewayLog>(format, sink_, clock_);
  absl::MutexLock lock(&mu_);
  log_ = std::move(fresh);
  format_ = format;
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

void GatewayOps::CaRpc(std::string_view rpc, absl::Duration latency) {
  metrics_.ca_rpc_seconds.WithLabels({std::string(rpc)})
      .Observe(absl::ToDoubleSeconds(latency));
}

void GatewayOps::ConnectionOpened(const LogConnection& c) {
  metrics_.connections_accepted.Inc();
  metrics_.connections_current.Add(1);
  log()->ConnectionOpened(c);
}

void GatewayOps::ConnectionClosed(const LogConnection& c,
                                  std::string_view outcome, absl::Duration d,
                                  uint64_t bytes_in, uint64_t bytes_out,
                                  std::string_view reason) {
  metrics_.connections_current.Add(-1);
  metrics_.connections_closed.WithLabels({std::string(outcome)}).Inc();
  if (outcome == kOutcomeOk) metrics_.sessions_active.Add(-1);
  log()->ConnectionClosed(c, outcome, d, bytes_in, bytes_out, reason);
}

void GatewayOps::AuthDecision(const LogConnection& c,
                              const LogAuthDecision& d) {
  if (d.allowed) {
    metrics_.sessions_active.Add(1);
  } else {
    metrics_.auth_failures.WithLabels({d.reason}).Inc();
  }
  log()->AuthDecision(c, d);
}

void GatewayOps::ChannelOpened(const LogConnection& c, const LogChannel& ch) {
  metrics_.channels_opened.WithLabels({KindLabel(ch.kind)}).Inc();
  metrics_.channels_open.Add(1);
  log()->ChannelOpened(c, ch);
}

void GatewayOps::ChannelRefused(const LogConnection& c, const LogChannel& ch,
                                std::string_view reason) {
  metrics_.channels_refused.WithLabels({KindLabel(ch.kind)}).Inc();
  log()->ChannelRefused(c, ch, reason);
}

void GatewayOps::ChannelClosed(const LogConnection& c, const LogChannel& ch,
                               uint64_t bytes_in, uint64_t bytes_out) {
  metrics_.channels_open.Add(-1);
  log()->ChannelClosed(c, ch, bytes_in, bytes_out);
}

void GatewayOps::UpstreamConnect(const LogConnection& c, const LogUpstream& u) {
  if (u.ok) upstream_latency_.Observe(absl::ToDoubleSeconds(u.latency));
  log()->UpstreamConnect(c, u);
}

void GatewayOps::Bytes(bool client_to_target, uint64_t n) {
  (client_to_target ? bytes_in_ : bytes_out_).Inc(n);
}

}  // namespace sallyport::gateway
