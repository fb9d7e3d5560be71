// gwrest (issue 12): Gateway.RenewGatewayHostCertificate, the renewal of a
// gateway's own SSH host certificate (proto/gateway.proto). The caller is
// a gateway identity (mTLS); the current host certificate it sends proves
// the principals it enrolled with: a host CA key of ours signed it for
// the caller's name. The new certificate certifies the same key for the
// same principals, recorded with its audit event by the issuer, and only
// those of the gateway's newest host certificate on record: one from an
// earlier enrolment renews nothing.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "ca/gateway_service.h"
#include "ca/service_util.h"
#include "ssh/cert/verify.h"

namespace sallyport::ca {
namespace {

namespace pb = ::sallyport::gateway::v1;

// The newest of the host certificates recorded with `user` whose key id
// and first principal are `name`, into `newest`.
absl::Status ReadNewestHostCertificate(
    storage::Store& store, std::string user, std::string_view name,
    std::optional<storage::IssuedCertificate>& newest) {
  storage::CertificateFilter filter;
  filter.user = std::move(user);
  filter.purpose = storage::CertificatePurpose::kHost;
  return ForEachCertificate(
      store, filter,
      [&](const storage::IssuedCertificate& c) -> absl::StatusOr<bool> {
        if (c.key_id == name && !c.principals.empty() &&
            c.principals.front() == name &&
            (!newest.has_value() || RecordedAfter(c, *newest))) {
          newest = c;
        }
        return true;
      });
}

}  // namespace

absl::StatusOr<std::optional<storage::IssuedCertificate>>
GatewayService::NewestHostCertificate(std::string_view name) {
  std::optional<storage::IssuedCertificate> newest;
  RETURN_IF_ERROR(ReadNewestHostCertificate(
      *ctx_.store, GatewayCertificateUser(name), name, newest));
  if (newest.has_value()) return newest;
  // Recorded before gateway host certificates named their gateway, until
  // the gateway's first renewal since.
  return LegacyHostCertificate(std::string(name));
}

absl::StatusOr<std::optional<storage::IssuedCertificate>>
GatewayService::LegacyHostCertificate(const std::string& name) {
  {
    absl::MutexLock lock(&legacy_mu_);
    if (auto it = legacy_host_certificates_.find(name);
        it != legacy_host_certificates_.end()) {
      return it->second;
    }
  }
  std::optional<storage::IssuedCertificate> newest;
  RETURN_IF_ERROR(ReadNewestHostCertificate(*ctx_.store, "", name, newest));
  absl::MutexLock lock(&legacy_mu_);
  // A concurrent first read found the same, or kept its own.
  return legacy_host_certificates_.try_emplace(name, std::move(newest))
      .first->second;
}

absl::Status GatewayService::CheckEnrolledHostKey(
    std::string_view gateway, const ssh::crypto::PublicKey& key) {
  const std::string name(gateway);
  absl::StatusOr<std::optional<storage::IssuedCertificate>> newest =
      NewestHostCertificate(name);
  if (!newest.ok()) {
    return absl::UnavailableError(
        "cannot read the gateway's host certificates; refusing");
  }
  if (!newest->has_value()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "gateway ", name,
        " has no host certificate on record, and a target's host "
        "certificate is issued only for the host key a gateway enrolled "
        "with; ",
        EnrolGatewayAgain(name)));
  }
  const storage::IssuedCertificate& enrolled = **newest;
  if (enrolled.public_key_fingerprint != key.FingerprintSha256()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "ssh_public_key (", key.FingerprintSha256(),
        ") is not the host key gateway ", name, " is enrolled with (",
        enrolled.public_key_fingerprint, ", its host certificate serial ",
        enrolled.serial,
        "): a target's host certificate is issued only for that key. If "
        "the gateway's host key on disk is another (the name was enrolled "
        "again elsewhere, or the key file replaced), ",
        EnrolGatewayAgain(name), " and reload it (SIGHUP)"));
  }
  absl::StatusOr<bool> revoked =
      ctx_.store->IsRevoked(enrolled.serial, enrolled.public_key_fingerprint);
  if (!revoked.ok()) {
    return absl::UnavailableError("cannot check revocation; refusing");
  }
  if (*revoked) {
    return absl::PermissionDeniedError(absl::StrCat(
        "gateway ", name, "'s host certificate (serial ", enrolled.serial,
        ") is revoked, or its host key is: no target's host certificate is "
        "issued for that key; ",
        EnrolGatewayAgain(name), " with a new host key"));
  }
  return absl::OkStatus();
}

