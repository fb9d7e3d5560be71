// SqlStore: users and their credentials (roles and role bindings are in
// sql_store_roles.cc).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "storage/sql/codec.h"
#include "storage/sql/sql_store.h"

namespace sallyport::storage::sql {
namespace {

constexpr Statement kInsertUser(
    "INSERT INTO users (name, display_name, disabled, created_at_us, "
    "updated_at_us) VALUES ($1, $2, $3, $4, $4)");
constexpr Statement kInsertCredentials(
    "INSERT INTO credentials (user_name, password_hash, totp_secret, "
    "failed_attempts, last_failure_at_us, locked_until_us, updated_at_us) "
    "VALUES ($1, '', $2, 0, NULL, NULL, $3)");
#define SP_USER_COLUMNS \
  "name, display_name, disabled, created_at_us, updated_at_us"
constexpr Statement kSelectUser("SELECT " SP_USER_COLUMNS
                                " FROM users WHERE name = $1");
constexpr Statement kListUsers("SELECT " SP_USER_COLUMNS " FROM users");
constexpr Statement kUpdateUser(
    "UPDATE users SET display_name = $2, disabled = $3, " SP_NEXT_UPDATED_AT(
        "$4") " WHERE name = $1 RETURNING " SP_USER_COLUMNS);
constexpr Statement kUserUpdatedAt(
    "SELECT updated_at_us FROM users WHERE name = $1");
#undef SP_USER_COLUMNS
constexpr Statement kDeleteUser("DELETE FROM users WHERE name = $1");
constexpr Statement kUserExists("SELECT 1 FROM users WHERE name = $1");

constexpr Statement kSelectCredentials(
    "SELECT user_name, password_hash, totp_secret, failed_attempts, "
    "last_failure_at_us, locked_until_us, updated_at_us, unlocked_at_us "
    "FROM credentials WHERE user_name = $1");
constexpr Statement kSetPasswordHash(
    "UPDATE credentials SET password_hash = $2, updated_at_us = $3 "
    "WHERE user_name = $1");
// A new (or no) secret: the last accepted step belonged to the old one.
constexpr Statement kSetTotpSecret(
    "UPDATE credentials SET totp_secret = $2, last_totp_step = NULL, "
    "updated_at_us = $3 WHERE user_name = $1");
// Changes the row only for a step later than the stored one: the affected
// row count says whether this caller claimed it.
constexpr Statement kClaimTotpStep(
    "UPDATE credentials SET last_totp_step = $2, updated_at_us = $3 "
    "WHERE user_name = $1 AND (last_totp_step IS NULL OR last_totp_step < $2)");
// A no-op UPDATE: takes the row lock (PostgreSQL) and reads the current row.
constexpr Statement kLockCredentials(
    "UPDATE credentials SET failed_attempts = failed_attempts "
    "WHERE user_name = $1 RETURNING failed_attempts, locked_until_us");
constexpr Statement kStoreFailure(
    "UPDATE credentials SET failed_attempts = $2, locked_until_us = $3, "
    "last_failure_at_us = $4, updated_at_us = $4 WHERE user_name = $1");
constexpr Statement kResetFailures(
    "UPDATE credentials SET failed_attempts = 0, updated_at_us = $2 "
    "WHERE user_name = $1");
constexpr Statement kUnlock(
    "UPDATE credentials SET failed_attempts = 0, locked_until_us = NULL, "
    "updated_at_us = $2, unlocked_at_us = $2 WHERE user_name = $1");

}  // namespace

User UserFromRow(const Row& r) {
  User u;
  u.name = r[0].AsBytes();
  u.display_name = r[1].AsBytes();
  u.disabled = r[2].AsBool();
  u.created_at = TimeValue(r[3]);
  u.updated_at = TimeValue(r[4]);
  return u;
}

BatchQuery UserQuery(std::string_view name) {
  return {&kSelectUser, {Param::Text(name)}};
}

std::string UserWhat(std::string_view name) {
  return absl::StrCat("user ", Quote(name));
}

absl::Status UserMustExist(Tx& tx, std::string_view user) {
  ASSIGN_OR_RETURN(std::vector<Row> rows,
                   tx.Query(kUserExists, {Param::Text(user)}));
  if (rows.empty()) return NotFound(UserWhat(user));
  return absl::OkStatus();
}

absl::StatusOr<User> UserFromRows(const std::vector<Row>& rows,
                                  std::string_view name) {
  if (rows.empty()) return NotFound(absl::StrCat("user ", Quote(name)));
  return UserFromRow(rows[0]);
}

namespace {

// Runs an UPDATE/DELETE keyed by user name: kNotFound when no row changed.
absl::Status ExecOnUser(Tx& tx, const Statement& stmt,
                        absl::Span<const Param> params, std::string_view user) {
  ASSIGN_OR_RETURN(int64_t n, tx.Exec(stmt, params));
  if (n == 0) return NotFound(UserWhat(user));
  return absl::OkStatus();
}

}  // namespace

SqlStore::SqlStore(std::unique_ptr<Database> db, base::Clock* clock,
                   int schema_version, const IssuanceOptions& issuance)
    : db_(std::move(db)),
      clock_(clock),
      schema_version_(schema_version),
      serial_block_(issuance.serial_block),
      certificate_commit_(issuance.group_commit_max_batch,
                          issuance.group_commit_max_wait,
                          [this](absl::Span<CertificateWrite* const> batch) {
                            return CommitCertificates(batch);
                          }) {}

absl::Time SqlStore::Now() const { return TruncateToMicros(clock_->Now()); }

// ------------------------------------------------------------ users

absl::StatusOr<User> SqlStore::CreateUser(const User& in) {
  RETURN_IF_ERROR(in.Validate());
  User user = in;
  user.created_at = user.updated_at = Now();
  absl::Status s = Transact(TxMode::kSerializable, [&](Tx& tx) -> absl::Status {
    RETURN_IF_ERROR(
        tx.Exec(kInsertUser,
                {Param::Text(user.name), Param::Text(user.display_name),
                 Param::Bool(user.disabled), TimeParam(user.created_at)})
            .status());
    return tx
        .Exec(kInsertCredentials, {Param::Text(user.name), Param::Blob(""),
                                   TimeParam(user.created_at)})
        .status();
  });
  RETURN_IF_ERROR(Describe(s, UserWhat(user.name)));
  return user;
}

absl::StatusOr<User> SqlStore::GetUser(std::string_view name) {
  RETURN_IF_ERROR(ValidateText("user name", name, kMaxNameBytes, true));
  ASSIGN_OR_RETURN(std::vector<Row> rows,
                   ReadOne(UserQuery(name), UserWhat(name)));
  return UserFromRows(rows, name);
}

absl::StatusOr<std::vector<User>> SqlStore::ListUsers() {
  std::vector<Row> rows;
  RETURN_IF_ERROR(Describe(Transact(TxMode::kReadOne,
                                    [&](Tx& tx) -> absl::Status {
                                      ASSIGN_OR_RETURN(
                                          rows, tx.Query(kListUsers, {}));
                                      return absl::OkStatus();
                                    }),
                           "list users"));
  std::vector<User> users;
  for (const Row& r : rows) users.push_back(UserFromRow(r));
  std::sort(users.begin(), users.end(),
            [](const User& a, const User& b) { return a.name < b.name; });
  return users;
}

absl::StatusOr<User> SqlStore::UpdateUser(
    const User& in, std::optional<absl::Time> unchanged_since) {
  RETURN_IF_ERROR(in.Validate());
  const absl::Time now = Now();
  std::vector<Row> rows;
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kSerializable,
               [&](Tx& tx) -> absl::Status {
                 RETURN_IF_ERROR(CheckUnchangedSince(tx, kUserUpdatedAt,
                                                     in.name, unchanged_since,
                                                     UserWhat(in.name)));
                 ASSIGN_OR_RETURN(
                     rows, tx.Query(kUpdateUser, {Param::Text(in.name),
                                                  Param::Text(in.display_name),
                                                  Param::Bool(in.disabled),
                                                  TimeParam(now)}));
                 return absl::OkStatus();
               }),
      UserWhat(in.name)));
  if (rows.empty()) return NotFound(UserWhat(in.name));
  return UserFromRow(rows[0]);
}

