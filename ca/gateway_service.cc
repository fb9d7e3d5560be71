#include "ca/gateway_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/secret_bytes.h"
#include "base/status_macros.h"
#include "ca/enrollment.h"
#include "ca/rbac/names.h"
#include "ca/service_util.h"
#include "ca/tls_material.h"

namespace sallyport::ca {
namespace {

namespace pb = ::sallyport::gateway::v1;

// The `via` of a ProxyJump target's host certificate (its cert.issued
// event), and the `purpose` of its cert.refused.
constexpr std::string_view kTargetCertificateVia = "proxyjump-target";

}  // namespace

bool RecordedAfter(const storage::IssuedCertificate& a,
                   const storage::IssuedCertificate& b) {
  // CA instances sharing a store allocate serials in blocks of their own,
  // so serials alone do not say which came first, while one instance's
  // increase (and decide when the store's clock has not moved).
  return a.issued_at != b.issued_at ? a.issued_at > b.issued_at
                                    : a.serial > b.serial;
}

std::string GatewayCertificateUser(std::string_view gateway) {
  return absl::StrCat("gateway:", std::string(gateway));
}

std::string EnrolGatewayAgain(std::string_view gateway) {
  const std::string name(gateway);
  return absl::StrCat("enrol gateway ", name,
                      " again with a token for its name (spctl tokens create "
                      "--kind gateway --gateway-name ",
                      name, ")");
}

absl::Status CheckGatewayEnrolmentName(storage::Store& store,
                                       std::string_view name,
                                       std::string_view token_gateway) {
  const std::string retry = absl::StrCat(
      " (an administrator can make a token for it: spctl tokens create "
      "--kind gateway --gateway-name ",
      std::string(name), ")");
  if (!token_gateway.empty()) {
    if (token_gateway == name) return absl::OkStatus();
    return absl::PermissionDeniedError(absl::StrCat(
        "this join token was created for gateway ", std::string(token_gateway),
        ", not ", std::string(name), retry));
  }
  // Any identity ever recorded for the name, expired or revoked too: the
  // name owns its sessions, recordings and event streams beyond the
  // identity's life (a gateway off for a week ships its spool after
  // `enroll --force`), and a revoked identity is one an admin took away.
  storage::CertificateFilter filter;
  filter.user = GatewayCertificateUser(name);
  filter.purpose = storage::CertificatePurpose::kGateway;
  filter.limit = 1;
  ASSIGN_OR_RETURN(std::vector<storage::IssuedCertificate> enrolled,
                   store.ListCertificates(filter));
  if (enrolled.empty()) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "gateway ", std::string(name),
      " is already enrolled (mTLS identity serial ", enrolled.front().serial,
      "); a join token enrols it again only if it was created for that name",
      retry));
}

