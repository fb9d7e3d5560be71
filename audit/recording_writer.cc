#include "audit/recording_writer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "audit/events.h"
#include "audit/recording_record.h"
#include "audit/recording_store.h"
#include "base/status_macros.h"

namespace sallyport::audit {
namespace {

std::optional<storage::SessionStatus> EndStatus(v1::SessionStatus s) {
  switch (s) {
    case v1::SESSION_STATUS_ENDED:
      return storage::SessionStatus::kEnded;
    case v1::SESSION_STATUS_FAILED:
      return storage::SessionStatus::kFailed;
    case v1::SESSION_STATUS_INTERRUPTED:
      return storage::SessionStatus::kInterrupted;
    default:
      return std::nullopt;
  }
}

// An interrupted session's session.end (docs/audit-events.md), as the
// gateway sent it before the CA wrote it: its actor, the session's user.
std::string InterruptedEndActor(const storage::Session& ended) {
  return ended.user.empty() ? ended.gateway_id : ended.user;
}

// Its fields: the bytes its records hold (the closes the shipper added
// for channels left open count what the spool holds of them), its
// duration up to the end record, the end record's message as `reason`;
// `at`: when the CA stored the end.
std::vector<AuditField> InterruptedEndFields(const storage::Session& ended,
                                             const v1::RecordingRecord& end,
                                             absl::Time at) {
  std::vector<AuditField> fields = {
      {"gateway", ended.gateway_id},
      {"session_id", ended.id},
      {"at",
       absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", at, absl::UTCTimeZone())}};
  if (!ended.user.empty()) fields.push_back({"user", ended.user});
  fields.push_back({"outcome", std::string("interrupted")});
  fields.push_back({"duration_ms", end.offset_us() / 1000});
  fields.push_back({"bytes_in", ended.bytes_in});
  fields.push_back({"bytes_out", ended.bytes_out});
  if (!end.session_end().message().empty()) {
    fields.push_back({"reason", end.session_end().message()});
  }
  return fields;
}

absl::Status NotOwner(const std::string& session_id) {
  return absl::PermissionDeniedError(
      absl::StrCat("session ", session_id,
                   " belongs to another gateway; a gateway writes only its "
                   "own sessions"));
}

}  // namespace

absl::StatusOr<storage::Session> RecordingWriter::Owned(
    const std::string& gateway_id, const std::string& session_id) {
  ASSIGN_OR_RETURN(storage::Session s, store_.GetSession(session_id));
  if (s.gateway_id != gateway_id) return NotOwner(session_id);
  return s;
}

absl::StatusOr<std::string> RecordingWriter::StoredHashBefore(
    const std::string& session_id, uint64_t seq) {
  if (seq <= 1) return std::string(kRecordingGenesis);
  ASSIGN_OR_RETURN(std::vector<storage::SessionRecord> prev,
                   store_.ListSessionRecords(session_id, seq - 2, 1));
  if (prev.empty() || prev[0].seq != seq - 1) {
    return absl::DataLossError(absl::StrCat("record ", seq - 1, " of session ",
                                            session_id, " is not stored"));
  }
  return prev[0].hash;
}

absl::StatusOr<v1::RecordingSession> RecordingWriter::Begin(
    const std::string& gateway_id, const v1::RecordingSession& session,
    const std::function<absl::Status()>& admit_new) {
  if (gateway_id.empty()) {
    return absl::PermissionDeniedError("no gateway identity");
  }
  // The gateway issued the session's certificate owns it, else the first
  // gateway to write anything of it (its events may have come first).
  ASSIGN_OR_RETURN(std::string owner,
                   store_.ClaimSession(session.session_id(), gateway_id));
  if (owner != gateway_id) return NotOwner(session.session_id());
  absl::StatusOr<storage::Session> existing =
      store_.GetSession(session.session_id());
  if (existing.ok()) {
    if (existing->gateway_id != gateway_id) {
      return NotOwner(session.session_id());
    }
    return ToProtoSession(*existing);
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();
  if (admit_new) RETURN_IF_ERROR(admit_new());
  storage::Session s;
  s.id = session.session_id();
  s.user = session.user();
  s.login = session.login();
  s.host = session.host();
  s.gateway_id = gateway_id;
  s.started_at = absl::FromUnixMicros(session.started_at_us());
  absl::StatusOr<storage::Session> created = store_.CreateSession(s);
  if (absl::IsAlreadyExists(created.status())) {
    // Created concurrently: the same ownership check.
    ASSIGN_OR_RETURN(created, Owned(gateway_id, session.session_id()));
  }
  RETURN_IF_ERROR(created.status());
  return ToProtoSession(*created);
}

absl::StatusOr<storage::SessionEnd> RecordingWriter::EndOf(
    const storage::Session& s, const v1::RecordingRecord& end) {
  std::optional<storage::SessionStatus> status =
      EndStatus(end.session_end().status());
  if (!status) {
    return absl::InvalidArgumentError("a session end needs a final status");
  }
  storage::SessionEnd e;
  e.ended_at = s.started_at + absl::Microseconds(end.offset_us());
  e.status = *status;
  e.expect_last_seq = end.seq();
  // The channels' byte counts, summed by the Store as their close records
  // arrived (AppendSessionRecords).
  e.bytes_in = s.bytes_in;
  e.bytes_out = s.bytes_out;
  return e;
}

absl::StatusOr<v1::RecordingSession> RecordingWriter::Write(
    const std::string& gateway_id, const std::string& session_id,
    std::vector<v1::RecordingRecord> records) {
  ASSIGN_OR_RETURN(storage::Session s, Owned(gateway_id, session_id));
  uint64_t seq = s.last_seq;
  std::string head = s.chain_head;
  std::vector<storage::SessionRecord> batch, stored_again;
  // An end stored before, sent again.
  std::optional<v1::RecordingRecord> resent_end;
  // Re-sent records: the hash of the record before the next one (seq
  // resent_seq), to check that each re-sent record's content gives its
  // hash; the Store then checks that hash against the stored one.
  uint64_t resent_seq = 0;
  std::string resent_prev;
  auto flush = [&]() -> absl::Status {
    if (batch.empty()) return absl::OkStatus();
    absl::StatusOr<storage::Session> stored =
        store_.AppendSessionRecords(batch);
    batch.clear();
    RETURN_IF_ERROR(stored.status());
    s = *stored;
    return absl::OkStatus();
  };
  // The batch, which ends in the session_end record `end`, and the
  // session's end in one Store transaction: `spctl sessions verify` never
  // sees the end record of a session whose row is still active, and an
  // interrupted session's session.end is written with them or not at all.
  auto flush_with_end = [&](const v1::RecordingRecord& end) -> absl::Status {
    ASSIGN_OR_RETURN(storage::SessionEnd e, EndOf(s, end));
    const absl::Time at = absl::Now();
    if (e.status == storage::SessionStatus::kInterrupted) {
      e.event = [&](const storage::Session& ended) {
        return AuditLog::Event(kEventSessionEnd, InterruptedEndActor(ended),
                               InterruptedEndFields(ended, end, at));
      };
    }
    absl::StatusOr<storage::EndedSession> stored =
        store_.AppendSessionRecordsAndEnd(batch, e);
    batch.clear();
    RETURN_IF_ERROR(stored.status());
    s = stored->session;
    if (stored->ended && e.event && audit_ != nullptr) {
      audit_->WriteLine(kEventSessionEnd, InterruptedEndActor(s),
                        InterruptedEndFields(s, end, at));
    }
    return absl::OkStatus();
  };
  for (v1::RecordingRecord& r : records) {
    if (r.session_id() != session_id) {
      return absl::InvalidArgumentError(
          "every record must belong to the uploaded session");
    }
    RETURN_IF_ERROR(ValidateRecord(r));
    if (r.has_session_start()) {
      // The chain's copy of the session's metadata must be the session's:
      // else `sessions verify` could never tell an edited session row.
      if (std::optional<std::string> differs =
              SessionStartDiffers(ToProtoSession(s), r.session_start())) {
        return absl::DataLossError(absl::StrCat(
            "record ", r.seq(), " of session ", session_id,
            " does not match the session it was uploaded with: ", *differs));
      }
    }
    if (r.seq() <= s.last_seq) {
      // Already stored (a re-shipped spool): its content must give its
      // hash from the stored hash before it, and the Store checks that
      // hash against the stored one: so only the very same record passes.
      if (r.seq() != resent_seq) {
        ASSIGN_OR_RETURN(resent_prev, StoredHashBefore(session_id, r.seq()));
      }
      ASSIGN_OR_RETURN(std::string want, RecordHash(resent_prev, r));
      if (want != r.hash()) {
        return absl::DataLossError(absl::StrCat(
            "record ", r.seq(), " of session ", session_id,
            " was sent again with content that differs from the stored "
            "record"));
      }
      resent_seq = r.seq() + 1;
      resent_prev = r.hash();
      // ship (#14): an end a CA stored before it ended the session in the
      // same transaction (it stopped in between) ends it when it is sent
      // again. Its session.end, if any, was the gateway's then.
      if (r.has_session_end()) resent_end = r;
      ASSIGN_OR_RETURN(storage::SessionRecord row, ToStoreRecord(std::move(r)));
      stored_again.push_back(std::move(row));
      if (stored_again.size() >= kWriterBatchRecords || r.seq() == s.last_seq) {
        RETURN_IF_ERROR(store_.AppendSessionRecords(stored_again).status());
        stored_again.clear();
      }
      continue;
    }
    if (!stored_again.empty()) {
      RETURN_IF_ERROR(store_.AppendSessionRecords(stored_again).status());
      stored_again.clear();
    }
    if (r.seq() != seq + 1) {
      return absl::FailedPreconditionError(
          absl::StrCat("record ", r.seq(), " of session ", session_id,
                       " does not follow record ", seq));
    }
    ASSIGN_OR_RETURN(std::string want, RecordHash(head, r));
    if (want != r.hash()) {
      return absl::DataLossError(
          absl::StrCat("record ", r.seq(), " of session ", session_id,
                       " does not continue the recording's hash chain"));
    }
    seq = r.seq();
    head = r.hash();
    // The end without its data (it has none to speak of): r moves below.
    std::optional<v1::RecordingRecord> end;
    if (r.has_session_end()) end = r;
    ASSIGN_OR_RETURN(storage::SessionRecord row, ToStoreRecord(std::move(r)));
    batch.push_back(std::move(row));
    if (end) {
      // Records after it are refused: the session has ended.
      RETURN_IF_ERROR(flush_with_end(*end));
    } else if (batch.size() >= kWriterBatchRecords) {
      RETURN_IF_ERROR(flush());
    }
  }
  if (!stored_again.empty()) {
    RETURN_IF_ERROR(store_.AppendSessionRecords(stored_again).status());
  }
  RETURN_IF_ERROR(flush());
  if (resent_end && s.status == storage::SessionStatus::kActive) {
    ASSIGN_OR_RETURN(storage::SessionEnd e, EndOf(s, *resent_end));
    ASSIGN_OR_RETURN(s, store_.EndSession(session_id, e));
  }
  return ToProtoSession(s);
}

}  // namespace sallyport::audit
