// The Admin gRPC service (proto/admin.proto): users, credentials, roles,
// bindings, hosts, join tokens, certificates, revocation and CA keys. Every
// call needs a user client certificate and the admin role
// (PeerAuthenticator::AuthenticateAdmin) and is an audit event
// "admin.<Method>" carrying the call's subject and result code (never a
// password, TOTP secret or token secret).
#ifndef SALLYPORT_CA_ADMIN_SERVICE_H_
#define SALLYPORT_CA_ADMIN_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ca/audit_log.h"
#include "ca/ca_service.h"
#include "proto/admin.grpc.pb.h"
#include "storage/records.h"

namespace sallyport::ca {

class AdminService final : public admin::v1::Admin::Service {
 public:
  // ListJoinTokens page size: the default and the most a call may ask for
  // (the store refuses a larger limit, or one below 1, with
  // kInvalidArgument "limit must be 1..10000").
  static constexpr int kDefaultTokenListLimit = 1000;
  static constexpr int kMaxTokenListLimit = storage::kMaxListLimit;
  // A new user's name: 1..kMaxUserNameBytes of [A-Za-z0-9._-], starting
  // with a letter or digit. It is the key id of the user's certificates
  // (and USER@SESSION of session certificates), a field of every log line
  // and the argument of spctl commands: no spaces, control characters,
  // '@' or leading '-'.
  static constexpr size_t kMaxUserNameBytes = 64;

  explicit AdminService(CaContext ctx) : ctx_(ctx) {}

  grpc::Status CreateUser(grpc::ServerContext* context,
                          const admin::v1::CreateUserRequest* request,
                          admin::v1::User* response) override;
  grpc::Status GetUser(grpc::ServerContext* context,
                       const admin::v1::GetUserRequest* request,
                       admin::v1::User* response) override;
  grpc::Status ListUsers(grpc::ServerContext* context,
                         const admin::v1::ListUsersRequest* request,
                         admin::v1::ListUsersResponse* response) override;
  grpc::Status UpdateUser(grpc::ServerContext* context,
                          const admin::v1::User* request,
                          admin::v1::User* response) override;
  grpc::Status DeleteUser(grpc::ServerContext* context,
                          const admin::v1::DeleteUserRequest* request,
                          google::protobuf::Empty* response) override;
  grpc::Status SetPassword(grpc::ServerContext* context,
                           const admin::v1::SetPasswordRequest* request,
                           google::protobuf::Empty* response) override;
  grpc::Status EnrollTotp(grpc::ServerContext* context,
                          const admin::v1::EnrollTotpRequest* request,
                          admin::v1::EnrollTotpResponse* response) override;
  grpc::Status RemoveTotp(grpc::ServerContext* context,
                          const admin::v1::RemoveTotpRequest* request,
                          google::protobuf::Empty* response) override;
  grpc::Status UnlockUser(grpc::ServerContext* context,
                          const admin::v1::UnlockUserRequest* request,
                          google::protobuf::Empty* response) override;
  grpc::Status CreateRole(grpc::ServerContext* context,
                          const admin::v1::Role* request,
                          admin::v1::Role* response) override;
  grpc::Status GetRole(grpc::ServerContext* context,
                       const admin::v1::GetRoleRequest* request,
                       admin::v1::Role* response) override;
  grpc::Status ListRoles(grpc::ServerContext* context,
                         const admin::v1::ListRolesRequest* request,
                         admin::v1::ListRolesResponse* response) override;
  grpc::Status UpdateRole(grpc::ServerContext* context,
                          const admin::v1::Role* request,
                          admin::v1::Role* response) override;
  grpc::Status DeleteRole(grpc::ServerContext* context,
                          const admin::v1::DeleteRoleRequest* request,
                          google::protobuf::Empty* response) override;
  grpc::Status BindRole(grpc::ServerContext* context,
                        const admin::v1::RoleBinding* request,
                        admin::v1::RoleBinding* response) override;
  grpc::Status UnbindRole(grpc::ServerContext* context,
                          const admin::v1::RoleBinding* request,
                          google::protobuf::Empty* response) override;
  grpc::Status ListRoleBindings(
      grpc::ServerContext* context,
      const admin::v1::ListRoleBindingsRequest* request,
      admin::v1::ListRoleBindingsResponse* response) override;
  grpc::Status CreateHost(grpc::ServerContext* context,
                          const admin::v1::Host* request,
                          admin::v1::Host* response) override;
  grpc::Status GetHost(grpc::ServerContext* context,
                       const admin::v1::GetHostRequest* request,
                       admin::v1::Host* response) override;
  grpc::Status ListHosts(grpc::ServerContext* context,
                         const admin::v1::ListHostsRequest* request,
                         admin::v1::ListHostsResponse* response) override;
  grpc::Status UpdateHost(grpc::ServerContext* context,
                          const admin::v1::Host* request,
                          admin::v1::Host* response) override;
  grpc::Status DeleteHost(grpc::ServerContext* context,
                          const admin::v1::DeleteHostRequest* request,
                          google::protobuf::Empty* response) override;
  grpc::Status CreateJoinToken(
      grpc::ServerContext* context,
      const admin::v1::CreateJoinTokenRequest* request,
      admin::v1::CreateJoinTokenResponse* response) override;
  grpc::Status ListJoinTokens(
      grpc::ServerContext* context,
      const admin::v1::ListJoinTokensRequest* request,
      admin::v1::ListJoinTokensResponse* response) override;
  grpc::Status RevokeJoinToken(grpc::ServerContext* context,
                               const admin::v1::RevokeJoinTokenRequest* request,
                               admin::v1::JoinToken* response) override;
  grpc::Status ListCertificates(
      grpc::ServerContext* context,
      const admin::v1::ListCertificatesRequest* request,
      admin::v1::ListCertificatesResponse* response) override;
  grpc::Status Revoke(grpc::ServerContext* context,
                      const admin::v1::RevokeRequest* request,
                      admin::v1::RevokedEntry* response) override;
  grpc::Status RevokeUserCertificates(
      grpc::ServerContext* context,
      const admin::v1::RevokeUserCertificatesRequest* request,
      admin::v1::RevokeUserCertificatesResponse* response) override;
  grpc::Status CheckAccess(grpc::ServerContext* context,
                           const admin::v1::CheckAccessRequest* request,
                           admin::v1::CheckAccessResponse* response) override;
  grpc::Status ListCaKeys(grpc::ServerContext* context,
                          const admin::v1::ListCaKeysRequest* request,
                          admin::v1::ListCaKeysResponse* response) override;
  grpc::Status RotateCaKey(grpc::ServerContext* context,
                           const admin::v1::RotateCaKeyRequest* request,
                           admin::v1::CaKey* response) override;
  grpc::Status AbandonSession(grpc::ServerContext* context,
                              const admin::v1::AbandonSessionRequest* request,
                              admin::v1::SessionSummary* response) override;

