// Small helpers shared by the CA's gRPC services: status conversion,
// timestamps, the peer's address, peer authentication by client certificate.
#ifndef SALLYPORT_CA_SERVICE_UTIL_H_
#define SALLYPORT_CA_SERVICE_UTIL_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/rpc_limits.h"
#include "ca/audit_log.h"
#include "ca/cert_policy.h"  // kAdminRole
#include "ca/client_ca.h"
#include "ca/issuance_workers.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "ssh/cert/certificate.h"
#include "ssh/crypto/keys.h"
#include "storage/store.h"

namespace sallyport::ca {

// Join token kinds (CreateJoinToken's purpose).
inline constexpr std::string_view kJoinTokenGateway = "gateway";
inline constexpr std::string_view kJoinTokenHost = "host";

// absl and gRPC codes are the same numbers. Internal details (kInternal,
// kDataLoss, kUnknown) are logged and replaced by a generic message.
grpc::Status ToGrpc(const absl::Status& status);

// Runs `task`, which answers the call, on `workers` (or on this thread
// when `workers` is null); when the workers' queue is full the call is
// answered at once with `answer`(RESOURCE_EXHAUSTED) and `task` never
// runs.
void RunOnIssuanceWorkers(IssuanceWorkers* workers,
                          const std::function<void(grpc::Status)>& answer,
                          std::function<void()> task);

google::protobuf::Timestamp ToTimestamp(absl::Time t);
absl::Time FromTimestamp(const google::protobuf::Timestamp& t);
google::protobuf::Duration ToDurationProto(absl::Duration d);
// The updated_at an admin Update* request (User, Role, Host) carries: the
// version its caller read, which the update must still find (the Store's
// unchanged_since, kAborted otherwise). Unset: unconditional.
template <typename Message>
std::optional<absl::Time> UnchangedSince(const Message& m) {
  if (!m.has_updated_at()) return std::nullopt;
  return FromTimestamp(m.updated_at());
}
absl::Duration FromDurationProto(const google::protobuf::Duration& d);

// One page of a listing the CA answers in pages (base/rpc_limits.h): at
// most `page_size` entries (0, or more than `max_entries`: that many)
// taking at most base::kMaxListPageBytes encoded, but always the first, so
// that every page fits what a client takes.
class ListPage {
 public:
  explicit ListPage(uint32_t page_size,
                    size_t max_entries = base::kMaxListPageEntries);
  size_t max_entries() const { return max_entries_; }
  // Whether `entry` still goes on the page; counts it when it does.
  bool Take(const google::protobuf::Message& entry);

 private:
  size_t max_entries_;
  size_t entries_ = 0;
  size_t bytes_ = 0;
};

// One page of `records` (by name): those named after `page_token`, made
// entries by `convert(record, entry*)`, as many as ListPage(page_size)
// takes, added to `out`. Returns the next page's token: the last name on
// the page, or empty when no record is left.
template <typename Record, typename Entry, typename Convert>
std::string FillPage(const std::vector<Record>& records,
                     const std::string& page_token, uint32_t page_size,
                     google::protobuf::RepeatedPtrField<Entry>* out,
                     const Convert& convert) {
  ListPage page(page_size);
  for (const Record& record : records) {
    if (record.name <= page_token) continue;
    Entry entry;
    convert(record, &entry);
    if (!page.Take(entry)) return out->at(out->size() - 1).name();
    *out->Add() = std::move(entry);
  }
  return "";
}

// "ipv4:1.2.3.4:5678" → "1.2.3.4"; "ipv6:[::1]:5678" → "::1"; anything else
// is returned as is.
std::string PeerAddress(std::string_view grpc_peer);

// An authorized_keys line from a request, of a type the CA certifies
// (Ed25519, ECDSA P-256). kInvalidArgument naming `field` otherwise.
absl::StatusOr<ssh::crypto::PublicKey> ParseSshKey(
    std::string_view line, std::string_view field = "ssh_public_key");

// Every certificate `filter` selects (from filter.after_serial on), page by
// page of filter.limit, by serial: `each` says whether to go on (false
// stops); its error stops the walk and is returned.
absl::Status ForEachCertificate(storage::Store& store,
                                storage::CertificateFilter filter,
                                const std::function<absl::StatusOr<bool>(
                                    const storage::IssuedCertificate&)>& each);

// Copies an issued certificate into a response message with the fields
// ssh_certificate, serial, principals, valid_after and valid_before.
template <typename Response>
void FillIssued(const ssh::cert::Certificate& cert, Response* out) {
  out->set_ssh_certificate(cert.ToLine(cert.key_id));
  out->set_serial(cert.serial);
  for (const std::string& p : cert.principals) out->add_principals(p);
  *out->mutable_valid_after() = ToTimestamp(
      absl::FromUnixSeconds(static_cast<int64_t>(cert.valid_after)));
  *out->mutable_valid_before() = ToTimestamp(
      absl::FromUnixSeconds(static_cast<int64_t>(cert.valid_before)));
}

// Authenticates the caller of an RPC by its TLS client certificate.
class PeerAuthenticator {
 public:
  PeerAuthenticator(const ClientCertificateAuthority* client_ca,
                    storage::Store* store, AuditLog* audit, base::Clock* clock)
      : client_ca_(client_ca), store_(store), audit_(audit), clock_(clock) {}

