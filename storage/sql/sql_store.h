// SqlStore implements every Store operation once, over the Database seam, so
// SqliteStore and PostgresStore run the same statements and behave the same.
// The few dialect differences are explicit Statement pairs.
#ifndef SALLYPORT_STORAGE_SQL_SQL_STORE_H_
#define SALLYPORT_STORAGE_SQL_SQL_STORE_H_

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "storage/issuance_options.h"
#include "storage/sql/database.h"
#include "storage/sql/group_commit.h"
#include "storage/store.h"

namespace sallyport::storage::sql {

class SqlStore : public Store {
 public:
  int SchemaVersion() const override { return schema_version_; }

  absl::StatusOr<User> CreateUser(const User& user) override;
  absl::StatusOr<User> GetUser(std::string_view name) override;
  absl::StatusOr<std::vector<User>> ListUsers() override;
  using Store::UpdateUser;
  absl::StatusOr<User> UpdateUser(
      const User& user, std::optional<absl::Time> unchanged_since) override;
  absl::Status DeleteUser(std::string_view name) override;

  absl::StatusOr<Credentials> GetCredentials(std::string_view user) override;
  absl::Status SetPasswordHash(std::string_view user,
                               std::string_view password_hash) override;
  absl::Status SetTotpSecret(std::string_view user,
                             const base::SecretBytes& secret) override;
  absl::StatusOr<bool> ClaimTotpStep(std::string_view user,
                                     uint64_t step) override;
  absl::StatusOr<LoginFailureResult> RecordLoginFailure(
      std::string_view user, const LockoutPolicy& policy) override;
  absl::Status RecordLoginSuccess(std::string_view user) override;
  absl::Status UnlockUser(std::string_view user) override;

  absl::StatusOr<Role> CreateRole(const Role& role) override;
  absl::StatusOr<Role> GetRole(std::string_view name) override;
  absl::StatusOr<std::vector<Role>> ListRoles() override;
  using Store::UpdateRole;
  absl::StatusOr<Role> UpdateRole(
      const Role& role, std::optional<absl::Time> unchanged_since) override;
  absl::Status DeleteRole(std::string_view name) override;
  absl::StatusOr<RoleBinding> BindRole(std::string_view user,
                                       std::string_view role) override;
  absl::Status UnbindRole(std::string_view user,
                          std::string_view role) override;
  absl::StatusOr<std::vector<RoleBinding>> ListRoleBindings(
      std::optional<std::string_view> user) override;
  absl::StatusOr<std::vector<Role>> ListRolesForUser(
      std::string_view user) override;

  absl::StatusOr<Host> CreateHost(const Host& host) override;
  absl::StatusOr<Host> GetHost(std::string_view name) override;
  absl::StatusOr<std::vector<Host>> ListHosts() override;
  using Store::UpdateHost;
  absl::StatusOr<Host> UpdateHost(
      const Host& host, std::optional<absl::Time> unchanged_since) override;
  absl::StatusOr<std::string> DeleteHost(std::string_view name) override;

  absl::StatusOr<uint64_t> AllocateSerial() override;
  absl::StatusOr<IssuedCertificate> RecordCertificate(
      const IssuedCertificate& cert) override;
  absl::StatusOr<IssuedCertificate> GetCertificate(uint64_t serial) override;
  absl::StatusOr<std::vector<IssuedCertificate>> ListCertificates(
      const CertificateFilter& filter) override;

  absl::StatusOr<Revocation> Revoke(const Revocation& revocation) override;
  absl::StatusOr<std::vector<Revocation>> ListRevocations(
      int64_t after_id) override;
  absl::StatusOr<std::vector<Revocation>> ListCurrentRevocations(
      int64_t after_id, absl::Time now) override;
  absl::StatusOr<bool> IsRevoked(uint64_t serial,
                                 std::string_view key_fingerprint) override;
  absl::StatusOr<IssuanceSnapshot> ReadForIssuance(
      const IssuanceReads& reads) override;

