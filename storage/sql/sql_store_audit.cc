// SqlStore: the audit hash chain and sessions.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "storage/audit_hash.h"
#include "storage/sql/codec.h"
#include "storage/sql/sql_store.h"

namespace sallyport::storage::sql {
namespace {

// Bumping the head row takes its lock: appenders queue here, each one sees
// the seq and hash its predecessor committed (READ COMMITTED re-reads the
// locked row), so the chain has no gaps and no forks.
// Advances the head by a whole batch ($1 events) at once and returns the
// batch's last seq and the hash before it.
constexpr Statement kBumpAuditHead(
    "UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash");
constexpr Statement kSetAuditHeadHash(
    "UPDATE audit_head SET hash = $2 WHERE id = 1 AND seq = $1");
constexpr Statement kSelectAuditHead(
    "SELECT seq, hash FROM audit_head WHERE id = 1");
constexpr Statement kInsertAuditEvent(
    "INSERT INTO audit_events (seq, time_us, type, actor, payload, prev_hash, "
    "hash) VALUES ($1, $2, $3, $4, $5, $6, $7)");
constexpr Statement kListAuditEvents(
    "SELECT seq, time_us, type, actor, payload, prev_hash, hash "
    "FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2");

// A gateway event stream's highest stored number, its row created (0)
// when new. The row stays locked until the transaction ends, so the same
// batch sent twice at once is appended by one of them only.
constexpr Statement kLockGatewayStream(
    "INSERT INTO gateway_event_streams (gateway_id, stream, last_number, "
    "updated_at_us) VALUES ($1, $2, 0, $3) ON CONFLICT (gateway_id, stream) "
    "DO UPDATE SET updated_at_us = $3 RETURNING last_number");
// A gateway's streams but the one just created ($2) and the $3 others
// written most recently. The gateway's rows are at most
// kGatewayEventStreamsKept + 1 here (a read of the primary key's prefix).
constexpr Statement kPruneGatewayStreams(
    "DELETE FROM gateway_event_streams WHERE gateway_id = $1 AND stream <> $2 "
    "AND stream NOT IN (SELECT stream FROM gateway_event_streams "
    "WHERE gateway_id = $1 AND stream <> $2 "
    "ORDER BY updated_at_us DESC, stream DESC LIMIT $3)");
constexpr Statement kSetGatewayStreamLast(
    "UPDATE gateway_event_streams SET last_number = $3 "
    "WHERE gateway_id = $1 AND stream = $2");

constexpr Statement kInsertSession(
    "INSERT INTO sessions (id, user_name, login, host, started_at_us, "
    "ended_at_us, bytes_in, bytes_out, status, gateway_id) VALUES ($1, $2, "
    "$3, $4, $5, $6, $7, $8, $9, $10)");
// An ended session has no open channel (schema version 10).
constexpr Statement kEndSession(
    "UPDATE sessions SET ended_at_us = $2, status = $3, bytes_in = $4, "
    "bytes_out = $5, open_bytes_in = 0, open_bytes_out = 0 "
    "WHERE id = $1 AND status = 'active' "
    "AND ($6 IS NULL OR last_seq = $6) "
    "RETURNING " SP_SESSION_COLUMNS);
constexpr Statement kForgetOpenChannels(
    "DELETE FROM session_open_channels WHERE session_id = $1");
constexpr Statement kSelectSession("SELECT " SP_SESSION_COLUMNS
                                   " FROM sessions WHERE id = $1");
// The open sessions of gateway $1, up to $2: the partial index
// sessions_open_by_gateway (schema version 18) holds exactly the rows
// whose status is the literal 'active' (those an admin marked abandoned,
// schema version 19, are left out as they are read: few), so the count
// reads $2 of its entries and those marked, and none of the gateway's
// ended sessions.
constexpr Statement kCountOpenSessions(
    "SELECT COUNT(*) FROM (SELECT 1 FROM sessions WHERE gateway_id = $1 "
    "AND status = 'active' AND abandoned_at_us IS NULL LIMIT $2) "
    "AS open_sessions");
// Marks an active session abandoned, once (schema version 19).
constexpr Statement kAbandonSession(
    "UPDATE sessions SET abandoned_at_us = $2, abandoned_by = $3, "
    "abandon_reason = $4 WHERE id = $1 AND status = 'active' "
    "AND abandoned_at_us IS NULL RETURNING " SP_SESSION_COLUMNS);
// Ties on the start time are broken by id, byte-wise in both dialects.
// A user or host matches as given ($1, $2) or in lowercase ($9, $10), as
// names are stored since schema 9 while older rows keep their case: a
// filter never misses sessions for the case it was typed in. Logins are
// case-sensitive (Unix user names) and match exactly.
#define SP_SESSION_FILTER                                           \
  "SELECT " SP_SESSION_COLUMNS                                      \
  " FROM sessions WHERE ($1 IS NULL OR user_name = $1"              \
  " OR user_name = $9) AND ($2 IS NULL OR host = $2 OR host = $10)" \
  " AND ($3 IS NULL OR login = $3)"                                 \
  " AND ($4 IS NULL OR started_at_us >= $4)"                        \
  " AND ($5 IS NULL OR started_at_us < $5)"
// $6, $7: the page cursor (SessionFilter::after), $8 the limit.
constexpr Statement kListSessions(
    SP_SESSION_FILTER
    " AND ($6 IS NULL OR started_at_us < $6 OR (started_at_us = $6 AND "
    "id < $7)) ORDER BY started_at_us DESC, id DESC LIMIT $8",
    SP_SESSION_FILTER
    " AND ($6 IS NULL OR started_at_us < $6 OR (started_at_us = $6 AND "
    "id COLLATE \"C\" < $7)) ORDER BY started_at_us DESC, id COLLATE \"C\" "
    "DESC LIMIT $8");
#undef SP_SESSION_FILTER

AuditEvent AuditEventFromRow(const Row& r) {
  AuditEvent e;
  e.seq = static_cast<uint64_t>(r[0].AsInt());
  e.time = TimeValue(r[1]);
  e.type = r[2].AsBytes();
  e.actor = r[3].AsBytes();
  e.payload_json = r[4].AsBytes();
  e.prev_hash = r[5].AsBytes();
  e.hash = r[6].AsBytes();
  return e;
}

// The lowercase form of a session filter's user or host name ($9, $10
// of kListSessions).
std::optional<std::string> LowerName(const std::optional<std::string>& name) {
  if (!name) return std::nullopt;
  return absl::AsciiStrToLower(*name);
}

}  // namespace

absl::StatusOr<Session> SessionFromRow(const Row& r) {
  Session s;
  s.id = r[0].AsBytes();
  s.user = r[1].AsBytes();
  s.login = r[2].AsBytes();
  s.host = r[3].AsBytes();
  s.started_at = TimeValue(r[4]);
  s.ended_at = OptTimeValue(r[5]);
  s.bytes_in = r[6].AsInt();
  s.bytes_out = r[7].AsInt();
  std::optional<SessionStatus> status = ParseSessionStatus(r[8].AsBytes());
  if (!status) return absl::DataLossError("stored session has a bad status");
  s.status = *status;
  s.gateway_id = r[9].AsBytes();
  s.last_seq = static_cast<uint64_t>(r[10].AsInt());
  s.chain_head = r[11].AsBytes();
  s.open_bytes_in = r[12].AsInt();
  s.open_bytes_out = r[13].AsInt();
  s.abandoned_at = OptTimeValue(r[14]);
  s.abandoned_by = r[15].AsBytes();
  s.abandon_reason = r[16].AsBytes();
  return s;
}

BatchQuery SessionQuery(std::string_view id) {
  return {&kSelectSession, {Param::Text(id)}};
}

// ------------------------------------------------------------ audit

absl::StatusOr<AuditEvent> SqlStore::AppendAuditEventInTx(
    Tx& tx, const AuditEventInput& in) {
  const AuditEventInput* one[] = {&in};
  ASSIGN_OR_RETURN(std::vector<AuditEvent> events,
                   AppendAuditEventsInTx(tx, one));
  return std::move(events.front());
}

absl::StatusOr<std::vector<AuditEvent>> SqlStore::AppendAuditEventsInTx(
    Tx& tx, absl::Span<const AuditEventInput* const> in) {
  std::vector<AuditEvent> events;
  if (in.empty()) return events;
  const int64_t n = static_cast<int64_t>(in.size());
  ASSIGN_OR_RETURN(std::vector<Row> head,
                   tx.Query(kBumpAuditHead, {Param::Int(n)}));
  if (head.empty()) return absl::DataLossError("the audit head is missing");
  const int64_t last = head[0][0].AsInt();
  if (last < n) return absl::DataLossError("the audit head is corrupt");
  std::string prev_hash = head[0][1].AsBytes();
  events.reserve(in.size());
  for (int64_t i = 0; i < n; ++i) {
    AuditEvent event;
    event.seq = static_cast<uint64_t>(last - n + 1 + i);
    event.prev_hash = std::move(prev_hash);
    // Read the clock under the head lock so times follow seq order within
    // one clock.
    event.time = Now();
    event.type = in[i]->type;
    event.actor = in[i]->actor;
    event.payload_json = in[i]->payload_json;
    ASSIGN_OR_RETURN(event.hash, AuditEventHash(event));
    RETURN_IF_ERROR(
        tx.Exec(kInsertAuditEvent,
                {Param::Int(static_cast<int64_t>(event.seq)),
                 TimeParam(event.time), Param::Text(event.type),
                 Param::Text(event.actor), Param::Text(event.payload_json),
                 Param::Text(event.prev_hash), Param::Text(event.hash)})
            .status());
    prev_hash = event.hash;
    events.push_back(std::move(event));
  }
  // One head update for the whole batch: its last event's hash.
  RETURN_IF_ERROR(tx.Exec(kSetAuditHeadHash,
                          {Param::Int(last), Param::Text(events.back().hash)})
                      .status());
  return events;
}

absl::StatusOr<AuditEvent> SqlStore::AppendAuditEvent(
    const AuditEventInput& in) {
  RETURN_IF_ERROR(in.Validate());
  AuditEvent event;
  absl::Status s =
      Transact(TxMode::kReadCommitted, [&](Tx& tx) -> absl::Status {
        ASSIGN_OR_RETURN(event, AppendAuditEventInTx(tx, in));
        return absl::OkStatus();
      });
  RETURN_IF_ERROR(Describe(s, "append audit event"));
  return event;
}

absl::StatusOr<std::vector<AuditEvent>> SqlStore::AppendGatewayAuditEvents(
    const GatewayAuditEvents& batch) {
  RETURN_IF_ERROR(batch.Validate());
  std::vector<AuditEvent> appended;
  absl::Status s =
      Transact(TxMode::kReadCommitted, [&](Tx& tx) -> absl::Status {
        appended.clear();
        size_t first = 0;  // the first event not stored before
        if (!batch.stream.empty()) {
          ASSIGN_OR_RETURN(
              std::vector<Row> rows,
              tx.Query(kLockGatewayStream,
                       {Param::Text(batch.gateway_id),
                        Param::Text(batch.stream), TimeParam(Now())}));
          if (rows.empty()) {
            return absl::DataLossError("the gateway event stream is missing");
          }
          const uint64_t stored = static_cast<uint64_t>(rows[0][0].AsInt());
          if (stored == 0) {
            // A new stream (a stream's first batch stores a number >= 1 in
            // this transaction): a new run of the gateway's sender. Runs
            // never send on another run's stream, and a live run writes
            // its row with every batch (updated_at_us), so the rows pruned
            // are those of runs that have stopped, unless
            // kGatewayEventStreamsKept newer runs of one gateway started
            // since a live run last wrote. Pruned before the audit head is
            // locked: a live stream's row that another transaction holds
            // is waited for while that one can still take the head.
            RETURN_IF_ERROR(tx.Exec(kPruneGatewayStreams,
                                    {Param::Text(batch.gateway_id),
                                     Param::Text(batch.stream),
                                     Param::Int(kGatewayEventStreamsKept - 1)})
                                .status());
          }
          while (first < batch.numbers.size() &&
                 batch.numbers[first] <= stored) {
            ++first;
          }
          if (first == batch.events.size()) return absl::OkStatus();
          RETURN_IF_ERROR(
              tx.Exec(kSetGatewayStreamLast,
                      {Param::Text(batch.gateway_id), Param::Text(batch.stream),
                       Param::Int(static_cast<int64_t>(batch.numbers.back()))})
                  .status());
        }
        std::vector<const AuditEventInput*> events;
        events.reserve(batch.events.size() - first);
        for (size_t i = first; i < batch.events.size(); ++i) {
          events.push_back(&batch.events[i]);
        }
        ASSIGN_OR_RETURN(appended, AppendAuditEventsInTx(tx, events));
        return absl::OkStatus();
      });
  RETURN_IF_ERROR(Describe(s, "append gateway audit events"));
  return appended;
}

absl::StatusOr<std::vector<AuditEvent>> SqlStore::ListAuditEvents(
    uint64_t after_seq, int limit) {
  RETURN_IF_ERROR(ValidateLimit(limit));
  if (after_seq > kMaxSerial) return std::vector<AuditEvent>();
  std::vector<Row> rows;
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kReadOne,
               [&](Tx& tx) -> absl::Status {
                 ASSIGN_OR_RETURN(
                     rows,
                     tx.Query(kListAuditEvents,
                              {Param::Int(static_cast<int64_t>(after_seq)),
                               Param::Int(limit)}));
                 return absl::OkStatus();
               }),
      "list audit events"));
  std::vector<AuditEvent> out;
  out.reserve(rows.size());
  for (const Row& r : rows) out.push_back(AuditEventFromRow(r));
  return out;
}

