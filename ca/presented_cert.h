// Verifying a user certificate that a gateway forwards to the CA
// (AuthorizeChannel, IssueSessionCertificate): the CA checks it itself
// rather than trusting the gateway's check (defence in depth, DESIGN.md §5).
#ifndef SALLYPORT_CA_PRESENTED_CERT_H_
#define SALLYPORT_CA_PRESENTED_CERT_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ca/ca_keys.h"
#include "ssh/cert/certificate.h"
#include "ssh/cert/verify.h"
#include "storage/store.h"

namespace sallyport::ca {

// A "-cert.pub" line is at most this long (an Ed25519 or P-256 certificate
// with 256 principals fits well within it).
inline constexpr size_t kMaxUserCertificateBytes = 64 * 1024;

struct PresentedUserCertificate {
  // Set when the line parsed.
  std::optional<ssh::cert::Certificate> certificate;
  // The user named by the key id (set when it parsed).
  std::string user;
  // OK when the certificate may be used; otherwise why not
  // (kPermissionDenied / kUnauthenticated, the message names the key id,
  // serial and CA fingerprint).
  absl::Status refusal;
  // The certificate's serial or key is revoked.
  bool revoked = false;
  // What the certificate permits (when refusal is OK).
  ssh::cert::CertificatePermissions permissions;
};

// Certificates that verified, so that a gateway's repeated calls with one
// user certificate (every channel and every session of a user) skip parsing
// it and checking its signature. Keyed by everything the outcome depends on
// but the time: the exact line, the login and the trusted CA keys; validity
// and revocation are checked on every call. Thread-safe; at most
// kMaxEntries (emptied when full).
class VerifiedUserCertificates {
 public:
  static constexpr size_t kMaxEntries = 1024;
  struct Entry {
    ssh::cert::Certificate certificate;
    ssh::cert::CertificatePermissions permissions;
  };
  std::optional<Entry> Find(const std::string& key) ABSL_LOCKS_EXCLUDED(mu_);
  void Remember(std::string key, Entry entry) ABSL_LOCKS_EXCLUDED(mu_);
  size_t size() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

// Parses `line` and checks it in OpenSSH's order: signed by one of our
// trusted user CA keys (active or retired), type user, signature, validity
// at `now`, `login` among its principals, critical options (a
// source-address option is refused: the user's address is the gateway's
// business, not the CA's), then revocation of its serial and key. A
// malformed line is kInvalidArgument (the only error besides kUnavailable
// for a store or keyring failure); every other failure is reported in
// `refusal`. With `memory`, a certificate that verified before for the same
// login and CA keys is not parsed or checked again but for its validity.
absl::StatusOr<PresentedUserCertificate> VerifyPresentedUserCertificate(
    std::string_view line, std::string_view login, CaKeyring& keyring,
    storage::Store& store, absl::Time now,
    VerifiedUserCertificates* memory = nullptr);

// The same in two halves, for a caller that reads the revocation with its
// other store reads (Store::ReadForIssuance): everything but revocation,
// then, when NeedsRevocationCheck, ApplyRevocation with the answer for
// (certificate->serial, certificate->KeyFingerprint()).
absl::StatusOr<PresentedUserCertificate> VerifyPresentedUserCertificateOnly(
    std::string_view line, std::string_view login, CaKeyring& keyring,
    absl::Time now, VerifiedUserCertificates* memory = nullptr);
bool NeedsRevocationCheck(const PresentedUserCertificate& presented);
void ApplyRevocation(PresentedUserCertificate& presented, bool revoked);

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_PRESENTED_CERT_H_
