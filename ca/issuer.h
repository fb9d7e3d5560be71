// CertificateIssuer: every certificate the CA signs goes through here, so
// each one is decided by the policy, gets a unique serial from the Store, is
// recorded in the Store and is an audit event ("cert.issued"); refusals are
// audit events too ("cert.refused"). If the record or the audit event cannot
// be written, the certificate is not handed out (fail closed).
#ifndef SALLYPORT_CA_ISSUER_H_
#define SALLYPORT_CA_ISSUER_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "ca/audit_log.h"
#include "ca/ca_keys.h"
#include "ca/cert_policy.h"
#include "ssh/cert/certificate.h"
#include "ssh/crypto/keys.h"
#include "storage/store.h"

namespace sallyport::ca {

struct IssuedUserCertificate {
  ssh::cert::Certificate certificate;
  UserCertificateTemplate decision;
};

// kInvalidArgument unless `key` is Ed25519 or ECDSA P-256 (the key types
// the CA certifies).
absl::Status CheckCertifiableKey(const ssh::crypto::PublicKey& key);

// kPermissionDenied: another gateway owns `session_id` (issue 14), said
// without naming it.
absl::Status SessionOfAnotherGateway(std::string_view session_id);

// The Store's record of `cert` as the issuer writes it, for `user` and
// `purpose`: serial, key id, principals, validity (each a Unix second, as
// the certificate has it), the certified key's and the CA key's
// fingerprints. issued_at is the Store's to set.
storage::IssuedCertificate RecordOf(const ssh::cert::Certificate& cert,
                                    std::string_view user,
                                    storage::CertificatePurpose purpose);

class CertificateIssuer {
 public:
  struct Options {
    storage::Store* store = nullptr;
    CaKeyring* keyring = nullptr;
    AuditLog* audit = nullptr;
    base::Clock* clock = base::Clock::Real();
    UserCertificatePolicy user_policy;
    absl::Duration host_ttl = absl::Hours(720);
  };
  explicit CertificateIssuer(Options options) : options_(options) {}

  // A login certificate for `user` (looked up again in the store, with its
  // roles) and `key`, never valid after `not_after` when set. `actor` and
  // `via` ("login", "renew") go into the audit event. Errors:
  // kInvalidArgument for a key type we do not certify; kPermissionDenied
  // when the policy refuses (disabled, no roles, no logins) or the key is
  // revoked; kNotFound for an unknown user; kFailedPrecondition when the
  // user was disabled or deleted after it was read (the record's check:
  // nothing recorded or handed out); store errors pass through.
  absl::StatusOr<IssuedUserCertificate> IssueUserCertificate(
      std::string_view user, const ssh::crypto::PublicKey& key,
      std::optional<absl::Time> not_after, std::string_view actor,
      std::string_view via);
  // The same without parking the caller while the record commits (the
  // checks and the signature run on the caller's thread): `done` gets the
  // result exactly once, on the store's commit thread or, for a refusal,
  // before this returns.
  using UserCertificateDone =
      std::function<void(absl::StatusOr<IssuedUserCertificate>)>;
  void IssueUserCertificateAsync(std::string_view user,
                                 const ssh::crypto::PublicKey& key,
                                 std::optional<absl::Time> not_after,
                                 std::string_view actor, std::string_view via,
                                 UserCertificateDone done);
  // The same for `user` as the caller has just read it from the store (one
  // store read fewer: IssueUserCertificate after PeerAuthenticator). With
  // `read`, the user's roles and whether `key` is revoked come from it
  // (Store::ReadForIssuance with roles and the key's revocation at
  // `key_revocation_at`) instead of two more store reads.
  void IssueUserCertificateAsync(
      const storage::User& user, const ssh::crypto::PublicKey& key,
      std::optional<absl::Time> not_after, std::string_view actor,
      std::string_view via, UserCertificateDone done,
      const storage::IssuanceSnapshot* read = nullptr,
      size_t key_revocation_at = 0);

  // A host certificate for the inventory host `host`: principals are its
  // name and address, validity `ttl` (host_ttl when unset; backdated like
  // user certificates), no options or extensions. `via` goes into the audit
  // event. kNotFound for a host not in the inventory.
  absl::StatusOr<ssh::cert::Certificate> IssueHostCertificate(
      std::string_view host, const ssh::crypto::PublicKey& key,
      std::string_view actor, std::optional<absl::Duration> ttl = std::nullopt,
      std::string_view via = "host");

  // A host certificate for explicit `principals` (a gateway's own names),
  // key id `key_id`, valid `ttl`, recorded with `user` (a gateway's own:
  // GatewayCertificateUser; empty for a host's). kInvalidArgument without
  // principals.
  absl::StatusOr<ssh::cert::Certificate> IssueHostCertificateForNames(
      std::vector<std::string> principals, std::string_view key_id,
      const ssh::crypto::PublicKey& key, absl::Duration ttl,
      std::string_view actor, std::string_view via, std::string_view user = "");

