// Helpers shared by the sql_store_*.cc files (declared in sql_store.h).
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "storage/sql/codec.h"
#include "storage/sql/sql_store.h"

namespace sallyport::storage::sql {

std::string Quote(std::string_view name) {
  return absl::StrCat("'", absl::CEscape(std::string(name)), "'");
}

std::string SessionWhat(std::string_view id) {
  return absl::StrCat("session ", Quote(id));
}

absl::Status OwnedElsewhere(const SessionClaim& claim, std::string_view owner) {
  return absl::PermissionDeniedError(absl::StrCat(
      SessionWhat(claim.session_id), " is owned by ",
      owner.empty() ? std::string("no gateway (stored before schema 5)")
                    : absl::StrCat("gateway ", Quote(owner)),
      ", not by ", Quote(claim.gateway_id)));
}

absl::Status BoundToAnother(const SessionClaim& bound, std::string_view how,
                            std::string_view user, std::string_view login) {
  absl::Status st = absl::PermissionDeniedError(absl::StrCat(
      SessionWhat(bound.session_id), " ", std::string(how), " for user ",
      Quote(bound.user), " login ", Quote(bound.login), ", not for user ",
      Quote(user), " login ", Quote(login)));
  st.SetPayload(SessionClaim::kBoundToAnother, absl::Cord("1"));
  return st;
}

absl::Status Describe(absl::Status status, std::string_view what) {
  if (status.ok()) return status;
  const std::string message(status.message());
  // Errors we made ourselves already name the record.
  if (message.rfind(std::string(what), 0) == 0) return status;
  if (status.code() == absl::StatusCode::kAlreadyExists) {
    return absl::AlreadyExistsError(
        absl::StrCat(std::string(what), " already exists"));
  }
  return absl::Status(status.code(),
                      absl::StrCat(std::string(what), ": ", message));
}

absl::Status ValidateLimit(int limit) {
  // Callers pass the message on to users (Admin.ListJoinTokens).
  if (limit < 1 || limit > kMaxListLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit must be 1..", kMaxListLimit));
  }
  return absl::OkStatus();
}

absl::Status NotFound(std::string_view what) {
  return absl::NotFoundError(absl::StrCat(std::string(what), " not found"));
}

absl::StatusOr<std::vector<Row>> SqlStore::ListSessionRows(
    const Statement& query, std::string_view session_id, uint64_t after_seq,
    int limit, std::string_view what) {
  RETURN_IF_ERROR(ValidateText("session id", session_id, kMaxNameBytes, true));
  RETURN_IF_ERROR(ValidateLimit(limit));
  std::vector<Row> rows;
  if (after_seq > kMaxSerial) return rows;
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kReadOne,
               [&](Tx& tx) -> absl::Status {
                 ASSIGN_OR_RETURN(
                     rows,
                     tx.Query(query,
                              {Param::Text(session_id),
                               Param::Int(static_cast<int64_t>(after_seq)),
                               Param::Int(limit)}));
                 return absl::OkStatus();
               }),
      absl::StrCat(std::string(what), " of ", SessionWhat(session_id))));
  return rows;
}

absl::Status CheckUnchangedSince(Tx& tx, const Statement& updated_at,
                                 std::string_view name,
                                 std::optional<absl::Time> since,
                                 std::string_view what) {
  if (!since.has_value()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<Row> rows,
                   tx.Query(updated_at, {Param::Text(name)}));
  if (rows.empty()) return NotFound(what);
  const int64_t stored = rows[0][0].AsInt();
  if (stored == TimeToMicros(*since)) return absl::OkStatus();
  return absl::AbortedError(absl::StrCat(
      std::string(what), " was changed at ",
      absl::FormatTime("%Y-%m-%d %H:%M:%E6S UTC", MicrosToTime(stored),
                       absl::UTCTimeZone()),
      ", after it was read (",
      absl::FormatTime("%Y-%m-%d %H:%M:%E6S UTC", *since, absl::UTCTimeZone()),
      "): nothing was changed; read it again and redo the change"));
}

}  // namespace sallyport::storage::sql