  absl::StatusOr<IssuedCertificate> RecordCertificateWithAudit(
      const IssuedCertificate& cert, const AuditEventInput& event) override;
  // Queued for the same group commit; `done` runs on the thread that
  // committed the batch.
  void RecordCertificateWithAuditAsync(const IssuedCertificate& cert,
                                       const AuditEventInput& event,
                                       RecordedCertificate done) override;
  absl::StatusOr<IssuedCertificate> RecordSessionCertificate(
      const IssuedCertificate& cert, const AuditEventInput& event,
      const SessionClaim& claim) override;
  void RecordSessionCertificateAsync(const IssuedCertificate& cert,
                                     const AuditEventInput& event,
                                     const SessionClaim& claim,
                                     RecordedCertificate done) override;
  absl::StatusOr<AuditEvent> AppendAuditEvent(
      const AuditEventInput& event) override;
  absl::StatusOr<std::vector<AuditEvent>> AppendGatewayAuditEvents(
      const GatewayAuditEvents& batch) override;
  absl::StatusOr<std::vector<AuditEvent>> ListAuditEvents(uint64_t after_seq,
                                                          int limit) override;
  absl::StatusOr<AuditHead> GetAuditHead() override;

  absl::StatusOr<Session> CreateSession(const Session& session) override;
  absl::StatusOr<Session> EndSession(std::string_view id,
                                     const SessionEnd& end) override;
  absl::StatusOr<Session> GetSession(std::string_view id) override;
  absl::StatusOr<std::vector<Session>> ListSessions(
      const SessionFilter& filter) override;
  absl::StatusOr<Session> AbandonSession(
      std::string_view id, const SessionAbandonment& mark) override;
  absl::StatusOr<int64_t> CountOpenSessions(std::string_view gateway_id,
                                            int64_t at_most) override;
  absl::StatusOr<Session> AppendSessionRecords(
      const std::vector<SessionRecord>& records) override;
  absl::StatusOr<EndedSession> AppendSessionRecordsAndEnd(
      const std::vector<SessionRecord>& records,
      const SessionEnd& end) override;
  absl::StatusOr<std::vector<SessionRecord>> ListSessionRecords(
      std::string_view session_id, uint64_t after_seq, int limit) override;
  absl::StatusOr<std::string> ClaimSession(
      std::string_view session_id, std::string_view gateway_id) override;
  absl::StatusOr<std::vector<SessionClaim>> ClaimSessions(
      absl::Span<const std::string> session_ids,
      std::string_view gateway_id) override;

  absl::StatusOr<JoinToken> CreateJoinToken(const NewJoinToken& token) override;
  absl::StatusOr<JoinToken> ConsumeJoinToken(
      const base::SecretBytes& token) override;
  absl::StatusOr<JoinToken> GetJoinToken(
      const base::SecretBytes& token) override;
  absl::StatusOr<std::vector<JoinToken>> ListJoinTokens(
      const JoinTokenFilter& filter) override;
  absl::StatusOr<JoinToken> RevokeJoinToken(int64_t id) override;

  // How RecordCertificateWithAudit calls were batched so far.
  GroupCommitStats CertificateCommitStats() const {
    return certificate_commit_.stats();
  }

  absl::StatusOr<CaKey> AddCaKey(const CaKey& key) override;
  absl::StatusOr<CaKey> RotateCaKey(const CaKey& new_key) override;
  absl::StatusOr<CaKey> RetireCaKey(std::string_view fingerprint) override;
  absl::StatusOr<std::vector<CaKey>> ListCaKeys(
      std::optional<CaKeyPurpose> purpose) override;

 protected:
  // `db` has been migrated to `schema_version`. `clock` must outlive this.
  // `issuance` is valid (IssuanceOptions::Validate).
  SqlStore(std::unique_ptr<Database> db, base::Clock* clock, int schema_version,
           const IssuanceOptions& issuance);

  Database& db() { return *db_; }

