// CaKeyring: the CA's signing keys (user CA and host CA, Ed25519, in
// files of mode 0600; DESIGN.md §5), the optional session CA key, and
// their public history in the Store.
//
// The session CA key, when configured (ca.yaml keys.session_ca), signs the
// gateway's per-session certificates instead of the user CA key. Hosts that
// trust only it (TrustedUserCAKeys) accept session certificates, which the
// CA issues to a gateway for one RBAC-checked session, and refuse users'
// own 8-hour certificates: reaching a host directly no longer bypasses the
// gateway. Without it the user CA key signs both (the default).
//
// At start each key file is registered in the Store: a key the Store does
// not know becomes the active key of its purpose (retiring the previous
// one); a key the Store has retired is refused. Rotation writes a new key
// file, makes it active in the Store and keeps the old file as
// "<path>.<unix-time>.retired". Retired public keys stay trusted until the
// last certificate they can have signed has expired (retired_at + the
// longest validity of that purpose).
//
// LIMITATION: with several CA instances on one database, a rotation on one
// instance does not replace the key files of the others; copy the new key
// file and restart them.
#ifndef SALLYPORT_CA_CA_KEYS_H_
#define SALLYPORT_CA_CA_KEYS_H_

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "ssh/cert/certificate.h"
#include "ssh/cert/sign.h"
#include "ssh/crypto/keys.h"
#include "storage/store.h"

namespace sallyport::ca {

class CaKeyring {
 public:
  struct Options {
    std::string user_key_path;
    std::string host_key_path;
    std::string session_key_path;  // optional: empty = no session CA key
    storage::Store* store = nullptr;
    base::Clock* clock = base::Clock::Real();
    // How long a retired key stays trusted: the longest certificate
    // validity of its purpose.
    absl::Duration user_trust_window = absl::Hours(8);
    absl::Duration host_trust_window = absl::Hours(720);
    absl::Duration session_trust_window = absl::Hours(8);
  };

  // Loads the key files (Ed25519 or ECDSA P-256; all different keys) and
  // registers them.
  // kFailedPrecondition when a file cannot be read or holds a retired key;
  // kInvalidArgument when it is not a private key; store errors pass
  // through.
  static absl::StatusOr<std::unique_ptr<CaKeyring>> Create(Options options);

  // Whether a key of `purpose` is loaded (user and host always are).
  bool Has(storage::CaKeyPurpose purpose) ABSL_LOCKS_EXCLUDED(mu_);
  // The purpose whose key signs session certificates: kSession when a
  // session CA key is configured, else kUser.
  storage::CaKeyPurpose SessionSigner() ABSL_LOCKS_EXCLUDED(mu_);

  // Signs `request` with the active key of `purpose` (kFailedPrecondition
  // for a purpose without a key).
  absl::StatusOr<ssh::cert::Certificate> Sign(
      storage::CaKeyPurpose purpose,
      const ssh::cert::CertificateRequest& request) ABSL_LOCKS_EXCLUDED(mu_);

  struct TrustedKey {
    std::string public_key;   // OpenSSH line
    std::string fingerprint;  // SHA256:...
    bool active = false;
  };
  // The active key first, then retired keys still inside their trust window.
  // Without a key of `purpose` loaded (no session CA key configured): the
  // store's keys of that purpose inside their window.
  // The store's key list is read at most once per kKeyListTtl (every
  // issuance asks): a key another instance rotated in is trusted here up to
  // kKeyListTtl later, and a retired key stays trusted for hours anyway, so
  // this never trusts a key longer than its window. Rotate here refreshes
  // at once.
  absl::StatusOr<std::vector<TrustedKey>> TrustedKeys(
      storage::CaKeyPurpose purpose) ABSL_LOCKS_EXCLUDED(mu_, list_mu_);
  static constexpr absl::Duration kKeyListTtl = absl::Seconds(1);

  // Replaces the signing key of `purpose` (see the file comment);
  // kFailedPrecondition for a purpose without a key.
  absl::StatusOr<storage::CaKey> Rotate(storage::CaKeyPurpose purpose)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The active key's public part (purpose must have a key: Has).
  ssh::crypto::PublicKey ActivePublicKey(storage::CaKeyPurpose purpose)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  static constexpr size_t kPurposes = 3;  // storage::CaKeyPurpose's values
  using Key = std::shared_ptr<ssh::crypto::PrivateKey>;
  CaKeyring(Options options, std::array<Key, kPurposes> keys)
      : options_(std::move(options)), keys_(std::move(keys)) {}
  Key Active(storage::CaKeyPurpose p) ABSL_LOCKS_EXCLUDED(mu_);
  static const std::string& PathOf(const Options& options,
                                   storage::CaKeyPurpose p);
  absl::Duration WindowOf(storage::CaKeyPurpose p) const;

  const Options options_;
  absl::Mutex rotate_mu_;  // one rotation at a time
  absl::Mutex mu_;
  // Indexed by purpose; null: no key of that purpose.
  std::array<Key, kPurposes> keys_ ABSL_GUARDED_BY(mu_);

  // The store's key lists (ListCaKeys) per purpose and when they were read.
  struct KeyList {
    std::vector<storage::CaKey> keys;
    absl::Time read_at = absl::InfinitePast();
  };
  absl::StatusOr<std::vector<storage::CaKey>> StoredKeys(
      storage::CaKeyPurpose purpose) ABSL_LOCKS_EXCLUDED(list_mu_);
  absl::Mutex list_mu_;
  std::array<KeyList, kPurposes> lists_ ABSL_GUARDED_BY(list_mu_);
};

// Registers `key` as the active key of `purpose` in `store` unless it is
// already (see CaKeyring). Used by Create and by `sallyport-ca init`.
absl::Status RegisterCaKey(storage::Store* store, storage::CaKeyPurpose purpose,
                           const ssh::crypto::PublicKey& key);

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_CA_KEYS_H_
