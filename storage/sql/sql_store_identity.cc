// SqlStore: users, credentials, roles and role bindings.
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
// updated_at_us only moves forward (a clock set back, two updates in one
// microsecond), so an update conditional on it never misses a change.
#define SP_NEXT_UPDATED_AT(now)                     \
  "updated_at_us = CASE WHEN updated_at_us >= " now \
  " THEN updated_at_us + 1 ELSE " now " END"
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

#define SP_ROLE_COLUMNS \
  "name, description, spec, max_ttl_us, record, created_at_us, updated_at_us"
constexpr Statement kInsertRole("INSERT INTO roles (" SP_ROLE_COLUMNS
                                ") VALUES ($1, $2, $3, $4, $5, $6, $6)");
constexpr Statement kSelectRole("SELECT " SP_ROLE_COLUMNS
                                " FROM roles WHERE name = $1");
constexpr Statement kListRoles("SELECT " SP_ROLE_COLUMNS " FROM roles");
constexpr Statement kUpdateRole(
    "UPDATE roles SET description = $2, spec = $3, max_ttl_us = $4, "
    "record = $5, " SP_NEXT_UPDATED_AT("$6") " WHERE name = $1 "
    "RETURNING " SP_ROLE_COLUMNS);
#undef SP_NEXT_UPDATED_AT
constexpr Statement kRoleUpdatedAt(
    "SELECT updated_at_us FROM roles WHERE name = $1");
constexpr Statement kListRolesForUser(
    "SELECT r.name, r.description, r.spec, r.max_ttl_us, r.record, "
    "r.created_at_us, r.updated_at_us FROM roles r JOIN role_bindings b "
    "ON b.role_name = r.name WHERE b.user_name = $1");
#undef SP_ROLE_COLUMNS
constexpr Statement kDeleteRole("DELETE FROM roles WHERE name = $1");
constexpr Statement kRoleExists("SELECT 1 FROM roles WHERE name = $1");

constexpr Statement kInsertBinding(
    "INSERT INTO role_bindings (user_name, role_name, created_at_us) "
    "VALUES ($1, $2, $3)");
constexpr Statement kDeleteBinding(
    "DELETE FROM role_bindings WHERE user_name = $1 AND role_name = $2");
constexpr Statement kListBindings(
    "SELECT user_name, role_name, created_at_us FROM role_bindings");
constexpr Statement kListBindingsForUser(
    "SELECT user_name, role_name, created_at_us FROM role_bindings "
    "WHERE user_name = $1");

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

absl::StatusOr<Role> RoleFromRow(const Row& r) {
  Role role;
  role.name = r[0].AsBytes();
  role.description = r[1].AsBytes();
  RETURN_IF_ERROR(DecodeRoleSpec(r[2].AsBytes(), role));
  role.max_ttl = absl::Microseconds(r[3].AsInt());
  std::optional<RecordMode> record = ParseRecordMode(r[4].AsBytes());
  if (!record) return absl::DataLossError("stored role has a bad record mode");
  role.record = *record;
  role.created_at = TimeValue(r[5]);
  role.updated_at = TimeValue(r[6]);
  return role;
}

absl::StatusOr<std::vector<Role>> RolesFromRows(const std::vector<Row>& rows) {
  std::vector<Role> roles;
  for (const Row& r : rows) {
    ASSIGN_OR_RETURN(Role role, RoleFromRow(r));
    roles.push_back(std::move(role));
  }
  std::sort(roles.begin(), roles.end(),
            [](const Role& a, const Role& b) { return a.name < b.name; });
  return roles;
}

BatchQuery UserQuery(std::string_view name) {
  return {&kSelectUser, {Param::Text(name)}};
}

BatchQuery RolesForUserQuery(std::string_view name) {
  return {&kListRolesForUser, {Param::Text(name)}};
}

absl::StatusOr<User> UserFromRows(const std::vector<Row>& rows,
                                  std::string_view name) {
  if (rows.empty()) return NotFound(absl::StrCat("user ", Quote(name)));
  return UserFromRow(rows[0]);
}

