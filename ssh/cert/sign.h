// Issuing certificates with a CA private key (Ed25519 or ECDSA P-256).
#ifndef SALLYPORT_SSH_CERT_SIGN_H_
#define SALLYPORT_SSH_CERT_SIGN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ssh/cert/certificate.h"
#include "ssh/crypto/keys.h"

namespace sallyport::ssh::cert {

// What to certify. We are stricter on what we issue than on what we
// accept, so that everything we sign passes our own VerifyCertificate.
struct CertificateRequest {
  // The key to certify (required).
  std::optional<crypto::PublicKey> public_key;
  uint64_t serial = 0;
  CertType type = CertType::kUser;
  // Shows up in every log line about the certificate (required).
  std::string key_id;
  // Login names (user) or host names (host): 1 to kMaxPrincipals, unique.
  std::vector<std::string> principals;
  // Seconds since the epoch; valid_after < valid_before. kForever for no end.
  uint64_t valid_after = 0;
  uint64_t valid_before = 0;
  // Written sorted by name whatever the order here; names must be unique.
  std::vector<CertOption> critical_options;
  std::vector<CertOption> extensions;

  // kInvalidArgument unless: public_key is set; type is user or host;
  // key_id is non-empty, at most 1024 bytes, without control characters;
  // there are 1..kMaxPrincipals principals, each non-empty, unique, without
  // control characters or ','; valid_after < valid_before; option and
  // extension names are non-empty, unique and without control characters;
  // critical options are only force-command (a non-empty command without
  // control characters other than tab), source-address (a list that
  // ParseSourceAddressList accepts) and verify-required (a flag), and a
  // host certificate has none; the permit-* extensions are flags; other
  // extensions carry empty data or exactly one string.
  absl::Status Validate() const;
};

// Validates `request` and issues the certificate: a fresh random 32-byte
// nonce, the request's fields with options and extensions sorted by name,
// an empty reserved field, signature_key = the CA's public blob and
// signature = ca.Sign(the bytes up to and including the signature key).
// Debug builds re-parse the result and re-verify its signature before
// returning it (release builds do not: see sign.cc). kInvalidArgument for a bad
// request; kInternal if signing fails.
absl::StatusOr<Certificate> SignCertificate(const CertificateRequest& request,
                                            const crypto::PrivateKey& ca);

}  // namespace sallyport::ssh::cert

#endif  // SALLYPORT_SSH_CERT_SIGN_H_
