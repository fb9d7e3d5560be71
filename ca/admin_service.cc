// AdminService: users, credentials, roles, bindings and CA keys, and Run,
// which authenticates and audits every call. Hosts and certificates are in
// admin_service_inventory.cc, access checks in admin_service_access.cc, join
// tokens in admin_service_tokens.cc.
#include "ca/admin_service.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "ca/admin_convert.h"
#include "ca/enrollment.h"
#include "ca/password_hash.h"
#include "ca/service_util.h"
#include "ca/totp.h"

namespace sallyport::ca {
namespace {

namespace pb = admin::v1;
using google::protobuf::Empty;

// Two users (or roles) whose names differ only by case are two records to
// the store and one name to whoever reads a listing, an audit log or a
// certificate's key id ("Bob" beside "bob"): refused. An equal name is
// the store's kAlreadyExists.
template <typename Record>
absl::Status RefuseCaseTwin(const char* kind, const std::string& name,
                            const absl::StatusOr<std::vector<Record>>& all) {
  if (!all.ok()) return all.status();
  for (const Record& r : *all) {
    if (r.name != name && absl::EqualsIgnoreCase(r.name, name)) {
      return absl::AlreadyExistsError(absl::StrCat(
          kind, " ", name, " differs from the existing ", kind, " ", r.name,
          " only by case: use ", r.name, " or another name"));
    }
  }
  return absl::OkStatus();
}

// A host selector of a role or deny rule in an audit event: one JSON
// object, {"labels":["KEY=VALUE",...],"name_globs":[...]} (labels sorted).
std::string SelectorAuditJson(const pb::HostSelector& s) {
  std::vector<std::string> labels;
  for (const auto& [k, v] : s.labels()) {
    labels.push_back(absl::StrCat(k, "=", v));
  }
  std::sort(labels.begin(), labels.end());
  return AuditPayloadJson(
      {{"labels", std::move(labels)},
       {"name_globs", std::vector<std::string>(s.name_globs().begin(),
                                               s.name_globs().end())}});
}

// A deny rule in an audit event: one JSON object,
// {"logins":[...],"channels":[...],"hosts":[SELECTOR,...]}.
std::string DenyRuleAuditJson(const pb::DenyRule& d) {
  std::string json = AuditPayloadJson(
      {{"logins",
        std::vector<std::string>(d.logins().begin(), d.logins().end())},
       {"channels",
        std::vector<std::string>(d.channels().begin(), d.channels().end())}});
  json.pop_back();  // the closing brace: the hosts are objects
  json += ",\"hosts\":[";
  for (int i = 0; i < d.hosts_size(); ++i) {
    if (i > 0) json += ",";
    json += SelectorAuditJson(d.hosts(i));
  }
  json += "]}";
  return json;
}

// What admin.CreateRole and admin.UpdateRole say of the role: every field,
// so that any change an admin makes shows in the log (recording turned
// off, a deny rule dropped, a host selector widened, port-forward added, a
// forced command or max_ttl changed). record_input and force_command only
// when set (unset: the default). Called with the request (a refused call:
// what was sent) and then with the role as stored.
std::vector<AuditField> RoleAuditFields(const pb::Role& r) {
  std::vector<std::string> hosts;
  for (const pb::HostSelector& s : r.hosts()) {
    hosts.push_back(SelectorAuditJson(s));
  }
  std::vector<std::string> deny;
  for (const pb::DenyRule& d : r.deny()) deny.push_back(DenyRuleAuditJson(d));
  std::vector<AuditField> fields = {
      {"role", r.name()},
      {"description", r.description()},
      {"logins",
       std::vector<std::string>(r.logins().begin(), r.logins().end())},
      {"hosts", std::move(hosts)},
      {"channels",
       std::vector<std::string>(r.channels().begin(), r.channels().end())},
      {"max_ttl", absl::FormatDuration(FromDurationProto(r.max_ttl()))},
      {"record", r.record()},
      {"record_mode", r.record_mode()}};
  if (r.has_record_input())
    fields.push_back({"record_input", r.record_input()});
  if (r.has_force_command()) {
    fields.push_back({"force_command", r.force_command()});
  }
  fields.push_back({"deny", std::move(deny)});
  return fields;
}

absl::StatusOr<std::string> HashPassword(const PasswordHasher& hasher,
                                         const std::string& password) {
  RETURN_IF_ERROR(CheckNewPassword(password));
  return hasher.Hash(base::SecretBytes::FromString(password));
}

}  // namespace

absl::StatusOr<std::vector<uint64_t>> AdminService::RevokeAllOfUser(
    std::string_view user, std::string_view reason, std::string_view by) {
  std::vector<uint64_t> serials;
  storage::CertificateFilter filter;
  filter.user = std::string(user);
  filter.valid_at = ctx_.clock->Now();
  bool revoked = false;
  absl::Status walked = ForEachCertificate(
      *ctx_.store, filter,
      [&](const storage::IssuedCertificate& c) -> absl::StatusOr<bool> {
        storage::Revocation r;
        r.serial = c.serial;
        r.reason = std::string(reason);
        r.revoked_by = std::string(by);
        absl::StatusOr<storage::Revocation> done = ctx_.store->Revoke(r);
        if (done.ok()) {
          serials.push_back(c.serial);
        } else if (done.status().code() != absl::StatusCode::kAlreadyExists) {
          return done.status();
        }
        revoked = true;
        return true;
      });
  RETURN_IF_ERROR(walked);
  if (revoked) ctx_.revocations->Notify();
  return serials;
}

absl::StatusOr<AdminService::UserFacts> AdminService::ReadUserFacts(
    std::optional<std::string_view> only) {
  UserFacts facts;
  ASSIGN_OR_RETURN(std::vector<storage::RoleBinding> bindings,
                   ctx_.store->ListRoleBindings(only));
  for (const storage::RoleBinding& b : bindings) {
    facts.roles[b.user].push_back(b.role);
  }
  if (ctx_.login != nullptr) facts.locks = ctx_.login->PairLocks();
  return facts;
}

void AdminService::UserWithFactsToProto(const storage::User& user,
                                        const storage::Credentials* creds,
                                        const UserFacts& facts,
                                        pb::User* out) const {
  UserToProto(user, creds, out);
  if (auto it = facts.roles.find(user.name); it != facts.roles.end()) {
    for (const std::string& role : it->second) out->add_roles(role);
  }
  auto locks = facts.locks.find(user.name);
  if (locks == facts.locks.end()) return;
  std::optional<absl::Time> latest;
  if (out->has_locked_until()) latest = FromTimestamp(out->locked_until());
  for (const LoginAuthenticator::SourceLock& lock : locks->second) {
    if (ctx_.login->EndedByUnlock(lock.until, creds)) continue;
    pb::Lockout* l = out->add_lockouts();
    l->set_source(lock.source);
    *l->mutable_locked_until() = ToTimestamp(lock.until);
    if (!latest.has_value() || lock.until > *latest) latest = lock.until;
  }
  if (latest.has_value()) *out->mutable_locked_until() = ToTimestamp(*latest);
}

absl::Status AdminService::DescribeUser(const storage::User& user,
                                        pb::User* out) {
  ASSIGN_OR_RETURN(storage::Credentials creds,
                   ctx_.store->GetCredentials(user.name));
  ASSIGN_OR_RETURN(UserFacts facts, ReadUserFacts(user.name));
  UserWithFactsToProto(user, &creds, facts, out);
  return absl::OkStatus();
}

// The store lowercases host names: `spctl hosts add Web03` made host
// web03, which every later lookup and event names, while its own event said
// host="Web03".
void AdminService::NoteStoredName(std::vector<AuditField>& fields,
                                  std::string_view key,
                                  std::string_view stored) {
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    auto* typed = std::get_if<std::string>(&it->second);
    if (it->first != key || typed == nullptr) continue;
    if (*typed == stored) return;
    std::string as_typed = std::exchange(*typed, std::string(stored));
    fields.insert(it + 1, AuditField(std::string(key) + "_as_typed",
                                     std::move(as_typed)));
    return;
  }
}