namespace {

RoleBinding BindingFromRow(const Row& r) {
  return RoleBinding{r[0].AsBytes(), r[1].AsBytes(), TimeValue(r[2])};
}

std::string UserWhat(std::string_view name) {
  return absl::StrCat("user ", Quote(name));
}

// The precondition of UpdateUser/UpdateRole: `what` (keyed by `name`) still
// has the updated_at its caller read. kNotFound when it is gone; kAborted
// when it changed since.
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
  RETURN_IF_ERROR(Describe(Transact(TxMode::kRead,
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
        ASSIGN_OR_RETURN(std::vector<Row> rows,
                         tx.Query(kUserExists, {Param::Text(user)}));
        if (rows.empty()) return NotFound(UserWhat(user));
        return absl::OkStatus();
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

// ------------------------------------------------------------ roles

absl::StatusOr<Role> SqlStore::CreateRole(const Role& in) {
  RETURN_IF_ERROR(in.Validate());
  Role role = in;
  role.max_ttl = absl::Microseconds(absl::ToInt64Microseconds(role.max_ttl));
  role.created_at = role.updated_at = Now();
  ASSIGN_OR_RETURN(std::string spec, EncodeRoleSpec(role));
  const std::string what = absl::StrCat("role ", Quote(role.name));
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kSerializable,
               [&](Tx& tx) {
                 return tx
                     .Exec(kInsertRole,
                           {Param::Text(role.name),
                            Param::Text(role.description), Param::Text(spec),
                            Param::Int(absl::ToInt64Microseconds(role.max_ttl)),
                            Param::Text(RecordModeName(role.record)),
                            TimeParam(role.created_at)})
                     .status();
               }),
      what));
  return role;
}

absl::StatusOr<Role> SqlStore::GetRole(std::string_view name) {
  RETURN_IF_ERROR(ValidateText("role name", name, kMaxNameBytes, true));
  const std::string what = absl::StrCat("role ", Quote(name));
  std::vector<Row> rows;
  RETURN_IF_ERROR(
      Describe(Transact(TxMode::kRead,
                        [&](Tx& tx) -> absl::Status {
                          ASSIGN_OR_RETURN(
                              rows, tx.Query(kSelectRole, {Param::Text(name)}));
                          return absl::OkStatus();
                        }),
               what));
  if (rows.empty()) return NotFound(what);
  return RoleFromRow(rows[0]);
}

absl::StatusOr<std::vector<Role>> SqlStore::ListRoles() {
  std::vector<Row> rows;
  RETURN_IF_ERROR(Describe(Transact(TxMode::kRead,
                                    [&](Tx& tx) -> absl::Status {
                                      ASSIGN_OR_RETURN(
                                          rows, tx.Query(kListRoles, {}));
                                      return absl::OkStatus();
                                    }),
                           "list roles"));
  return RolesFromRows(rows);
}

absl::StatusOr<Role> SqlStore::UpdateRole(
    const Role& in, std::optional<absl::Time> unchanged_since) {
  RETURN_IF_ERROR(in.Validate());
  ASSIGN_OR_RETURN(std::string spec, EncodeRoleSpec(in));
  const absl::Time now = Now();
  const std::string what = absl::StrCat("role ", Quote(in.name));
  std::vector<Row> rows;
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kSerializable,
               [&](Tx& tx) -> absl::Status {
                 RETURN_IF_ERROR(CheckUnchangedSince(
                     tx, kRoleUpdatedAt, in.name, unchanged_since, what));
                 ASSIGN_OR_RETURN(
                     rows,
                     tx.Query(
                         kUpdateRole,
                         {Param::Text(in.name), Param::Text(in.description),
                          Param::Text(spec),
                          Param::Int(absl::ToInt64Microseconds(in.max_ttl)),
                          Param::Text(RecordModeName(in.record)),
                          TimeParam(now)}));
                 return absl::OkStatus();
               }),
      what));
  if (rows.empty()) return NotFound(what);
  return RoleFromRow(rows[0]);
}

