// AdminService: the host inventory (`spctl hosts`) and certificates and
// their revocation (`spctl certs ls|show|revoke`). The rest of the admin API
// is in admin_service.cc (users, credentials, roles, bindings, CA keys),
// admin_service_access.cc and admin_service_tokens.cc.
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "ca/admin_convert.h"
#include "ca/admin_service.h"
#include "ca/enrollment.h"
#include "ca/service_util.h"

namespace sallyport::ca {
namespace {

namespace pb = admin::v1;

// What admin.CreateHost and admin.UpdateHost say of the host: every field
// the request sets, so an edit of the port, trust, pinned key or labels
// alone shows in the log (as sent: refused requests too).
std::vector<AuditField> HostAuditFields(const pb::Host& h) {
  std::vector<std::string> labels;
  for (const auto& [k, v] : h.labels())
    labels.push_back(absl::StrCat(k, "=", v));
  std::sort(labels.begin(), labels.end());
  return {{"host", h.name()},
          {"address", h.address()},
          {"port", static_cast<int64_t>(h.port())},
          {"trust", h.trust()},
          {"host_key", h.host_key()},
          {"labels", std::move(labels)}};
}

// After a host was stored: its event says what was stored, not what was
// sent (a host added without a port or trust is stored with 22 and
// host-ca; its event said "port":0,"trust":""). The name stays as
// NoteStoredName leaves it.
void NoteStoredHost(std::vector<AuditField>& audit, const pb::Host& stored) {
  for (AuditField& stored_field : HostAuditFields(stored)) {
    if (stored_field.first == "host") continue;
    for (AuditField& field : audit) {
      if (field.first == stored_field.first) {
        field.second = std::move(stored_field.second);
        break;
      }
    }
  }
}

}  // namespace

using google::protobuf::Empty;

// ------------------------------------------------------------------ hosts

grpc::Status AdminService::CreateHost(grpc::ServerContext* context,
                                      const pb::Host* request,
                                      pb::Host* response) {
  return Run(context, "CreateHost", HostAuditFields(*request),
             [&](const ClientIdentity&,
                 std::vector<AuditField>& audit) -> absl::Status {
               ASSIGN_OR_RETURN(storage::Host host, HostFromProto(*request));
               ASSIGN_OR_RETURN(host, ctx_.store->CreateHost(host));
               NoteStoredName(audit, "host", host.name);
               HostToProto(host, response);
               NoteStoredHost(audit, *response);
               return absl::OkStatus();
             });
}

grpc::Status AdminService::GetHost(grpc::ServerContext* context,
                                   const pb::GetHostRequest* request,
                                   pb::Host* response) {
  return Run(context, "GetHost", {{"host", request->name()}},
             [&](const ClientIdentity&,
                 std::vector<AuditField>& audit) -> absl::Status {
               ASSIGN_OR_RETURN(storage::Host host,
                                ctx_.store->GetHost(request->name()));
               NoteStoredName(audit, "host", host.name);
               HostToProto(host, response);
               return absl::OkStatus();
             });
}

grpc::Status AdminService::ListHosts(grpc::ServerContext* context,
                                     const pb::ListHostsRequest* request,
                                     pb::ListHostsResponse* response) {
  return Run(context, "ListHosts", {},
             [&](const ClientIdentity&) -> absl::Status {
               ASSIGN_OR_RETURN(std::vector<storage::Host> hosts,
                                ctx_.store->ListHosts());
               response->set_next_page_token(
                   FillPage(hosts, request->page_token(), request->page_size(),
                            response->mutable_hosts(), HostToProto));
               return absl::OkStatus();
             });
}

grpc::Status AdminService::UpdateHost(grpc::ServerContext* context,
                                      const pb::Host* request,
                                      pb::Host* response) {
  return Run(context, "UpdateHost", HostAuditFields(*request),
             [&](const ClientIdentity&,
                 std::vector<AuditField>& audit) -> absl::Status {
               ASSIGN_OR_RETURN(storage::Host host, HostFromProto(*request));
               // updated_at, when sent, is the version the caller read
               // (spctl hosts edit|label send it back): a stale one must not
               // undo another admin's change.
               ASSIGN_OR_RETURN(host, ctx_.store->UpdateHost(
                                          host, UnchangedSince(*request)));
               NoteStoredName(audit, "host", host.name);
               HostToProto(host, response);
               NoteStoredHost(audit, *response);
               return absl::OkStatus();
             });
}

grpc::Status AdminService::DeleteHost(grpc::ServerContext* context,
                                      const pb::DeleteHostRequest* request,
                                      Empty*) {
  return Run(context, "DeleteHost", {{"host", request->name()}},
             [&](const ClientIdentity&,
                 std::vector<AuditField>& audit) -> absl::Status {
               ASSIGN_OR_RETURN(std::string deleted,
                                ctx_.store->DeleteHost(request->name()));
               NoteStoredName(audit, "host", deleted);
               return absl::OkStatus();
             });
}

// ------------------------------------------------------------------
// certificates

grpc::Status AdminService::ListCertificates(
    grpc::ServerContext* context, const pb::ListCertificatesRequest* request,
    pb::ListCertificatesResponse* response) {
  return Run(
      context, "ListCertificates", {{"user", request->user()}},
      [&](const ClientIdentity&) -> absl::Status {
        storage::CertificateFilter filter;
        if (!request->user().empty()) filter.user = request->user();
        if (!request->purpose().empty()) {
          filter.purpose = storage::ParseCertificatePurpose(request->purpose());
          if (!filter.purpose.has_value()) {
            return absl::InvalidArgumentError(
                "purpose must be login, session, host or gateway");
          }
        }
        if (request->has_valid_at()) {
          filter.valid_at = FromTimestamp(request->valid_at());
        }
        filter.after_serial = request->after_serial();
        filter.limit = request->limit() == 0 ? 1000 : request->limit();
        ASSIGN_OR_RETURN(std::vector<storage::IssuedCertificate> certs,
                         ctx_.store->ListCertificates(filter));
        if (certs.empty()) return absl::OkStatus();
        // Every revocation, as ListRevocations and the gateways
        // read them.
        ASSIGN_OR_RETURN(std::vector<storage::Revocation> all,
                         ctx_.store->ListRevocations(0));
        const RevocationIndex revoked(std::move(all));
        // There may be more when the Store gave `limit`.
        response->set_more(certs.size() == static_cast<size_t>(filter.limit));
        ListPage page(static_cast<uint32_t>(filter.limit),
                      storage::kMaxListLimit);
        for (const auto& c : certs) {
          pb::IssuedCertificate entry;
          CertificateToProto(c, revoked, &entry);
          if (!page.Take(entry)) {
            response->set_more(true);
            break;
          }
          *response->add_certificates() = std::move(entry);
        }
        return absl::OkStatus();
      });
}

grpc::Status AdminService::Revoke(grpc::ServerContext* context,
                                  const pb::RevokeRequest* request,
                                  pb::RevokedEntry* response) {
  std::vector<AuditField> fields = {{"reason", request->reason()}};
  if (request->has_serial()) {
    fields.push_back({"serial", static_cast<int64_t>(request->serial())});
  } else {
    fields.push_back({"key_fingerprint", request->key_fingerprint()});
  }
  return Run(
      context, "Revoke", fields,
      [&](const ClientIdentity& admin) -> absl::Status {
        RETURN_IF_ERROR(ValidateShownText(
            "revocation reason", request->reason(), storage::kMaxTextBytes));
        storage::Revocation r;
        if (request->has_serial()) {
          r.serial = request->serial();
        } else if (request->has_key_fingerprint()) {
          r.key_fingerprint = request->key_fingerprint();
        } else {
          return absl::InvalidArgumentError(
              "serial or key_fingerprint is required");
        }
        r.reason = request->reason();
        r.revoked_by = admin.name;
        ASSIGN_OR_RETURN(r, ctx_.store->Revoke(r));
        ctx_.revocations->Notify();
        RevocationToAdminProto(r, response);
        return absl::OkStatus();
      });
}

}  // namespace sallyport::ca