grpc::Status AdminService::Run(
    grpc::ServerContext* context, std::string_view method,
    std::vector<AuditField> fields,
    const std::function<absl::Status(const ClientIdentity&)>& body) {
  return Run(context, method, std::move(fields),
             [&](const ClientIdentity& admin, std::vector<AuditField>&) {
               return body(admin);
             });
}

grpc::Status AdminService::Run(
    grpc::ServerContext* context, std::string_view method,
    std::vector<AuditField> fields,
    const std::function<absl::Status(const ClientIdentity&,
                                     std::vector<AuditField>&)>& body) {
  absl::StatusOr<ClientIdentity> admin =
      ctx_.peers->AuthenticateAdmin(*context, method);
  if (!admin.ok()) return ToGrpc(admin.status());
  absl::Status result = body(*admin, fields);
  fields.push_back(
      {"code", std::string(absl::StatusCodeToString(result.code()))});
  fields.push_back({"source", PeerAddress(context->peer())});
  // The request's texts as sent, refused ones too: capped, so a 120 KB
  // description is not logged whole.
  absl::Status audited =
      ctx_.audit->Record(absl::StrCat("admin.", std::string(method)),
                         admin->name, audit::CapAuditFields(std::move(fields)));
  if (!audited.ok()) {
    return ToGrpc(absl::UnavailableError(
        absl::StrCat("the audit log could not be written (the call ",
                     result.ok() ? "took effect" : "failed", ")")));
  }
  return ToGrpc(result);
}

