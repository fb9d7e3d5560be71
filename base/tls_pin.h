// Pinning the CA's TLS certificate (DESIGN.md §5 "gRPC security"): clients
// of the CA (`sp login`, `sallyport-gateway enroll`) fetch the certificate
// the CA presents with a plain TLS handshake (no verification: they are
// about to decide whether to trust it), compare its fingerprint with the
// expected one and pin it. Also the fresh TLS client key such a client
// sends the CA to certify.
#ifndef SALLYPORT_BASE_TLS_PIN_H_
#define SALLYPORT_BASE_TLS_PIN_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/host_port.h"
#include "base/secret_bytes.h"

namespace sallyport::base {

struct ServerCertificate {
  std::string pem;
  std::string fingerprint;  // "SHA256:" + unpadded base64 of SHA-256(DER)
};

// Connects to `address` (TCP, then a TLS handshake with SNI `sni`) and
// returns the certificate the server presented. kUnavailable when the
// server cannot be reached or the handshake fails; kDeadlineExceeded on
// timeout.
absl::StatusOr<ServerCertificate> FetchServerCertificate(
    const HostPort& address, std::string_view sni,
    absl::Duration timeout = absl::Seconds(10));

// The fingerprint of the first certificate in `pem`. kInvalidArgument when
// it does not parse.
absl::StatusOr<std::string> PemFingerprint(std::string_view pem);

// The 32 digest bytes of a fingerprint written as "SHA256:<base64>",
// "<base64>", or 64 hex digits with or without ':' separators (as
// `openssl x509 -fingerprint -sha256` prints). kInvalidArgument otherwise.
absl::StatusOr<std::vector<uint8_t>> ParseFingerprint(std::string_view text);

// True when both parse and name the same digest.
bool SameFingerprint(std::string_view a, std::string_view b);

// A fresh ECDSA P-256 key for a TLS client certificate: the DER
// SubjectPublicKeyInfo to send and the PKCS#8 PEM private key to keep
// (mode 0600). kInternal when OpenSSL fails.
struct TlsClientKey {
  std::string public_der;
  SecretBytes private_pem;
};
absl::StatusOr<TlsClientKey> GenerateTlsClientKey();

// The DER SubjectPublicKeyInfo of the private key in `private_pem`.
// kInvalidArgument when it does not parse.
absl::StatusOr<std::string> PublicDerOfPrivatePem(std::string_view private_pem);

// The DER SubjectPublicKeyInfo of the key the first certificate in
// `certificate_pem` certifies: equal to PublicDerOfPrivatePem of a private
// key exactly when the certificate is for that key. kInvalidArgument when
// it does not parse.
absl::StatusOr<std::string> PublicDerOfCertificatePem(
    std::string_view certificate_pem);

}  // namespace sallyport::base

#endif  // SALLYPORT_BASE_TLS_PIN_H_