absl::Status CheckGatewayNamesAreFree(
    storage::Store& store, const std::vector<std::string>& principals,
    std::string_view token_gateway, absl::Time now) {
  if (principals.empty()) return absl::OkStatus();
  const std::string& name = principals.front();
  const auto taken = [&](const NameInUse& n) {
    return absl::PermissionDeniedError(absl::StrCat(
        "a join token cannot enrol gateway ", name, " with the name ",
        rbac::EscapeForReason(n.name), ": that name is ", n.whose,
        token_gateway.empty()
            ? " (leave that --principal out; a gateway that shares a name "
              "with others needs a token made for it: spctl tokens create "
              "--kind gateway --gateway-name NAME)"
            : " (leave that --principal out)"));
  };
  if (token_gateway != name) {
    // A token that names no gateway: whoever holds it chose the name and
    // every principal, so none may be anybody else's.
    ASSIGN_OR_RETURN(std::optional<NameInUse> in_use,
                     FindNameInUse(store, principals, now));
    if (in_use.has_value()) return taken(*in_use);
    return absl::OkStatus();
  }
  // A token an administrator made for this gateway: gateways sharing a
  // public name (behind one load balancer) and one box's address are
  // theirs to decide, but no principal may be an inventory host's name,
  // which the gateway's upstream check and users' known_hosts accept the
  // host certificate for, unless it is on the gateway's own valid host
  // certificate already (it keeps its names when enrolled again).
  ASSIGN_OR_RETURN(std::vector<storage::Host> hosts, store.ListHosts());
  std::vector<std::string> clashes;
  std::optional<NameInUse> first;
  for (const std::string& p : principals) {
    for (const storage::Host& h : hosts) {
      if (absl::EqualsIgnoreCase(p, h.name)) {
        clashes.push_back(p);
        if (!first.has_value()) {
          first = NameInUse{p, absl::StrCat("the name of host ", h.name)};
        }
        break;
      }
    }
  }
  if (clashes.empty()) return absl::OkStatus();
  storage::CertificateFilter filter;
  filter.purpose = storage::CertificatePurpose::kHost;
  filter.valid_at = now;
  RETURN_IF_ERROR(ForEachCertificate(
      store, filter,
      [&](const storage::IssuedCertificate& c) -> absl::StatusOr<bool> {
        if (c.key_id != name) return true;
        ASSIGN_OR_RETURN(bool revoked,
                         store.IsRevoked(c.serial, c.public_key_fingerprint));
        if (revoked) return true;
        std::erase_if(clashes, [&](const std::string& n) {
          return std::any_of(c.principals.begin(), c.principals.end(),
                             [&](const std::string& own) {
                               return absl::EqualsIgnoreCase(n, own);
                             });
        });
        return !clashes.empty();
      }));
  if (clashes.empty()) return absl::OkStatus();
  for (const storage::Host& h : hosts) {
    if (absl::EqualsIgnoreCase(clashes.front(), h.name)) {
      return taken(NameInUse{clashes.front(),
                             absl::StrCat("the name of host ", h.name)});
    }
  }
  return taken(*first);
}

absl::StatusOr<GatewayService::Identity> GatewayService::IssueIdentity(
    std::string_view name, std::string_view tls_public_key_der) {
  absl::StatusOr<base::EvpPkeyPtr> tls_key =
      PublicKeyFromDer(tls_public_key_der);
  if (!tls_key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls_public_key_der: ", tls_key.status().message()));
  }
  ASSIGN_OR_RETURN(base::X509Ptr ca_cert,
                   CertificateFromPem(ctx_.client_ca->ca_pem()));
  ASSIGN_OR_RETURN(std::string ca_fingerprint,
                   CertificateFingerprint(ca_cert.get()));
  ASSIGN_OR_RETURN(uint64_t serial, ctx_.store->AllocateSerial());
  const absl::Time now = ctx_.clock->Now();
  Identity out;
  storage::IssuedCertificate& record = out.record;
  record.serial = serial;
  record.key_id = std::string(name);
  record.user = GatewayCertificateUser(name);
  record.principals = {std::string(name)};
  record.valid_after = now - settings_.backdate;
  record.valid_before = now + settings_.identity_ttl;
  record.public_key_fingerprint = DerFingerprint(tls_public_key_der);
  record.ca_key_fingerprint = std::move(ca_fingerprint);
  record.purpose = storage::CertificatePurpose::kGateway;
  ASSIGN_OR_RETURN(
      out.pem, ctx_.client_ca->Issue(ClientIdentity::Kind::kGateway, name,
                                     serial, record.valid_after,
                                     record.valid_before, tls_public_key_der));
  return out;
}

absl::StatusOr<std::optional<storage::IssuedCertificate>>
GatewayService::NewerIdentity(const ClientIdentity& peer) {
  storage::CertificateFilter filter;
  filter.user = GatewayCertificateUser(peer.name);
  filter.purpose = storage::CertificatePurpose::kGateway;
  std::vector<storage::IssuedCertificate> all;
  RETURN_IF_ERROR(ForEachCertificate(
      *ctx_.store, filter,
      [&](const storage::IssuedCertificate& c) -> absl::StatusOr<bool> {
        all.push_back(c);
        return true;
      }));
  // An identity with no record (issued before schema version 12) is older
  // than every record.
  std::optional<storage::IssuedCertificate> own;
  for (const storage::IssuedCertificate& c : all) {
    if (c.serial == peer.serial) own = c;
  }
  std::optional<storage::IssuedCertificate> newest;
  for (const storage::IssuedCertificate& c : all) {
    if (c.serial == peer.serial) continue;
    if (own.has_value() && !RecordedAfter(c, *own)) continue;
    if (!newest.has_value() || RecordedAfter(c, *newest)) newest = c;
  }
  return newest;
}