// ------------------------------------------------------------------ users

grpc::Status AdminService::CreateUser(grpc::ServerContext* context,
                                      const pb::CreateUserRequest* request,
                                      pb::User* response) {
  return Run(
      context, "CreateUser", {{"user", request->user().name()}},
      [&](const ClientIdentity&) -> absl::Status {
        RETURN_IF_ERROR(ValidateSimpleName("user name", request->user().name(),
                                           kMaxUserNameBytes));
        RETURN_IF_ERROR(ValidateDisplayName(request->user().display_name()));
        RETURN_IF_ERROR(RefuseCaseTwin("user", request->user().name(),
                                       ctx_.store->ListUsers()));
        std::string hash;
        if (!request->password().empty()) {
          ASSIGN_OR_RETURN(hash,
                           HashPassword(*ctx_.hasher, request->password()));
        }
        ASSIGN_OR_RETURN(
            storage::User user,
            ctx_.store->CreateUser(UserFromProto(request->user())));
        if (!hash.empty()) {
          RETURN_IF_ERROR(ctx_.store->SetPasswordHash(user.name, hash));
        }
        return DescribeUser(user, response);
      });
}

grpc::Status AdminService::GetUser(grpc::ServerContext* context,
                                   const pb::GetUserRequest* request,
                                   pb::User* response) {
  return Run(context, "GetUser", {{"user", request->name()}},
             [&](const ClientIdentity&) -> absl::Status {
               ASSIGN_OR_RETURN(storage::User user,
                                ctx_.store->GetUser(request->name()));
               return DescribeUser(user, response);
             });
}

grpc::Status AdminService::ListUsers(grpc::ServerContext* context,
                                     const pb::ListUsersRequest* request,
                                     pb::ListUsersResponse* response) {
  return Run(
      context, "ListUsers", {}, [&](const ClientIdentity&) -> absl::Status {
        ASSIGN_OR_RETURN(std::vector<storage::User> users,
                         ctx_.store->ListUsers());
        ASSIGN_OR_RETURN(UserFacts facts, ReadUserFacts(std::nullopt));
        // Credentials are read for the users of the page only.
        response->set_next_page_token(
            FillPage(users, request->page_token(), request->page_size(),
                     response->mutable_users(),
                     [&](const storage::User& u, pb::User* out) {
                       absl::StatusOr<storage::Credentials> creds =
                           ctx_.store->GetCredentials(u.name);
                       UserWithFactsToProto(u, creds.ok() ? &*creds : nullptr,
                                            facts, out);
                     }));
        return absl::OkStatus();
      });
}

