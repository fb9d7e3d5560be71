// User authentication (RFC 4252, RFC 8308 server-sig-algs), both roles,
// method "publickey" with plain keys and OpenSSH certificates. I/O-free: it
// takes the messages Transport::Next() hands up and answers through
// Transport::Send. The library verifies signatures and certificates; the
// application decides through AuthPolicy.
#ifndef SALLYPORT_SSH_AUTH_AUTH_H_
#define SALLYPORT_SSH_AUTH_AUTH_H_

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/clock.h"
#include "ssh/auth/signed_data.h"
#include "ssh/cert/certificate.h"
#include "ssh/cert/verify.h"
#include "ssh/crypto/keys.h"
#include "ssh/transport/transport.h"

namespace sallyport::ssh::auth {

using wire::Bytes;

// What the application is asked about: a user and a key the client offers
// (query) or has proven it holds (signed request). For certificates, `key`
// is the certified key and the certificate has already passed
// cert::VerifyCertificate for this user.
struct AuthAttempt {
  std::string user;
  std::string algorithm;
  crypto::PublicKey key;
  std::optional<cert::Certificate> certificate;
  std::optional<cert::CertificatePermissions> permissions;
  bool signed_request = false;  // false: a query, nothing proven yet
  // For a signed request: exactly the data the client signed (SignedData,
  // with this connection's session identifier) and its signature blob, so
  // that the application can show a third party that this key signed in
  // as `user` here. Not secret, but not for logs either.
  std::vector<uint8_t> signed_data;
  std::vector<uint8_t> signature;
};

// kPending: the policy decides later (e.g. after asking a remote service)
// and the application hands the decision to ServerAuth::Complete.
enum class AuthResult { kAccept, kReject, kPartial, kPending };
struct AuthDecision {
  AuthResult result = AuthResult::kReject;
  std::string reason;  // for the log; never sent to the client
};

class AuthPolicy {
 public:
  virtual ~AuthPolicy() = default;
  // Called for queries and, after the signature verified, for signed
  // requests with the same key that signed. Accept on a query only means
  // "this key would do" (PK_OK). May answer kPending: see
  // ServerAuth::Complete.
  virtual AuthDecision Decide(const AuthAttempt& attempt) = 0;
};

struct ServerAuthOptions {
  AuthPolicy* policy = nullptr;  // required
  // User CA keys; empty means certificates are refused.
  std::vector<crypto::PublicKey> trusted_user_cas;
  // The principal a certificate must list for a login user (default: the
  // user name itself).
  std::function<std::string(std::string_view user)> principal_for_user;
  const base::Clock* clock = nullptr;  // null: real clock
  // The real TCP peer address, for certificates' source-address.
  std::optional<std::string> peer_address;
  cert::RevocationCheck revocation_check;
  int max_attempts = 6;
  // Messages handed to Handle() while a decision is pending are kept (in
  // order) and processed after Complete(); beyond either limit the
  // connection is refused. A driver that checks pending() before reading
  // the next message never needs this.
  size_t max_deferred_messages = 8;
  size_t max_deferred_bytes = 64 * 1024;
  // Called for every refusal and acceptance, for logs and audit events.
  std::function<void(const AuthAttempt*, bool accepted,
                     std::string_view reason)>
      log;
  // Called when a certificate is signed by a key that is not among
  // trusted_user_cas (e.g. a CA key rotated in since the list was fetched).
  // Returning true means the application fetches the user CA keys again
  // and calls ServerAuth::Recheck with them: the request is then handled
  // again (without asking this hook a second time). Meanwhile the request
  // is pending like a kPending decision. Returning false (or no hook)
  // refuses the certificate at once as "untrusted CA".
  std::function<bool(const crypto::PublicKey& ca_key)> unknown_ca;
};

class ServerAuth {
 public:
  ServerAuth(transport::Transport& transport, ServerAuthOptions options);

  // Handles SERVICE_REQUEST and USERAUTH_REQUEST. Errors (malformed
  // request, change of user or service, too many failures) disconnect the
  // transport and are returned.
  absl::Status Handle(Bytes payload);

  // A decision is pending (the policy answered kPending): the caller should
  // stop handing messages to Handle() until Complete() (messages handed in
  // meanwhile are deferred, not processed; see max_deferred_messages).
  bool pending() const { return pending_.has_value() || recheck_.has_value(); }
  // A request waits for Recheck (the unknown_ca hook answered true).
  bool recheck_pending() const { return recheck_.has_value(); }
  // The attempt the pending decision is about (null when none is pending).
  const AuthAttempt* pending_attempt() const {
    return pending_.has_value() ? &pending_->attempt : nullptr;
  }
  // Completes the pending decision as if Decide had returned `decision`
  // (which must not be kPending): sends PK_OK / SUCCESS / FAILURE, then
  // processes the deferred messages in order (stopping if one of them is
  // pending again). kFailedPrecondition when nothing is pending. Errors
  // disconnect the transport, as Handle's do.
  absl::Status Complete(AuthDecision decision);