absl::StatusOr<AuditHead> SqlStore::GetAuditHead() {
  std::vector<Row> rows;
  RETURN_IF_ERROR(Describe(Transact(TxMode::kReadOne,
                                    [&](Tx& tx) -> absl::Status {
                                      ASSIGN_OR_RETURN(
                                          rows, tx.Query(kSelectAuditHead, {}));
                                      return absl::OkStatus();
                                    }),
                           "read audit head"));
  if (rows.empty()) return absl::DataLossError("the audit head is missing");
  AuditHead head;
  head.seq = static_cast<uint64_t>(rows[0][0].AsInt());
  head.hash = rows[0][1].AsBytes();
  return head;
}

// ------------------------------------------------------------ sessions

absl::StatusOr<Session> SqlStore::CreateSession(const Session& in) {
  RETURN_IF_ERROR(in.Validate());
  Session s = in;
  s.last_seq = 0;
  s.open_bytes_in = 0;
  s.open_bytes_out = 0;
  s.chain_head = std::string(kRecordingGenesisHash);
  s.started_at = TruncateToMicros(s.started_at);
  if (s.ended_at) s.ended_at = TruncateToMicros(*s.ended_at);
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kReadCommitted,
               [&](Tx& tx) -> absl::Status {
                 // The gateway that claimed the id owns it (ClaimSession).
                 std::string owner;
                 SessionClaim bound;
                 RETURN_IF_ERROR(
                     ClaimOwnership(tx, s.id, s.gateway_id, &owner, &bound));
                 if (!owner.empty() && owner != s.gateway_id) {
                   return absl::PermissionDeniedError(absl::StrCat(
                       SessionWhat(s.id), " is owned by another gateway"));
                 }
                 // Finding F: a session certificate's user and login.
                 if (!bound.user.empty() &&
                     (s.user != bound.user || s.login != bound.login)) {
                   return BoundToAnother(bound, "was issued its certificate",
                                         s.user, s.login);
                 }
                 return tx
                     .Exec(kInsertSession,
                           {Param::Text(s.id), Param::Text(s.user),
                            Param::Text(s.login), Param::Text(s.host),
                            TimeParam(s.started_at), OptTimeParam(s.ended_at),
                            Param::Int(s.bytes_in), Param::Int(s.bytes_out),
                            Param::Text(SessionStatusName(s.status)),
                            Param::Text(s.gateway_id)})
                     .status();
               }),
      SessionWhat(s.id)));
  return s;
}

