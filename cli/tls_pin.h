// Pinning the CA's TLS certificate (DESIGN.md §5 "gRPC security"): `sp
// login` fetches the certificate the CA presents with a plain TLS handshake
// (no verification: we are about to decide whether to trust it), shows its
// fingerprint, and pins it. Later logins compare against the pin and refuse
// loudly when it changed.
#ifndef SALLYPORT_CLI_TLS_PIN_H_
#define SALLYPORT_CLI_TLS_PIN_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sallyport::cli {

struct HostPort {
  std::string host;  // without brackets
  uint16_t port = 0;
};
// "host:port", "1.2.3.4:port" or "[v6]:port". kInvalidArgument otherwise.
absl::StatusOr<HostPort> ParseHostPort(std::string_view text);

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

// The loud warning for a changed CA certificate, in the style of OpenSSH's
// "REMOTE HOST IDENTIFICATION HAS CHANGED!".
std::string ChangedCertificateWarning(std::string_view ca,
                                      std::string_view pinned_fingerprint,
                                      std::string_view presented_fingerprint,
                                      std::string_view pin_path);

}  // namespace sallyport::cli

#endif  // SALLYPORT_CLI_TLS_PIN_H_
