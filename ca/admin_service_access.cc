// AdminService::CheckAccess (`spctl access check`) and
// RevokeUserCertificates (`spctl certs revoke --user`): the RBAC engine and
// bulk revocation behind the admin API.
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "ca/admin_service.h"
#include "ca/enrollment.h"
#include "ca/rbac/names.h"
#include "ca/rbac/rbac.h"

namespace sallyport::ca {
namespace pb = admin::v1;

grpc::Status AdminService::RevokeUserCertificates(
    grpc::ServerContext* context,
    const pb::RevokeUserCertificatesRequest* request,
    pb::RevokeUserCertificatesResponse* response) {
  return Run(
      context, "RevokeUserCertificates",
      {{"user", request->user()}, {"reason", request->reason()}},
      [&](const ClientIdentity& admin) -> absl::Status {
        RETURN_IF_ERROR(ValidateShownText(
            "revocation reason", request->reason(), storage::kMaxTextBytes));
        RETURN_IF_ERROR(ctx_.store->GetUser(request->user()).status());
        const std::string reason =
            request->reason().empty()
                ? absl::StrCat("all certificates of ", request->user())
                : request->reason();
        ASSIGN_OR_RETURN(std::vector<uint64_t> serials,
                         RevokeAllOfUser(request->user(), reason, admin.name));
        for (uint64_t s : serials) response->add_serials(s);
        return absl::OkStatus();
      });
}

grpc::Status AdminService::CheckAccess(grpc::ServerContext* context,
                                       const pb::CheckAccessRequest* request,
                                       pb::CheckAccessResponse* response) {
  return Run(
      context, "CheckAccess",
      {{"user", request->user()},
       {"login", request->login()},
       {"host", request->host()},
       {"kind", request->kind()}},
      [&](const ClientIdentity&,
          std::vector<AuditField>& audit) -> absl::Status {
        const std::string kind_name =
            request->kind().empty() ? "shell" : request->kind();
        std::optional<storage::ChannelKind> kind =
            storage::ParseChannelKind(kind_name);
        if (!kind.has_value()) {
          return absl::InvalidArgumentError(
              "kind must be shell, exec, sftp, port-forward, agent-forward "
              "or proxyjump-passthrough");
        }
        rbac::AccessRequest access;
        access.login = request->login();
        access.host = request->host();
        access.kind = *kind;
        if (*kind == storage::ChannelKind::kPortForward) {
          ASSIGN_OR_RETURN(access.destination, rbac::ParseForwardDestination(
                                                   request->destination()));
        } else if (!request->destination().empty()) {
          return absl::InvalidArgumentError(
              "destination is only for port-forward");
        }
        absl::StatusOr<storage::User> user =
            ctx_.store->GetUser(request->user());
        if (user.status().code() == absl::StatusCode::kNotFound) {
          response->set_allowed(false);
          response->set_code("unknown-user");
          response->set_reason(absl::StrCat(
              "there is no user ", rbac::EscapeForReason(request->user())));
          return absl::OkStatus();
        }
        RETURN_IF_ERROR(user.status());
        ASSIGN_OR_RETURN(std::vector<storage::Role> roles,
                         ctx_.store->ListRolesForUser(user->name));
        // As the gateway finds the host of LOGIN+HOST: by inventory name,
        // else by one of its addresses (then decided by its name).
        std::optional<storage::Host> host;
        if (rbac::ValidateHostName(access.host).ok()) {
          ASSIGN_OR_RETURN(host, rbac::FindHost(*ctx_.store, access.host));
        }
        if (!host.has_value()) {
          std::string ambiguous;
          ASSIGN_OR_RETURN(host, rbac::FindHostByAddress(
                                     *ctx_.store, access.host, 0, &ambiguous));
          if (!ambiguous.empty()) {
            response->set_allowed(false);
            response->set_code("ambiguous-address");
            response->set_reason(ambiguous);
            return absl::OkStatus();
          }
        }
        // Decided (and shown) by the inventory's name of the host.
        if (host.has_value()) access.host = host->name;
        ASSIGN_OR_RETURN(
            rbac::Decision d,
            rbac::Decide(*user, roles, access,
                         [&](std::string_view)
                             -> absl::StatusOr<std::optional<storage::Host>> {
                           return host;
                         }));
        if (host.has_value()) {
          response->set_host(host->name);
          NoteStoredName(audit, "host", host->name);
        }
        response->set_allowed(d.allowed);
        response->set_reason(d.reason);
        response->set_code(std::string(rbac::ReasonName(d.code)));
        response->set_role(d.role);
        response->set_rule(d.rule);
        if (d.allowed) {
          response->set_record(std::string(storage::RecordModeName(d.record)));
          if (d.force_command.has_value()) {
            response->set_force_command(*d.force_command);
          }
        }
        return absl::OkStatus();
      });
}

}  // namespace sallyport::ca