absl::Status SqlStore::DeleteRole(std::string_view name) {
  RETURN_IF_ERROR(ValidateText("role name", name, kMaxNameBytes, true));
  const std::string what = absl::StrCat("role ", Quote(name));
  return Describe(Transact(TxMode::kSerializable,
                           [&](Tx& tx) -> absl::Status {
                             ASSIGN_OR_RETURN(
                                 int64_t n,
                                 tx.Exec(kDeleteRole, {Param::Text(name)}));
                             return n == 0 ? NotFound(what) : absl::OkStatus();
                           }),
                  what);
}

absl::StatusOr<RoleBinding> SqlStore::BindRole(std::string_view user,
                                               std::string_view role) {
  RETURN_IF_ERROR(ValidateText("user name", user, kMaxNameBytes, true));
  RETURN_IF_ERROR(ValidateText("role name", role, kMaxNameBytes, true));
  RoleBinding binding{std::string(user), std::string(role), Now()};
  const std::string what =
      absl::StrCat("binding of role ", Quote(role), " to user ", Quote(user));
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kSerializable,
               [&](Tx& tx) -> absl::Status {
                 ASSIGN_OR_RETURN(std::vector<Row> u,
                                  tx.Query(kUserExists, {Param::Text(user)}));
                 if (u.empty()) return NotFound(UserWhat(user));
                 ASSIGN_OR_RETURN(std::vector<Row> r,
                                  tx.Query(kRoleExists, {Param::Text(role)}));
                 if (r.empty()) {
                   return NotFound(absl::StrCat("role ", Quote(role)));
                 }
                 return tx
                     .Exec(kInsertBinding,
                           {Param::Text(user), Param::Text(role),
                            TimeParam(binding.created_at)})
                     .status();
               }),
      what));
  return binding;
}

absl::Status SqlStore::UnbindRole(std::string_view user,
                                  std::string_view role) {
  RETURN_IF_ERROR(ValidateText("user name", user, kMaxNameBytes, true));
  RETURN_IF_ERROR(ValidateText("role name", role, kMaxNameBytes, true));
  const std::string what =
      absl::StrCat("binding of role ", Quote(role), " to user ", Quote(user));
  return Describe(Transact(TxMode::kSerializable,
                           [&](Tx& tx) -> absl::Status {
                             ASSIGN_OR_RETURN(
                                 int64_t n,
                                 tx.Exec(kDeleteBinding, {Param::Text(user),
                                                          Param::Text(role)}));
                             return n == 0 ? NotFound(what) : absl::OkStatus();
                           }),
                  what);
}

absl::StatusOr<std::vector<RoleBinding>> SqlStore::ListRoleBindings(
    std::optional<std::string_view> user) {
  if (user) {
    RETURN_IF_ERROR(ValidateText("user name", *user, kMaxNameBytes, true));
  }
  std::vector<Row> rows;
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kRead,
               [&](Tx& tx) -> absl::Status {
                 if (user) {
                   ASSIGN_OR_RETURN(rows, tx.Query(kListBindingsForUser,
                                                   {Param::Text(*user)}));
                 } else {
                   ASSIGN_OR_RETURN(rows, tx.Query(kListBindings, {}));
                 }
                 return absl::OkStatus();
               }),
      "list role bindings"));
  std::vector<RoleBinding> bindings;
  for (const Row& r : rows) bindings.push_back(BindingFromRow(r));
  std::sort(bindings.begin(), bindings.end(),
            [](const RoleBinding& a, const RoleBinding& b) {
              return std::tie(a.user, a.role) < std::tie(b.user, b.role);
            });
  return bindings;
}

absl::StatusOr<std::vector<Role>> SqlStore::ListRolesForUser(
    std::string_view user) {
  RETURN_IF_ERROR(ValidateText("user name", user, kMaxNameBytes, true));
  ASSIGN_OR_RETURN(std::vector<Row> rows,
                   ReadOne(RolesForUserQuery(user),
                           absl::StrCat("roles of ", UserWhat(user))));
  return RolesFromRows(rows);
}

}  // namespace sallyport::storage::sql
