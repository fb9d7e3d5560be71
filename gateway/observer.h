// Operations hooks of the proxy (issue 12 "Operations"): the proxy reports
// each connection, authentication decision, channel and upstream connect,
// and the bytes it relays, to a ProxyObserver; gateway/ops.h turns them
// into log lines (GatewayLog) and metrics (GatewayMetrics). The arguments
// are the log's own structs, so what is logged and what is counted agree.
//
// Calls come from the connections' I/O threads: an observer must be
// thread-safe, quick and never block. Peer text in the arguments is raw;
// the observer escapes it (GatewayLog does).
#ifndef SALLYPORT_GATEWAY_OBSERVER_H_
#define SALLYPORT_GATEWAY_OBSERVER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "base/event_line.h"
#include "gateway/log.h"

namespace sallyport::gateway {

// Outcomes of a downstream connection (ConnectionClosed). A session existed
// (the user authenticated) exactly when IsSessionOutcome: "ok" when the user
// or the host ended it, or why the gateway ended it; so sessions can be
// counted from AuthDecision(allowed) and the session outcomes.
inline constexpr std::string_view kOutcomeOk = "ok";
// The gateway ended the session: the user's certificate was revoked, it
// reached its valid_before, no data for limits.idle_timeout, a SIGTERM's
// drain_timeout ran out, the recording failed (strict record_mode), or the
// revocation list went stale (revocation_fail_mode: end_sessions).
inline constexpr std::string_view kOutcomeRevoked = "revoked";
inline constexpr std::string_view kOutcomeExpired = "expired";
inline constexpr std::string_view kOutcomeIdleTimeout = "idle-timeout";
inline constexpr std::string_view kOutcomeDrained = "drained";
inline constexpr std::string_view kOutcomeRecordingFailed = "recording-failed";
inline constexpr std::string_view kOutcomeRevocationsUnknown =
    "revocations-unknown";
// No session: the connection ended before the user authenticated.
inline constexpr std::string_view kOutcomeAuthFailed = "auth-failed";
inline constexpr std::string_view kOutcomeRefused = "refused";
inline constexpr std::string_view kOutcomeError = "error";
inline constexpr std::string_view kOutcomeTimeout = "timeout";
inline constexpr std::string_view kOutcomeLimit = "limit";

// The refusals of one connection (channels and requests refused, audited
// as channel.refused) that are logged and audited one by one; later ones
// are counted (ChannelRefusedUnreported) and summed up at its end. A peer
// sent 2,000 refused requests in 0.16 s, each an audit row.
inline constexpr uint64_t kMaxRefusalsReported = 100;

// Whether a connection that ended with `outcome` had a session: "ok" or one
// of the gateway's ends above.
bool IsSessionOutcome(std::string_view outcome);
// Why the gateway ended a session that ended with `outcome`, for the
// recording's end record (`spctl sessions show` prints it as its reason):
// "certificate revoked", ...; empty for "ok" and the outcomes without a
// session.
std::string_view SessionEndReason(std::string_view outcome);

// What a channel carried, for ChannelClosed: payload relayed (in: from the
// user to the host, out: back) and extended data dropped unforwarded
// (ExtendedDataDropped) each way; and how its command ended, when the host
// said (exit-status: the number, exit-signal: the signal's name).
struct ChannelBytes {
  uint64_t in = 0, out = 0;
  uint64_t ext_dropped_in = 0, ext_dropped_out = 0;
  std::optional<uint32_t> exit_status = std::nullopt;
  std::string exit_signal = "";
};

class ProxyObserver {
 public:
  virtual ~ProxyObserver() = default;
  virtual void ConnectionOpened(const LogConnection&) {}
  virtual void ConnectionClosed(const LogConnection&,
                                std::string_view /*outcome*/, absl::Duration,
                                uint64_t /*bytes_in*/, uint64_t /*bytes_out*/,
                                std::string_view /*reason*/) {}
  // The reason is a stable code (see AuthFailureCode) when refused.
  virtual void AuthDecision(const LogConnection&, const LogAuthDecision&) {}
  virtual void ChannelOpened(const LogConnection&, const LogChannel&) {}
  virtual void ChannelRefused(const LogConnection&, const LogChannel&,
                              std::string_view /*reason*/) {}
  // A refusal past the connection's kMaxRefusalsReported: counted in the
  // metric only (no log line, no audit event), so that a client sending
  // thousands of refused requests cannot flood the audit log.
  virtual void ChannelRefusedUnreported(const LogChannel&) {}
  // At the connection's end, when refusals went unreported: how many (a
  // log line and a channel.refused audit event saying so; the channel's
  // login and host are the connection's, its kind is replaced by "*").
  virtual void ChannelRefusalsUnreported(const LogConnection&,
                                         const LogChannel&,
                                         uint64_t /*count*/) {}
  virtual void ChannelClosed(const LogConnection&, const LogChannel&,
                             const ChannelBytes&) {}
  virtual void UpstreamConnect(const LogConnection&, const LogUpstream&) {}
  // recording.failed (issue 14): the recorder refused or failed a channel;
  // record_mode "strict" or "best_effort"; outcome "channel-refused",
  // "session-ended" or "unrecorded" (best effort: it goes on).
  virtual void RecordingFailed(const LogConnection&, const LogChannel&,
                               std::string_view /*record_mode*/,
                               std::string_view /*outcome*/,
                               std::string_view /*reason*/) {}
  // Channel payload relayed (client_to_target: from the user to the host).
  virtual void Bytes(bool /*client_to_target*/, uint64_t /*n*/) {}
  // One message of extended data (`n` bytes) dropped unforwarded: any from
  // the user, any but stderr from the host (kHostExtendedDataCode in
  // gateway/proxy.h), on every kind of channel (the gateway's own relays
  // and jumps too). The connection logs the first of a channel and counts
  // the bytes in its close event (ext_dropped_bytes_in/out).
  virtual void ExtendedDataDropped(bool /*from_user*/, uint64_t /*n*/) {}
  // A recorded ProxyJump (issue 13) presents a host certificate for its
  // target from `source`: kJumpCertIssued (the CA issued it now) or
  // kJumpCertCached (the proxy's TargetCertificateCache).
  virtual void JumpHostCertificate(std::string_view /*source*/) {}
  // An audit event (a gateway code of audit/events.h) that no hook above
  // carries: exec command line, port forward and jump open/close, file
  // transfer start, recording started. `fields` after the connection's;
  // never a secret. A jump's open has a string field "mode"
  // (kJumpModeRecorded, kJumpModePassthrough).
  virtual void AuditEvent(const LogConnection&, std::string_view /*code*/,
                          const std::vector<base::LogField>& /*fields*/) {}
};

// The `mode` of a ProxyJump's audit events (kEventProxyJump in
// audit/events.h): the gateway terminates the inner connection and records
// it, or relays the user's connection to the host as it is.
inline constexpr std::string_view kJumpModeRecorded = "recorded";
inline constexpr std::string_view kJumpModePassthrough = "passthrough";

// Sources of JumpHostCertificate.
inline constexpr std::string_view kJumpCertIssued = "issued";
inline constexpr std::string_view kJumpCertCached = "cached";

// A stable, low-cardinality code for an authentication refusal reason (the
// ssh/auth library's text or our own), for the auth_failures metric and
// the hint a refused user is given; text in double quotes (a name someone
// chose) is not looked at.
std::string_view AuthFailureCode(std::string_view reason);
// AuthFailureCode of a plain key offered to a gateway that takes only
// certificates.
inline constexpr std::string_view kPlainKeyCode = "plain-key";

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_OBSERVER_H_
