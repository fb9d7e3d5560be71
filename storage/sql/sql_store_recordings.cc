// SqlStore: session recordings (schema version 5; table session_chunks
// since version 7) — records with their chain hash, appended gap-free, and
// the session's chain head; session owners (version 6).
#include <algorithm>
#include <limits>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "storage/sql/codec.h"
#include "storage/sql/sql_store.h"

namespace sallyport::storage::sql {
namespace {

// Taking the session row's lock first serialises appenders of one session
// (PostgreSQL READ COMMITTED re-reads the locked row; SQLite has one writer).
constexpr Statement kLockSessionHead(
    "UPDATE sessions SET last_seq = last_seq WHERE id = $1 "
    "RETURNING last_seq, chain_head, status");
// hyg: the channel_close records' byte counts add up to the session's
// bytes_in/bytes_out (what `spctl sessions ls` shows), saturating at the
// largest BIGINT ($4, $5 >= 0): a sum past it is REAL in SQLite (refused
// by the STRICT table) and an error in PostgreSQL, and every later upload
// of the session would fail the same way (found by recording_store_fuzz).
// open_bytes_in/open_bytes_out: the sum of the session's rows in
// session_open_channels, kept by arithmetic ($6, $7: what this append added
// to the rows less what its closes deleted), so an append reads no other
// channel's row; the sum holds at every commit because the rows change only
// here, in the same transaction, and in EndSession, which empties both.
// PostgreSQL returns the session as committed, which the append returns
// (GetSession after the commit was another transaction: three round
// trips). SQLite reads it after the update instead (SessionQuery):
// RETURNING costs it an ephemeral table per execution, more instructions
// than the read (storage_bench under callgrind).
#define SP_SET_SESSION_HEAD                                     \
  "UPDATE sessions SET last_seq = $2, chain_head = $3, "        \
  "bytes_in = CASE WHEN bytes_in > 9223372036854775807 - $4 "   \
  "THEN 9223372036854775807 ELSE bytes_in + $4 END, "           \
  "bytes_out = CASE WHEN bytes_out > 9223372036854775807 - $5 " \
  "THEN 9223372036854775807 ELSE bytes_out + $5 END, "          \
  "open_bytes_in = open_bytes_in + $6, "                        \
  "open_bytes_out = open_bytes_out + $7 WHERE id = $1"
constexpr Statement kSetSessionHead(SP_SET_SESSION_HEAD, SP_SET_SESSION_HEAD
                                    " RETURNING " SP_SESSION_COLUMNS);
#undef SP_SET_SESSION_HEAD
// The data bytes of an open channel so far, each way (schema version 10):
// added to its row, the common case (a pty's channel ships data in every
// append), which costs SQLite fewer instructions than the upsert below
// (storage_bench under callgrind); the upsert when the row is not there yet
// (the session row's lock keeps other appenders of the session out
// meanwhile: ON CONFLICT is only a safety net).
constexpr Statement kAddToOpenChannel(
    "UPDATE session_open_channels SET bytes_in = bytes_in + $3, "
    "bytes_out = bytes_out + $4 WHERE session_id = $1 AND channel = $2");
constexpr Statement kAddOpenChannelBytes(
    "INSERT INTO session_open_channels (session_id, channel, bytes_in, "
    "bytes_out) VALUES ($1, $2, $3, $4) ON CONFLICT (session_id, channel) "
    "DO UPDATE SET bytes_in = session_open_channels.bytes_in + "
    "excluded.bytes_in, bytes_out = session_open_channels.bytes_out + "
    "excluded.bytes_out");
// The bytes a closing channel had counted leave open_bytes_in/out
// (RETURNING: SQLite 3.35 and later).
constexpr Statement kCloseOpenChannel(
    "DELETE FROM session_open_channels WHERE session_id = $1 AND "
    "channel = $2 RETURNING bytes_in, bytes_out");
constexpr Statement kStoredHashes(
    "SELECT seq, hash FROM session_chunks WHERE session_id = $1 "
    "AND seq >= $2 AND seq <= $3 ORDER BY seq");
constexpr Statement kInsertRecord(
    "INSERT INTO session_chunks (session_id, seq, channel, offset_us, kind, "
    "direction, stream, name, summary, value1, value2, data, hash) VALUES "
    "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)");
constexpr Statement kListRecords(
    "SELECT session_id, seq, channel, offset_us, kind, direction, stream, "
    "name, summary, value1, value2, data, hash FROM session_chunks "
    "WHERE session_id = $1 AND seq > $2 ORDER BY seq LIMIT $3");
constexpr Statement kSessionOwner(
    "SELECT gateway_id FROM sessions WHERE id = $1");
// The claim's gateway, with what a session certificate bound it to
// (NULL user_name: nothing; finding F).
constexpr Statement kClaimOwner(
    "SELECT gateway_id, user_name, login, host FROM session_owners "
    "WHERE session_id = $1");
// The claim with what it binds (finding F), held (PostgreSQL: FOR SHARE)
// until the transaction ends: a certificate binding the claim
// (kBindClaim) waits for a session being stored meanwhile and then sees
// it, or the session waits and sees the binding.
constexpr Statement kReadClaim(
    "SELECT gateway_id, user_name, login FROM session_owners "
    "WHERE session_id = $1",
    "SELECT gateway_id, user_name, login FROM session_owners "
    "WHERE session_id = $1 FOR SHARE");
// A stored session's gateway before its claim (ClaimStoredOrNew's order).
constexpr Statement kReadSessionOwner(
    "SELECT 0, gateway_id FROM sessions WHERE id = $1 UNION ALL "
    "SELECT 1, gateway_id FROM session_owners WHERE session_id = $1 "
    "ORDER BY 1 LIMIT 1");
// A new id claimed in one statement (the issuance's common case): no row
// when the id is stored or already claimed.
constexpr Statement kClaimNewSession(
    "INSERT INTO session_owners (session_id, gateway_id, claimed_at_us, "
    "user_name, login, host) "
    "SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS "
    "(SELECT 1 FROM sessions WHERE id = $1) "
    "ON CONFLICT (session_id) DO NOTHING RETURNING gateway_id");
// Binds the owner's claim that binds nothing yet (its events or its
// recording came before its certificate); a claim row is made for a stored
// session that has none. The row stays locked to the end of the
// transaction.
constexpr Statement kBindClaim(
    "INSERT INTO session_owners (session_id, gateway_id, claimed_at_us, "
    "user_name, login, host) VALUES ($1, $2, $3, $4, $5, $6) "
    "ON CONFLICT (session_id) DO UPDATE SET user_name = excluded.user_name, "
    "login = excluded.login, host = excluded.host "
    "WHERE session_owners.user_name IS NULL AND "
    "session_owners.gateway_id = excluded.gateway_id");
// Whom a certificate's session is bound to already: its stored session
// (0), its claim (1).
constexpr Statement kBoundTo(
    "SELECT 0, user_name, login FROM sessions WHERE id = $1 UNION ALL "
    "SELECT 1, user_name, login FROM session_owners WHERE session_id = $1 "
    "AND user_name IS NOT NULL");
constexpr Statement kInsertClaim(
    "INSERT INTO session_owners (session_id, gateway_id, claimed_at_us) "
    "VALUES ($1, $2, $3) ON CONFLICT (session_id) DO NOTHING");

// a + b for a byte count b (a negative b adds nothing), capped at the
// int64 maximum.
int64_t SaturatingAdd(int64_t a, int64_t b) {
  if (b < 0) return a;
  return a > std::numeric_limits<int64_t>::max() - b
             ? std::numeric_limits<int64_t>::max()
             : a + b;
}

// A claim's bound field: NULL when the claim binds nothing.
std::optional<std::string> Bound(bool binds, const std::string& value) {
  return binds ? std::optional<std::string>(value) : std::nullopt;
}

absl::StatusOr<SessionRecord> RecordFromRow(const Row& r) {
  SessionRecord rec;
  rec.session_id = r[0].AsBytes();
  rec.seq = static_cast<uint64_t>(r[1].AsInt());
  rec.channel = static_cast<uint32_t>(r[2].AsInt());
  rec.offset = absl::Microseconds(r[3].AsInt());
  std::optional<SessionRecordKind> kind =
      ParseSessionRecordKind(r[4].AsBytes());
  if (!kind) return absl::DataLossError("stored record has a bad kind");
  rec.kind = *kind;
  std::optional<RecordDirection> direction =
      ParseRecordDirection(r[5].AsBytes());
  if (!direction) {
    return absl::DataLossError("stored record has a bad direction");
  }
  rec.direction = *direction;
  rec.stream = static_cast<uint32_t>(r[6].AsInt());
  rec.name = r[7].AsBytes();
  rec.summary = r[8].AsBytes();
  rec.value1 = r[9].AsInt();
  rec.value2 = r[10].AsInt();
  rec.data = r[11].AsBytes();
  rec.hash = r[12].AsBytes();
  return rec;
}

}  // namespace

BatchQuery SessionOwnerQuery(std::string_view session_id) {
  return {&kReadSessionOwner, {Param::Text(session_id)}};
}

absl::Status SqlStore::ClaimOwnership(Tx& tx, std::string_view session_id,
                                      std::string_view gateway_id,
                                      std::string* owner, SessionClaim* bound) {
  ASSIGN_OR_RETURN(std::vector<Row> rows,
                   tx.Query(kReadClaim, {Param::Text(session_id)}));
  if (rows.empty() && !gateway_id.empty()) {
    // ON CONFLICT: a concurrent claim wins or loses as a whole; the read
    // after it sees the winner (PostgreSQL waits for its commit).
    RETURN_IF_ERROR(
        tx.Exec(kInsertClaim, {Param::Text(session_id), Param::Text(gateway_id),
                               TimeParam(Now())})
            .status());
    ASSIGN_OR_RETURN(rows, tx.Query(kReadClaim, {Param::Text(session_id)}));
  }
  *owner = rows.empty() ? std::string() : rows[0][0].AsBytes();
  if (bound != nullptr) {
    *bound = SessionClaim{std::string(session_id), *owner, "", "", ""};
    if (!rows.empty() && !rows[0][1].is_null()) {
      bound->user = rows[0][1].AsBytes();
      bound->login = rows[0][2].AsBytes();
    }
  }
  return absl::OkStatus();
}

absl::Status SqlStore::ClaimStoredOrNew(Tx& tx, std::string_view session_id,
                                        std::string_view gateway_id,
                                        std::string* owner) {
  // A stored session is owned by its gateway (a session stored before
  // schema version 5 by none, and it has no claim row).
  ASSIGN_OR_RETURN(std::vector<Row> stored,
                   tx.Query(kSessionOwner, {Param::Text(session_id)}));
  if (!stored.empty()) {
    *owner = stored[0][0].AsBytes();
    return absl::OkStatus();
  }
  return ClaimOwnership(tx, session_id, gateway_id, owner);
}

absl::Status SqlStore::ClaimForCertificate(Tx& tx, const SessionClaim& claim,
                                           std::string* owner,
                                           absl::Status* refusal) {
  *refusal = absl::OkStatus();
  // An empty user binds nothing: NULL, as a claim without a certificate.
  const bool binds = !claim.user.empty();
  auto identity = [&]() -> std::vector<Param> {
    return {Param::Text(claim.session_id),
            Param::Text(claim.gateway_id),
            TimeParam(Now()),
            Param::OptText(Bound(binds, claim.user)),
            Param::OptText(Bound(binds, claim.login)),
            Param::OptText(Bound(binds, claim.host))};
  };
  ASSIGN_OR_RETURN(std::vector<Row> claimed,
                   tx.Query(kClaimNewSession, identity()));
  if (!claimed.empty()) {
    *owner = claim.gateway_id;
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(
      ClaimStoredOrNew(tx, claim.session_id, claim.gateway_id, owner));
  if (*owner != claim.gateway_id) {
    *refusal = OwnedElsewhere(claim, *owner);
    return absl::OkStatus();
  }
  if (!binds) return absl::OkStatus();
  // Finding F: the session's events or recording came first, or another
  // certificate of it: bound to this certificate's user and login, which
  // a stored session and an earlier certificate must name too.
  // Checked before the binding, so a refused certificate binds nothing,
  // and after it: in PostgreSQL a session stored meanwhile holds the claim
  // row until it commits, which the binding waits for.
  auto check = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(std::vector<Row> bound,
                     tx.Query(kBoundTo, {Param::Text(claim.session_id)}));
    for (const Row& r : bound) {
      SessionClaim other = claim;
      other.user = r[1].AsBytes();
      other.login = r[2].AsBytes();
      if (other.user != claim.user || other.login != claim.login) {
        *refusal = BoundToAnother(
            other,
            r[0].AsInt() == 0 ? "is stored" : "was issued its certificate",
            claim.user, claim.login);
        break;
      }
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(check());
  if (!refusal->ok()) return absl::OkStatus();
  RETURN_IF_ERROR(tx.Exec(kBindClaim, identity()).status());
  return check();
}

absl::StatusOr<std::string> SqlStore::ClaimSession(
    std::string_view session_id, std::string_view gateway_id) {
  const std::string id(session_id);
  ASSIGN_OR_RETURN(std::vector<SessionClaim> claims,
                   ClaimSessions(absl::MakeConstSpan(&id, 1), gateway_id));
  return std::move(claims.front().gateway_id);
}

absl::StatusOr<std::vector<SessionClaim>> SqlStore::ClaimSessions(
    absl::Span<const std::string> session_ids, std::string_view gateway_id) {
  RETURN_IF_ERROR(ValidateText("gateway id", gateway_id, kMaxNameBytes, true));
  std::vector<BatchQuery> reads;
  reads.reserve(2 * session_ids.size());
  for (const std::string& id : session_ids) {
    RETURN_IF_ERROR(ValidateText("session id", id, kMaxNameBytes, true));
    reads.push_back(BatchQuery{&kSessionOwner, {Param::Text(id)}});
    reads.push_back(BatchQuery{&kClaimOwner, {Param::Text(id)}});
  }
  // Read first (BatchReadMode, one round trip for all): a claimed or
  // stored session costs no write.
  std::vector<std::vector<Row>> rows;
  RETURN_IF_ERROR(
      Describe(Transact(BatchReadMode(),
                        [&](Tx& tx) -> absl::Status {
                          ASSIGN_OR_RETURN(rows, tx.QueryBatch(reads));
                          return absl::OkStatus();
                        }),
               session_ids.size() == 1
                   ? absl::StrCat("the owner of ", SessionWhat(session_ids[0]))
                   : std::string("the owners of the sessions")));
  if (rows.size() != reads.size()) {
    return absl::InternalError("owner reads: no result");
  }
  std::vector<SessionClaim> claims;
  claims.reserve(session_ids.size());
  for (size_t i = 0; i < session_ids.size(); ++i) {
    const std::string& id = session_ids[i];
    const std::vector<Row>& stored = rows[2 * i];
    const std::vector<Row>& claimed = rows[2 * i + 1];
    SessionClaim c{id, "", "", "", ""};
    if (!claimed.empty() && !claimed[0][1].is_null()) {
      c.user = claimed[0][1].AsBytes();
      c.login = claimed[0][2].AsBytes();
      c.host = claimed[0][3].is_null() ? "" : claimed[0][3].AsBytes();
    }
    if (!stored.empty()) {
      c.gateway_id = stored[0][0].AsBytes();
    } else if (!claimed.empty()) {
      c.gateway_id = claimed[0][0].AsBytes();
    } else {
      // Neither: claimed now (binding nothing), unless a session was
      // stored or claimed meanwhile (then its owner).
      RETURN_IF_ERROR(Describe(
          Transact(TxMode::kReadCommitted,
                   [&](Tx& tx) {
                     return ClaimStoredOrNew(tx, id, gateway_id, &c.gateway_id);
                   }),
          absl::StrCat("the owner of ", SessionWhat(id))));
    }
    claims.push_back(std::move(c));
  }
  return claims;
}

namespace {

// AppendSessionRecords's checks of its records, before any transaction.
absl::Status CheckAppend(const std::vector<SessionRecord>& records) {
  if (records.empty()) {
    return absl::InvalidArgumentError("no records to append");
  }
  const std::string& id = records.front().session_id;
  for (size_t i = 0; i < records.size(); ++i) {
    RETURN_IF_ERROR(records[i].Validate());
    if (records[i].session_id != id) {
      return absl::InvalidArgumentError(
          "records of one append must belong to one session");
    }
    if (i > 0 && records[i].seq != records[i - 1].seq + 1) {
      return absl::InvalidArgumentError(
          "records of one append must have consecutive seqs");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SqlStore::AppendRecordsInTx(
    Tx& tx, const std::vector<SessionRecord>& records,
    std::vector<Row>& session) {
  session.clear();
  const std::string& id = records.front().session_id;
  ASSIGN_OR_RETURN(std::vector<Row> head,
                   tx.Query(kLockSessionHead, {Param::Text(id)}));
  if (head.empty()) return NotFound(SessionWhat(id));
  const uint64_t last_seq = static_cast<uint64_t>(head[0][0].AsInt());
  const std::string status = head[0][2].AsBytes();
  // Already stored: must be the very same records.
  if (records.front().seq <= last_seq) {
    const uint64_t upto = std::min(records.back().seq, last_seq);
    ASSIGN_OR_RETURN(
        std::vector<Row> stored,
        tx.Query(kStoredHashes,
                 {Param::Text(id),
                  Param::Int(static_cast<int64_t>(records.front().seq)),
                  Param::Int(static_cast<int64_t>(upto))}));
    if (stored.size() != upto - records.front().seq + 1) {
      return absl::DataLossError(absl::StrCat(
          SessionWhat(id), " is missing stored records below ", last_seq));
    }
    for (const Row& row : stored) {
      const uint64_t seq = static_cast<uint64_t>(row[0].AsInt());
      const SessionRecord& mine = records[seq - records.front().seq];
      if (row[1].AsBytes() != mine.hash) {
        return absl::FailedPreconditionError(
            absl::StrCat("record ", seq, " of ", SessionWhat(id),
                         " differs from the stored one"));
      }
    }
  }
  // The session as this transaction leaves it, read under the
  // row's lock.
  auto read_session = [&]() -> absl::Status {
    const BatchQuery q = SessionQuery(id);
    ASSIGN_OR_RETURN(session, tx.Query(*q.stmt, q.params));
    return absl::OkStatus();
  };
  // Every record was stored already: nothing to write.
  if (records.back().seq <= last_seq) return read_session();
  const size_t first_new =
      records.front().seq > last_seq
          ? 0
          : static_cast<size_t>(last_seq + 1 - records.front().seq);
  if (records[first_new].seq != last_seq + 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        SessionWhat(id), " holds records up to ", last_seq,
        "; the next must be ", last_seq + 1, ", not ", records[first_new].seq));
  }
  if (status != "active") {
    return absl::FailedPreconditionError(
        absl::StrCat(SessionWhat(id), " has ended; no new records"));
  }
  for (size_t i = first_new; i < records.size(); ++i) {
    const SessionRecord& r = records[i];
    RETURN_IF_ERROR(
        tx.Exec(kInsertRecord,
                {Param::Text(id), Param::Int(static_cast<int64_t>(r.seq)),
                 Param::Int(r.channel),
                 Param::Int(absl::ToInt64Microseconds(r.offset)),
                 Param::Text(SessionRecordKindName(r.kind)),
                 Param::Text(RecordDirectionName(r.direction)),
                 Param::Int(r.stream), Param::Text(r.name),
                 Param::Text(r.summary), Param::Int(r.value1),
                 Param::Int(r.value2), Param::BlobRef(r.data),
                 Param::Text(r.hash)})
            .status());
  }
  int64_t bytes_in = 0, bytes_out = 0;
  // The data bytes of each channel not closed in this append.
  std::map<uint32_t, std::pair<int64_t, int64_t>> open;
  // What open_bytes_in/open_bytes_out change by: the rows' bytes
  // added below less those of the rows the closes delete. Only
  // new records count: a re-shipped one is below first_new.
  int64_t open_in = 0, open_out = 0;
  for (size_t i = first_new; i < records.size(); ++i) {
    const SessionRecord& r = records[i];
    if (r.kind == SessionRecordKind::kData) {
      auto& [in, out] = open[r.channel];
      const int64_t n = static_cast<int64_t>(r.data.size());
      if (r.direction == RecordDirection::kInput) in += n;
      if (r.direction == RecordDirection::kOutput) out += n;
    }
    if (r.kind != SessionRecordKind::kChannelClose) continue;
    bytes_in = SaturatingAdd(bytes_in, r.value1);
    bytes_out = SaturatingAdd(bytes_out, r.value2);
    // Its totals are in the close: the bytes counted while it
    // was open go, those of this append before it never came.
    open.erase(r.channel);
    ASSIGN_OR_RETURN(
        std::vector<Row> closed,
        tx.Query(kCloseOpenChannel, {Param::Text(id), Param::Int(r.channel)}));
    for (const Row& row : closed) {
      open_in -= row[0].AsInt();
      open_out -= row[1].AsInt();
    }
  }
  for (const auto& [channel, bytes] : open) {
    if (bytes.first == 0 && bytes.second == 0) continue;
    const Param params[] = {Param::Text(id), Param::Int(channel),
                            Param::Int(bytes.first), Param::Int(bytes.second)};
    ASSIGN_OR_RETURN(int64_t added, tx.Exec(kAddToOpenChannel, params));
    if (added == 0) {
      RETURN_IF_ERROR(tx.Exec(kAddOpenChannelBytes, params).status());
    }
    open_in += bytes.first;
    open_out += bytes.second;
  }
  ASSIGN_OR_RETURN(
      session, tx.Query(kSetSessionHead,
                        {Param::Text(id),
                         Param::Int(static_cast<int64_t>(records.back().seq)),
                         Param::Text(records.back().hash), Param::Int(bytes_in),
                         Param::Int(bytes_out), Param::Int(open_in),
                         Param::Int(open_out)}));
  // No row: SQLite, which has no RETURNING here.
  return session.empty() ? read_session() : absl::OkStatus();
}

absl::StatusOr<Session> SqlStore::AppendSessionRecords(
    const std::vector<SessionRecord>& records) {
  RETURN_IF_ERROR(CheckAppend(records));
  const std::string& id = records.front().session_id;
  // The session's row as this append commits it.
  std::vector<Row> session;
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kReadCommitted,
               [&](Tx& tx) { return AppendRecordsInTx(tx, records, session); }),
      absl::StrCat("records of ", SessionWhat(id))));
  // Not empty: the row was there under its lock (kLockSessionHead).
  if (session.empty()) return NotFound(SessionWhat(id));
  return SessionFromRow(session[0]);
}

absl::StatusOr<EndedSession> SqlStore::AppendSessionRecordsAndEnd(
    const std::vector<SessionRecord>& records, const SessionEnd& end) {
  RETURN_IF_ERROR(CheckAppend(records));
  const std::string& id = records.front().session_id;
  SessionEnd at_last = end;
  at_last.expect_last_seq = records.back().seq;
  RETURN_IF_ERROR(CheckEnd(id, at_last));
  std::vector<Row> session, ended;
  std::optional<Session> existing;
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kReadCommitted,
               [&](Tx& tx) -> absl::Status {
                 ended.clear();
                 RETURN_IF_ERROR(AppendRecordsInTx(tx, records, session));
                 if (session.empty()) return NotFound(SessionWhat(id));
                 ASSIGN_OR_RETURN(Session appended, SessionFromRow(session[0]));
                 // Records sent again of a session that has ended.
                 if (appended.status != SessionStatus::kActive) {
                   return absl::OkStatus();
                 }
                 // The counts its close records summed, this append's included.
                 at_last.bytes_in = appended.bytes_in;
                 at_last.bytes_out = appended.bytes_out;
                 RETURN_IF_ERROR(
                     EndSessionInTx(tx, id, at_last, ended, existing));
                 // Not ended: nothing of this append may stay either.
                 if (ended.empty()) return NotEnded(id, at_last, existing);
                 return absl::OkStatus();
               }),
      absl::StrCat("records of ", SessionWhat(id))));
  EndedSession out;
  out.ended = !ended.empty();
  ASSIGN_OR_RETURN(out.session,
                   SessionFromRow(out.ended ? ended[0] : session[0]));
  return out;
}

absl::StatusOr<std::vector<SessionRecord>> SqlStore::ListSessionRecords(
    std::string_view session_id, uint64_t after_seq, int limit) {
  return ListSessionPage<SessionRecord>(kListRecords, session_id, after_seq,
                                        limit, "records", RecordFromRow);
}

}  // namespace sallyport::storage::sql
