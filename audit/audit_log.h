// The CA-side event log writer (DESIGN.md §9): events of the catalogue
// (audit/events.h) with a small JSON payload, appended to the Store's
// hash-chained log. Secrets (passwords, one-time codes, private keys, token
// secrets) never go into a payload. Only the CA links this (it needs
// //storage); the gateway uses //audit:events and sends its events to the
// CA.
#ifndef SALLYPORT_AUDIT_AUDIT_LOG_H_
#define SALLYPORT_AUDIT_AUDIT_LOG_H_

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "audit/events.h"
#include "base/event_line.h"
#include "storage/store.h"

namespace sallyport::audit {

// The one log line (no newline) written for each audit event, besides the
// event itself (base::FormatEventLine): the UTC time, the event type, the
// outcome ("success" or "failure": failure for a type ending in .failed,
// .denied, .refused or .locked, a "code" field other than "OK", or an
// "outcome" field other than "ok"), the actor, then the payload fields
// (which never hold secrets), an event's own "outcome" field shown as
// "result" (session.end's "interrupted") or, for recording.failed, "action"
// (as in the gateway's line), so that the line has one outcome. kText:
//   2026-11-30T05:30:00.123456Z event=login.failed outcome=failure
//   actor="admin" user="admin" source="127.0.0.1" reason="bad-password"
// kJson: the same as one JSON object {"time":...,"event":...,...}.
using base::LogFormat;
inline constexpr std::string_view kLineOutcomeField = "outcome";
std::string EventLine(LogFormat format, absl::Time time, std::string_view type,
                      std::string_view actor,
                      const std::vector<AuditField>& fields);

class AuditLog {
 public:
  explicit AuditLog(storage::Store* store) : store_(store) {}

  // Also writes EventLine(format, ...) with `write` for every event
  // recorded from now on (set before the server starts).
  void SetLineLog(LogFormat format,
                  std::function<void(std::string_view)> write) {
    line_format_ = format;
    write_line_ = std::move(write);
  }

  // Appends one event. The store's errors pass through (callers that must
  // fail closed return them; others log them).
  absl::Status Record(std::string_view type, std::string_view actor,
                      const std::vector<AuditField>& fields);
  // One event of RecordGatewayEvents: as Record's arguments, with the
  // number the gateway's sender gave it (0 without a stream).
  struct NumberedEvent {
    uint64_t number = 0;
    std::string type;
    std::string actor;
    std::vector<AuditField> fields;
  };
  // Appends a gateway's events in one transaction, leaving out those
  // stored before (Store::AppendGatewayAuditEvents: `stream` names the run
  // of the gateway's sender that numbered them; empty: not numbered).
  // Writes the line of each event appended, once the store committed.
  // Returns how many were appended; the store's errors pass through.
  absl::StatusOr<size_t> RecordGatewayEvents(
      std::string_view gateway, std::string_view stream,
      const std::vector<NumberedEvent>& events);
  // Records an issued certificate and its audit event in one transaction
  // (both or neither). With `claim`, a session certificate whose session
  // is claimed in that transaction (Store::RecordSessionCertificate:
  // kPermissionDenied when another gateway owns it).
  absl::Status RecordCertificate(const storage::IssuedCertificate& cert,
                                 std::string_view type, std::string_view actor,
                                 const std::vector<AuditField>& fields,
                                 const storage::SessionClaim* claim = nullptr);
  // RecordCertificate without parking the caller while the transaction
  // commits: `done` gets the status once, on the store's commit thread or
  // before this returns.
  void RecordCertificateAsync(const storage::IssuedCertificate& cert,
                              std::string_view type, std::string_view actor,
                              const std::vector<AuditField>& fields,
                              std::function<void(absl::Status)> done,
                              const storage::SessionClaim* claim = nullptr);

  // The event as appended: an empty actor (e.g. a login with an empty user
  // name) becomes "-", one the store refuses (bad UTF-8, too long)
  // "(invalid)", so the event is kept.
  static storage::AuditEventInput Event(std::string_view type,
                                        std::string_view actor,
                                        const std::vector<AuditField>& fields);
  // Writes the line of an event (as Event makes it) that the caller
  // appended in a Store transaction of its own, once that committed
  // (an interrupted session's session.end, RecordingWriter).
  void WriteLine(std::string_view type, std::string_view actor,
                 const std::vector<AuditField>& fields);

 private:
  storage::Store* store_;
  LogFormat line_format_ = LogFormat::kText;
  std::function<void(std::string_view)> write_line_;
};

}  // namespace sallyport::audit

#endif  // SALLYPORT_AUDIT_AUDIT_LOG_H_