absl::Status SqlStore::DeleteUser(std::string_view name) {
  RETURN_IF_ERROR(ValidateText("user name", name, kMaxNameBytes, true));
  return Describe(Transact(TxMode::kSerializable,
                           [&](Tx& tx) {
                             return ExecOnUser(tx, kDeleteUser,
                                               {Param::Text(name)}, name);
                           }),
                  UserWhat(name));
}

// ------------------------------------------------------------ credentials

absl::StatusOr<Credentials> SqlStore::GetCredentials(std::string_view user) {
  RETURN_IF_ERROR(ValidateText("user name", user, kMaxNameBytes, true));
  std::vector<Row> rows;
  RETURN_IF_ERROR(Describe(Transact(TxMode::kReadOne,
                                    [&](Tx& tx) -> absl::Status {
                                      ASSIGN_OR_RETURN(
                                          rows, tx.Query(kSelectCredentials,
                                                         {Param::Text(user)}));
                                      return absl::OkStatus();
                                    }),
                           UserWhat(user)));
  if (rows.empty()) return NotFound(UserWhat(user));
  const Row& r = rows[0];
  Credentials c;
  c.user = r[0].AsBytes();
  c.password_hash = r[1].AsBytes();
  c.totp_secret = base::SecretBytes::FromString(r[2].AsBytes());
  c.failed_attempts = static_cast<int>(r[3].AsInt());
  c.last_failure_at = OptTimeValue(r[4]);
  c.locked_until = OptTimeValue(r[5]);
  c.updated_at = TimeValue(r[6]);
  c.unlocked_at = OptTimeValue(r[7]);
  return c;
}

