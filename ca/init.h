// `sallyport-ca init`: creates a CA's state directory (DESIGN.md §5):
//   user_ca, host_ca           Ed25519 CA keys (openssh-key-v1, 0600) + .pub
//   client_ca.key/.crt         internal TLS CA for client certificates (0600)
//   tls.key/.crt               self-signed TLS certificate of the endpoint
//   ca.db                      the SQLite store (unless another store is given)
//   ca.yaml                    the config file pointing at all of them
// and in the store: both CA public keys, the "admin" role, a "login" role
// with the admin's name as login, and the first admin user bound to both.
#ifndef SALLYPORT_CA_INIT_H_
#define SALLYPORT_CA_INIT_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "base/secret_bytes.h"
#include "ca/password_hash.h"
#include "storage/store.h"

namespace sallyport::ca {

struct InitOptions {
  std::string state_dir;  // absolute
  std::string admin = "admin";
  // Generated (and returned) when unset.
  std::optional<base::SecretBytes> admin_password;
  std::string store_url;  // written to ca.yaml
  std::string listen = "127.0.0.1:7443";
  ScryptParams scrypt;
  // Also write a session CA key (ca.yaml keys.session_ca): it signs the
  // gateway's session certificates instead of the user CA key.
  bool session_ca = false;
  base::Clock* clock = base::Clock::Real();
};

struct InitResult {
  std::string config_path;
  std::string tls_fingerprint;  // "SHA256:..." of the endpoint certificate
  std::string user_ca_public_key;
  std::string host_ca_public_key;
  std::string session_ca_public_key;  // empty without options.session_ca
  std::string admin;
  base::SecretBytes admin_password;
  bool password_generated = false;
};

// "sqlite://" + state_dir + "/ca.db".
std::string DefaultStoreUrl(const std::string& state_dir);

// Creates `state_dir` (mode 0700) if missing. kFailedPrecondition when it
// already holds a CA (ca.yaml or a CA key) or cannot be created.
absl::Status PrepareStateDir(const std::string& state_dir);

// Writes the keys, certificates and ca.yaml and fills `store` (already
// open, normally at options.store_url). kFailedPrecondition when the store
// already has the admin user; kInvalidArgument for a bad admin name or an
// empty password.
absl::StatusOr<InitResult> InitializeCa(const InitOptions& options,
                                        storage::Store* store);

// `sallyport-ca unlock USER` on the CA host (no network): clears the user's
// failure count and ends every lockout of the user, at every source,
// including those a running CA keeps in memory (it sees
// credentials.unlocked_at), and records the audit event "user.unlocked".
// kNotFound for an unknown user.
absl::Status UnlockUserLocally(storage::Store* store, std::string_view user);

// `sallyport-ca retire-session-key`: retires the store's active session CA
// key and records "ca.key.retired"; the CA then starts without
// keys.session_ca and signs session certificates with the user CA key.
// The key retired, or nullopt when there was none (nothing recorded).
absl::StatusOr<std::optional<storage::CaKey>> RetireSessionCaKeyLocally(
    storage::Store* store);

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_INIT_H_
