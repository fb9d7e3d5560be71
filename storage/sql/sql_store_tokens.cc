// SqlStore: join tokens (one-time secrets that enrol a gateway or a host).
// Only the SHA-256 of a secret is stored; a token's public name is its id.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "storage/audit_hash.h"
#include "storage/sql/codec.h"
#include "storage/sql/sql_store.h"

namespace sallyport::storage::sql {
namespace {

#define SP_TOKEN_COLUMNS                                                \
  "id, token_hash, purpose, created_by, created_at_us, expires_at_us, " \
  "used_at_us, revoked_at_us, gateway_name"
// SQLite numbers under its write lock; PostgreSQL uses the id sequence.
constexpr Statement kInsertToken(
    "INSERT INTO join_tokens (id, token_hash, purpose, created_by, "
    "created_at_us, expires_at_us, gateway_name) VALUES ((SELECT "
    "COALESCE(MAX(id), 0) + 1 FROM join_tokens), $1, $2, $3, $4, $5, $6) "
    "RETURNING id",
    "INSERT INTO join_tokens (token_hash, purpose, created_by, "
    "created_at_us, expires_at_us, gateway_name) VALUES ($1, $2, $3, $4, $5, "
    "$6) RETURNING id");
// One conditional UPDATE each: the row lock makes exactly one of the
// consumers and revokers of a token match.
constexpr Statement kConsumeToken(
    "UPDATE join_tokens SET used_at_us = $2 WHERE token_hash = $1 "
    "AND used_at_us IS NULL AND revoked_at_us IS NULL AND expires_at_us > $2 "
    "RETURNING " SP_TOKEN_COLUMNS);
constexpr Statement kRevokeToken(
    "UPDATE join_tokens SET revoked_at_us = $2 WHERE id = $1 "
    "AND used_at_us IS NULL AND revoked_at_us IS NULL "
    "RETURNING " SP_TOKEN_COLUMNS);
constexpr Statement kSelectTokenByHash("SELECT " SP_TOKEN_COLUMNS
                                       " FROM join_tokens WHERE token_hash = "
                                       "$1");
constexpr Statement kSelectTokenById("SELECT " SP_TOKEN_COLUMNS
                                     " FROM join_tokens WHERE id = $1");
constexpr Statement kListTokens(
    "SELECT " SP_TOKEN_COLUMNS
    " FROM join_tokens WHERE id > $1 AND ($2 IS NULL OR (used_at_us IS NULL "
    "AND revoked_at_us IS NULL AND expires_at_us > $2)) ORDER BY id LIMIT $3");
#undef SP_TOKEN_COLUMNS

JoinToken TokenFromRow(const Row& r) {
  JoinToken t;
  t.id = r[0].AsInt();
  t.token_hash = r[1].AsBytes();
  t.purpose = r[2].AsBytes();
  t.created_by = r[3].AsBytes();
  t.created_at = TimeValue(r[4]);
  t.expires_at = TimeValue(r[5]);
  t.used_at = OptTimeValue(r[6]);
  t.revoked_at = OptTimeValue(r[7]);
  t.gateway_name = r[8].AsBytes();
  return t;
}

// Why `t` cannot be consumed or revoked now.
absl::Status Unusable(const JoinToken& t) {
  if (t.used_at) {
    return absl::FailedPreconditionError("join token was already used");
  }
  if (t.revoked_at) {
    return absl::FailedPreconditionError("join token was revoked");
  }
  return absl::FailedPreconditionError("join token has expired");
}

}  // namespace

absl::StatusOr<JoinToken> SqlStore::CreateJoinToken(const NewJoinToken& in) {
  RETURN_IF_ERROR(in.Validate());
  JoinToken t;
  ASSIGN_OR_RETURN(t.token_hash, Sha256Hex(in.token.view()));
  t.purpose = in.purpose;
  t.created_by = in.created_by;
  t.created_at = Now();
  t.expires_at = TruncateToMicros(in.expires_at);
  t.gateway_name = in.gateway_name;
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kReadCommitted,
               [&](Tx& tx) -> absl::Status {
                 ASSIGN_OR_RETURN(
                     std::vector<Row> rows,
                     tx.Query(
                         kInsertToken,
                         {Param::Text(t.token_hash), Param::Text(t.purpose),
                          Param::Text(t.created_by), TimeParam(t.created_at),
                          TimeParam(t.expires_at),
                          Param::Text(t.gateway_name)}));
                 if (rows.empty()) {
                   return absl::InternalError("no id for the join token");
                 }
                 t.id = rows[0][0].AsInt();
                 return absl::OkStatus();
               }),
      "join token"));
  return t;
}

