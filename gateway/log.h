// The gateway's structured log (issue 12 "Operations", DESIGN.md §10): one
// line per connection, authentication decision, channel open/refusal/close
// and upstream connect, as text key=value or JSON (config log_format), in
// the same shape as the CA's event lines (base/event_line.h):
//   2026-11-30T05:30:00.123456Z event=channel.refused outcome=failure
//   conn=7 peer="127.0.0.1:50522" user="alice" login="root" host="web01"
//   kind="port-forward" reason="denied by role 'prod-readonly'"
// Every value is escaped (no control character or broken UTF-8 reaches
// the log, so a hostile target name cannot forge a line) and cut to
// kMaxLogValueBytes. The API has no field for a secret: pass key ids,
// serials and fingerprints, never keys, tokens or passwords.
//
// Levels (config log_level; lines below it are not even formatted):
//   debug  the proxy's per-session trace ("detail" lines: conn.open,
//          upstream.ready, channel.start, jump.*, forward.*), which
//          repeats most of the events below in free form;
//   info   the events of connections that went well (the default level);
//   warn   a failure of one connection or session (an authentication or
//          channel refused, an upstream that cannot be reached), and the
//          gateway's own notices (start, reload, the CA link, shipping,
//          the audit event queue);
//   error  a failure of the gateway itself (a spool that cannot be used,
//          the CA client's trouble, a recording it cannot ship, audit
//          events it cannot send or drops, gRPC errors, a config that was
//          not reloaded).
#ifndef SALLYPORT_GATEWAY_LOG_H_
#define SALLYPORT_GATEWAY_LOG_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "base/clock.h"
#include "base/event_line.h"

namespace sallyport::gateway {

// Stable event names.
inline constexpr std::string_view kLogConnectionOpen = "connection.open";
inline constexpr std::string_view kLogConnectionClose = "connection.close";
inline constexpr std::string_view kLogAuth = "auth";
inline constexpr std::string_view kLogChannelOpen = "channel.open";
inline constexpr std::string_view kLogChannelRefused = "channel.refused";
inline constexpr std::string_view kLogChannelClose = "channel.close";
inline constexpr std::string_view kLogUpstreamConnect = "upstream.connect";

// Longer values are cut (with "...") so one peer cannot make huge lines.
inline constexpr size_t kMaxLogValueBytes = 256;

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// "debug", "info", "warn" or "error"; nullopt for anything else.
std::optional<LogLevel> ParseLogLevel(std::string_view name);

// Who a line is about: the downstream connection and, once known, the user.
struct LogConnection {
  uint64_t id = 0;
  std::string peer;          // "ip:port" of the client
  std::string user;          // the certificate's key id, once authenticated
  std::string session = {};  // the session id (as in audit records)
  // An authenticated jump-only connection (`ssh -J gateway`'s: a login
  // without a host, direct-tcpip only): no session to a host of its own, so
  // counted in jump_connections, not in sessions_active; not a field of
  // lines.
  bool jump_only = false;
};

struct LogAuthDecision {
  bool allowed = false;
  std::string login;           // the requested principal
  std::string host;            // the requested target (as the user wrote it)
  std::string method;          // "publickey", "none", ...
  std::string key_id;          // of the certificate, when one was offered
  uint64_t serial = 0;         // of the certificate
  std::string ca_fingerprint;  // SHA256:... of the signing CA
  std::string reason;          // a stable refusal code, or empty
  // An allowed one: the session's start (session.start's `at`, and the
  // recording's started_at). InfinitePast: now.
  absl::Time at = absl::InfinitePast();
};

struct LogChannel {
  uint32_t id = 0;   // our channel number on the downstream connection
  std::string kind;  // "shell", "exec", "sftp", "port-forward", ...
  std::string login;
  std::string host;
  std::string destination;  // HOST:PORT of a port forward
};

struct LogUpstream {
  std::string host;     // inventory name
  std::string address;  // ip:port dialled
  std::string login;
  bool ok = false;
  absl::Duration latency;
  std::string reason;  // on failure
};

class GatewayLog {
 public:
  // Receives one line without its newline; may be called from any thread
  // (serialised by GatewayLog).
  using Sink = std::function<void(std::string_view line)>;

  // `sink` null: stderr. `clock` null: the real clock.
  explicit GatewayLog(base::LogFormat format, Sink sink = nullptr,
                      const base::Clock* clock = nullptr,
                      LogLevel level = LogLevel::kInfo);

  // Lines below `level` are dropped from now on (SIGHUP).
  void set_level(LogLevel level) {
    level_.store(level, std::memory_order_relaxed);
  }
  LogLevel level() const { return level_.load(std::memory_order_relaxed); }

  void ConnectionOpened(const LogConnection& c);
  // outcome (gateway/observer.h): "ok"; why the gateway ended a session
  // ("revoked", "expired", "idle-timeout", "drained", "recording-failed",
  // "revocations-unknown"); or, without a session, "auth-failed",
  // "refused", "error", "timeout", "limit". The line's own outcome is
  // success only for "ok".
  void ConnectionClosed(const LogConnection& c, std::string_view outcome,
                        absl::Duration duration, uint64_t bytes_in,
                        uint64_t bytes_out, std::string_view reason = "");
  void AuthDecision(const LogConnection& c, const LogAuthDecision& d);
  void ChannelOpened(const LogConnection& c, const LogChannel& ch);
  void ChannelRefused(const LogConnection& c, const LogChannel& ch,
                      std::string_view reason);
  void ChannelClosed(const LogConnection& c, const LogChannel& ch,
                     uint64_t bytes_in, uint64_t bytes_out,
                     std::string_view exit_status = "");
  void UpstreamConnect(const LogConnection& c, const LogUpstream& u);

  // Any other event: `fields` after the connection's. Never pass secrets.
  // `level` unset: with a connection (c.id or c.session set) info when it
  // succeeded, else warn; without one (the gateway's own notices) warn,
  // or error for a failure.
  void Event(std::string_view event, bool success, const LogConnection& c,
             std::vector<base::LogField> fields,
             std::optional<LogLevel> level = std::nullopt);

 private:
  void Write(std::string_view event, bool success, const LogConnection& c,
             std::vector<base::LogField> fields,
             std::optional<LogLevel> level = std::nullopt);

  const base::LogFormat format_;
  const Sink sink_;
  const base::Clock* const clock_;
  std::atomic<LogLevel> level_;
};

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_LOG_H_
