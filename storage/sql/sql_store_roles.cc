// SqlStore: roles and role bindings (users and their credentials are in
// sql_store_identity.cc).
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "storage/sql/codec.h"
#include "storage/sql/sql_store.h"

namespace sallyport::storage::sql {
namespace {

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

RoleBinding BindingFromRow(const Row& r) {
  return RoleBinding{r[0].AsBytes(), r[1].AsBytes(), TimeValue(r[2])};
}

}  // namespace

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

BatchQuery RolesForUserQuery(std::string_view name) {
  return {&kListRolesForUser, {Param::Text(name)}};
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
      Describe(Transact(TxMode::kReadOne,
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
  RETURN_IF_ERROR(Describe(Transact(TxMode::kReadOne,
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
                 RETURN_IF_ERROR(UserMustExist(tx, user));
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
      Transact(TxMode::kReadOne,
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