absl::Status SqlStore::SetPasswordHash(std::string_view user,
                                       std::string_view password_hash) {
  RETURN_IF_ERROR(ValidateText("user name", user, kMaxNameBytes, true));
  RETURN_IF_ERROR(
      ValidateText("password hash", password_hash, kMaxTextBytes, false));
  const absl::Time now = Now();
  return Describe(Transact(TxMode::kSerializable,
                           [&](Tx& tx) {
                             return ExecOnUser(
                                 tx, kSetPasswordHash,
                                 {Param::Text(user), Param::Text(password_hash),
                                  TimeParam(now)},
                                 user);
                           }),
                  UserWhat(user));
}

absl::Status SqlStore::SetTotpSecret(std::string_view user,
                                     const base::SecretBytes& secret) {
  RETURN_IF_ERROR(ValidateText("user name", user, kMaxNameBytes, true));
  if (secret.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError("TOTP secret is too long");
  }
  const absl::Time now = Now();
  return Describe(Transact(TxMode::kSerializable,
                           [&](Tx& tx) {
                             return ExecOnUser(
                                 tx, kSetTotpSecret,
                                 {Param::Text(user), Param::Blob(secret.view()),
                                  TimeParam(now)},
                                 user);
                           }),
                  UserWhat(user));
}

absl::StatusOr<bool> SqlStore::ClaimTotpStep(std::string_view user,
                                             uint64_t step) {
  RETURN_IF_ERROR(ValidateText("user name", user, kMaxNameBytes, true));
  if (step > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return absl::InvalidArgumentError(
        absl::StrCat("TOTP step ", step, " is out of range"));
  }
  const absl::Time now = Now();
  bool claimed = false;
  // kReadCommitted: the conditional UPDATE locks the row and (PostgreSQL)
  // re-checks its condition against the step a concurrent claim committed,
  // so of several claims of one step exactly one changes the row.
  absl::Status s =
      Transact(TxMode::kReadCommitted, [&](Tx& tx) -> absl::Status {
        claimed = false;
        ASSIGN_OR_RETURN(
            int64_t n,
            tx.Exec(kClaimTotpStep,
                    {Param::Text(user), Param::Int(static_cast<int64_t>(step)),
                     TimeParam(now)}));
        if (n > 0) {
          claimed = true;
          return absl::OkStatus();
        }
        // Not claimed: a replay, or no such user.
        return UserMustExist(tx, user);
      });
  RETURN_IF_ERROR(Describe(s, UserWhat(user)));
  return claimed;
}

absl::StatusOr<LoginFailureResult> SqlStore::RecordLoginFailure(
    std::string_view user, const LockoutPolicy& policy) {
  RETURN_IF_ERROR(ValidateText("user name", user, kMaxNameBytes, true));
  RETURN_IF_ERROR(policy.Validate());
  const absl::Time now = Now();
  LoginFailureResult result;
  // kReadCommitted: the first UPDATE locks the row, so concurrent failures
  // are counted one after the other, each seeing the previous count.
  absl::Status s =
      Transact(TxMode::kReadCommitted, [&](Tx& tx) -> absl::Status {
        result = LoginFailureResult();
        ASSIGN_OR_RETURN(std::vector<Row> rows,
                         tx.Query(kLockCredentials, {Param::Text(user)}));
        if (rows.empty()) return NotFound(UserWhat(user));
        const int64_t failures = rows[0][0].AsInt();
        const std::optional<absl::Time> locked_until = OptTimeValue(rows[0][1]);
        if (locked_until && *locked_until > now) {
          // Locked: nothing to count, the lock is not extended.
          result.failed_attempts = static_cast<int>(failures);
          result.locked_until = locked_until;
          return absl::OkStatus();
        }
        if (failures + 1 >= policy.max_failures) {
          result.failed_attempts = 0;
          result.locked_until = TruncateToMicros(now + policy.lockout);
          result.locked_now = true;
        } else {
          result.failed_attempts = static_cast<int>(failures + 1);
        }
        return tx
            .Exec(kStoreFailure,
                  {Param::Text(user), Param::Int(result.failed_attempts),
                   OptTimeParam(result.locked_until), TimeParam(now)})
            .status();
      });
  RETURN_IF_ERROR(Describe(s, UserWhat(user)));
  return result;
}

absl::Status SqlStore::RecordLoginSuccess(std::string_view user) {
  RETURN_IF_ERROR(ValidateText("user name", user, kMaxNameBytes, true));
  const absl::Time now = Now();
  return Describe(Transact(TxMode::kReadCommitted,
                           [&](Tx& tx) {
                             return ExecOnUser(
                                 tx, kResetFailures,
                                 {Param::Text(user), TimeParam(now)}, user);
                           }),
                  UserWhat(user));
}

absl::Status SqlStore::UnlockUser(std::string_view user) {
  RETURN_IF_ERROR(ValidateText("user name", user, kMaxNameBytes, true));
  const absl::Time now = Now();
  return Describe(Transact(TxMode::kReadCommitted,
                           [&](Tx& tx) {
                             return ExecOnUser(
                                 tx, kUnlock,
                                 {Param::Text(user), TimeParam(now)}, user);
                           }),
                  UserWhat(user));
}

}  // namespace sallyport::storage::sql