grpc::Status AdminService::UpdateUser(grpc::ServerContext* context,
                                      const pb::User* request,
                                      pb::User* response) {
  return Run(context, "UpdateUser",
             {{"user", request->name()},
              {"disabled", request->disabled()},
              {"display_name", request->display_name()}},
             [&](const ClientIdentity& admin) -> absl::Status {
               if (request->disabled() && admin.name == request->name()) {
                 // With no other admin, nobody could enable them again.
                 return absl::FailedPreconditionError(
                     "an admin cannot disable themselves");
               }
               ASSIGN_OR_RETURN(storage::User before,
                                ctx_.store->GetUser(request->name()));
               // Checked when it changes: `spctl users disable` sends the
               // stored name back, and one stored under an older rule
               // (before bidi and invisible characters were refused) must
               // not stop an admin from disabling its user.
               if (request->display_name() != before.display_name) {
                 RETURN_IF_ERROR(ValidateDisplayName(request->display_name()));
               }
               // updated_at, when sent, is what the caller read: the update
               // applies only to that version (spctl sends it back; a stale one
               // must not undo another admin's change).
               const std::optional<absl::Time> since = UnchangedSince(*request);
               if (since.has_value() && before.updated_at != *since) {
                 // Checked before any revocation; the store checks it again.
                 return ctx_.store->UpdateUser(UserFromProto(*request), since)
                     .status();
               }
               ASSIGN_OR_RETURN(
                   storage::User user,
                   ctx_.store->UpdateUser(UserFromProto(*request), since));
               if (request->disabled()) {
                 // A disabled user loses access now, not when their
                 // certificate expires: revoking it ends their sessions on
                 // every gateway (which authorizes a session's own shell,
                 // exec and sftp channels once, with its certificate).
                 // Revoked after the update: from then on the CA issues
                 // them nothing (but for an issuance already past its
                 // check), so the listing below sees every certificate.
                 // Also when they already were disabled: a disable whose
                 // revocation failed is retried.
                 RETURN_IF_ERROR(RevokeAllOfUser(request->name(),
                                                 "user disabled", admin.name)
                                     .status());
               }
               return DescribeUser(user, response);
             });
}

grpc::Status AdminService::DeleteUser(grpc::ServerContext* context,
                                      const pb::DeleteUserRequest* request,
                                      Empty*) {
  return Run(context, "DeleteUser", {{"user", request->name()}},
             [&](const ClientIdentity& admin) -> absl::Status {
               if (admin.name == request->name()) {
                 return absl::FailedPreconditionError(
                     "an admin cannot delete themselves");
               }
               // Deleted, then their certificates revoked: from the delete
               // on the CA issues them nothing (but for an issuance already
               // past its check), so the listing sees every certificate.
               // A later user of the same name must not inherit them (the
               // CA also checks the issue time against the user's
               // creation). A delete whose revocation failed is retried as
               // a NOT_FOUND delete that still revokes.
               const absl::Status deleted =
                   ctx_.store->DeleteUser(request->name());
               if (!deleted.ok() && !absl::IsNotFound(deleted)) return deleted;
               RETURN_IF_ERROR(
                   RevokeAllOfUser(request->name(), "user deleted", admin.name)
                       .status());
               return deleted;
             });
}

// ------------------------------------------------------------------
// credentials

grpc::Status AdminService::SetPassword(grpc::ServerContext* context,
                                       const pb::SetPasswordRequest* request,
                                       Empty*) {
  return Run(context, "SetPassword", {{"user", request->user()}},
             [&](const ClientIdentity&) -> absl::Status {
               ASSIGN_OR_RETURN(
                   std::string hash,
                   HashPassword(*ctx_.hasher, request->password()));
               return ctx_.store->SetPasswordHash(request->user(), hash);
             });
}

