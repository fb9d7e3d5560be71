#include "ca/presented_cert.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace sallyport::ca {

absl::StatusOr<PresentedUserCertificate> VerifyPresentedUserCertificate(
    std::string_view line, std::string_view login, CaKeyring& keyring,
    storage::Store& store, absl::Time now) {
  if (line.empty() || line.size() > kMaxUserCertificateBytes) {
    return absl::InvalidArgumentError("user_certificate: missing or too long");
  }
  absl::StatusOr<ssh::cert::Certificate> cert =
      ssh::cert::Certificate::FromLine(line);
  if (!cert.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("user_certificate: ", cert.status().message()));
  }
  PresentedUserCertificate out;
  out.user = cert->key_id;

  absl::StatusOr<std::vector<CaKeyring::TrustedKey>> trusted =
      keyring.TrustedKeys(storage::CaKeyPurpose::kUser);
  if (!trusted.ok()) {
    return absl::UnavailableError("cannot read the user CA keys; refusing");
  }
  ssh::cert::VerifyOptions options;
  for (const CaKeyring::TrustedKey& k : *trusted) {
    absl::StatusOr<ssh::crypto::PublicKey> key =
        ssh::crypto::PublicKey::FromAuthorizedKeysLine(k.public_key);
    if (!key.ok()) return absl::InternalError("unreadable user CA key");
    options.trusted_cas.push_back(*std::move(key));
  }
  options.expected_type = ssh::cert::CertType::kUser;
  options.principal = std::string(login);
  options.now = now;
  // Revocation is asked separately below, so that a revoked certificate is
  // reported as such (the gateway drops its sessions) rather than as an
  // anonymous refusal.
  absl::StatusOr<ssh::cert::CertificatePermissions> permissions =
      ssh::cert::VerifyCertificate(*cert, options);
  if (permissions.ok()) {
    out.permissions = *std::move(permissions);
  } else {
    out.refusal = permissions.status();
  }
  if (out.refusal.code() != absl::StatusCode::kUnauthenticated &&
      out.refusal.code() != absl::StatusCode::kInvalidArgument) {
    // Only for certificates our CA signed: the serial is ours.
    absl::StatusOr<bool> revoked =
        store.IsRevoked(cert->serial, cert->KeyFingerprint());
    if (!revoked.ok()) {
      return absl::UnavailableError("cannot check revocation; refusing");
    }
    if (*revoked) {
      out.revoked = true;
      if (out.refusal.ok()) {
        out.refusal = absl::PermissionDeniedError(
            absl::StrCat(ssh::cert::DescribeForLog(*cert), " is revoked"));
      }
    }
  }
  out.certificate = *std::move(cert);
  return out;
}

}  // namespace sallyport::ca
