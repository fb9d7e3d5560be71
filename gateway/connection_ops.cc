// GatewayConnection's operations side (gwops): what it reports to the
// ProxyObserver (log lines and metrics) and the idle timeout
// (limits.idle_timeout). The forwarding logic lives in
// gateway_connection.cc and the channel_*.cc files.
#include <asio/experimental/as_tuple.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "audit/events.h"
#include "audit/scp_command.h"
#include "gateway/connection_internal.h"
#include "gateway/gateway_connection.h"
#include "ssh/net/spawn.h"

// GCC 12 at -O1 (the ASan config) reports a false
// -Wmismatched-new-delete for the frames of Asio coroutines.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace sallyport::gateway {

std::string GatewayConnection::CaRefusalCode(const absl::Status& st) {
  switch (st.code()) {
    case absl::StatusCode::kNotFound:
      return "not-in-inventory";
    case absl::StatusCode::kPermissionDenied:
      return "denied";
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return "ca-unavailable";
    case absl::StatusCode::kUnauthenticated:
      return "certificate";
    default:
      return "ca-error";
  }
}

LogChannel GatewayConnection::ChannelLog(const Bridge& b) const {
  LogChannel ch;
  ch.id = b.down.id();
  ch.kind = b.type;
  ch.login = target_.login;
  ch.host = target_.host;
  ch.destination = b.info.destination;
  return ch;
}

ChannelInfo GatewayConnection::SessionChannelInfo(uint32_t channel_id,
                                                  std::string_view type) const {
  ChannelInfo info;
  info.session_id = session_id_;
  info.session_started_at = session_started_;
  info.session_started_monotonic = session_started_monotonic_;
  info.user = user_;
  info.login = target_.login;
  info.host = target_.host;
  info.channel_id = channel_id;
  info.type = std::string(type);
  return info;
}

void GatewayConnection::ReportAuth(bool allowed, std::string_view code) {
  if (!allowed) auth_failure_ = std::string(code);
  log_conn_.user = user_;
  log_conn_.jump_only = allowed && mode_ == Mode::kJump;
  LogAuthDecision d;
  d.allowed = allowed;
  d.login = target_.login;
  d.host = target_.host;
  d.method = "publickey";
  d.key_id = user_;
  d.serial = cert_serial_;
  d.ca_fingerprint = ca_fingerprint_;
  d.reason = std::string(code);
  if (allowed) d.at = session_started_;
  observer().AuthDecision(log_conn_, d);
}

void GatewayConnection::ReportChannelRefused(std::string_view kind,
                                             const std::string& destination,
                                             uint32_t id,
                                             std::string_view reason,
                                             const std::string& host) {
  LogChannel ch;
  ch.id = id;
  ch.kind = std::string(kind);
  ch.login = target_.login;
  ch.host = host.empty() ? target_.host : host;
  ch.destination = destination;
  if (++refusals_ > kMaxRefusalsReported) {
    observer().ChannelRefusedUnreported(ch);
    return;
  }
  if (refusals_ < kMaxRefusalsReported) {
    observer().ChannelRefused(log_conn_, ch, reason);
    return;
  }
  observer().ChannelRefused(
      log_conn_, ch,
      absl::StrCat(std::string(reason), " (the connection's ",
                   kMaxRefusalsReported,
                   "th refusal: later ones are counted, and summed up when "
                   "it ends)"));
}

void GatewayConnection::ReportChannelClosed(Bridge& b) {
  if (!b.reported_open) return;
  b.reported_open = false;
  observer().ChannelClosed(log_conn_, ChannelLog(b),
                           {b.bytes_in, b.bytes_out, b.ext_dropped_in,
                            b.ext_dropped_out, b.exit_status, b.exit_signal});
}

void GatewayConnection::ReportCommand(
    const Bridge& b, std::string_view type, std::string_view kind,
    const std::string& command, const std::optional<Requested>& requested) {
  const int64_t channel = b.down.id();
  if (type == "exec") {
    std::vector<base::LogField> fields = {{"channel", channel},
                                          {"host", target_.host},
                                          {"login", target_.login},
                                          {"command", command}};
    if (requested.has_value()) {
      // A forced command ran instead: what the user asked for is audited
      // (it reaches the host only as the forced command's own text).
      fields.emplace_back("requested_type", requested->type);
      fields.emplace_back("requested", requested->text);
    }
    observer().AuditEvent(log_conn_, audit::kEventExecCommand, fields);
  }
  // scp runs "scp [options] -t|-f PATH" on the host: -t receives (an
  // upload), -f sends (a download). The recorder's rule, so the event and
  // the recording agree on what was a transfer.
  std::string_view direction;
  if (kind == "sftp") {
    direction = "both";
  } else if (type == "exec") {
    direction = audit::ScpTransferDirection(command);
  }
  if (!direction.empty()) {
    observer().AuditEvent(
        log_conn_, audit::kEventFileTransferStart,
        {{"channel", channel},
         {"host", target_.host},
         {"login", target_.login},
         {"protocol", std::string(kind == "sftp" ? "sftp" : "scp")},
         {"direction", std::string(direction)}});
  }
}