 private:
  // The clock's now, truncated to what the store keeps.
  absl::Time Now() const;
  // The revocations `query` selects (ListRevocations' columns), in one
  // read.
  absl::StatusOr<std::vector<Revocation>> ReadRevocations(
      const BatchQuery& query);
  absl::Status Transact(TxMode mode, absl::FunctionRef<absl::Status(Tx&)> fn) {
    return db_->Transact(mode, fn);
  }
  // The mode for a read of several statements that need no write lock:
  // SQLite, one read transaction (one snapshot, one look at the WAL);
  // PostgreSQL, one pipeline without BEGIN (kReadOne runs a QueryBatch as
  // one statement), one round trip.
  TxMode BatchReadMode() {
    return db_->dialect() == Dialect::kSqlite ? TxMode::kRead
                                              : TxMode::kReadOne;
  }
  absl::StatusOr<CaKey> InsertCaKey(Tx& tx, const CaKey& key);
  // Runs one read statement as its own transaction; `what` names it in
  // errors.
  absl::StatusOr<std::vector<Row>> ReadOne(BatchQuery query,
                                           std::string_view what);
  // `cert` validated and with its times set (PrepareCertificate).
  absl::StatusOr<IssuedCertificate> PrepareCertificate(
      const IssuedCertificate& in);
  // Inserts `cert`; false (nothing written) when another certificate
  // renews cert.renews_serial already.
  absl::StatusOr<bool> InsertCertificate(Tx& tx, const IssuedCertificate& cert);
  // Whether `cert` may be recorded for its user (cert.user_created_at
  // set): the user's row read and, in PostgreSQL, share-locked to the end
  // of the transaction, so a disable or delete waits for the record (and
  // then finds the certificate to revoke) or is seen by it. Sets
  // `*refusal` to OK or the kFailedPrecondition refusal; returns a store
  // error, which fails the transaction.
  absl::Status CheckCertificateUser(Tx& tx, const IssuedCertificate& cert,
                                    absl::Status* refusal);
  // The gateway that claimed `session_id` in session_owners ("" when none
  // has); claims it first for a non-empty `gateway_id` when none has.
  // `bound`, when given, gets the claim with the user and login a session
  // certificate bound it to (empty when it binds nothing; finding F); the
  // claim row stays share-locked (PostgreSQL) to the end of `tx`.
  absl::Status ClaimOwnership(Tx& tx, std::string_view session_id,
                              std::string_view gateway_id, std::string* owner,
                              SessionClaim* bound = nullptr);
  // The owner of a stored session, else ClaimOwnership: ClaimSession's
  // write.
  absl::Status ClaimStoredOrNew(Tx& tx, std::string_view session_id,
                                std::string_view gateway_id,
                                std::string* owner);
  // ClaimStoredOrNew for claim.gateway_id with one statement for a new id
  // (the issuance's group commit runs one per session certificate), which
  // binds the claim to claim.user and claim.login when claim.user is set,
  // as does the first certificate of a session claimed before (finding F).
  // Sets `*refusal` when the session is another gateway's, or is stored or
  // bound for another user or login; returns a store error, which fails
  // the transaction.
  absl::Status ClaimForCertificate(Tx& tx, const SessionClaim& claim,
                                   std::string* owner, absl::Status* refusal);
  // AppendSessionRecords's transaction (`records` checked by
  // CheckAppend): `session` gets the session's row as it leaves it.
  absl::Status AppendRecordsInTx(Tx& tx,
                                 const std::vector<SessionRecord>& records,
                                 std::vector<Row>& session);
  // EndSession's transaction (`end` checked by CheckEnd): `ended` gets the
  // ended session's row, none when it did not end; then `existing` gets
  // the session as it is (unset when there is none).
  absl::Status EndSessionInTx(Tx& tx, std::string_view id,
                              const SessionEnd& end, std::vector<Row>& ended,
                              std::optional<Session>& existing);
  // `in` validated. Appends under the audit head's row lock.
  absl::StatusOr<AuditEvent> AppendAuditEventInTx(Tx& tx,
                                                  const AuditEventInput& in);
  // Appends `in` in order (each validated) with one bump and one update of
  // the audit head for all of them.
  absl::StatusOr<std::vector<AuditEvent>> AppendAuditEventsInTx(
      Tx& tx, absl::Span<const AuditEventInput* const> in);