  // What a session certificate says; the caller (the gateway service) has
  // verified the user's certificate and decided RBAC.
  struct SessionCertificateSpec {
    std::string user;
    std::string session_id;
    // The gateway asking: session_id becomes its own (issue 14).
    std::string gateway;
    std::string login;  // the only principal
    std::string host;   // for the record and the audit event
    // Flags, sorted by name.
    std::vector<ssh::cert::CertOption> extensions;
    // The source-address critical option (comma-separated CIDR list).
    std::string source_address;
    // The force-command critical option, when set.
    std::optional<std::string> force_command;
    // Whether the key is revoked, when the caller has read it already
    // (Store::ReadForIssuance); unset: the issuer asks the store.
    std::optional<bool> key_revoked;
    // The user's created_at as the caller read it, when it did: the
    // certificate is then recorded only if that user is still there and
    // enabled (IssuedCertificate::user_created_at).
    std::optional<absl::Time> user_created_at;
    // The user's userauth proof the certificate is issued on (finding B):
    // UserauthProofDigest of its signed data, and when the user
    // certificate it proves expires. The proof gets this one certificate
    // (storage::SessionClaim::userauth_proof_sha256); empty: none.
    std::string userauth_proof_sha256;
    absl::Time userauth_proof_expires_at = absl::InfinitePast();
  };
  // Validity and backdate of session certificates.
  static constexpr absl::Duration kSessionTtl = absl::Minutes(2);
  static constexpr absl::Duration kSessionBackdate = absl::Seconds(30);

  // A session certificate for `key` (DESIGN.md §5), signed by the session
  // CA key when the CA has one (else the user CA key): key id
  // "<user>@<session_id>", valid now - 30 s .. now + 2 min, recorded as
  // purpose "session" with its audit event in one transaction, which also
  // claims session_id for spec.gateway (Store::RecordSessionCertificate)
  // and binds it to spec.user, spec.login and spec.host (finding F), and
  // records spec's userauth proof as used (finding B).
  // kPermissionDenied when `key` is revoked, or when another gateway owns
  // session_id, or it is stored or bound for another user or login, or
  // the proof was used before (then the certificate is not recorded or
  // handed out, and the refusal is an audit event naming the owner, the
  // user or the session the proof was used for); kInvalidArgument
  // without spec.gateway.
  absl::StatusOr<ssh::cert::Certificate> IssueSessionCertificate(
      const SessionCertificateSpec& spec, const ssh::crypto::PublicKey& key,
      std::string_view actor);
  // The same without parking the caller while the record commits, like
  // IssueUserCertificateAsync.
  using CertificateDone =
      std::function<void(absl::StatusOr<ssh::cert::Certificate>)>;
  void IssueSessionCertificateAsync(const SessionCertificateSpec& spec,
                                    const ssh::crypto::PublicKey& key,
                                    std::string_view actor,
                                    CertificateDone done);

 private:
  // A signed certificate with its record and audit event, not yet stored.
  struct Signed {
    ssh::cert::Certificate cert;
    storage::IssuedCertificate record;
    std::vector<AuditField> fields;
    std::string actor;
    // Session certificates: the session claimed with the record.
    std::optional<storage::SessionClaim> claim;
  };
  absl::StatusOr<Signed> Sign(storage::CaKeyPurpose purpose,
                              ssh::cert::CertificateRequest request,
                              std::string_view user,
                              storage::CertificatePurpose record_purpose,
                              std::string_view actor, std::string_view via,
                              std::vector<AuditField> extra_fields = {});
  // Records `s` with its audit event in one transaction (fail closed).
  absl::StatusOr<ssh::cert::Certificate> Record(Signed s);
  void RecordAsync(Signed s, CertificateDone done);
  absl::StatusOr<ssh::cert::Certificate> SignAndRecord(
      storage::CaKeyPurpose purpose, ssh::cert::CertificateRequest request,
      std::string_view user, storage::CertificatePurpose record_purpose,
      std::string_view actor, std::string_view via,
      std::vector<AuditField> extra_fields = {});
  // The checks and the signed certificate of IssueUserCertificate.
  absl::StatusOr<std::pair<Signed, UserCertificateTemplate>> SignUser(
      const storage::User& user, const ssh::crypto::PublicKey& key,
      std::optional<absl::Time> not_after, std::string_view actor,
      std::string_view via, const storage::IssuanceSnapshot* read = nullptr,
      size_t key_revocation_at = 0);
  // The checks and the signed certificate of IssueSessionCertificate.
  absl::StatusOr<Signed> SignSession(const SessionCertificateSpec& spec,
                                     const ssh::crypto::PublicKey& key,
                                     std::string_view actor);
  void AuditRefusal(std::string_view actor, std::string_view subject,
                    const absl::Status& why);
  // A record refused because another gateway owns the session: audited
  // (with the store's reason, which names the owner) and said to the
  // gateway without naming it; one refused because the session is bound
  // to another user or login, or its proof was used before: audited and
  // said to the gateway as the store says it. A record refused because
  // its user was disabled or deleted since the decision: audited, passed
  // through. Other statuses pass through.
  absl::Status RefusedClaim(const Signed& s, absl::Status st);

  const Options options_;
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_ISSUER_H_
