#include "ca/presented_cert.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace sallyport::ca {

std::optional<VerifiedUserCertificates::Entry> VerifiedUserCertificates::Find(
    const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void VerifiedUserCertificates::Remember(std::string key, Entry entry) {
  absl::MutexLock lock(&mu_);
  if (entries_.size() >= kMaxEntries) entries_.clear();
  entries_.insert_or_assign(std::move(key), std::move(entry));
}

size_t VerifiedUserCertificates::size() {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

namespace {

// ssh::cert::VerifyCertificate's validity rule: valid_after <= now (whole
// seconds) < valid_before.
bool ValidAt(const ssh::cert::Certificate& cert, absl::Time now) {
  const int64_t secs = absl::ToUnixSeconds(now);
  return secs >= 0 && static_cast<uint64_t>(secs) >= cert.valid_after &&
         static_cast<uint64_t>(secs) < cert.valid_before;
}

}  // namespace

absl::StatusOr<PresentedUserCertificate> VerifyPresentedUserCertificate(
    std::string_view line, std::string_view login, CaKeyring& keyring,
    storage::Store& store, absl::Time now, VerifiedUserCertificates* memory) {
  ASSIGN_OR_RETURN(
      PresentedUserCertificate out,
      VerifyPresentedUserCertificateOnly(line, login, keyring, now, memory));
  if (NeedsRevocationCheck(out)) {
    const ssh::cert::Certificate& cert = *out.certificate;
    absl::StatusOr<bool> revoked =
        store.IsRevoked(cert.serial, cert.KeyFingerprint());
    if (!revoked.ok()) {
      return absl::UnavailableError("cannot check revocation; refusing");
    }
    ApplyRevocation(out, *revoked);
  }
  return out;
}

bool NeedsRevocationCheck(const PresentedUserCertificate& presented) {
  // Only for certificates our CA signed: the serial is ours.
  return presented.certificate.has_value() &&
         presented.refusal.code() != absl::StatusCode::kUnauthenticated &&
         presented.refusal.code() != absl::StatusCode::kInvalidArgument;
}

void ApplyRevocation(PresentedUserCertificate& presented, bool revoked) {
  if (!revoked) return;
  presented.revoked = true;
  if (presented.refusal.ok()) {
    presented.refusal = absl::PermissionDeniedError(absl::StrCat(
        ssh::cert::DescribeForLog(*presented.certificate), " is revoked"));
  }
}

absl::StatusOr<PresentedUserCertificate> VerifyPresentedUserCertificateOnly(
    std::string_view line, std::string_view login, CaKeyring& keyring,
    absl::Time now, VerifiedUserCertificates* memory) {
  if (line.empty() || line.size() > kMaxUserCertificateBytes) {
    return absl::InvalidArgumentError("user_certificate: missing or too long");
  }
  absl::StatusOr<std::vector<CaKeyring::TrustedKey>> trusted =
      keyring.TrustedKeys(storage::CaKeyPurpose::kUser);
  if (!trusted.ok()) {
    return absl::UnavailableError("cannot read the user CA keys; refusing");
  }
  std::string memory_key;
  std::optional<VerifiedUserCertificates::Entry> known;
  if (memory != nullptr) {
    // Length-prefixed, so that no two (login, keys, line) share a key.
    memory_key = absl::StrCat(login.size(), ":", std::string(login));
    for (const CaKeyring::TrustedKey& k : *trusted) {
      absl::StrAppend(&memory_key, k.public_key.size(), ":", k.public_key);
    }
    memory_key.append(absl::StrCat(line.size(), ":")).append(line);
    known = memory->Find(memory_key);
    if (known.has_value() && !ValidAt(known->certificate, now)) {
      known.reset();  // checked in full below, for the refusal's reason
    }
  }
  absl::StatusOr<ssh::cert::Certificate> cert =
      known.has_value() ? absl::StatusOr<ssh::cert::Certificate>(
                              std::move(known->certificate))
                        : ssh::cert::Certificate::FromLine(line);
  if (!cert.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("user_certificate: ", cert.status().message()));
  }
  PresentedUserCertificate out;
  out.user = cert->key_id;
  if (known.has_value()) {
    out.permissions = std::move(known->permissions);
  } else {
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
    // Revocation is asked separately (ApplyRevocation), so that a revoked
    // certificate is reported as such (the gateway drops its sessions) rather
    // than as an anonymous refusal.
    absl::StatusOr<ssh::cert::CertificatePermissions> permissions =
        ssh::cert::VerifyCertificate(*cert, options);
    if (permissions.ok()) {
      out.permissions = *std::move(permissions);
      if (memory != nullptr) {
        memory->Remember(std::move(memory_key), {*cert, out.permissions});
      }
    } else {
      out.refusal = permissions.status();
    }
  }
  out.certificate = *std::move(cert);
  return out;
}

}  // namespace sallyport::ca