absl::StatusOr<JoinToken> SqlStore::ConsumeJoinToken(
    const base::SecretBytes& token) {
  if (token.empty() || token.size() > kMaxTextBytes) {
    return absl::NotFoundError("join token not found");
  }
  ASSIGN_OR_RETURN(std::string hash, Sha256Hex(token.view()));
  const absl::Time now = Now();
  std::vector<Row> rows, existing;
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kReadCommitted,
               [&](Tx& tx) -> absl::Status {
                 existing.clear();
                 ASSIGN_OR_RETURN(
                     rows, tx.Query(kConsumeToken,
                                    {Param::Text(hash), TimeParam(now)}));
                 if (!rows.empty()) return absl::OkStatus();
                 ASSIGN_OR_RETURN(existing, tx.Query(kSelectTokenByHash,
                                                     {Param::Text(hash)}));
                 return absl::OkStatus();
               }),
      "consume join token"));
  if (!rows.empty()) return TokenFromRow(rows[0]);
  if (existing.empty()) return absl::NotFoundError("join token not found");
  return Unusable(TokenFromRow(existing[0]));
}

absl::StatusOr<JoinToken> SqlStore::GetJoinToken(
    const base::SecretBytes& token) {
  if (token.empty() || token.size() > kMaxTextBytes) {
    return absl::NotFoundError("join token not found");
  }
  ASSIGN_OR_RETURN(std::string hash, Sha256Hex(token.view()));
  std::vector<Row> rows;
  RETURN_IF_ERROR(Describe(Transact(TxMode::kReadCommitted,
                                    [&](Tx& tx) -> absl::Status {
                                      ASSIGN_OR_RETURN(
                                          rows, tx.Query(kSelectTokenByHash,
                                                         {Param::Text(hash)}));
                                      return absl::OkStatus();
                                    }),
                           "read join token"));
  if (rows.empty()) return absl::NotFoundError("join token not found");
  return TokenFromRow(rows[0]);
}

absl::StatusOr<std::vector<JoinToken>> SqlStore::ListJoinTokens(
    const JoinTokenFilter& filter) {
  RETURN_IF_ERROR(ValidateLimit(filter.limit));
  std::optional<absl::Time> usable_at;
  if (filter.usable_at) usable_at = TruncateToMicros(*filter.usable_at);
  std::vector<Row> rows;
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kReadCommitted,
               [&](Tx& tx) -> absl::Status {
                 ASSIGN_OR_RETURN(
                     rows,
                     tx.Query(
                         kListTokens,
                         {Param::Int(std::max<int64_t>(0, filter.after_id)),
                          OptTimeParam(usable_at), Param::Int(filter.limit)}));
                 return absl::OkStatus();
               }),
      "list join tokens"));
  std::vector<JoinToken> out;
  out.reserve(rows.size());
  for (const Row& r : rows) out.push_back(TokenFromRow(r));
  return out;
}

absl::StatusOr<JoinToken> SqlStore::RevokeJoinToken(int64_t id) {
  const std::string what = absl::StrCat("join token ", id);
  if (id <= 0) return NotFound(what);
  const absl::Time now = Now();
  std::vector<Row> rows, existing;
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kReadCommitted,
               [&](Tx& tx) -> absl::Status {
                 existing.clear();
                 ASSIGN_OR_RETURN(
                     rows,
                     tx.Query(kRevokeToken, {Param::Int(id), TimeParam(now)}));
                 if (!rows.empty()) return absl::OkStatus();
                 ASSIGN_OR_RETURN(existing,
                                  tx.Query(kSelectTokenById, {Param::Int(id)}));
                 return absl::OkStatus();
               }),
      what));
  if (!rows.empty()) return TokenFromRow(rows[0]);
  if (existing.empty()) return NotFound(what);
  return Unusable(TokenFromRow(existing[0]));
}

}  // namespace sallyport::storage::sql