grpc::Status GatewayService::EnrollGateway(
    grpc::ServerContext* context, const pb::EnrollGatewayRequest* request,
    pb::EnrollGatewayResponse* response) {
  const std::string source = PeerAddress(context->peer());
  // The request's shape first, so that a typo does not spend the token.
  absl::Status valid = ValidateGatewayName(request->name());
  if (!valid.ok()) return ToGrpc(valid);
  if (request->principals_size() > kMaxExtraPrincipals) {
    return ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("at most ", kMaxExtraPrincipals, " principals")));
  }
  std::vector<std::string> principals = {request->name()};
  for (const std::string& p : request->principals()) {
    absl::Status ok = ValidateHostPrincipal(p);
    if (!ok.ok()) return ToGrpc(ok);
    if (std::find(principals.begin(), principals.end(), p) ==
        principals.end()) {
      principals.push_back(p);
    }
  }
  absl::StatusOr<ssh::crypto::PublicKey> host_key =
      ParseSshKey(request->ssh_host_public_key(), "ssh_host_public_key");
  if (!host_key.ok()) return ToGrpc(host_key.status());
  if (!PublicKeyFromDer(request->tls_public_key_der()).ok()) {
    return ToGrpc(absl::InvalidArgumentError(
        "tls_public_key_der: not a P-256 or Ed25519 public key"));
  }
  const auto refuse = [&](absl::Status why) {
    return ToGrpc(AuditEnrollRefused(*ctx_.audit, GatewayActor(request->name()),
                                     kJoinTokenGateway, source,
                                     std::move(why)));
  };
  // Whether the token may enrol this name, before it is spent (a token
  // shown with the wrong name still enrols its own gateway). Only for a
  // token that could enrol: any other is refused below as before.
  if (!request->token().empty() &&
      request->token().size() <= kMaxJoinTokenBytes) {
    absl::StatusOr<storage::JoinToken> unspent = ctx_.store->GetJoinToken(
        base::SecretBytes::FromString(request->token()));
    if (unspent.ok() && unspent->purpose == kJoinTokenGateway &&
        !unspent->used_at.has_value() && !unspent->revoked_at.has_value() &&
        unspent->expires_at > ctx_.clock->Now()) {
      absl::Status allowed = CheckGatewayEnrolmentName(
          *ctx_.store, request->name(), unspent->gateway_name);
      if (!allowed.ok()) return refuse(std::move(allowed));
      // Only for a valid token: the names in use cost a read of every
      // host and host certificate.
      allowed = CheckGatewayNamesAreFree(
          *ctx_.store, principals, unspent->gateway_name, ctx_.clock->Now());
      if (!allowed.ok()) return refuse(std::move(allowed));
    }
  }
  absl::StatusOr<storage::JoinToken> token = ConsumeJoinTokenOfKind(
      *ctx_.store, *ctx_.audit, request->token(), kJoinTokenGateway,
      GatewayActor(request->name()), source);
  if (!token.ok()) return ToGrpc(token.status());
  // Decided again on the token as spent: the check above may not have run
  // (the store did not answer), or another enrolment of the name may have
  // been recorded since.
  if (absl::Status allowed = CheckGatewayEnrolmentName(
          *ctx_.store, request->name(), token->gateway_name);
      !allowed.ok()) {
    return refuse(std::move(allowed));
  }
  if (absl::Status allowed = CheckGatewayNamesAreFree(
          *ctx_.store, principals, token->gateway_name, ctx_.clock->Now());
      !allowed.ok()) {
    return refuse(std::move(allowed));
  }

  const std::string actor = GatewayActor(request->name());
  absl::StatusOr<Identity> identity =
      IssueIdentity(request->name(), request->tls_public_key_der());
  if (!identity.ok()) return ToGrpc(identity.status());
  const absl::Time not_after = identity->record.valid_before;
  absl::StatusOr<ssh::cert::Certificate> host_cert =
      ctx_.issuer->IssueHostCertificateForNames(
          principals, request->name(), *host_key,
          settings_.host_certificate_ttl, actor, "enroll-gateway",
          GatewayCertificateUser(request->name()));
  if (!host_cert.ok()) return ToGrpc(host_cert.status());

  for (auto purpose :
       {storage::CaKeyPurpose::kUser, storage::CaKeyPurpose::kHost}) {
    absl::StatusOr<std::vector<CaKeyring::TrustedKey>> keys =
        ctx_.keyring->TrustedKeys(purpose);
    if (!keys.ok()) return ToGrpc(keys.status());
    for (const CaKeyring::TrustedKey& k : *keys) {
      if (purpose == storage::CaKeyPurpose::kUser) {
        response->add_user_ca_public_keys(k.public_key);
      } else {
        response->add_host_ca_public_keys(k.public_key);
      }
    }
  }
  // Fail closed: an enrolment that cannot be audited hands nothing out.
  // The identity's record and its event are one transaction.
  absl::Status audited = ctx_.audit->RecordCertificate(
      identity->record, kEventGatewayEnrolled, actor,
      {{"gateway", request->name()},
       {"source", source},
       {"token_hash", token->token_hash},
       {"principals", principals},
       {"serial", static_cast<int64_t>(identity->record.serial)},
       {"host_certificate_serial", static_cast<int64_t>(host_cert->serial)},
       {"tls_valid_before", absl::FormatTime(not_after)}});
  if (!audited.ok()) return ToGrpc(audited);
  response->set_tls_client_certificate_pem(identity->pem);
  *response->mutable_tls_valid_before() = ToTimestamp(not_after);
  FillIssued(*host_cert, response->mutable_host_certificate());
  spdlog::info("gateway enrolled: name={} principals={} source={}",
               request->name(), absl::StrJoin(principals, ","), source);
  return grpc::Status::OK;
}