void GatewayConnection::ReportUpstream(bool ok, std::string_view reason) {
  if (upstream_reported_ || !session_cert_.has_value()) return;
  upstream_reported_ = true;
  const gateway::v1::HostRecord& host = session_cert_->host();
  LogUpstream u;
  u.host = host.name();
  u.address = absl::StrCat(host.address(), ":", host.port());
  u.login = target_.login;
  u.ok = ok;
  u.latency = Monotonic() - upstream_started_;
  u.reason = std::string(reason);
  observer().UpstreamConnect(log_conn_, u);
}

void GatewayConnection::ReportClosed(const absl::Status& why) {
  std::string_view outcome = kOutcomeError;
  if (authenticated_) {
    // The gateway's own deadline ended the session: say why (the certificate
    // revoked or expired, idle, drained, ...), not "ok". Only once it has
    // passed: the transport ends a key re-exchange that does not finish in
    // time (a laptop asleep) with kDeadlineExceeded too, and that session
    // is no more expired than one whose connection dropped.
    outcome = why.code() == absl::StatusCode::kDeadlineExceeded &&
                      !deadline_outcome_.empty() && absl::Now() >= deadline_at_
                  ? deadline_outcome_
                  : kOutcomeOk;
  } else if (limit_refused_) {
    outcome = kOutcomeLimit;
  } else if (!auth_failure_.empty()) {
    outcome = kOutcomeAuthFailed;
  } else if (why.code() == absl::StatusCode::kDeadlineExceeded) {
    outcome = kOutcomeTimeout;
  } else if (why.code() == absl::StatusCode::kUnavailable) {
    outcome = kOutcomeRefused;
  }
  if (refusals_ > kMaxRefusalsReported) {
    LogChannel ch;
    ch.login = target_.login;
    ch.host = target_.host;
    observer().ChannelRefusalsUnreported(log_conn_, ch,
                                         refusals_ - kMaxRefusalsReported);
  }
  ending_.recording_failed = outcome == kOutcomeRecordingFailed;
  ending_.reason = std::string(SessionEndReason(outcome));
  observer().ConnectionClosed(
      log_conn_, outcome, Monotonic() - opened_at_, bytes_in_, bytes_out_,
      why.ok() ? std::string_view()
               : std::string_view(why.message().data(), why.message().size()));
}

void GatewayConnection::NoteData(Bridge& b, bool client_to_target, size_t n) {
  (client_to_target ? b.bytes_in : b.bytes_out) += n;
  NoteConnectionData(client_to_target, n);
}

void GatewayConnection::NoteConnectionData(bool client_to_target, size_t n) {
  (client_to_target ? bytes_in_ : bytes_out_) += n;
  observer().Bytes(client_to_target, n);
  if (idle_timer_ != nullptr) last_data_ = std::chrono::steady_clock::now();
}

void GatewayConnection::ArmDeadline(absl::Time when, const std::string& reason,
                                    std::string_view outcome) {
  if (down_driver_ == nullptr || down_ended_) return;
  // The earliest end wins: a drain's end (now + drain_timeout) queued
  // before a revocation's (now) ran must not put the revoked session's end
  // off, nor call it drained.
  if (when >= deadline_at_) return;
  deadline_at_ = when;
  deadline_outcome_ = outcome;
  down_driver_->SetDeadline(when, reason);
}

void GatewayConnection::StartIdleWatch() {
  if (limits_.idle_timeout <= absl::ZeroDuration()) return;
  last_data_ = std::chrono::steady_clock::now();
  idle_timer_ = std::make_unique<asio::steady_timer>(executor_);
  auto self = shared_from_this();
  ssh::net::Spawn(
      executor_,
      [self]() -> asio::awaitable<void> { co_await self->WatchIdle(); },
      "gateway idle timeout");
}

asio::awaitable<void> GatewayConnection::WatchIdle() {
  const auto idle = absl::ToChronoNanoseconds(limits_.idle_timeout);
  while (!down_ended_) {
    const auto due = last_data_ + idle;
    if (std::chrono::steady_clock::now() >= due) {
      const std::string reason = absl::StrCat(
          "sallyport: no data for ", absl::FormatDuration(limits_.idle_timeout),
          " (limits.idle_timeout): the idle session was ended");
      Log(absl::StrCat("event=conn.idle ", Describe(), " idle_timeout=",
                       absl::FormatDuration(limits_.idle_timeout)));
      ArmDeadline(absl::Now(), reason, kOutcomeIdleTimeout);
      co_return;
    }
    idle_timer_->expires_at(due);
    auto [ec] = co_await idle_timer_->async_wait(
        asio::experimental::as_tuple(asio::use_awaitable));
    (void)ec;
  }
}

}  // namespace sallyport::gateway
