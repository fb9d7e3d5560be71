// Pinning the CA's TLS certificate (DESIGN.md §5 "gRPC security"): `sp
// login` fetches the certificate the CA presents, shows its fingerprint,
// and pins it. Later logins compare against the pin and refuse loudly when
// it changed. The fetching and fingerprint code lives in //base:tls_pin
// (shared with `sallyport-gateway enroll`).
#ifndef SALLYPORT_CLI_TLS_PIN_H_
#define SALLYPORT_CLI_TLS_PIN_H_

#include <string>
#include <string_view>

#include "base/host_port.h"
#include "base/tls_pin.h"

namespace sallyport::cli {

using base::FetchServerCertificate;
using base::HostPort;
using base::ParseFingerprint;
using base::ParseHostPort;
using base::PemFingerprint;
using base::SameFingerprint;
using base::ServerCertificate;

// The loud warning for a changed CA certificate, in the style of OpenSSH's
// "REMOTE HOST IDENTIFICATION HAS CHANGED!".
std::string ChangedCertificateWarning(std::string_view ca,
                                      std::string_view pinned_fingerprint,
                                      std::string_view presented_fingerprint,
                                      std::string_view pin_path);

}  // namespace sallyport::cli

#endif  // SALLYPORT_CLI_TLS_PIN_H_