 private:
  // Authenticates an admin, runs `body` and records the audit event
  // "admin.<method>" with `fields` and the result code.
  grpc::Status Run(
      grpc::ServerContext* context, std::string_view method,
      std::vector<AuditField> fields,
      const std::function<absl::Status(const ClientIdentity&)>& body);
  // The same for a body that amends the event's fields as it learns how
  // the store keeps what the request named (NoteStoredName).
  grpc::Status Run(
      grpc::ServerContext* context, std::string_view method,
      std::vector<AuditField> fields,
      const std::function<absl::Status(const ClientIdentity&,
                                       std::vector<AuditField>& fields)>& body);
  // Makes the audit event name a record as the store keeps it (host names
  // in lowercase): field `key` of `fields` becomes `stored`, and the
  // request's value, when it differs, is kept beside it as `<key>_as_typed`.
  static void NoteStoredName(std::vector<AuditField>& fields,
                             std::string_view key, std::string_view stored);
  // Revokes every certificate of `user` still valid (a deleted user's, or
  // on `spctl certs revoke --user`) and returns the serials revoked now.
  absl::StatusOr<std::vector<uint64_t>> RevokeAllOfUser(std::string_view user,
                                                        std::string_view reason,
                                                        std::string_view by);

  // What User shows beyond the user record: roles and lockouts, by user
  // name, of every user or only `only`.
  struct UserFacts {
    std::map<std::string, std::vector<std::string>> roles;
    std::map<std::string, std::vector<LoginAuthenticator::SourceLock>> locks;
  };
  absl::StatusOr<UserFacts> ReadUserFacts(std::optional<std::string_view> only);
  // `user` with `creds` (nullptr: unreadable) and its facts as the API's
  // User; the lockouts an unlock ended are left out.
  void UserWithFactsToProto(const storage::User& user,
                            const storage::Credentials* creds,
                            const UserFacts& facts, admin::v1::User* out) const;
  // The same for one user, reading their credentials and facts.
  absl::Status DescribeUser(const storage::User& user, admin::v1::User* out);

  CaContext ctx_;
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_ADMIN_SERVICE_H_
