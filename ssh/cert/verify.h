// Deciding whether a parsed certificate may be used (OpenSSH
// auth2-pubkey.c user_cert_trusted_ca, auth-options.c, sshkey.c
// sshkey_cert_check_authority).
#ifndef SALLYPORT_SSH_CERT_VERIFY_H_
#define SALLYPORT_SSH_CERT_VERIFY_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ssh/cert/certificate.h"
#include "ssh/crypto/keys.h"

namespace sallyport::ssh::cert {

// Asked about every certificate that passed all other checks. Any non-OK
// status (revoked, or the revocation list could not be consulted) refuses
// the certificate: revocation fails closed.
using RevocationCheck = std::function<absl::Status(const Certificate&)>;

struct VerifyOptions {
  // CA public keys. A certificate is trusted only if its signature key blob
  // equals the full blob of one of these keys.
  std::vector<crypto::PublicKey> trusted_cas;
  // kUser for user authentication, kHost for host authentication.
  CertType expected_type = CertType::kUser;
  // The login name (user certs) or host name (host certs) to authorise.
  // Matched exactly against each principal: no wildcards, no splitting on
  // commas. An empty name or one containing ',' never matches.
  std::string principal;
  // The current time (from a base::Clock).
  absl::Time now = absl::UnixEpoch();
  // The real TCP peer address ("192.0.2.1", "2001:db8::1"), checked against
  // a source-address critical option. A certificate carrying that option is
  // refused when this is unset.
  std::optional<std::string> source_address;
  // Optional; see RevocationCheck.
  RevocationCheck revocation_check;
  // OpenSSH before 10.3 treated an empty principal list as "any principal".
  // We refuse such certificates unless this is set.
  bool allow_empty_principals = false;
};

// What a verified user certificate permits. Extensions that are absent
// deny; unknown extensions are ignored and listed in other_extensions.
struct CertificatePermissions {
  bool permit_pty = false;
  bool permit_port_forwarding = false;
  bool permit_agent_forwarding = false;
  bool permit_x11_forwarding = false;
  bool permit_user_rc = false;
  // The force-command critical option.
  std::optional<std::string> force_command;
  // The source-address critical option (already checked).
  std::optional<std::string> source_address;
  // The verify-required critical option (FIDO user verification).
  bool verify_required = false;
  // Extensions we do not interpret, in certificate order.
  std::vector<CertOption> other_extensions;
};

// Checks `cert` in this fixed order (CONVENTIONS.md):
//   1. trusted CA: signature_key_blob equals a trusted CA's full blob,
//   2. type equals expected_type,
//   3. signature: the trusted CA key verifies `signature` over SignedData()
//      with an allowed algorithm (never ssh-rsa),
//   4. validity: valid_after <= now < valid_before (whole seconds),
//   5. principal: options.principal is listed exactly; an empty list is
//      refused unless allow_empty_principals,
//   6. critical options: force-command (a non-empty command),
//      source-address (the peer must match), verify-required (a flag);
//      anything else refuses; a host certificate with any critical option
//      is refused,
//   7. extensions: the known permit-* flags must be empty; others are kept,
// then the revocation check. Errors: kInvalidArgument if the fields no
// longer encode to `blob`; kUnauthenticated for an untrusted CA or a bad
// signature; kPermissionDenied for type, validity, principal, options,
// extensions, source address and revocation. Every message names the key
// id, serial and CA fingerprint, for the refusal log.
absl::StatusOr<CertificatePermissions> VerifyCertificate(
    const Certificate& cert, const VerifyOptions& options);

// "certificate \"<key id>\" serial <n> CA <fingerprint>", with the key id
// C-escaped: the prefix of every refusal message.
std::string DescribeForLog(const Certificate& cert);

}  // namespace sallyport::ssh::cert

#endif  // SALLYPORT_SSH_CERT_VERIFY_H_