grpc::Status GatewayService::RenewGatewayHostCertificate(
    grpc::ServerContext* context,
    const pb::RenewGatewayHostCertificateRequest* request,
    pb::RenewGatewayHostCertificateResponse* response) {
  absl::StatusOr<GatewayCall> call =
      BeginGatewayCall(ctx_, *context, "RenewGatewayHostCertificate");
  if (!call.ok()) return ToGrpc(call.status());
  const ClientIdentity& peer = call->peer;
  absl::StatusOr<ssh::cert::Certificate> current =
      ssh::cert::Certificate::FromLine(request->host_certificate());
  if (!current.ok()) {
    return ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("host_certificate: ", current.status().message())));
  }
  absl::StatusOr<std::vector<CaKeyring::TrustedKey>> keys =
      ctx_.keyring->TrustedKeys(storage::CaKeyPurpose::kHost);
  if (!keys.ok()) return ToGrpc(keys.status());
  ssh::cert::VerifyOptions v;
  for (const CaKeyring::TrustedKey& k : *keys) {
    absl::StatusOr<ssh::crypto::PublicKey> key =
        ssh::crypto::PublicKey::FromAuthorizedKeysLine(k.public_key);
    if (key.ok()) v.trusted_cas.push_back(*key);
  }
  v.expected_type = ssh::cert::CertType::kHost;
  v.principal = peer.name;
  // An expired certificate still proves what was enrolled (the caller's
  // mTLS identity is what must be current).
  v.now = absl::FromUnixSeconds(static_cast<int64_t>(
      std::min<uint64_t>(current->valid_after, INT64_MAX)));
  absl::StatusOr<ssh::cert::CertificatePermissions> verified =
      ssh::cert::VerifyCertificate(*current, v);
  if (!verified.ok() || current->principals.empty() ||
      current->principals.front() != peer.name ||
      current->key_id != peer.name) {
    return ToGrpc(absl::PermissionDeniedError(absl::StrCat(
        "host_certificate is not a host certificate of this CA for gateway ",
        peer.name,
        verified.ok() ? "" : absl::StrCat(": ", verified.status().message()))));
  }
  const std::string enrol_again =
      absl::StrCat("; ", EnrolGatewayAgain(peer.name));
  // A revoked certificate proves nothing: renewing it would undo the
  // revocation with a fresh serial for the same key and principals.
  absl::StatusOr<bool> revoked =
      ctx_.store->IsRevoked(current->serial, current->key.FingerprintSha256());
  if (!revoked.ok()) {
    return ToGrpc(absl::UnavailableError("cannot check revocation; refusing"));
  }
  if (*revoked) {
    return ToGrpc(absl::PermissionDeniedError(absl::StrCat(
        "host_certificate (serial ", current->serial,
        ") is revoked, or its key is: a revoked host certificate is not "
        "renewed",
        enrol_again)));
  }
  // Only what the gateway's latest enrolment certified, as its newest
  // certificate says: an enrolment again (fewer names, a new key) must not
  // be undone by the old certificate, expired or not. The newest's copy
  // is renewed too, for an answer that was lost.
  absl::StatusOr<std::optional<storage::IssuedCertificate>> newest =
      NewestHostCertificate(peer.name);
  if (!newest.ok()) {
    return ToGrpc(absl::UnavailableError(
        "cannot read the gateway's host certificates; refusing"));
  }
  if (!newest->has_value() ||
      ((*newest)->serial != current->serial &&
       ((*newest)->public_key_fingerprint != current->KeyFingerprint() ||
        (*newest)->principals != current->principals))) {
    return ToGrpc(absl::PermissionDeniedError(absl::StrCat(
        "host_certificate (serial ", current->serial,
        ") was replaced by a later enrolment or renewal",
        newest->has_value()
            ? absl::StrCat(" (serial ", (*newest)->serial,
                           ", for another key or other principals)")
            : "",
        enrol_again)));
  }
  if ((*newest)->serial != current->serial) {
    revoked = ctx_.store->IsRevoked((*newest)->serial,
                                    (*newest)->public_key_fingerprint);
    if (!revoked.ok()) {
      return ToGrpc(
          absl::UnavailableError("cannot check revocation; refusing"));
    }
    if (*revoked) {
      return ToGrpc(absl::PermissionDeniedError(absl::StrCat(
          "the gateway's newest host certificate (serial ", (*newest)->serial,
          ") is revoked: an older one is not renewed", enrol_again)));
    }
  }
  const std::string actor = GatewayActor(peer.name);
  absl::StatusOr<ssh::cert::Certificate> renewed =
      ctx_.issuer->IssueHostCertificateForNames(
          current->principals, peer.name, current->key,
          settings_.host_certificate_ttl, actor, "renew-gateway",
          GatewayCertificateUser(peer.name));
  if (!renewed.ok()) return ToGrpc(renewed.status());
  FillIssued(*renewed, response->mutable_host_certificate());
  spdlog::info(
      "gateway host certificate renewed: name={} principals={} serial={}",
      peer.name, absl::StrJoin(renewed->principals, ","), renewed->serial);
  return grpc::Status::OK;
}

}  // namespace sallyport::ca