grpc::Status AdminService::EnrollTotp(grpc::ServerContext* context,
                                      const pb::EnrollTotpRequest* request,
                                      pb::EnrollTotpResponse* response) {
  return Run(
      context, "EnrollTotp", {{"user", request->user()}},
      [&](const ClientIdentity&) -> absl::Status {
        ASSIGN_OR_RETURN(base::SecretBytes secret, GenerateTotpSecret());
        RETURN_IF_ERROR(ctx_.store->SetTotpSecret(request->user(), secret));
        response->set_secret_base32(Base32Encode(secret.span()));
        response->set_otpauth_uri(
            OtpauthUri("Sallyport", request->user(), secret));
        return absl::OkStatus();
      });
}

grpc::Status AdminService::RemoveTotp(grpc::ServerContext* context,
                                      const pb::RemoveTotpRequest* request,
                                      Empty*) {
  return Run(context, "RemoveTotp", {{"user", request->user()}},
             [&](const ClientIdentity&) -> absl::Status {
               return ctx_.store->SetTotpSecret(request->user(),
                                                base::SecretBytes());
             });
}

grpc::Status AdminService::UnlockUser(grpc::ServerContext* context,
                                      const pb::UnlockUserRequest* request,
                                      Empty*) {
  return Run(context, "UnlockUser", {{"user", request->user()}},
             [&](const ClientIdentity&) -> absl::Status {
               return ctx_.store->UnlockUser(request->user());
             });
}

// ------------------------------------------------------------------ roles

grpc::Status AdminService::CreateRole(grpc::ServerContext* context,
                                      const pb::Role* request,
                                      pb::Role* response) {
  return Run(context, "CreateRole", RoleAuditFields(*request),
             [&](const ClientIdentity&,
                 std::vector<AuditField>& audit) -> absl::Status {
               ASSIGN_OR_RETURN(storage::Role role, RoleFromProto(*request));
               RETURN_IF_ERROR(
                   RefuseCaseTwin("role", role.name, ctx_.store->ListRoles()));
               ASSIGN_OR_RETURN(role, ctx_.store->CreateRole(role));
               RoleToProto(role, response);
               // As stored (max_ttl 8h, record always, ... when not sent).
               audit = RoleAuditFields(*response);
               return absl::OkStatus();
             });
}

grpc::Status AdminService::GetRole(grpc::ServerContext* context,
                                   const pb::GetRoleRequest* request,
                                   pb::Role* response) {
  return Run(context, "GetRole", {{"role", request->name()}},
             [&](const ClientIdentity&) -> absl::Status {
               ASSIGN_OR_RETURN(storage::Role role,
                                ctx_.store->GetRole(request->name()));
               RoleToProto(role, response);
               return absl::OkStatus();
             });
}

grpc::Status AdminService::ListRoles(grpc::ServerContext* context,
                                     const pb::ListRolesRequest* request,
                                     pb::ListRolesResponse* response) {
  return Run(context, "ListRoles", {},
             [&](const ClientIdentity&) -> absl::Status {
               ASSIGN_OR_RETURN(std::vector<storage::Role> roles,
                                ctx_.store->ListRoles());
               response->set_next_page_token(
                   FillPage(roles, request->page_token(), request->page_size(),
                            response->mutable_roles(), RoleToProto));
               return absl::OkStatus();
             });
}

grpc::Status AdminService::UpdateRole(grpc::ServerContext* context,
                                      const pb::Role* request,
                                      pb::Role* response) {
  return Run(context, "UpdateRole", RoleAuditFields(*request),
             [&](const ClientIdentity&,
                 std::vector<AuditField>& audit) -> absl::Status {
               ASSIGN_OR_RETURN(storage::Role role, RoleFromProto(*request));
               ASSIGN_OR_RETURN(role, ctx_.store->UpdateRole(
                                          role, UnchangedSince(*request)));
               RoleToProto(role, response);
               audit = RoleAuditFields(*response);
               return absl::OkStatus();
             });
}

