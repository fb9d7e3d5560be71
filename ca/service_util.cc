#include "ca/service_util.h"

#include <spdlog/spdlog.h>

#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/status_macros.h"
#include "ca/issuer.h"

namespace sallyport::ca {

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  switch (status.code()) {
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kUnknown:
      spdlog::error("internal error: {}", std::string(status.message()));
      return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                          "internal error in the CA (see its log)");
    default:
      return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                          std::string(status.message()));
  }
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  google::protobuf::Timestamp out;
  const int64_t micros = absl::ToUnixMicros(t);
  out.set_seconds(micros / 1000000 - (micros % 1000000 < 0 ? 1 : 0));
  int64_t rem = micros % 1000000;
  if (rem < 0) rem += 1000000;
  out.set_nanos(static_cast<int32_t>(rem * 1000));
  return out;
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

google::protobuf::Duration ToDurationProto(absl::Duration d) {
  google::protobuf::Duration out;
  const int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &d);
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d)));
  return out;
}

absl::Duration FromDurationProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

absl::Status ForEachCertificate(storage::Store& store,
                                storage::CertificateFilter filter,
                                const std::function<absl::StatusOr<bool>(
                                    const storage::IssuedCertificate&)>& each) {
  for (;;) {
    ASSIGN_OR_RETURN(std::vector<storage::IssuedCertificate> page,
                     store.ListCertificates(filter));
    for (const storage::IssuedCertificate& c : page) {
      ASSIGN_OR_RETURN(bool more, each(c));
      if (!more) return absl::OkStatus();
    }
    if (page.size() < static_cast<size_t>(filter.limit)) {
      return absl::OkStatus();
    }
    filter.after_serial = page.back().serial;
  }
}

absl::StatusOr<ssh::crypto::PublicKey> ParseSshKey(std::string_view line,
                                                   std::string_view field) {
  constexpr size_t kMaxKeyLineBytes = 8192;
  if (line.empty() || line.size() > kMaxKeyLineBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), ": missing or too long"));
  }
  absl::StatusOr<ssh::crypto::PublicKey> key =
      ssh::crypto::PublicKey::FromAuthorizedKeysLine(line);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), ": ", key.status().message()));
  }
  RETURN_IF_ERROR(CheckCertifiableKey(*key));
  return key;
}

void RunOnIssuanceWorkers(IssuanceWorkers* workers,
                          const std::function<void(grpc::Status)>& answer,
                          std::function<void()> task) {
  if (workers == nullptr) return task();
  absl::Status queued = workers->Submit(std::move(task));
  if (!queued.ok()) answer(ToGrpc(queued));
}

ListPage::ListPage(uint32_t page_size, size_t max_entries)
    : max_entries_(page_size == 0 || page_size > max_entries ? max_entries
                                                             : page_size) {}

bool ListPage::Take(const google::protobuf::Message& entry) {
  // The entry's tag and length (at most 1 + 5 bytes) beside its bytes.
  const size_t bytes = entry.ByteSizeLong() + 6;
  if (entries_ > 0 &&
      (entries_ >= max_entries_ || bytes_ + bytes > base::kMaxListPageBytes)) {
    return false;
  }
  ++entries_;
  bytes_ += bytes;
  return true;
}

std::string PeerAddress(std::string_view grpc_peer) {
  absl::string_view p(grpc_peer.data(), grpc_peer.size());
  if (absl::ConsumePrefix(&p, "ipv4:")) {
    const size_t colon = p.rfind(':');
    return std::string(colon == absl::string_view::npos ? p
                                                        : p.substr(0, colon));
  }
  if (absl::ConsumePrefix(&p, "ipv6:")) {
    if (absl::ConsumePrefix(&p, "[")) {
      const size_t close = p.find(']');
      if (close != absl::string_view::npos) {
        return std::string(p.substr(0, close));
      }
    }
    return std::string(p);
  }
  return std::string(p);
}

absl::StatusOr<ClientIdentity> PeerAuthenticator::Authenticate(
    const grpc::ServerContextBase& ctx, storage::User* user_out,
    const storage::IssuanceReads* extra, storage::IssuanceSnapshot* snapshot) {
  return AuthenticatePresented(VerifyPresented(ctx), user_out, extra, snapshot);
}