absl::Status CheckEnd(std::string_view id, const SessionEnd& end) {
  RETURN_IF_ERROR(ValidateText("session id", id, kMaxNameBytes, true));
  if (end.status == SessionStatus::kActive) {
    return absl::InvalidArgumentError("an ended session cannot be active");
  }
  if (end.bytes_in < 0 || end.bytes_out < 0) {
    return absl::InvalidArgumentError("session byte counts must be >= 0");
  }
  if (end.expect_last_seq && *end.expect_last_seq > kMaxSerial) {
    return absl::InvalidArgumentError("expected last seq out of range");
  }
  return absl::OkStatus();
}

absl::Status NotEnded(std::string_view id, const SessionEnd& end,
                      const std::optional<Session>& existing) {
  if (!existing) return NotFound(SessionWhat(id));
  if (existing->status != SessionStatus::kActive) {
    return absl::FailedPreconditionError(
        absl::StrCat(SessionWhat(id), " has already ended"));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      SessionWhat(id), " holds ", existing->last_seq, " records, not the ",
      end.expect_last_seq.value_or(0), " expected"));
}

absl::Status SqlStore::EndSessionInTx(Tx& tx, std::string_view id,
                                      const SessionEnd& end,
                                      std::vector<Row>& ended,
                                      std::optional<Session>& existing) {
  existing.reset();
  std::optional<int64_t> expect_last_seq;
  if (end.expect_last_seq) {
    expect_last_seq = static_cast<int64_t>(*end.expect_last_seq);
  }
  ASSIGN_OR_RETURN(
      ended, tx.Query(kEndSession,
                      {Param::Text(id), TimeParam(end.ended_at),
                       Param::Text(SessionStatusName(end.status)),
                       Param::Int(end.bytes_in), Param::Int(end.bytes_out),
                       Param::OptInt(expect_last_seq)}));
  if (!ended.empty()) {
    RETURN_IF_ERROR(tx.Exec(kForgetOpenChannels, {Param::Text(id)}).status());
    if (!end.event) return absl::OkStatus();
    // The event of the end, with it or not at all.
    ASSIGN_OR_RETURN(Session session, SessionFromRow(ended[0]));
    const AuditEventInput event = end.event(session);
    RETURN_IF_ERROR(event.Validate());
    return AppendAuditEventInTx(tx, event).status();
  }
  ASSIGN_OR_RETURN(std::vector<Row> rows,
                   tx.Query(kSelectSession, {Param::Text(id)}));
  if (rows.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(existing, SessionFromRow(rows[0]));
  return absl::OkStatus();
}

absl::StatusOr<Session> SqlStore::EndSession(std::string_view id,
                                             const SessionEnd& end) {
  RETURN_IF_ERROR(CheckEnd(id, end));
  std::vector<Row> rows;
  std::optional<Session> existing;
  RETURN_IF_ERROR(Describe(Transact(TxMode::kReadCommitted,
                                    [&](Tx& tx) {
                                      return EndSessionInTx(tx, id, end, rows,
                                                            existing);
                                    }),
                           SessionWhat(id)));
  if (rows.empty()) return NotEnded(id, end, existing);
  return SessionFromRow(rows[0]);
}

absl::StatusOr<Session> SqlStore::GetSession(std::string_view id) {
  RETURN_IF_ERROR(ValidateText("session id", id, kMaxNameBytes, true));
  std::vector<Row> rows;
  RETURN_IF_ERROR(Describe(Transact(TxMode::kReadOne,
                                    [&](Tx& tx) -> absl::Status {
                                      ASSIGN_OR_RETURN(
                                          rows, tx.Query(kSelectSession,
                                                         {Param::Text(id)}));
                                      return absl::OkStatus();
                                    }),
                           SessionWhat(id)));
  if (rows.empty()) return NotFound(SessionWhat(id));
  return SessionFromRow(rows[0]);
}

absl::StatusOr<std::vector<Session>> SqlStore::ListSessions(
    const SessionFilter& f) {
  RETURN_IF_ERROR(ValidateLimit(f.limit));
  for (const auto* field : {&f.user, &f.host, &f.login}) {
    if (*field) {
      RETURN_IF_ERROR(
          ValidateText("session filter", **field, kMaxNameBytes, false));
    }
  }
  std::optional<absl::Time> cursor_time;
  std::optional<std::string> cursor_id;
  if (f.after) {
    RETURN_IF_ERROR(
        ValidateText("session cursor", f.after->id, kMaxNameBytes, true));
    cursor_time = TruncateToMicros(f.after->started_at);
    cursor_id = f.after->id;
  }
  std::vector<Row> rows;
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kReadOne,
               [&](Tx& tx) -> absl::Status {
                 ASSIGN_OR_RETURN(
                     rows,
                     tx.Query(kListSessions,
                              {Param::OptText(f.user), Param::OptText(f.host),
                               Param::OptText(f.login),
                               OptTimeParam(f.started_after),
                               OptTimeParam(f.started_before),
                               OptTimeParam(cursor_time),
                               Param::OptText(cursor_id), Param::Int(f.limit),
                               Param::OptText(LowerName(f.user)),
                               Param::OptText(LowerName(f.host))}));
                 return absl::OkStatus();
               }),
      "list sessions"));
  std::vector<Session> out;
  for (const Row& r : rows) {
    ASSIGN_OR_RETURN(Session s, SessionFromRow(r));
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<Session> SqlStore::AbandonSession(
    std::string_view id, const SessionAbandonment& mark) {
  RETURN_IF_ERROR(ValidateText("session id", id, kMaxNameBytes, true));
  RETURN_IF_ERROR(ValidateText("abandoned by", mark.by, kMaxNameBytes, true));
  RETURN_IF_ERROR(ValidateText("abandon reason", mark.reason,
                               kMaxAbandonReasonBytes, true));
  std::vector<Row> rows;
  std::optional<Session> existing;
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kReadCommitted,
               [&](Tx& tx) -> absl::Status {
                 existing.reset();
                 ASSIGN_OR_RETURN(rows,
                                  tx.Query(kAbandonSession,
                                           {Param::Text(id), TimeParam(mark.at),
                                            Param::Text(mark.by),
                                            Param::Text(mark.reason)}));
                 if (!rows.empty()) return absl::OkStatus();
                 ASSIGN_OR_RETURN(std::vector<Row> found,
                                  tx.Query(kSelectSession, {Param::Text(id)}));
                 if (found.empty()) return absl::OkStatus();
                 ASSIGN_OR_RETURN(existing, SessionFromRow(found[0]));
                 return absl::OkStatus();
               }),
      SessionWhat(id)));
  if (!rows.empty()) return SessionFromRow(rows[0]);
  if (!existing) return NotFound(SessionWhat(id));
  if (existing->status != SessionStatus::kActive) {
    return absl::FailedPreconditionError(
        absl::StrCat(SessionWhat(id), " has already ended (",
                     std::string(SessionStatusName(existing->status)), ")"));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      SessionWhat(id), " was marked abandoned by ", existing->abandoned_by,
      " at ",
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                       existing->abandoned_at.value_or(absl::UnixEpoch()),
                       absl::UTCTimeZone())));
}

absl::StatusOr<int64_t> SqlStore::CountOpenSessions(std::string_view gateway_id,
                                                    int64_t at_most) {
  RETURN_IF_ERROR(ValidateText("gateway", gateway_id, kMaxNameBytes, true));
  if (at_most < 1 || at_most > kMaxOpenSessionsCounted) {
    return absl::InvalidArgumentError(
        absl::StrCat("open sessions are counted up to 1..",
                     kMaxOpenSessionsCounted, ", not ", at_most));
  }
  std::vector<Row> rows;
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kReadOne,
               [&](Tx& tx) -> absl::Status {
                 ASSIGN_OR_RETURN(rows, tx.Query(kCountOpenSessions,
                                                 {Param::Text(gateway_id),
                                                  Param::Int(at_most)}));
                 return absl::OkStatus();
               }),
      "count open sessions"));
  if (rows.size() != 1) return absl::InternalError("COUNT returned no row");
  return rows[0][0].AsInt();
}

}  // namespace sallyport::storage::sql
