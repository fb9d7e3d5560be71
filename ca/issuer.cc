#include "ca/issuer.h"

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace sallyport::ca {
namespace {

uint64_t UnixSeconds(absl::Time t) {
  return static_cast<uint64_t>(std::max<int64_t>(0, absl::ToUnixSeconds(t)));
}

}  // namespace

absl::Status CheckCertifiableKey(const ssh::crypto::PublicKey& key) {
  if (key.type() != ssh::crypto::KeyType::kEd25519 &&
      key.type() != ssh::crypto::KeyType::kEcdsaP256) {
    return absl::InvalidArgumentError(
        "only ssh-ed25519 and ecdsa-sha2-nistp256 keys are certified");
  }
  return absl::OkStatus();
}

absl::Status SessionOfAnotherGateway(std::string_view session_id) {
  return absl::PermissionDeniedError(
      absl::StrCat("session id ", std::string(session_id),
                   " belongs to another gateway; a gateway is issued "
                   "certificates for its own sessions only"));
}

void CertificateIssuer::AuditRefusal(std::string_view actor,
                                     std::string_view subject,
                                     const absl::Status& why) {
  // Best effort: the refusal stands whether or not it could be logged.
  (void)options_.audit->Record(
      kEventCertRefused, actor,
      {{"subject", std::string(subject)},
       {"code", std::string(absl::StatusCodeToString(why.code()))},
       {"reason", std::string(why.message())}});
}

absl::StatusOr<std::pair<CertificateIssuer::Signed, UserCertificateTemplate>>
CertificateIssuer::SignUser(const storage::User& user,
                            const ssh::crypto::PublicKey& key,
                            std::optional<absl::Time> not_after,
                            std::string_view actor, std::string_view via,
                            const storage::IssuanceSnapshot* read,
                            size_t key_revocation_at) {
  RETURN_IF_ERROR(CheckCertifiableKey(key));
  const std::string& user_name = user.name;
  if (read != nullptr && key_revocation_at >= read->revoked.size()) {
    return absl::InternalError("the key's revocation was not read");
  }
  std::vector<storage::Role> roles;
  if (read != nullptr) {
    roles = read->roles;
  } else {
    ASSIGN_OR_RETURN(roles, options_.store->ListRolesForUser(user_name));
  }
  absl::StatusOr<UserCertificateTemplate> decision = DecideUserCertificate(
      user, roles, options_.clock->Now(), options_.user_policy, not_after);
  if (!decision.ok()) {
    AuditRefusal(actor, user_name, decision.status());
    return decision.status();
  }
  bool revoked = false;
  if (read != nullptr) {
    revoked = read->revoked[key_revocation_at];
  } else {
    ASSIGN_OR_RETURN(revoked,
                     options_.store->IsRevoked(0, key.FingerprintSha256()));
  }
  if (revoked) {
    absl::Status st = absl::PermissionDeniedError("this key is revoked");
    AuditRefusal(actor, user_name, st);
    return st;
  }
  ssh::cert::CertificateRequest request;
  request.public_key = key;
  request.type = ssh::cert::CertType::kUser;
  request.key_id = decision->key_id;
  request.principals = decision->principals;
  request.valid_after = UnixSeconds(decision->valid_after);
  request.valid_before = UnixSeconds(decision->valid_before);
  request.extensions = decision->extensions;
  ASSIGN_OR_RETURN(
      Signed s,
      Sign(storage::CaKeyPurpose::kUser, std::move(request), user_name,
           storage::CertificatePurpose::kLogin, actor, via));
  // Recorded only if this user is still there and enabled when the record
  // commits: a disable or delete since this read refuses it, so none
  // survives the revocation of the user's certificates.
  s.record.user_created_at = user.created_at;
  return std::make_pair(std::move(s), *std::move(decision));
}

absl::StatusOr<IssuedUserCertificate> CertificateIssuer::IssueUserCertificate(
    std::string_view user_name, const ssh::crypto::PublicKey& key,
    std::optional<absl::Time> not_after, std::string_view actor,
    std::string_view via) {
  RETURN_IF_ERROR(CheckCertifiableKey(key));
  ASSIGN_OR_RETURN(storage::User user, options_.store->GetUser(user_name));
  ASSIGN_OR_RETURN(auto s, SignUser(user, key, not_after, actor, via));
  ASSIGN_OR_RETURN(ssh::cert::Certificate cert, Record(std::move(s.first)));
  return IssuedUserCertificate{std::move(cert), std::move(s.second)};
}

void CertificateIssuer::IssueUserCertificateAsync(
    std::string_view user_name, const ssh::crypto::PublicKey& key,
    std::optional<absl::Time> not_after, std::string_view actor,
    std::string_view via, UserCertificateDone done) {
  if (absl::Status st = CheckCertifiableKey(key); !st.ok()) return done(st);
  absl::StatusOr<storage::User> user = options_.store->GetUser(user_name);
  if (!user.ok()) return done(user.status());
  IssueUserCertificateAsync(*user, key, not_after, actor, via, std::move(done));
}

void CertificateIssuer::IssueUserCertificateAsync(
    const storage::User& user, const ssh::crypto::PublicKey& key,
    std::optional<absl::Time> not_after, std::string_view actor,
    std::string_view via, UserCertificateDone done,
    const storage::IssuanceSnapshot* read, size_t key_revocation_at) {
  auto s = SignUser(user, key, not_after, actor, via, read, key_revocation_at);
  if (!s.ok()) return done(s.status());
  RecordAsync(
      std::move(s->first),
      [decision = std::move(s->second), done = std::move(done)](
          absl::StatusOr<ssh::cert::Certificate> cert) mutable {
        if (!cert.ok()) return done(cert.status());
        done(IssuedUserCertificate{*std::move(cert), std::move(decision)});
      });
}

absl::StatusOr<ssh::cert::Certificate> CertificateIssuer::IssueHostCertificate(
    std::string_view host_name, const ssh::crypto::PublicKey& key,
    std::string_view actor, std::optional<absl::Duration> ttl,
    std::string_view via) {
  ASSIGN_OR_RETURN(storage::Host host, options_.store->GetHost(host_name));
  std::vector<std::string> principals = {host.name};
  if (host.address != host.name) principals.push_back(host.address);
  return IssueHostCertificateForNames(std::move(principals), host.name, key,
                                      ttl.value_or(options_.host_ttl), actor,
                                      via);
}

absl::StatusOr<ssh::cert::Certificate>
CertificateIssuer::IssueHostCertificateForNames(
    std::vector<std::string> principals, std::string_view key_id,
    const ssh::crypto::PublicKey& key, absl::Duration ttl,
    std::string_view actor, std::string_view via, std::string_view user) {
  RETURN_IF_ERROR(CheckCertifiableKey(key));
  if (principals.empty()) {
    return absl::InvalidArgumentError("a host certificate needs a principal");
  }
  ASSIGN_OR_RETURN(bool revoked,
                   options_.store->IsRevoked(0, key.FingerprintSha256()));
  if (revoked) return absl::PermissionDeniedError("this key is revoked");
  const absl::Time now = options_.clock->Now();
  ssh::cert::CertificateRequest request;
  request.public_key = key;
  request.type = ssh::cert::CertType::kHost;
  request.key_id = std::string(key_id);
  request.principals = std::move(principals);
  request.valid_after = UnixSeconds(now - options_.user_policy.backdate);
  request.valid_before = UnixSeconds(now + ttl);
  return SignAndRecord(storage::CaKeyPurpose::kHost, std::move(request), user,
                       storage::CertificatePurpose::kHost, actor, via);
}

absl::StatusOr<CertificateIssuer::Signed> CertificateIssuer::SignSession(
    const SessionCertificateSpec& spec, const ssh::crypto::PublicKey& key,
    std::string_view actor) {
  RETURN_IF_ERROR(CheckCertifiableKey(key));
  if (spec.gateway.empty()) {
    return absl::InvalidArgumentError(
        "a session certificate is issued to a gateway");
  }
  bool revoked = false;
  if (spec.key_revoked.has_value()) {
    revoked = *spec.key_revoked;
  } else {
    ASSIGN_OR_RETURN(revoked,
                     options_.store->IsRevoked(0, key.FingerprintSha256()));
  }
  if (revoked) {
    absl::Status st = absl::PermissionDeniedError("this key is revoked");
    AuditRefusal(actor, spec.user, st);
    return st;
  }
  const absl::Time now = options_.clock->Now();
  ssh::cert::CertificateRequest request;
  request.public_key = key;
  request.type = ssh::cert::CertType::kUser;
  request.key_id = absl::StrCat(spec.user, "@", spec.session_id);
  request.principals = {spec.login};
  request.valid_after = UnixSeconds(now - kSessionBackdate);
  request.valid_before = UnixSeconds(now + kSessionTtl);
  // Sorted by name, as certificates require.
  if (spec.force_command.has_value()) {
    request.critical_options.push_back(ssh::cert::CertOption::WithValue(
        ssh::cert::kForceCommand, *spec.force_command));
  }
  request.critical_options.push_back(ssh::cert::CertOption::WithValue(
      ssh::cert::kSourceAddress, spec.source_address));
  request.extensions = spec.extensions;
  ASSIGN_OR_RETURN(
      Signed s,
      Sign(options_.keyring->SessionSigner(), std::move(request), spec.user,
           storage::CertificatePurpose::kSession, actor, "session",
           {{"session_id", spec.session_id},
            {"host", spec.host},
            {"source_address", spec.source_address}}));
  // Finding F: the session is bound to the user and login certified here.
  s.claim = storage::SessionClaim{spec.session_id, spec.gateway, spec.user,
                                  spec.login, spec.host};
  // Finding B: the user's proof gets this one certificate.
  s.claim->userauth_proof_sha256 = spec.userauth_proof_sha256;
  s.claim->userauth_proof_expires_at = spec.userauth_proof_expires_at;
  s.record.user_created_at = spec.user_created_at;
  return s;
}

absl::StatusOr<ssh::cert::Certificate>
CertificateIssuer::IssueSessionCertificate(const SessionCertificateSpec& spec,
                                           const ssh::crypto::PublicKey& key,
                                           std::string_view actor) {
  ASSIGN_OR_RETURN(Signed s, SignSession(spec, key, actor));
  return Record(std::move(s));
}

void CertificateIssuer::IssueSessionCertificateAsync(
    const SessionCertificateSpec& spec, const ssh::crypto::PublicKey& key,
    std::string_view actor, CertificateDone done) {
  absl::StatusOr<Signed> s = SignSession(spec, key, actor);
  if (!s.ok()) return done(s.status());
  RecordAsync(*std::move(s), std::move(done));
}

absl::StatusOr<ssh::cert::Certificate> CertificateIssuer::SignAndRecord(
    storage::CaKeyPurpose purpose, ssh::cert::CertificateRequest request,
    std::string_view user, storage::CertificatePurpose record_purpose,
    std::string_view actor, std::string_view via,
    std::vector<AuditField> extra_fields) {
  ASSIGN_OR_RETURN(
      Signed s, Sign(purpose, std::move(request), user, record_purpose, actor,
                     via, std::move(extra_fields)));
  return Record(std::move(s));
}

absl::Status CertificateIssuer::RefusedClaim(const Signed& s, absl::Status st) {
  if (s.record.user_created_at.has_value() && absl::IsFailedPrecondition(st)) {
    // The user was disabled or deleted since the decision (the store's
    // check): refused like a disabled user.
    AuditRefusal(s.actor, s.record.user, st);
    return st;
  }
  if (!s.claim.has_value() || !absl::IsPermissionDenied(st)) return st;
  // Best effort, like AuditRefusal.
  (void)options_.audit->Record(
      kEventCertRefused, s.actor,
      {{"subject", s.record.user},
       {"purpose", "session"},
       {"session_id", s.claim->session_id},
       {"gateway", s.claim->gateway_id},
       {"code", std::string(absl::StatusCodeToString(st.code()))},
       {"reason", std::string(st.message())}});
  // Bound to another user or login (finding F): the gateway's own session,
  // whose users it knows, so the reason goes back as it is; so does a
  // replayed proof's (finding B), which only the gateway that was sent
  // the proof (or one it gave it to) can send.
  if (st.GetPayload(storage::SessionClaim::kBoundToAnother).has_value() ||
      st.GetPayload(storage::SessionClaim::kProofUsed).has_value()) {
    return st;
  }
  return SessionOfAnotherGateway(s.claim->session_id);
}

absl::StatusOr<ssh::cert::Certificate> CertificateIssuer::Record(Signed s) {
  // One transaction: no certificate is recorded without its audit event
  // (nor a session certificate without its session's claim).
  absl::Status st = options_.audit->RecordCertificate(
      s.record, kEventCertIssued, s.actor, s.fields,
      s.claim.has_value() ? &*s.claim : nullptr);
  if (!st.ok()) return RefusedClaim(s, st);
  return std::move(s.cert);
}

void CertificateIssuer::RecordAsync(Signed s, CertificateDone done) {
  auto signed_cert = std::make_shared<Signed>(std::move(s));
  const Signed& held = *signed_cert;
  options_.audit->RecordCertificateAsync(
      held.record, kEventCertIssued, held.actor, held.fields,
      [this, signed_cert, done = std::move(done)](absl::Status st) {
        if (!st.ok()) return done(RefusedClaim(*signed_cert, st));
        done(std::move(signed_cert->cert));
      },
      held.claim.has_value() ? &*held.claim : nullptr);
}

storage::IssuedCertificate RecordOf(const ssh::cert::Certificate& cert,
                                    std::string_view user,
                                    storage::CertificatePurpose purpose) {
  storage::IssuedCertificate record;
  record.serial = cert.serial;
  record.key_id = cert.key_id;
  record.user = std::string(user);
  record.principals = cert.principals;
  record.valid_after =
      absl::FromUnixSeconds(static_cast<int64_t>(cert.valid_after));
  record.valid_before =
      absl::FromUnixSeconds(static_cast<int64_t>(cert.valid_before));
  record.public_key_fingerprint = cert.KeyFingerprint();
  record.ca_key_fingerprint = cert.CaFingerprint();
  record.purpose = purpose;
  return record;
}

absl::StatusOr<CertificateIssuer::Signed> CertificateIssuer::Sign(
    storage::CaKeyPurpose purpose, ssh::cert::CertificateRequest request,
    std::string_view user, storage::CertificatePurpose record_purpose,
    std::string_view actor, std::string_view via,
    std::vector<AuditField> extra_fields) {
  ASSIGN_OR_RETURN(request.serial, options_.store->AllocateSerial());
  ASSIGN_OR_RETURN(ssh::cert::Certificate signed_cert,
                   options_.keyring->Sign(purpose, request));
  Signed s{std::move(signed_cert), {}, {}, std::string(actor), std::nullopt};
  const ssh::cert::Certificate& cert = s.cert;
  s.record = RecordOf(cert, user, record_purpose);
  const storage::IssuedCertificate& record = s.record;
  std::vector<std::string> extensions;
  for (const auto& e : cert.extensions) extensions.push_back(e.name);
  s.fields = {
      {"serial", static_cast<int64_t>(cert.serial)},
      {"key_id", cert.key_id},
      {"purpose", std::string(storage::CertificatePurposeName(record_purpose))},
      {"via", std::string(via)},
      {"principals", cert.principals},
      {"extensions", extensions},
      {"valid_after", static_cast<int64_t>(cert.valid_after)},
      {"valid_before", static_cast<int64_t>(cert.valid_before)},
      {"key_fingerprint", record.public_key_fingerprint},
      {"ca_fingerprint", record.ca_key_fingerprint}};
  for (AuditField& f : extra_fields) s.fields.push_back(std::move(f));
  return s;
}

}  // namespace sallyport::ca