  // The caller's identity: a client certificate from our TLS CA (checked
  // again here with our clock), not expired, its serial not revoked, and
  // for users, the user still exists and is not disabled.
  // kUnauthenticated or kPermissionDenied otherwise; kUnavailable when the
  // store cannot be asked (fail closed).
  // With `user`, a user identity's user record as read for the check.
  // With `extra`, its reads are made in the same store read (one round
  // trip on PostgreSQL) and returned in `*snapshot` (its revocations are
  // extra's, in order). For a user identity the snapshot's user is the
  // caller, whatever extra named.
  absl::StatusOr<ClientIdentity> Authenticate(
      const grpc::ServerContextBase& ctx, storage::User* user = nullptr,
      const storage::IssuanceReads* extra = nullptr,
      storage::IssuanceSnapshot* snapshot = nullptr);

  // Authenticate, then require a user with the admin role. Refusals are
  // audit events "admin.denied" naming `method`.
  absl::StatusOr<ClientIdentity> AuthenticateAdmin(
      const grpc::ServerContextBase& ctx, std::string_view method);

  // Authenticate, then require a gateway identity (OU "gateway"): a
  // user's certificate is kPermissionDenied. Refusals are audit events
  // "authz.denied" naming `method`.
  // `extra` and `snapshot` as for Authenticate.
  absl::StatusOr<ClientIdentity> AuthenticateGateway(
      const grpc::ServerContextBase& ctx, std::string_view method,
      const storage::IssuanceReads* extra = nullptr,
      storage::IssuanceSnapshot* snapshot = nullptr);
  // AuthenticateGateway of the caller whose presented certificate is
  // `presented` (VerifyPresented of `ctx`, already asked, e.g. by
  // EnterGatewayCall): the same checks, refusals and audit events, without
  // verifying the certificate again.
  absl::StatusOr<ClientIdentity> AuthenticateGateway(
      const grpc::ServerContextBase& ctx, std::string_view method,
      absl::StatusOr<ClientIdentity> presented,
      const storage::IssuanceReads* extra = nullptr,
      storage::IssuanceSnapshot* snapshot = nullptr);

  // The kind of client certificate the caller presented, when it presented
  // one that our TLS CA issued and that is valid now; nullopt otherwise.
  // For RPCs that do not need a client certificate but must refuse some
  // identities (a gateway calling Login).
  std::optional<ClientIdentity::Kind> PresentedKind(
      const grpc::ServerContextBase& ctx);
  // The client certificate the caller presented, verified against our TLS
  // CA now (no store read: its serial may be revoked; only Authenticate
  // says who calls); kUnauthenticated saying what is missing or wrong. For
  // what must be decided before the call's first store read, e.g. whose
  // place a call takes.
  absl::StatusOr<ClientIdentity> VerifyPresented(
      const grpc::ServerContextBase& ctx);

  // True when `user` holds the admin role.
  absl::StatusOr<bool> IsAdmin(std::string_view user);

 private:
  // Authenticate of the caller whose presented certificate is `presented`.
  absl::StatusOr<ClientIdentity> AuthenticatePresented(
      absl::StatusOr<ClientIdentity> presented, storage::User* user_out,
      const storage::IssuanceReads* extra, storage::IssuanceSnapshot* snapshot);
  void AuditRefusal(std::string_view event, const grpc::ServerContextBase& ctx,
                    std::string_view actor, std::string_view method,
                    const absl::Status& refusal);

  const ClientCertificateAuthority* client_ca_;
  storage::Store* store_;
  AuditLog* audit_;
  base::Clock* clock_;
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_SERVICE_UTIL_H_