  // One certificate and its audit event, queued for group commit; with
  // `claim`, a session certificate whose session is claimed in the same
  // transaction.
  struct CertificateWrite {
    const IssuedCertificate* cert;
    const AuditEventInput* event;
    const SessionClaim* claim = nullptr;
    // Set by the commit: why neither the certificate nor its event was
    // written (another gateway owns the session, `owner`; the user was
    // disabled; the identity was renewed already; its userauth proof was
    // used before); OK when both were.
    absl::Status refusal;
    std::string owner;
  };
  absl::Status CommitCertificates(absl::Span<CertificateWrite* const> batch);
  // CommitCertificates's step for the userauth proofs of the batch's
  // session certificates not refused yet (finding B): prunes expired
  // proofs (kExpiredProofsPrunedPerProof per proof), then records each
  // proof as used, or refuses its certificate (`refusal`, ProofUsed) when
  // it was used before. Returns a store error, which fails the
  // transaction.
  absl::Status UseProofs(Tx& tx, absl::Span<CertificateWrite* const> batch);
  // RecordCertificateWithAudit(Async) and RecordSessionCertificate(Async);
  // `claim` may be null.
  absl::StatusOr<IssuedCertificate> SubmitCertificate(
      const IssuedCertificate& in, const AuditEventInput& event,
      const SessionClaim* claim);
  void SubmitCertificateAsync(const IssuedCertificate& in,
                              const AuditEventInput& event,
                              const SessionClaim* claim,
                              RecordedCertificate done);

  // One page of a session's rows (chunks, records): `query` takes $1 the
  // session id, $2 after_seq, $3 limit and is run as one read statement;
  // `what` ("chunks", "records") names them in errors. Validates the id
  // and limit; a seq past any serial gives an empty page.
  absl::StatusOr<std::vector<Row>> ListSessionRows(const Statement& query,
                                                   std::string_view session_id,
                                                   uint64_t after_seq,
                                                   int limit,
                                                   std::string_view what);
  template <typename T>
  absl::StatusOr<std::vector<T>> ListSessionPage(
      const Statement& query, std::string_view session_id, uint64_t after_seq,
      int limit, std::string_view what,
      absl::StatusOr<T> (*parse_row)(const Row&)) {
    absl::StatusOr<std::vector<Row>> rows =
        ListSessionRows(query, session_id, after_seq, limit, what);
    if (!rows.ok()) return rows.status();
    std::vector<T> out;
    out.reserve(rows->size());
    for (const Row& r : *rows) {
      absl::StatusOr<T> parsed = parse_row(r);
      if (!parsed.ok()) return parsed.status();
      out.push_back(*std::move(parsed));
    }
    return out;
  }

