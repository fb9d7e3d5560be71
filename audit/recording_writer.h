// The CA side of recording uploads (issue 14, DESIGN.md §9): checks and
// stores what a gateway's shipper sends. Only the CA writes the Store.
//
// Rules:
//   - a session belongs to the gateway that first wrote it (its mTLS
//     identity); another gateway writing it is refused (PERMISSION_DENIED;
//     Teleport 18.7.6, JumpServer CVE-2023-43652);
//   - every record's hash is recomputed from the stored chain head: a
//     record that does not continue the chain is refused (DATA_LOSS), so
//     the stored chain is always whole;
//   - records already stored are skipped when identical (a re-shipped
//     spool) and refused (DATA_LOSS or FAILED_PRECONDITION) when
//     different: a changed hash, or a changed content under the old hash
//     (its hash is recomputed from the stored one before it);
//   - a session_start record (always seq 1) must say the session's user,
//     login, host and start as the session stores them (DATA_LOSS naming
//     the field otherwise): the chain then covers them;
//   - a session_end record ends the session with its status and real time
//     (start + the record's offset), only once every record before it is
//     stored, and in the Store transaction that stores it (records after
//     it are refused: the session has ended);
//   - an `interrupted` end (the shipper closed a spool its stopped gateway
//     left without one) writes the session's `session.end` event (outcome
//     interrupted) in that transaction too: the gateway that stopped never
//     sent one, and the shipper, which could be killed before sending it,
//     no longer does. A session ends once, so an end sent again adds none.
#ifndef SALLYPORT_AUDIT_RECORDING_WRITER_H_
#define SALLYPORT_AUDIT_RECORDING_WRITER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "audit/audit_log.h"
#include "proto/audit.pb.h"
#include "storage/store.h"

namespace sallyport::audit {

// Records stored per Store call (bounded transactions).
inline constexpr size_t kWriterBatchRecords = 256;

class RecordingWriter {
 public:
  // `audit`, when set, writes the CA's log line of each event the writer
  // appends (AuditLog::WriteLine).
  explicit RecordingWriter(storage::Store& store, AuditLog* audit = nullptr)
      : store_(store), audit_(audit) {}

  // Creates the session for `gateway_id` when it is new (from `session`:
  // id, user, login, host, started_at_us), or checks that it belongs to
  // `gateway_id`. Returns the stored session. kPermissionDenied when
  // another gateway owns the session: it was issued its session
  // certificate, stored it, or wrote anything of it first (an event;
  // Store::ClaimSession). A session the Store does not have yet is created
  // only when `admit_new`, when set, returns OK (the CA's limit on a
  // gateway's open sessions); its error otherwise, nothing created.
  absl::StatusOr<v1::RecordingSession> Begin(
      const std::string& gateway_id, const v1::RecordingSession& session,
      const std::function<absl::Status()>& admit_new = nullptr);
  // Stores `records` (in seq order) of a session Begin accepted for
  // `gateway_id`. Returns the session with its new head. Takes the records
  // (their data moves into the Store's rows, not copied).
  absl::StatusOr<v1::RecordingSession> Write(
      const std::string& gateway_id, const std::string& session_id,
      std::vector<v1::RecordingRecord> records);

 private:
  absl::StatusOr<storage::Session> Owned(const std::string& gateway_id,
                                         const std::string& session_id);
  // The stored hash of record seq - 1 (the genesis for seq 1).
  absl::StatusOr<std::string> StoredHashBefore(const std::string& session_id,
                                               uint64_t seq);
  // The end `end` (a session_end record) of session `s` as Store::
  // EndSession takes it; kInvalidArgument without a final status.
  static absl::StatusOr<storage::SessionEnd> EndOf(
      const storage::Session& s, const v1::RecordingRecord& end);
  storage::Store& store_;
  AuditLog* audit_;
};

}  // namespace sallyport::audit

#endif  // SALLYPORT_AUDIT_RECORDING_WRITER_H_