absl::StatusOr<ClientIdentity> PeerAuthenticator::AuthenticatePresented(
    absl::StatusOr<ClientIdentity> presented, storage::User* user_out,
    const storage::IssuanceReads* extra, storage::IssuanceSnapshot* snapshot) {
  ASSIGN_OR_RETURN(ClientIdentity id, std::move(presented));
  // Every store read of the check (and the caller's) at once.
  storage::IssuanceReads reads;
  if (extra != nullptr) reads = *extra;
  reads.revocations.insert(reads.revocations.begin(),
                           std::make_pair(id.serial, std::string()));
  const bool is_user = id.kind == ClientIdentity::Kind::kUser;
  if (is_user) {
    reads.user = id.name;  // the caller, whatever `extra` named
    reads.certificate = id.serial;
    // The login certificate's key too: a key that leaked leaked with the
    // TLS identity `sp login` wrote beside it, and revoking it must stop
    // that identity from asking for a certificate for a new key.
    reads.certificate_key_revoked = true;
  }
  absl::StatusOr<storage::IssuanceSnapshot> read =
      store_->ReadForIssuance(reads);
  if (!read.ok() || read->revoked.empty()) {
    return absl::UnavailableError("cannot check revocation; refusing");
  }
  if (read->revoked.front()) {
    return absl::UnauthenticatedError("the client certificate is revoked");
  }
  read->revoked.erase(read->revoked.begin());
  if (is_user) {
    // Unset only for a serial the store cannot hold (refused below).
    if (read->certificate_key_revoked.value_or(false)) {
      return absl::UnauthenticatedError(
          "the key this client certificate was issued for is revoked");
    }
    if (!read->user.has_value()) {
      return absl::UnavailableError("the CA's store is unavailable");
    }
    absl::StatusOr<storage::User>& user = *read->user;
    if (!user.ok()) {
      if (user.status().code() == absl::StatusCode::kNotFound) {
        return absl::UnauthenticatedError("the user no longer exists");
      }
      return absl::UnavailableError("the CA's store is unavailable");
    }
    if (user->disabled) {
      return absl::PermissionDeniedError("the user is disabled");
    }
    // Bound to this user, not just the name: issued to it, and not before
    // it was created (a deleted and recreated name does not inherit the
    // old user's certificates).
    // A serial the store cannot hold (0) was not read: not found.
    const absl::StatusOr<storage::IssuedCertificate> issued =
        read->certificate.has_value()
            ? *read->certificate
            : absl::StatusOr<storage::IssuedCertificate>(
                  absl::NotFoundError("no such certificate"));
    if (!issued.ok() && issued.status().code() != absl::StatusCode::kNotFound) {
      return absl::UnavailableError("the CA's store is unavailable");
    }
    if (!issued.ok() || issued->user != id.name ||
        issued->issued_at < user->created_at) {
      return absl::UnauthenticatedError(
          "the client certificate was issued to another user of that name");
    }
    if (user_out != nullptr) *user_out = *user;
  }
  if (snapshot != nullptr) *snapshot = *std::move(read);
  return id;
}

absl::StatusOr<bool> PeerAuthenticator::IsAdmin(std::string_view user) {
  ASSIGN_OR_RETURN(std::vector<storage::Role> roles,
                   store_->ListRolesForUser(user));
  for (const storage::Role& r : roles) {
    if (r.name == kAdminRole) return true;
  }
  return false;
}

void PeerAuthenticator::AuditRefusal(std::string_view event,
                                     const grpc::ServerContextBase& ctx,
                                     std::string_view actor,
                                     std::string_view method,
                                     const absl::Status& refusal) {
  // Best effort: the refusal stands whether or not it could be logged.
  (void)audit_->Record(
      event, actor,
      {{"method", std::string(method)},
       {"source", PeerAddress(ctx.peer())},
       {"code", std::string(absl::StatusCodeToString(refusal.code()))},
       {"reason", std::string(refusal.message())}});
}

absl::StatusOr<ClientIdentity> PeerAuthenticator::AuthenticateAdmin(
    const grpc::ServerContextBase& ctx, std::string_view method) {
  absl::StatusOr<ClientIdentity> id = Authenticate(ctx);
  absl::Status refusal;
  if (!id.ok()) {
    refusal = id.status();
  } else if (id->kind != ClientIdentity::Kind::kUser) {
    refusal = absl::PermissionDeniedError("the admin API is for admin users");
  } else {
    absl::StatusOr<bool> admin = IsAdmin(id->name);
    if (!admin.ok()) {
      refusal = absl::UnavailableError("the CA's store is unavailable");
    } else if (!*admin) {
      refusal = absl::PermissionDeniedError(
          absl::StrCat("user ", id->name, " does not have the admin role"));
    }
  }
  if (!refusal.ok()) {
    AuditRefusal(kEventAdminDenied, ctx, id.ok() ? id->name : "-", method,
                 refusal);
    return refusal;
  }
  return id;
}

absl::StatusOr<ClientIdentity> PeerAuthenticator::AuthenticateGateway(
    const grpc::ServerContextBase& ctx, std::string_view method,
    const storage::IssuanceReads* extra, storage::IssuanceSnapshot* snapshot) {
  return AuthenticateGateway(ctx, method, VerifyPresented(ctx), extra,
                             snapshot);
}

absl::StatusOr<ClientIdentity> PeerAuthenticator::AuthenticateGateway(
    const grpc::ServerContextBase& ctx, std::string_view method,
    absl::StatusOr<ClientIdentity> presented,
    const storage::IssuanceReads* extra, storage::IssuanceSnapshot* snapshot) {
  absl::StatusOr<ClientIdentity> id =
      AuthenticatePresented(std::move(presented), nullptr, extra, snapshot);
  absl::Status refusal;
  if (!id.ok()) {
    refusal = id.status();
  } else if (id->kind != ClientIdentity::Kind::kGateway) {
    refusal = absl::PermissionDeniedError(
        "the gateway API needs a gateway identity, not a user's");
  }
  if (!refusal.ok()) {
    AuditRefusal(kEventAccessDenied, ctx, id.ok() ? id->name : "-", method,
                 refusal);
    return refusal;
  }
  return id;
}

std::optional<ClientIdentity::Kind> PeerAuthenticator::PresentedKind(
    const grpc::ServerContextBase& ctx) {
  absl::StatusOr<ClientIdentity> id = VerifyPresented(ctx);
  if (!id.ok()) return std::nullopt;
  return id->kind;
}

absl::StatusOr<ClientIdentity> PeerAuthenticator::VerifyPresented(
    const grpc::ServerContextBase& ctx) {
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth == nullptr) {
    return absl::UnauthenticatedError("a client certificate is required");
  }
  std::vector<grpc::string_ref> pems =
      auth->FindPropertyValues("x509_pem_cert");
  if (pems.size() != 1) {
    return absl::UnauthenticatedError(
        "a client certificate from `sp login` is required");
  }
  return client_ca_->Verify(std::string_view(pems[0].data(), pems[0].size()),
                            clock_->Now());
}

}  // namespace sallyport::ca