grpc::Status GatewayService::RenewGatewayIdentity(
    grpc::ServerContext* context,
    const pb::RenewGatewayIdentityRequest* request,
    pb::RenewGatewayIdentityResponse* response) {
  absl::StatusOr<GatewayCall> call =
      BeginGatewayCall(ctx_, *context, "RenewGatewayIdentity");
  if (!call.ok()) return ToGrpc(call.status());
  const ClientIdentity& peer = call->peer;
  const std::string source = PeerAddress(context->peer());
  // Refuses with the newer identity on record, when there is one.
  const auto refuse_if_renewed = [&]() -> std::optional<grpc::Status> {
    absl::StatusOr<std::optional<storage::IssuedCertificate>> newer =
        NewerIdentity(peer);
    if (!newer.ok()) return ToGrpc(newer.status());
    if (!newer->has_value()) return std::nullopt;
    const storage::IssuedCertificate& n = **newer;
    absl::Status refusal = absl::PermissionDeniedError(absl::StrCat(
        "this gateway identity (serial ", peer.serial,
        ") was already renewed or replaced: gateway ", peer.name,
        " has a newer one, serial ", n.serial, " issued ",
        absl::FormatTime(n.issued_at),
        ", and an identity renews once. If this gateway did not get serial ",
        n.serial, ", its identity may be stolen: revoke ", n.serial,
        " (spctl certs revoke) and enrol the gateway again with a token for "
        "its name (spctl tokens create --kind gateway --gateway-name ",
        peer.name, ")"));
    // Best effort: the refusal stands whether or not it could be logged.
    (void)ctx_.audit->Record(
        kEventAccessDenied, GatewayActor(peer.name),
        {{"method", std::string("RenewGatewayIdentity")},
         {"gateway", peer.name},
         {"source", source},
         {"serial", static_cast<int64_t>(peer.serial)},
         {"newer_serial", static_cast<int64_t>(n.serial)},
         {"code", std::string(absl::StatusCodeToString(refusal.code()))},
         {"reason", std::string(refusal.message())}});
    return ToGrpc(refusal);
  };
  if (std::optional<grpc::Status> refused = refuse_if_renewed()) {
    return *refused;
  }
  absl::StatusOr<Identity> identity =
      IssueIdentity(peer.name, request->tls_public_key_der());
  if (!identity.ok()) return ToGrpc(identity.status());
  // Recorded as the renewal of the caller's serial, which the store takes
  // once: of two renewals of one identity at the same moment (both past
  // the check above), the second is refused as if it came later.
  identity->record.renews_serial = peer.serial;
  const absl::Time not_after = identity->record.valid_before;
  absl::Status audited = ctx_.audit->RecordCertificate(
      identity->record, kEventGatewayRenewed, GatewayActor(peer.name),
      {{"gateway", peer.name},
       {"source", source},
       {"serial", static_cast<int64_t>(identity->record.serial)},
       {"previous_serial", static_cast<int64_t>(peer.serial)},
       {"tls_valid_before", absl::FormatTime(not_after)}});
  if (absl::IsAlreadyExists(audited)) {
    if (std::optional<grpc::Status> refused = refuse_if_renewed()) {
      return *refused;
    }
  }
  if (!audited.ok()) return ToGrpc(audited);
  response->set_tls_client_certificate_pem(identity->pem);
  *response->mutable_tls_valid_before() = ToTimestamp(not_after);
  return grpc::Status::OK;
}

