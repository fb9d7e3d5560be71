// X.509 material for the CA's gRPC endpoint (DESIGN.md §5 "gRPC security"),
// built with OpenSSL's X509 APIs:
// - a self-signed server certificate (clients pin its SHA-256 fingerprint);
// - an internal TLS CA that issues short-lived client certificates: the
//   subject CN is the user (or gateway) name and the OU marks the kind of
//   identity ("user" or "gateway"); the serial equals the SSH certificate's,
//   so revoking one revokes both.
#ifndef SALLYPORT_CA_TLS_MATERIAL_H_
#define SALLYPORT_CA_TLS_MATERIAL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/openssl_handles.h"
#include "base/secret_bytes.h"

namespace sallyport::ca {

// OU values of client certificates.
inline constexpr std::string_view kIdentityUser = "user";
inline constexpr std::string_view kIdentityGateway = "gateway";
// O of every certificate we issue.
inline constexpr std::string_view kOrganization = "Sallyport";
// The DNS name in the server certificate that clients check (with a target
// name override) after pinning the certificate itself.
inline constexpr std::string_view kServerTlsName = "sallyport-ca";

// A new ECDSA P-256 key.
absl::StatusOr<base::EvpPkeyPtr> GenerateTlsKey();

// PKCS#8 PEM (unencrypted) of a private key.
absl::StatusOr<base::SecretBytes> PrivateKeyToPem(EVP_PKEY* key);
absl::StatusOr<base::EvpPkeyPtr> PrivateKeyFromPem(std::string_view pem);
// DER SubjectPublicKeyInfo of a key's public part, and back. FromDer accepts
// only ECDSA P-256 and Ed25519 keys in their canonical DER encoding, with no
// trailing bytes (kInvalidArgument otherwise).
absl::StatusOr<std::string> PublicKeyToDer(EVP_PKEY* key);
absl::StatusOr<base::EvpPkeyPtr> PublicKeyFromDer(std::string_view der);

absl::StatusOr<std::string> CertificateToPem(X509* cert);
// The first certificate in `pem`. kInvalidArgument when there is none.
absl::StatusOr<base::X509Ptr> CertificateFromPem(std::string_view pem);
// "SHA256:" + unpadded base64 of SHA-256(DER), like ssh-keygen -l.
absl::StatusOr<std::string> CertificateFingerprint(X509* cert);
// "SHA256:" + unpadded base64 of SHA-256 of `der` (a DER public key, as a
// gateway's certificate record names the key it certifies).
std::string DerFingerprint(std::string_view der);

struct CertificateSpec {
  std::string common_name;
  std::string organizational_unit;  // empty = none
  uint64_t serial = 0;              // > 0
  absl::Time not_before;
  absl::Time not_after;
  bool is_ca = false;                  // basicConstraints CA:TRUE, keyCertSign
  bool server = false;                 // extendedKeyUsage serverAuth
  bool client = false;                 // extendedKeyUsage clientAuth
  std::vector<std::string> dns_names;  // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries
};

// Issues a certificate for `subject_key` (public part used) signed by
// `issuer_key`; `issuer_cert` null means self-signed (issuer = subject).
// SHA-256 for ECDSA issuers, none for Ed25519. kInvalidArgument for a bad
// spec (empty CN, serial 0, not_after <= not_before, an unparsable IP).
absl::StatusOr<base::X509Ptr> IssueCertificate(const CertificateSpec& spec,
                                               EVP_PKEY* subject_key,
                                               X509* issuer_cert,
                                               EVP_PKEY* issuer_key);

// What the CA reads from a client certificate.
struct CertificateInfo {
  std::string common_name;
  std::string organizational_unit;
  uint64_t serial = 0;
  absl::Time not_before;
  absl::Time not_after;
};

// Extracts subject CN/OU (each exactly one, UTF-8 without NUL), the serial
// (must fit 63 bits) and validity. kInvalidArgument otherwise.
absl::StatusOr<CertificateInfo> InspectCertificate(X509* cert);

// kUnauthenticated unless `cert` is signed by `ca_cert`'s key, names it as
// issuer and is valid at `now`.
absl::Status VerifyIssuedBy(X509* cert, X509* ca_cert, absl::Time now);

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_TLS_MATERIAL_H_
