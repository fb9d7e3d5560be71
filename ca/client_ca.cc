#include "ca/client_ca.h"

#include <openssl/x509.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "base/secret_bytes.h"
#include "base/status_macros.h"
#include "ca/tls_material.h"

namespace sallyport::ca {
namespace {

absl::StatusOr<base::SecretBytes> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat("cannot read ", path));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  base::SecretBytes out = base::SecretBytes::FromString(text);
  OPENSSL_cleanse(text.data(), text.size());
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ClientCertificateAuthority>>
ClientCertificateAuthority::Load(const std::string& cert_path,
                                 const std::string& key_path) {
  ASSIGN_OR_RETURN(base::SecretBytes cert, ReadFile(cert_path));
  ASSIGN_OR_RETURN(base::SecretBytes key, ReadFile(key_path));
  return FromPem(cert.view(), key.view());
}

absl::StatusOr<std::unique_ptr<ClientCertificateAuthority>>
ClientCertificateAuthority::FromPem(std::string_view cert_pem,
                                    std::string_view key_pem) {
  std::unique_ptr<ClientCertificateAuthority> ca(
      new ClientCertificateAuthority());
  ASSIGN_OR_RETURN(ca->cert_, CertificateFromPem(cert_pem));
  ASSIGN_OR_RETURN(ca->key_, PrivateKeyFromPem(key_pem));
  if (X509_check_private_key(ca->cert_.get(), ca->key_.get()) != 1) {
    return absl::InvalidArgumentError(
        "client CA: the key does not match the certificate");
  }
  ASSIGN_OR_RETURN(ca->ca_pem_, CertificateToPem(ca->cert_.get()));
  return ca;
}

absl::StatusOr<std::string> ClientCertificateAuthority::Issue(
    ClientIdentity::Kind kind, std::string_view name, uint64_t serial,
    absl::Time not_before, absl::Time not_after,
    std::string_view tls_public_key_der) const {
  ASSIGN_OR_RETURN(base::EvpPkeyPtr pub, PublicKeyFromDer(tls_public_key_der));
  CertificateSpec spec;
  spec.common_name = std::string(name);
  spec.organizational_unit = std::string(
      kind == ClientIdentity::Kind::kUser ? kIdentityUser : kIdentityGateway);
  spec.serial = serial;
  spec.not_before = not_before;
  spec.not_after = not_after;
  spec.client = true;
  ASSIGN_OR_RETURN(base::X509Ptr cert,
                   IssueCertificate(spec, pub.get(), cert_.get(), key_.get()));
  return CertificateToPem(cert.get());
}

absl::StatusOr<ClientIdentity> ClientCertificateAuthority::Verify(
    std::string_view peer_pem, absl::Time now) const {
  {
    absl::MutexLock lock(&verified_mu_);
    auto it =
        verified_.find(absl::string_view(peer_pem.data(), peer_pem.size()));
    if (it != verified_.end()) {
      // The same check as VerifyIssuedBy's, on the remembered times.
      if (now < it->second.not_before || now >= it->second.id.not_after) {
        return absl::UnauthenticatedError("client certificate expired");
      }
      return it->second.id;
    }
  }
  ASSIGN_OR_RETURN(Verified verified, VerifyUncached(peer_pem, now));
  absl::MutexLock lock(&verified_mu_);
  if (verified_.size() >= kMaxVerifiedCertificates) verified_.clear();
  verified_.emplace(std::string(peer_pem), verified);
  return verified.id;
}

size_t ClientCertificateAuthority::VerifiedCountForTest() const {
  absl::MutexLock lock(&verified_mu_);
  return verified_.size();
}

absl::StatusOr<ClientCertificateAuthority::Verified>
ClientCertificateAuthority::VerifyUncached(std::string_view peer_pem,
                                           absl::Time now) const {
  absl::StatusOr<base::X509Ptr> cert = CertificateFromPem(peer_pem);
  if (!cert.ok()) {
    return absl::UnauthenticatedError("unreadable client certificate");
  }
  RETURN_IF_ERROR(VerifyIssuedBy(cert->get(), cert_.get(), now));
  absl::StatusOr<CertificateInfo> info = InspectCertificate(cert->get());
  if (!info.ok()) return absl::UnauthenticatedError(info.status().message());
  Verified out;
  ClientIdentity& id = out.id;
  if (info->organizational_unit == kIdentityUser) {
    id.kind = ClientIdentity::Kind::kUser;
  } else if (info->organizational_unit == kIdentityGateway) {
    id.kind = ClientIdentity::Kind::kGateway;
  } else {
    return absl::UnauthenticatedError("client certificate of unknown kind");
  }
  id.name = info->common_name;
  id.serial = info->serial;
  id.not_after = info->not_after;
  out.not_before = info->not_before;
  return out;
}

}  // namespace sallyport::ca
