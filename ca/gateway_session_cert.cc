// GatewayService::IssueSessionCertificate: the CA checks the user
// certificate the gateway forwards and the user's proof of logging in to
// the gateway, decides with the RBAC engine (//ca/rbac) again, and signs a
// certificate for the gateway's ephemeral key for one session, login and
// host.
#include <spdlog/spdlog.h>

#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_join.h"
#include "ca/enrollment.h"
#include "ca/gateway_authz_internal.h"
#include "ca/gateway_service.h"
#include "ca/issuer.h"
#include "ca/presented_cert.h"
#include "ca/rbac/names.h"
#include "ca/rbac/rbac.h"
#include "ca/userauth_proof.h"

namespace sallyport::ca {
namespace {

namespace pb = ::sallyport::gateway::v1;

// A certificate's valid_before as a time: kForever, and any end past what
// the store keeps (microseconds in an int64), is never.
absl::Time CertificateEnd(uint64_t valid_before) {
  constexpr uint64_t kLastSecond =
      static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / 1000000;
  return valid_before >= kLastSecond
             ? absl::InfiniteFuture()
             : absl::FromUnixSeconds(static_cast<int64_t>(valid_before));
}

}  // namespace

grpc::ServerUnaryReactor* GatewayService::IssueSessionCertificate(
    grpc::CallbackServerContext* context,
    const pb::IssueSessionCertificateRequest* request,
    pb::IssueSessionCertificateResponse* response) {
  absl::StatusOr<ClientIdentity> presented =
      ctx_.peers->VerifyPresented(*context);
  absl::StatusOr<std::optional<InFlightLimiter::Ticket>> place =
      EnterGatewayCall(ctx_, *context, presented, "IssueSessionCertificate");
  if (!place.ok()) {
    grpc::ServerUnaryReactor* refused = context->DefaultReactor();
    refused->Finish(ToGrpc(place.status()));
    return refused;
  }
  PlaceHoldingReactor* reactor = new PlaceHoldingReactor(*std::move(place));
  // The store reads (PostgreSQL: round trips) run on the issuance workers,
  // not on gRPC's few callback threads.
  RunOnIssuanceWorkers(
      ctx_.issuance_workers, [reactor](grpc::Status s) { reactor->Answer(s); },
      [this, context, presented = std::move(presented), request, response,
       reactor] {
        grpc::Status refused = StartSessionCertificate(
            *context, presented, request, response, reactor);
        if (!refused.ok()) reactor->Answer(refused);
      });
  return reactor;
}

grpc::Status GatewayService::StartSessionCertificate(
    const grpc::ServerContextBase& context,
    const absl::StatusOr<ClientIdentity>& presented,
    const pb::IssueSessionCertificateRequest* request,
    pb::IssueSessionCertificateResponse* response,
    PlaceHoldingReactor* reactor) {
  // Every store read of the call at once (one round trip on PostgreSQL):
  // the gateway's authentication, the user certificate's revocation, the
  // user with its roles, the host, and the ephemeral key's revocation.
  storage::IssuanceReads reads;
  PendingCheck pending;
  absl::StatusOr<ssh::crypto::PublicKey> key =
      absl::PermissionDeniedError("not a gateway");
  // EnterGatewayCall took a place only for a caller presenting a gateway
  // identity; only its user certificate is checked.
  if (presented.ok() && presented->kind == ClientIdentity::Kind::kGateway) {
    pending = StartCheck(request->user_certificate(), request->login(),
                         request->host(), reads);
    key = ParseSshKey(request->ephemeral_public_key(), "ephemeral_public_key");
    reads.session = request->session_id();  // its owner (issue 14)
  }
  int key_revocation_at = -1;
  if (key.ok()) {
    key_revocation_at = static_cast<int>(reads.revocations.size());
    reads.revocations.emplace_back(0, key->FingerprintSha256());
  }
  storage::IssuanceSnapshot read;
  absl::StatusOr<ClientIdentity> peer = ctx_.peers->AuthenticateGateway(
      context, "IssueSessionCertificate", presented, &reads, &read);
  if (!peer.ok()) return ToGrpc(peer.status());
  absl::Status valid =
      ValidateSimpleName("session_id", request->session_id(), 64);
  if (!valid.ok()) return ToGrpc(valid);
  if (!key.ok()) return ToGrpc(key.status());
  if (settings_.egress_addresses.empty()) {
    return ToGrpc(absl::FailedPreconditionError(
        "the CA has no gateway.egress_addresses configured, so it issues no "
        "session certificates"));
  }
  const std::string actor = GatewayActor(peer->name);
  auto refuse = [&](std::string_view user, absl::Status why,
                    std::vector<AuditField> extra = {}) {
    std::vector<AuditField> fields = {
        {"subject", std::string(user)},
        {"purpose", "session"},
        {"session_id", request->session_id()},
        {"login", request->login()},
        {"host", request->host()},
        {"code", std::string(absl::StatusCodeToString(why.code()))},
        {"reason", std::string(why.message())}};
    for (AuditField& f : extra) fields.push_back(std::move(f));
    (void)ctx_.audit->Record(kEventCertRefused, actor, fields);
    return ToGrpc(why);
  };

  absl::StatusOr<Checked> checked = FinishCheck(std::move(pending), read);
  if (!checked.ok()) return ToGrpc(checked.status());
  if (!checked->presented.refusal.ok()) {
    return refuse(
        checked->presented.user,
        absl::PermissionDeniedError(checked->presented.refusal.message()));
  }
  // Finding B: the certificate is public; only the user's signature from
  // logging in to the gateway shows that the user is there. Checked before
  // any lookup by address or RBAC, so a gateway without it learns nothing.
  if (absl::Status proof = CheckUserauthProof(
          request->userauth_signed_data(), request->userauth_signature(),
          *checked->presented.certificate, request->login(), request->host());
      !proof.ok()) {
    return refuse(checked->user->name, proof);
  }
  // LOGIN+ADDRESS: a host is named by its inventory name or any of its
  // addresses; the certificate's host record gives the gateway the name.
  if (!checked->host.has_value()) {
    std::string ambiguous;
    absl::StatusOr<std::optional<storage::Host>> by_address =
        rbac::FindHostByAddress(*ctx_.store, request->host(), 0, &ambiguous);
    if (!by_address.ok()) return ToGrpc(by_address.status());
    if (!ambiguous.empty()) {
      return refuse(checked->user->name,
                    absl::PermissionDeniedError(ambiguous));
    }
    checked->host = *std::move(by_address);
  }
  const std::string host_name =
      checked->host.has_value() ? checked->host->name : request->host();
  // RBAC again, just before signing.
  rbac::Permissions perms =
      rbac::EffectivePermissions(*checked->user, checked->roles,
                                 request->login(), host_name, checked->host);
  if (!perms.decision.allowed) {
    return refuse(checked->user->name,
                  absl::PermissionDeniedError(perms.decision.reason));
  }
  // Issue 14: a session id another gateway owns (it wrote the session's
  // events or was issued its certificate first) is refused before
  // anything is signed. The record claims the id for this gateway in its
  // transaction, which also decides a race between two gateways.
  if (!read.session_owner.has_value() || !read.session_owner->ok()) {
    return ToGrpc(absl::UnavailableError("the CA's store is unavailable"));
  }
  if (const std::string& owner = **read.session_owner;
      !owner.empty() && owner != peer->name) {
    return refuse(checked->user->name,
                  SessionOfAnotherGateway(request->session_id()),
                  {{"gateway", peer->name}, {"owner", owner}});
  }
  // Extensions: what the user's certificate grants AND what RBAC allows.
  CertificateIssuer::SessionCertificateSpec spec;
  spec.user = checked->user->name;
  spec.user_created_at = checked->user->created_at;
  spec.session_id = request->session_id();
  spec.gateway = peer->name;
  spec.login = request->login();
  spec.host = host_name;
  spec.source_address = absl::StrJoin(settings_.egress_addresses, ",");
  if (static_cast<size_t>(key_revocation_at) < read.revoked.size()) {
    spec.key_revoked = read.revoked[key_revocation_at];
  }
  const ssh::cert::Certificate& user_cert = *checked->presented.certificate;
  // Finding B: the proof gets this one certificate. The record refuses a
  // proof used before (a replay: an honest gateway asks once per signed
  // login, and the signed data holds that connection's session
  // identifier), and remembers it as long as the user certificate is
  // valid, after which the proof is refused with the certificate.
  spec.userauth_proof_sha256 =
      UserauthProofDigest(request->userauth_signed_data());
  spec.userauth_proof_expires_at = CertificateEnd(user_cert.valid_before);
  // force-command: the roles' (when every session kind forces the same
  // one), else the user certificate's, so the host enforces what the
  // gateway does.
  spec.force_command = perms.force_command.has_value()
                           ? perms.force_command
                           : checked->presented.permissions.force_command;
  for (const ssh::cert::CertOption& e : perms.extensions) {
    const ssh::cert::CertOption* granted = user_cert.FindExtension(e.name);
    if (granted != nullptr && granted->data.empty()) {
      spec.extensions.push_back(e);
    }
  }
  SetRecordingPolicy(perms.decision, *response);  // recpol (issue 14)
  // The session kinds allowed now, decided as AuthorizeChannel would.
  std::string allowed_kinds;
  for (storage::ChannelKind kind :
       {storage::ChannelKind::kShell, storage::ChannelKind::kExec,
        storage::ChannelKind::kSftp}) {
    rbac::AccessRequest access;
    access.login = request->login();
    access.host = host_name;
    access.kind = kind;
    rbac::Decision d =
        rbac::Decide(*checked->user, checked->roles, access, checked->host);
    if (!d.allowed) continue;
    const std::string name(storage::ChannelKindName(kind));
    pb::AuthorizeChannelResponse* a = response->add_session_decisions();
    DecisionToProto(d, *a);
    HostToProto(*checked->host, a->mutable_host());
    a->set_user(checked->presented.user);
    a->set_kind(name);
    absl::StrAppend(&allowed_kinds, allowed_kinds.empty() ? "" : ",", name);
  }
  // Debug only: the issuance's audit event (and its log line) follows.
  spdlog::debug(
      "authorize: gateway={} user={} login={} host={} kinds={} allowed with "
      "the session certificate",
      peer->name, rbac::EscapeForReason(checked->presented.user),
      rbac::EscapeForReason(request->login()), rbac::EscapeForReason(host_name),
      allowed_kinds.empty() ? "none" : allowed_kinds);
  // The record commits on the store's commit thread, which finishes the
  // call; this thread is free for the next request meanwhile.
  ctx_.issuer->IssueSessionCertificateAsync(
      spec, *key, actor,
      [response, reactor, host = *checked->host, record = perms.record,
       gateway = peer->name,
       spec](absl::StatusOr<ssh::cert::Certificate> cert) {
        if (!cert.ok()) return reactor->Answer(ToGrpc(cert.status()));
        FillIssued(*cert, response->mutable_certificate());
        HostToProto(host, response->mutable_host());
        response->set_record(std::string(storage::RecordModeName(record)));
        // Debug only: every issuance is already an audit event.
        spdlog::debug(
            "session certificate: gateway={} user={} session={} login={} "
            "host={} serial={}",
            gateway, rbac::EscapeForReason(spec.user), spec.session_id,
            spec.login, spec.host, cert->serial);
        reactor->Answer(grpc::Status::OK);
      });
  return grpc::Status::OK;
}

}  // namespace sallyport::ca
