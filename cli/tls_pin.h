// Pinning the CA's TLS certificate (DESIGN.md §5 "gRPC security"): `sp
// login` fetches the certificate the CA presents, shows its fingerprint,
// and pins it. Later logins compare against the pin and refuse loudly when
// it changed. The fetching and fingerprint code lives in //base:tls_pin
// (shared with `sallyport-gateway enroll`).
#ifndef SALLYPORT_CLI_TLS_PIN_H_
#define SALLYPORT_CLI_TLS_PIN_H_

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/host_port.h"
#include "base/tls_pin.h"
#include "cli/sp_home.h"

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

// "y"/"yes" → true, "n"/"no" → false (any case, surrounding blanks
// ignored); nullopt for anything else.
std::optional<bool> ParseYesNo(std::string_view answer);
// Asks with `ask` until the answer is yes or no (at most 5 times); an
// error from `ask` (no terminal, end of input) is returned.
absl::StatusOr<bool> AskYesNo(
    const std::function<absl::StatusOr<std::string>()>& ask, std::ostream& out);

// The CA certificate `sp login` may trust (TrustCa).
struct TrustedCa {
  std::string pem;
  // Not pinned yet (first contact): the caller pins `pem` in
  // SpHome::ca_pem() once the login worked (PinCa).
  bool first_contact = false;
};

// `sp login`'s decision to trust the CA at `cas` (`ca_text` as the user
// wrote it, for messages): fetches the TLS certificate the first address
// that answers presents (the instances of an HA setup share their TLS
// material) and checks it against the pin in `home` and, when `expected`
// (a --ca-fingerprint ParseFingerprint accepts) is not empty, against
// `expected` too, pin or no pin. On first contact without `expected` the
// user confirms the fingerprint on the terminal. Writes nothing. On
// failure it has printed why to `err`: kUnavailable no address answered,
// kPermissionDenied the certificate is not the pinned or the expected one
// (a pin is never replaced), kCancelled the user did not trust it; other
// codes for no terminal or an unreadable pin.
absl::StatusOr<TrustedCa> TrustCa(const SpHome& home,
                                  const std::vector<HostPort>& cas,
                                  const std::string& ca_text,
                                  const std::string& expected,
                                  std::ostream& out, std::ostream& err);
// Pins a first contact's certificate (TrustedCa::first_contact) and says
// so on `out`; nothing for one pinned already. The error of writing the
// pin, if any.
absl::Status PinCa(const SpHome& home, const TrustedCa& ca, std::ostream& out);

}  // namespace sallyport::cli

#endif  // SALLYPORT_CLI_TLS_PIN_H_