  // Handles the request that waits for the unknown_ca hook again, with
  // `trusted_user_cas` as the user CA keys from now on, then the deferred
  // messages (as Complete does). kFailedPrecondition when no request waits.
  // Errors disconnect the transport, as Handle's do.
  absl::Status Recheck(std::vector<crypto::PublicKey> trusted_user_cas);

  // Sends USERAUTH_BANNER with `text` (RFC 4252 §5.4), e.g. from the
  // policy just before it refuses, so the client shows why. Only before
  // authentication succeeded (kFailedPrecondition afterwards).
  absl::Status SendBanner(std::string_view text);

  bool authenticated() const { return identity_.has_value(); }
  // Who authenticated, with the key that signed.
  const std::optional<AuthAttempt>& identity() const { return identity_; }
  int failures() const { return failures_; }

 private:
  absl::Status HandleRequest(Bytes payload);
  absl::Status Failure(bool partial = false);
  absl::Status Disconnect(transport::DisconnectReason reason,
                          absl::Status status);
  // *unknown_ca: the certificate's CA key is not trusted and the
  // unknown_ca hook will fetch the keys again (nothing else is checked).
  absl::StatusOr<AuthAttempt> BuildAttempt(std::string_view user,
                                           std::string_view algorithm,
                                           Bytes blob, std::string* refusal,
                                           bool* unknown_ca);
  // The messages deferred while pending, in order, until one is pending.
  absl::Status HandleDeferred();
  // Asks the policy about `attempt` (blob: its key blob, for PK_OK) and
  // answers, or records the pending decision.
  absl::Status Decide(AuthAttempt attempt, Bytes blob);
  absl::Status Apply(AuthAttempt attempt, Bytes blob,
                     const AuthDecision& decision);

  struct Pending {
    AuthAttempt attempt;
    std::vector<uint8_t> blob;
  };

  transport::Transport& transport_;
  ServerAuthOptions options_;
  bool service_accepted_ = false;
  std::optional<std::string> user_;
  std::optional<std::string> service_;
  std::set<std::vector<uint8_t>> used_keys_;
  int failures_ = 0;
  std::optional<Pending> pending_;
  // The USERAUTH_REQUEST waiting for Recheck.
  std::optional<std::vector<uint8_t>> recheck_;
  // Set while Recheck handles it again: the hook is not asked twice.
  bool rechecking_ = false;
  std::vector<std::vector<uint8_t>> deferred_;
  size_t deferred_bytes_ = 0;
  std::optional<AuthAttempt> identity_;
};

struct ClientIdentity {
  crypto::PrivateKey key;
  // An OpenSSH certificate for the key (wire blob), or empty.
  std::vector<uint8_t> certificate;
};

struct ClientAuthOptions {
  std::string user;
  std::vector<ClientIdentity> identities;
  std::string service = "ssh-connection";
  // USERAUTH_BANNER text kept, in total; the peer's text beyond it is
  // dropped (a server may send any number of banners).
  size_t max_banner_bytes = 64 * 1024;
  // The user and identities come later (ClientAuth::Provide): the service
  // is requested once the key exchange is done, and then nothing is sent
  // until they are given. A gateway exchanges keys with a host while its
  // own user is still authenticating (recorded ProxyJump).
  bool identities_later = false;
};

class ClientAuth {
 public:
  ClientAuth(transport::Transport& transport, ClientAuthOptions options);
  // Sends SERVICE_REQUEST; call once the key exchange is done.
  absl::Status Start();
  // Handles SERVICE_ACCEPT, USERAUTH_FAILURE/SUCCESS/BANNER/PK_OK. When
  // every identity has failed, returns kUnauthenticated "Permission denied
  // (methods)" (and disconnects).
  absl::Status Handle(Bytes payload);
  // With identities_later: the user and identities; authentication starts
  // now if the server has accepted the service (else when it does).
  // kFailedPrecondition without identities_later or when given twice.
  absl::Status Provide(std::string user, std::vector<ClientIdentity> ids);
  // Waiting for Provide.
  bool waiting() const { return waiting_; }
  bool authenticated() const { return authenticated_; }
  // The server accepted the ssh-userauth service (SERVICE_ACCEPT naming
  // it; any other name, or a second one, disconnects).
  bool service_accepted() const { return service_accepted_; }
  const std::string& banner() const { return banner_; }

 private:
  absl::Status TryNext();
  transport::Transport& transport_;
  ClientAuthOptions options_;
  size_t next_ = 0;
  bool authenticated_ = false;
  bool service_accepted_ = false;
  bool waiting_ = false;
  std::string banner_;
};

// Public key algorithms we accept for user authentication.
const std::vector<std::string>& UserKeyAlgorithms();

}  // namespace sallyport::ssh::auth

#endif  // SALLYPORT_SSH_AUTH_AUTH_H_