grpc::Status AdminService::DeleteRole(grpc::ServerContext* context,
                                      const pb::DeleteRoleRequest* request,
                                      Empty*) {
  return Run(
      context, "DeleteRole", {{"role", request->name()}},
      [&](const ClientIdentity& admin) -> absl::Status {
        // Either would lock the admins out: without the admin role
        // nobody may call this API, and without their own roles
        // (e.g. `login`) an admin cannot log in for a new
        // certificate to call it with.
        if (request->name() == kAdminRole) {
          return absl::FailedPreconditionError(
              "the admin role cannot be deleted");
        }
        ASSIGN_OR_RETURN(std::vector<storage::Role> own,
                         ctx_.store->ListRolesForUser(admin.name));
        if (std::any_of(own.begin(), own.end(), [&](const storage::Role& r) {
              return r.name == request->name();
            })) {
          return absl::FailedPreconditionError(
              absl::StrCat("an admin cannot delete a role they hold (",
                           admin.name, " is bound to ", request->name(),
                           "); another admin can, or unbind it first"));
        }
        return ctx_.store->DeleteRole(request->name());
      });
}

// ------------------------------------------------------------------ bindings

grpc::Status AdminService::BindRole(grpc::ServerContext* context,
                                    const pb::RoleBinding* request,
                                    pb::RoleBinding* response) {
  return Run(context, "BindRole",
             {{"user", request->user()}, {"role", request->role()}},
             [&](const ClientIdentity&) -> absl::Status {
               ASSIGN_OR_RETURN(
                   storage::RoleBinding b,
                   ctx_.store->BindRole(request->user(), request->role()));
               BindingToProto(b, response);
               return absl::OkStatus();
             });
}

grpc::Status AdminService::UnbindRole(grpc::ServerContext* context,
                                      const pb::RoleBinding* request, Empty*) {
  return Run(
      context, "UnbindRole",
      {{"user", request->user()}, {"role", request->role()}},
      [&](const ClientIdentity& admin) -> absl::Status {
        if (admin.name == request->user() && request->role() == kAdminRole) {
          return absl::FailedPreconditionError(
              "an admin cannot remove their own admin role");
        }
        return ctx_.store->UnbindRole(request->user(), request->role());
      });
}

grpc::Status AdminService::ListRoleBindings(
    grpc::ServerContext* context, const pb::ListRoleBindingsRequest* request,
    pb::ListRoleBindingsResponse* response) {
  return Run(context, "ListRoleBindings", {{"user", request->user()}},
             [&](const ClientIdentity&) -> absl::Status {
               std::optional<std::string_view> user;
               if (!request->user().empty()) user = request->user();
               ASSIGN_OR_RETURN(std::vector<storage::RoleBinding> list,
                                ctx_.store->ListRoleBindings(user));
               for (const auto& b : list) {
                 BindingToProto(b, response->add_bindings());
               }
               return absl::OkStatus();
             });
}

// ------------------------------------------------------------------ CA keys

grpc::Status AdminService::ListCaKeys(grpc::ServerContext* context,
                                      const pb::ListCaKeysRequest* request,
                                      pb::ListCaKeysResponse* response) {
  return Run(context, "ListCaKeys", {{"purpose", request->purpose()}},
             [&](const ClientIdentity&) -> absl::Status {
               std::optional<storage::CaKeyPurpose> purpose;
               if (!request->purpose().empty()) {
                 ASSIGN_OR_RETURN(purpose,
                                  CaKeyPurposeFromString(request->purpose()));
               }
               ASSIGN_OR_RETURN(std::vector<storage::CaKey> keys,
                                ctx_.store->ListCaKeys(purpose));
               for (const auto& k : keys) CaKeyToProto(k, response->add_keys());
               return absl::OkStatus();
             });
}

grpc::Status AdminService::RotateCaKey(grpc::ServerContext* context,
                                       const pb::RotateCaKeyRequest* request,
                                       pb::CaKey* response) {
  return Run(context, "RotateCaKey", {{"purpose", request->purpose()}},
             [&](const ClientIdentity&) -> absl::Status {
               ASSIGN_OR_RETURN(storage::CaKeyPurpose purpose,
                                CaKeyPurposeFromString(request->purpose()));
               ASSIGN_OR_RETURN(storage::CaKey key,
                                ctx_.keyring->Rotate(purpose));
               CaKeyToProto(key, response);
               return absl::OkStatus();
             });
}

}  // namespace sallyport::ca