  std::unique_ptr<Database> db_;
  base::Clock* clock_;
  int schema_version_;
  const int serial_block_;
  absl::Mutex serial_mu_;
  // Serials taken from the database and not handed out yet, ascending.
  std::deque<uint64_t> serials_ ABSL_GUARDED_BY(serial_mu_);
  GroupCommit<CertificateWrite> certificate_commit_;
};

// Helpers shared by the sql_store_*.cc files.

// 'name' with non-printable bytes escaped, for error messages and logs.
std::string Quote(std::string_view name);
// "session 'ID'".
std::string SessionWhat(std::string_view id);
// The refusal of a session (or its certificate) naming another user or
// login than `bound`, the session's claim ("<session> <how> for user ...").
absl::Status BoundToAnother(const SessionClaim& bound, std::string_view how,
                            std::string_view user, std::string_view login);
// RecordSessionCertificate's refusal of a session another gateway owns.
absl::Status OwnedElsewhere(const SessionClaim& claim, std::string_view owner);
// Adds `what` (e.g. "user 'bob'") to a failed status: kAlreadyExists becomes
// "<what> already exists"; other codes keep their message with a prefix.
absl::Status Describe(absl::Status status, std::string_view what);
// kInvalidArgument "limit must be 1..10000" unless 1 <= limit <=
// kMaxListLimit.
absl::Status ValidateLimit(int limit);
// kNotFound "<what> not found".
absl::Status NotFound(std::string_view what);
// EndSession's checks of its arguments, before any transaction.
absl::Status CheckEnd(std::string_view id, const SessionEnd& end);
// Why session `id` did not end (EndSessionInTx left no row): it is not
// there (`existing` unset), it has ended, or it holds other records than
// end.expect_last_seq.
absl::Status NotEnded(std::string_view id, const SessionEnd& end,
                      const std::optional<Session>& existing);

// The precondition of a conditional update (UpdateUser, UpdateRole,
// UpdateHost): `what`
// (keyed by `name`, whose updated_at_us `updated_at` selects) still has the
// updated_at its caller read, `since`; none given: no condition. kNotFound
// when it is gone; kAborted saying when it changed otherwise.
absl::Status CheckUnchangedSince(Tx& tx, const Statement& updated_at,
                                 std::string_view name,
                                 std::optional<absl::Time> since,
                                 std::string_view what);
// The SET clause for updated_at_us in an UPDATE with the time `now` (a
// parameter, e.g. "$4"): updated_at_us only moves forward (a clock set back,
// two updates in one microsecond), so an update conditional on it never
// misses a change.
#define SP_NEXT_UPDATED_AT(now)                     \
  "updated_at_us = CASE WHEN updated_at_us >= " now \
  " THEN updated_at_us + 1 ELSE " now " END"

// "user 'NAME'" (sql_store_identity.cc).
std::string UserWhat(std::string_view name);
// kNotFound "user 'NAME' not found" unless user `user` exists, read in `tx`.
absl::Status UserMustExist(Tx& tx, std::string_view user);

// The single reads ReadForIssuance batches (sql_store_identity.cc,
// sql_store_roles.cc, sql_store_inventory.cc): each read's query and the parse
// of its rows (kNotFound when there are none).
BatchQuery UserQuery(std::string_view name);
absl::StatusOr<User> UserFromRows(const std::vector<Row>& rows,
                                  std::string_view name);
BatchQuery RolesForUserQuery(std::string_view name);
absl::StatusOr<std::vector<Role>> RolesFromRows(const std::vector<Row>& rows);
BatchQuery HostQuery(std::string_view name);
absl::StatusOr<Host> HostFromRows(const std::vector<Row>& rows,
                                  std::string_view name);
BatchQuery CertificateQuery(uint64_t serial);
// A revocation row when the key that certificate `serial` certifies is
// revoked.
BatchQuery CertificateKeyRevokedQuery(uint64_t serial);
absl::StatusOr<IssuedCertificate> CertificateFromRows(
    const std::vector<Row>& rows, uint64_t serial);
// The owner of a session id (sql_store_recordings.cc): a row (priority,
// gateway_id) when the session is stored or claimed.
BatchQuery SessionOwnerQuery(std::string_view session_id);
// kInvalidArgument for a bad fingerprint; a revocation row when revoked.
absl::StatusOr<BatchQuery> RevokedQuery(uint64_t serial,
                                        std::string_view key_fingerprint);

// A sessions row as SessionFromRow reads it (sql_store_audit.cc): the
// columns, for a SELECT or a RETURNING clause; the query of session `id`
// (no row when there is none); the Session of a row (kDataLoss for a bad
// status).
#define SP_SESSION_COLUMNS                                               \
  "id, user_name, login, host, started_at_us, ended_at_us, bytes_in, "   \
  "bytes_out, status, gateway_id, last_seq, chain_head, open_bytes_in, " \
  "open_bytes_out, abandoned_at_us, abandoned_by, abandon_reason"
BatchQuery SessionQuery(std::string_view id);
absl::StatusOr<Session> SessionFromRow(const Row& r);

}  // namespace sallyport::storage::sql

#endif  // SALLYPORT_STORAGE_SQL_SQL_STORE_H_
