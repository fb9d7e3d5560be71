// ForwardingStore: a Store that passes every call to another one, for
// tests that change one method's behaviour (e.g. fail an append once) and
// keep the real store for the rest.
#ifndef SALLYPORT_STORAGE_FORWARDING_STORE_H_
#define SALLYPORT_STORAGE_FORWARDING_STORE_H_

#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/store.h"

namespace sallyport::storage {

class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(std::unique_ptr<Store> base)
      : base_(std::move(base)) {}

  Store& base() { return *base_; }

  using Store::UpdateHost;
  using Store::UpdateRole;
  using Store::UpdateUser;

  int SchemaVersion() const override { return base_->SchemaVersion(); }
  absl::StatusOr<User> CreateUser(const User& user) override {
    return base_->CreateUser(user);
  }
  absl::StatusOr<User> GetUser(std::string_view name) override {
    return base_->GetUser(name);
  }
  absl::StatusOr<std::vector<User>> ListUsers() override {
    return base_->ListUsers();
  }
  absl::StatusOr<User> UpdateUser(
      const User& user, std::optional<absl::Time> unchanged_since) override {
    return base_->UpdateUser(user, unchanged_since);
  }
  absl::Status DeleteUser(std::string_view name) override {
    return base_->DeleteUser(name);
  }
  absl::StatusOr<Credentials> GetCredentials(std::string_view user) override {
    return base_->GetCredentials(user);
  }
  absl::Status SetPasswordHash(std::string_view user,
                               std::string_view password_hash) override {
    return base_->SetPasswordHash(user, password_hash);
  }
  absl::Status SetTotpSecret(std::string_view user,
                             const base::SecretBytes& secret) override {
    return base_->SetTotpSecret(user, secret);
  }
  absl::StatusOr<bool> ClaimTotpStep(std::string_view user,
                                     uint64_t step) override {
    return base_->ClaimTotpStep(user, step);
  }
  absl::StatusOr<LoginFailureResult> RecordLoginFailure(
      std::string_view user, const LockoutPolicy& policy) override {
    return base_->RecordLoginFailure(user, policy);
  }
  absl::Status RecordLoginSuccess(std::string_view user) override {
    return base_->RecordLoginSuccess(user);
  }
  absl::Status UnlockUser(std::string_view user) override {
    return base_->UnlockUser(user);
  }
  absl::StatusOr<Role> CreateRole(const Role& role) override {
    return base_->CreateRole(role);
  }
  absl::StatusOr<Role> GetRole(std::string_view name) override {
    return base_->GetRole(name);
  }
  absl::StatusOr<std::vector<Role>> ListRoles() override {
    return base_->ListRoles();
  }
  absl::StatusOr<Role> UpdateRole(
      const Role& role, std::optional<absl::Time> unchanged_since) override {
    return base_->UpdateRole(role, unchanged_since);
  }
  absl::Status DeleteRole(std::string_view name) override {
    return base_->DeleteRole(name);
  }
  absl::StatusOr<RoleBinding> BindRole(std::string_view user,
                                       std::string_view role) override {
    return base_->BindRole(user, role);
  }
  absl::Status UnbindRole(std::string_view user,
                          std::string_view role) override {
    return base_->UnbindRole(user, role);
  }
  absl::StatusOr<std::vector<RoleBinding>> ListRoleBindings(
      std::optional<std::string_view> user) override {
    return base_->ListRoleBindings(user);
  }
  absl::StatusOr<std::vector<Role>> ListRolesForUser(
      std::string_view user) override {
    return base_->ListRolesForUser(user);
  }
  absl::StatusOr<Host> CreateHost(const Host& host) override {
    return base_->CreateHost(host);
  }
  absl::StatusOr<Host> GetHost(std::string_view name) override {
    return base_->GetHost(name);
  }
  absl::StatusOr<std::vector<Host>> ListHosts() override {
    return base_->ListHosts();
  }
  absl::StatusOr<Host> UpdateHost(
      const Host& host, std::optional<absl::Time> unchanged_since) override {
    return base_->UpdateHost(host, unchanged_since);
  }
  absl::StatusOr<std::string> DeleteHost(std::string_view name) override {
    return base_->DeleteHost(name);
  }
  absl::StatusOr<uint64_t> AllocateSerial() override {
    return base_->AllocateSerial();
  }
  absl::StatusOr<IssuedCertificate> RecordCertificate(
      const IssuedCertificate& cert) override {
    return base_->RecordCertificate(cert);
  }
  absl::StatusOr<IssuedCertificate> RecordCertificateWithAudit(
      const IssuedCertificate& cert, const AuditEventInput& event) override {
    return base_->RecordCertificateWithAudit(cert, event);
  }
  void RecordCertificateWithAuditAsync(const IssuedCertificate& cert,
                                       const AuditEventInput& event,
                                       RecordedCertificate done) override {
    base_->RecordCertificateWithAuditAsync(cert, event, std::move(done));
  }
  absl::StatusOr<IssuedCertificate> RecordSessionCertificate(
      const IssuedCertificate& cert, const AuditEventInput& event,
      const SessionClaim& claim) override {
    return base_->RecordSessionCertificate(cert, event, claim);
  }
  void RecordSessionCertificateAsync(const IssuedCertificate& cert,
                                     const AuditEventInput& event,
                                     const SessionClaim& claim,
                                     RecordedCertificate done) override {
    base_->RecordSessionCertificateAsync(cert, event, claim, std::move(done));
  }
  absl::StatusOr<IssuedCertificate> GetCertificate(uint64_t serial) override {
    return base_->GetCertificate(serial);
  }
  absl::StatusOr<std::vector<IssuedCertificate>> ListCertificates(
      const CertificateFilter& filter) override {
    return base_->ListCertificates(filter);
  }
  absl::StatusOr<Revocation> Revoke(const Revocation& revocation) override {
    return base_->Revoke(revocation);
  }
  absl::StatusOr<std::vector<Revocation>> ListRevocations(
      int64_t after_id) override {
    return base_->ListRevocations(after_id);
  }
  absl::StatusOr<std::vector<Revocation>> ListCurrentRevocations(
      int64_t after_id, absl::Time now) override {
    return base_->ListCurrentRevocations(after_id, now);
  }
  absl::StatusOr<bool> IsRevoked(uint64_t serial,
                                 std::string_view key_fingerprint) override {
    return base_->IsRevoked(serial, key_fingerprint);
  }
  absl::StatusOr<IssuanceSnapshot> ReadForIssuance(
      const IssuanceReads& reads) override {
    return base_->ReadForIssuance(reads);
  }
  absl::StatusOr<AuditEvent> AppendAuditEvent(
      const AuditEventInput& event) override {
    return base_->AppendAuditEvent(event);
  }
  absl::StatusOr<std::vector<AuditEvent>> AppendGatewayAuditEvents(
      const GatewayAuditEvents& batch) override {
    return base_->AppendGatewayAuditEvents(batch);
  }
  absl::StatusOr<std::vector<AuditEvent>> ListAuditEvents(uint64_t after_seq,
                                                          int limit) override {
    return base_->ListAuditEvents(after_seq, limit);
  }
  absl::StatusOr<AuditHead> GetAuditHead() override {
    return base_->GetAuditHead();
  }
  absl::StatusOr<Session> CreateSession(const Session& session) override {
    return base_->CreateSession(session);
  }
  absl::StatusOr<Session> EndSession(std::string_view id,
                                     const SessionEnd& end) override {
    return base_->EndSession(id, end);
  }
  absl::StatusOr<Session> GetSession(std::string_view id) override {
    return base_->GetSession(id);
  }
  absl::StatusOr<std::vector<Session>> ListSessions(
      const SessionFilter& filter) override {
    return base_->ListSessions(filter);
  }
  absl::StatusOr<Session> AbandonSession(
      std::string_view id, const SessionAbandonment& mark) override {
    return base_->AbandonSession(id, mark);
  }
  absl::StatusOr<int64_t> CountOpenSessions(std::string_view gateway_id,
                                            int64_t at_most) override {
    return base_->CountOpenSessions(gateway_id, at_most);
  }
  absl::StatusOr<Session> AppendSessionRecords(
      const std::vector<SessionRecord>& records) override {
    return base_->AppendSessionRecords(records);
  }
  absl::StatusOr<EndedSession> AppendSessionRecordsAndEnd(
      const std::vector<SessionRecord>& records,
      const SessionEnd& end) override {
    return base_->AppendSessionRecordsAndEnd(records, end);
  }
  absl::StatusOr<std::vector<SessionRecord>> ListSessionRecords(
      std::string_view session_id, uint64_t after_seq, int limit) override {
    return base_->ListSessionRecords(session_id, after_seq, limit);
  }
  absl::StatusOr<std::string> ClaimSession(
      std::string_view session_id, std::string_view gateway_id) override {
    return base_->ClaimSession(session_id, gateway_id);
  }
  absl::StatusOr<std::vector<SessionClaim>> ClaimSessions(
      absl::Span<const std::string> session_ids,
      std::string_view gateway_id) override {
    return base_->ClaimSessions(session_ids, gateway_id);
  }
  absl::StatusOr<JoinToken> CreateJoinToken(
      const NewJoinToken& token) override {
    return base_->CreateJoinToken(token);
  }
  absl::StatusOr<JoinToken> ConsumeJoinToken(
      const base::SecretBytes& token) override {
    return base_->ConsumeJoinToken(token);
  }
  absl::StatusOr<JoinToken> GetJoinToken(
      const base::SecretBytes& token) override {
    return base_->GetJoinToken(token);
  }
  absl::StatusOr<std::vector<JoinToken>> ListJoinTokens(
      const JoinTokenFilter& filter) override {
    return base_->ListJoinTokens(filter);
  }
  absl::StatusOr<JoinToken> RevokeJoinToken(int64_t id) override {
    return base_->RevokeJoinToken(id);
  }
  absl::StatusOr<CaKey> AddCaKey(const CaKey& key) override {
    return base_->AddCaKey(key);
  }
  absl::StatusOr<CaKey> RotateCaKey(const CaKey& new_key) override {
    return base_->RotateCaKey(new_key);
  }
  absl::StatusOr<CaKey> RetireCaKey(std::string_view fingerprint) override {
    return base_->RetireCaKey(fingerprint);
  }
  absl::StatusOr<std::vector<CaKey>> ListCaKeys(
      std::optional<CaKeyPurpose> purpose) override {
    return base_->ListCaKeys(purpose);
  }

 private:
  std::unique_ptr<Store> base_;
};

}  // namespace sallyport::storage

#endif  // SALLYPORT_STORAGE_FORWARDING_STORE_H_