grpc::Status GatewayService::IssueHostCertificateForTarget(
    grpc::ServerContext* context,
    const pb::IssueHostCertificateForTargetRequest* request,
    pb::IssueHostCertificateForTargetResponse* response) {
  absl::StatusOr<GatewayCall> call =
      BeginGatewayCall(ctx_, *context, "IssueHostCertificateForTarget");
  if (!call.ok()) return ToGrpc(call.status());
  const ClientIdentity& peer = call->peer;
  absl::Status name = ValidateHostPrincipal(request->host());
  if (!name.ok()) return ToGrpc(name);
  absl::StatusOr<ssh::crypto::PublicKey> key =
      ParseSshKey(request->ssh_public_key());
  if (!key.ok()) return ToGrpc(key.status());
  // Users' known_hosts trust the host CA for every inventory name: a
  // certificate for the host on any other key would let whoever holds the
  // gateway's identity impersonate the host anywhere, off the gateway's
  // path too. On its enrolled key it is worthless without the gateway's
  // host private key.
  absl::Status own = CheckEnrolledHostKey(peer.name, *key);
  if (absl::IsPermissionDenied(own)) {
    spdlog::warn(
        "target host certificate refused: gateway={} host={} key={}: {}",
        peer.name, request->host(), key->FingerprintSha256(),
        std::string(own.message()));
    // Best effort: the refusal stands whether or not it could be logged.
    (void)ctx_.audit->Record(
        kEventCertRefused, GatewayActor(peer.name),
        {{"subject", request->host()},
         {"purpose", std::string(kTargetCertificateVia)},
         {"gateway", peer.name},
         {"key", key->FingerprintSha256()},
         {"code", std::string(absl::StatusCodeToString(own.code()))},
         {"reason", std::string(own.message())}});
  }
  if (!own.ok()) return ToGrpc(own);
  absl::StatusOr<ssh::cert::Certificate> cert =
      ctx_.issuer->IssueHostCertificate(
          request->host(), *key, GatewayActor(peer.name),
          settings_.target_certificate_ttl, kTargetCertificateVia);
  if (!cert.ok()) return ToGrpc(cert.status());
  FillIssued(*cert, response->mutable_certificate());
  return grpc::Status::OK;
}

}  // namespace sallyport::ca
