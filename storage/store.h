// Store: the persistent state of the CA, the audit log and the gateway's
// session index (DESIGN.md §8). Implementations: SqliteStore
// (//storage/sqlite) and PostgresStore (//storage/postgres); choose one with
// OpenStore (//storage:open) near main. No SQL leaves //storage.
//
// Contract shared by every method and both backends (one test suite proves
// it, storage/store_test_suite.h):
// - Thread-safe; several processes or instances may share one database.
// - Invalid input (see records.h: NUL bytes, bad UTF-8, limits, missing
//   fields) → kInvalidArgument, before anything is written.
// - Missing record → kNotFound; duplicate key → kAlreadyExists; an operation
//   that conflicts with the current state → kFailedPrecondition.
// - Database unreachable or busy beyond its timeout → kUnavailable
//   (retryable); too much contention to finish → kAborted (retryable).
// - Corrupt database → kDataLoss. Anything else → kInternal.
// - Timestamps "set by the store" come from the Clock given at creation.
#ifndef SALLYPORT_STORAGE_STORE_H_
#define SALLYPORT_STORAGE_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "base/secret_bytes.h"
#include "storage/records.h"

namespace sallyport::storage {

// What one issuance (or one authenticated call) reads, asked for at once
// with Store::ReadForIssuance (issue 11): one read transaction on SQLite,
// one round trip on PostgreSQL.
struct IssuanceReads {
  // IsRevoked(serial, key_fingerprint) for each.
  std::vector<std::pair<uint64_t, std::string>> revocations;
  std::string user;          // GetUser; empty: not read
  bool roles = false;        // ListRolesForUser(user) too
  uint64_t certificate = 0;  // GetCertificate; 0: not read
  std::string host;          // GetHost; empty: not read
  std::string session;       // the owner of this session id; empty: not read
  // With `certificate`: whether the key that certificate certifies is
  // revoked (by its fingerprint, as recorded with the certificate).
  bool certificate_key_revoked = false;
};
// Their results, each as the single call would return it.
struct IssuanceSnapshot {
  std::vector<bool> revoked;  // one per IssuanceReads::revocations
  std::optional<absl::StatusOr<User>> user;
  std::vector<Role> roles;
  std::optional<absl::StatusOr<IssuedCertificate>> certificate;
  // Set when asked (IssuanceReads::certificate_key_revoked); false when the
  // certificate is not found.
  std::optional<bool> certificate_key_revoked;
  std::optional<absl::StatusOr<Host>> host;
  // The gateway owning IssuanceReads::session as ClaimSession would return
  // it, without claiming: "" when no gateway has claimed it (or it was
  // stored before schema version 5, owned by none).
  std::optional<absl::StatusOr<std::string>> session_owner;
};

// A session id claimed for the gateway that obtains its session certificate
// (Store::RecordSessionCertificate; issue 14), and what that certificate
// was issued for (finding F; schema version 16): the user, the login and
// the host's inventory name. With a user the claim binds the session to
// that user and login: its stored session must name them (CreateSession).
// An empty user binds nothing (a claim without a certificate).
// With a userauth proof (finding B; schema version 17) the certificate is
// the proof's one use: see RecordSessionCertificate.
struct SessionClaim {
  // The payload type of RecordSessionCertificate's and CreateSession's
  // refusal of a session bound to another user or login (its message
  // names both, which the owning gateway may see), unlike the refusal of
  // another gateway's session.
  static constexpr char kBoundToAnother[] =
      "sallyport.storage.SessionClaim.bound_to_another";
  // The payload type of RecordSessionCertificate's refusal of a userauth
  // proof used before (its message names the session it was used for).
  static constexpr char kProofUsed[] =
      "sallyport.storage.SessionClaim.proof_used";
  std::string session_id;
  std::string gateway_id;
  std::string user = {};
  std::string login = {};
  std::string host = {};
  // The user's userauth proof the certificate is issued on (finding B):
  // the SHA-256 of its signed data as 64 lowercase hex digits (empty: no
  // proof, nothing remembered), and when the user certificate it proves
  // expires, after which the proof is worthless and is forgotten.
  std::string userauth_proof_sha256 = {};
  absl::Time userauth_proof_expires_at = absl::InfinitePast();
};

// Finding B: the expired used userauth proofs a session certificate's
// record deletes at most, per proof it records (the oldest first), so the
// table shrinks back to the proofs still of use while certificates are
// issued.
inline constexpr int kExpiredProofsPrunedPerProof = 2;
// How long a used userauth proof is kept after its user certificate
// expired: CA instances sharing the store may disagree on the time by
// this much, and one whose clock is behind still takes the certificate
// as valid.
inline constexpr absl::Duration kUsedProofKeptAfterExpiry = absl::Minutes(5);

class Store {
 public:
  virtual ~Store() = default;

  // The schema version of the open database (the latest this binary knows).
  virtual int SchemaVersion() const = 0;

  // ------------------------------------------------------------ users
  // Creates the user and its (empty) credentials. kAlreadyExists.
  virtual absl::StatusOr<User> CreateUser(const User& user) = 0;
  // kNotFound.
  virtual absl::StatusOr<User> GetUser(std::string_view name) = 0;
  // All users by name.
  virtual absl::StatusOr<std::vector<User>> ListUsers() = 0;
  // Replaces display_name and disabled of user.name. kNotFound. With
  // `unchanged_since` (the updated_at its caller read), only while the
  // stored user still has that updated_at, kAborted saying when it changed
  // otherwise: an update made from an old read must not undo another
  // admin's (a user disabled meanwhile enabled again). updated_at only moves
  // forward.
  virtual absl::StatusOr<User> UpdateUser(
      const User& user, std::optional<absl::Time> unchanged_since) = 0;
  absl::StatusOr<User> UpdateUser(const User& user) {
    return UpdateUser(user, std::nullopt);
  }
  // Deletes the user, its credentials and role bindings. kNotFound.
  virtual absl::Status DeleteUser(std::string_view name) = 0;

  // ------------------------------------------------------------ credentials
  // kNotFound when the user does not exist.
  virtual absl::StatusOr<Credentials> GetCredentials(std::string_view user) = 0;
  // Replaces the password hash (empty removes it). kNotFound.
  virtual absl::Status SetPasswordHash(std::string_view user,
                                       std::string_view password_hash) = 0;
  // Replaces the TOTP secret (empty removes it) and forgets the last
  // accepted TOTP step, so any step of the new secret can be claimed.
  // kNotFound.
  virtual absl::Status SetTotpSecret(std::string_view user,
                                     const base::SecretBytes& secret) = 0;
  // Atomically records `step` as the user's last accepted TOTP step if it is
  // later than the stored one (or none is stored): true when claimed, false
  // when `step` is at or before it (a replay). Of several stores claiming
  // the same step at once, exactly one gets true. kNotFound for an unknown
  // user; kInvalidArgument when `step` > INT64_MAX.
  virtual absl::StatusOr<bool> ClaimTotpStep(std::string_view user,
                                             uint64_t step) = 0;
  // Atomically counts one failed login. When the count reaches
  // policy.max_failures the account is locked until now + policy.lockout and
  // the count restarts at 0. While locked, failures are not counted and the
  // lock is not extended. kNotFound.
  virtual absl::StatusOr<LoginFailureResult> RecordLoginFailure(
      std::string_view user, const LockoutPolicy& policy) = 0;
  // Resets the failure count (an active lock stays). kNotFound.
  virtual absl::Status RecordLoginSuccess(std::string_view user) = 0;
  // Clears the lock and the failure count (admin action). kNotFound.
  virtual absl::Status UnlockUser(std::string_view user) = 0;

  // ------------------------------------------------------------ roles
  virtual absl::StatusOr<Role> CreateRole(const Role& role) = 0;
  virtual absl::StatusOr<Role> GetRole(std::string_view name) = 0;
  virtual absl::StatusOr<std::vector<Role>> ListRoles() = 0;
  // Replaces every field but name and created_at. kNotFound. kAborted
  // when `unchanged_since` is given and the role changed since, as
  // UpdateUser.
  virtual absl::StatusOr<Role> UpdateRole(
      const Role& role, std::optional<absl::Time> unchanged_since) = 0;
  absl::StatusOr<Role> UpdateRole(const Role& role) {
    return UpdateRole(role, std::nullopt);
  }
  // Also removes the role's bindings. kNotFound.
  virtual absl::Status DeleteRole(std::string_view name) = 0;

  // kNotFound (naming the user or the role), kAlreadyExists.
  virtual absl::StatusOr<RoleBinding> BindRole(std::string_view user,
                                               std::string_view role) = 0;
  // kNotFound when the binding does not exist.
  virtual absl::Status UnbindRole(std::string_view user,
                                  std::string_view role) = 0;
  // Bindings of one user, or all when `user` is unset; by user, then role.
  virtual absl::StatusOr<std::vector<RoleBinding>> ListRoleBindings(
      std::optional<std::string_view> user) = 0;
  // The roles bound to `user`, by name (empty for an unknown user).
  virtual absl::StatusOr<std::vector<Role>> ListRolesForUser(
      std::string_view user) = 0;

  // ------------------------------------------------------------ hosts
  // Host names are stored in lowercase (CreateHost lowercases). A name
  // given to GetHost, UpdateHost, DeleteHost or ReadForIssuance means the
  // host stored as that name exactly (one stored with capitals before
  // schema version 9, whose lowercase name was taken), else the one stored
  // as its lowercase form: one rule for all four.
  virtual absl::StatusOr<Host> CreateHost(const Host& host) = 0;
  // kNotFound.
  virtual absl::StatusOr<Host> GetHost(std::string_view name) = 0;
  virtual absl::StatusOr<std::vector<Host>> ListHosts() = 0;
  // Replaces every field but name and created_at of the host `host.name`
  // means; returns it with its stored name. kNotFound. kAborted
  // when `unchanged_since` is given and the host changed since, as
  // UpdateUser: an admin's edit made from an old read must not undo
  // another's (an address or pinned key changed meanwhile).
  virtual absl::StatusOr<Host> UpdateHost(
      const Host& host, std::optional<absl::Time> unchanged_since) = 0;
  absl::StatusOr<Host> UpdateHost(const Host& host) {
    return UpdateHost(host, std::nullopt);
  }
  // Deletes the host `name` means; returns the name it was stored under.
  // kNotFound.
  virtual absl::StatusOr<std::string> DeleteHost(std::string_view name) = 0;

  // ------------------------------------------------------------ certificates
  // A new serial, unique across every store sharing the database, never
  // reused (gaps are possible).
  virtual absl::StatusOr<uint64_t> AllocateSerial() = 0;
  // Records an issued certificate. kAlreadyExists for a known serial.
  // With cert.user_created_at set, kFailedPrecondition (nothing written,
  // its audit event neither) when the user `cert.user` no longer exists, is
  // disabled, or was created at another time (deleted and created again):
  // checked in the record's transaction, holding the user's row, so a
  // disable or delete committed before it refuses the certificate, and one
  // committed after it finds the certificate to revoke. With
  // cert.renews_serial set, kAlreadyExists (nothing written) when another
  // certificate renews that serial already.
  virtual absl::StatusOr<IssuedCertificate> RecordCertificate(
      const IssuedCertificate& cert) = 0;
  // RecordCertificate and AppendAuditEvent(event) in one transaction: both
  // or neither, so no issued certificate is recorded without its audit
  // event. Errors as for the two.
  virtual absl::StatusOr<IssuedCertificate> RecordCertificateWithAudit(
      const IssuedCertificate& cert, const AuditEventInput& event) = 0;
  // RecordCertificateWithAudit without parking the caller while the
  // transaction commits: `done` gets its result exactly once, on another
  // thread or before this returns. Arguments are copied. This default runs
  // the blocking call.
  using RecordedCertificate =
      std::function<void(absl::StatusOr<IssuedCertificate>)>;
  virtual void RecordCertificateWithAuditAsync(const IssuedCertificate& cert,
                                               const AuditEventInput& event,
                                               RecordedCertificate done) {
    done(RecordCertificateWithAudit(cert, event));
  }
  // RecordCertificateWithAudit for a session certificate, which also claims
  // claim.session_id for claim.gateway_id (as ClaimSession) in the same
  // transaction: the gateway that obtains a session's certificate owns the
  // session before it writes anything. When another gateway owns the id
  // (or a session stored before schema version 5, owned by none, has it),
  // nothing is written: kPermissionDenied naming the owner. The same
  // gateway may record any number of certificates of its session.
  // With claim.user (finding F) the claim binds the session to claim.user
  // and claim.login (and records claim.host): the first certificate of a
  // session binds it, also a session claimed before by an event or a
  // recording. A certificate whose user or login differs from the ones the
  // session is bound to, or from those of its stored session, is refused
  // the same way (kPermissionDenied, nothing written).
  // With claim.userauth_proof_sha256 (finding B) the proof is recorded as
  // used for claim.session_id until claim.userauth_proof_expires_at (plus
  // kUsedProofKeptAfterExpiry), by every store sharing the database: a
  // certificate on a proof recorded before, for any session (its own
  // included), is refused (kPermissionDenied with payload
  // SessionClaim::kProofUsed, naming the session the proof was used for;
  // nothing written, no claim either). A proof is recorded only with its
  // certificate. Each record deletes up to kExpiredProofsPrunedPerProof
  // expired proofs per proof it records.
  // kInvalidArgument for an empty or oversized id or gateway, an
  // oversized user, login or host, or a proof digest that is not 64
  // lowercase hex digits; otherwise errors as for
  // RecordCertificateWithAudit.
  virtual absl::StatusOr<IssuedCertificate> RecordSessionCertificate(
      const IssuedCertificate& cert, const AuditEventInput& event,
      const SessionClaim& claim) = 0;
  // RecordSessionCertificate without parking the caller, like
  // RecordCertificateWithAuditAsync.
  virtual void RecordSessionCertificateAsync(const IssuedCertificate& cert,
                                             const AuditEventInput& event,
                                             const SessionClaim& claim,
                                             RecordedCertificate done) {
    done(RecordSessionCertificate(cert, event, claim));
  }
  virtual absl::StatusOr<IssuedCertificate> GetCertificate(uint64_t serial) = 0;
  // By serial, ascending.
  virtual absl::StatusOr<std::vector<IssuedCertificate>> ListCertificates(
      const CertificateFilter& filter) = 0;

  // ------------------------------------------------------------ revocations
  // kAlreadyExists when that serial or key is already revoked.
  virtual absl::StatusOr<Revocation> Revoke(const Revocation& revocation) = 0;
  // Revocations with id > after_id, by id (for incremental refresh).
  virtual absl::StatusOr<std::vector<Revocation>> ListRevocations(
      int64_t after_id) = 0;
  // ListRevocations without the serials of recorded certificates that
  // expired by `now` (an expired certificate is refused anyway): what a
  // checker of current certificates needs, which stays small where the
  // whole list only grows. Keys, and serials of no recorded certificate,
  // are all listed.
  virtual absl::StatusOr<std::vector<Revocation>> ListCurrentRevocations(
      int64_t after_id, absl::Time now) = 0;
  // True when the serial or the key fingerprint is revoked.
  virtual absl::StatusOr<bool> IsRevoked(uint64_t serial,
                                         std::string_view key_fingerprint) = 0;

  // The reads of `reads` at once. A user, certificate or host that is not
  // found (or a name the single call refuses) is that field's status; any
  // other error fails the whole call.
  virtual absl::StatusOr<IssuanceSnapshot> ReadForIssuance(
      const IssuanceReads& reads) = 0;

  // ------------------------------------------------------------ audit
  // Appends one event atomically: seq = head.seq + 1, prev_hash = head.hash,
  // time = the clock's now, hash = AuditEventHash(...) (audit_hash.h).
  // Events are never updated or deleted (the schema refuses it).
  virtual absl::StatusOr<AuditEvent> AppendAuditEvent(
      const AuditEventInput& event) = 0;
  // Appends a gateway's events (GatewayAuditEvents) in order, all in ONE
  // transaction: a failure writes none of them. With a stream, the events
  // whose number is at or below the highest number stored for
  // (gateway_id, stream) are left out, and the batch's last number is
  // stored: a batch sent again (its answer lost, or after a failure) adds
  // only what is not stored yet. Returns the events appended, the batch's
  // last ones (none when all were stored before). kInvalidArgument
  // (GatewayAuditEvents::Validate) before anything is written.
  // A gateway's streams are kept up to kGatewayEventStreamsKept: a batch
  // on a new stream forgets the gateway's least recently written ones
  // beyond it (a run that has not sent since that many newer runs of the
  // gateway started; a batch sent again on a forgotten stream would be
  // appended again).
  virtual absl::StatusOr<std::vector<AuditEvent>> AppendGatewayAuditEvents(
      const GatewayAuditEvents& batch) = 0;
  // Events with seq > after_seq, ascending, at most `limit` (1..10000).
  virtual absl::StatusOr<std::vector<AuditEvent>> ListAuditEvents(
      uint64_t after_seq, int limit) = 0;
  virtual absl::StatusOr<AuditHead> GetAuditHead() = 0;

  // ------------------------------------------------------------ sessions
  // kAlreadyExists for a known id; kPermissionDenied when another gateway
  // than session.gateway_id claimed the id (ClaimSession), or when a
  // session certificate bound the id to another user or login than
  // session.user and session.login (RecordSessionCertificate; finding F).
  virtual absl::StatusOr<Session> CreateSession(const Session& session) = 0;
  // Sets ended_at, status and byte counts of an active session (its
  // open_bytes_in/open_bytes_out become 0), and appends end.event's audit
  // event in the same transaction. kNotFound; kFailedPrecondition when it
  // has already ended.
  virtual absl::StatusOr<Session> EndSession(std::string_view id,
                                             const SessionEnd& end) = 0;
  virtual absl::StatusOr<Session> GetSession(std::string_view id) = 0;
  // Newest first.
  virtual absl::StatusOr<std::vector<Session>> ListSessions(
      const SessionFilter& filter) = 0;
  // Marks active session `id` abandoned (Session::abandoned_at,
  // abandoned_by, abandon_reason; schema version 19): an admin's word that
  // its gateway is gone for good and will not ship its end. The status
  // stays active, so records and an end the owning gateway still ships are
  // stored as before; it no longer counts in CountOpenSessions. Returns the
  // session. kNotFound; kFailedPrecondition when it has ended or was
  // marked before (naming by whom); kInvalidArgument for an empty or
  // oversized `by`, or a reason that is empty, longer than
  // kMaxAbandonReasonBytes or not UTF-8 (the CA also refuses control
  // characters).
  virtual absl::StatusOr<Session> AbandonSession(
      std::string_view id, const SessionAbandonment& mark) = 0;
  // How many sessions of gateway `gateway_id` are open (status active: not
  // ended, failed or interrupted, and not marked abandoned), counted up to
  // `at_most` (1.. kMaxOpenSessionsCounted): the answer is min(open, at_most),
  // and the count reads at most that many entries of an index of the open
  // sessions (schema version 18; and the marked abandoned ones in it), never
  // the gateway's ended ones. Every store
  // sharing the database sees the same count. kInvalidArgument for an
  // empty or oversized gateway or `at_most` out of range.
  virtual absl::StatusOr<int64_t> CountOpenSessions(std::string_view gateway_id,
                                                    int64_t at_most) = 0;
  // Recording records (table session_chunks) ---------------------------
  // (Schema version 1's raw chunks stay in table legacy_session_chunks,
  // kept by the migrations; the Store neither reads nor writes them.)
  // Appends recording records of ONE session (kInvalidArgument for mixed
  // sessions) in one transaction and moves the session's head (last_seq,
  // chain_head) to the last one. Records whose seq is already stored are
  // skipped when their hash equals the stored one (a spool re-shipped after
  // a lost confirmation) and refused with kFailedPrecondition when it
  // differs. The others must continue the stored seq without a gap
  // (kFailedPrecondition). kNotFound for an unknown session;
  // kFailedPrecondition when new records arrive for an ended session.
  // The byte counts (value1, value2) of new kChannelClose records are added
  // to the session's bytes_in and bytes_out; the bytes of new kData records
  // of channels without a close yet to its open_bytes_in/open_bytes_out,
  // which leave them when their channel closes (Session).
  // Returns the session with its new head.
  virtual absl::StatusOr<Session> AppendSessionRecords(
      const std::vector<SessionRecord>& records) = 0;
  // AppendSessionRecords(records) whose last record is the session's end,
  // then, in the SAME transaction, EndSession with `end` (and
  // expect_last_seq = records.back().seq; end.bytes_in and bytes_out are
  // ignored: the session keeps the counts its records summed): a
  // session_end record is never stored without the session's end, which
  // `spctl sessions verify` compares with it. When the session has ended
  // already (the records sent again), nothing is ended: `ended` is false.
  // Errors as for the two; any error writes nothing.
  virtual absl::StatusOr<EndedSession> AppendSessionRecordsAndEnd(
      const std::vector<SessionRecord>& records, const SessionEnd& end) = 0;
  // Records of one session with seq > after_seq, ascending, at most `limit`
  // (1..10000).
  virtual absl::StatusOr<std::vector<SessionRecord>> ListSessionRecords(
      std::string_view session_id, uint64_t after_seq, int limit) = 0;
  // The gateway that owns session `session_id` (issue 14: a gateway writes
  // events and recordings of its own sessions only). A stored session is
  // owned by its `gateway_id` ("" for one stored before schema version 5:
  // owned by no gateway). Otherwise the first gateway to claim the id owns
  // it: this call claims it for `gateway_id` when no gateway has, and a
  // claim never changes (RecordSessionCertificate, which the CA calls when
  // it issues the session's certificate, and CreateSession claim too).
  // Returns the owner, which differs from `gateway_id` when another gateway
  // owns the session.
  // kInvalidArgument for an empty or oversized id or gateway.
  virtual absl::StatusOr<std::string> ClaimSession(
      std::string_view session_id, std::string_view gateway_id) = 0;
  // ClaimSession for each of `session_ids` (a request's sessions: the
  // caller bounds their number), in their order, with what each claim
  // binds (finding F): SessionClaim{id, owner, user, login, host}, the
  // owner as ClaimSession returns it, and the user, login and host a
  // session certificate bound the claim to (RecordSessionCertificate),
  // empty when it binds nothing (claimed without a certificate, or before
  // schema version 16, or claimed by this call). One read when every id is
  // stored or claimed already. kInvalidArgument as ClaimSession.
  virtual absl::StatusOr<std::vector<SessionClaim>> ClaimSessions(
      absl::Span<const std::string> session_ids,
      std::string_view gateway_id) = 0;

  // ------------------------------------------------------------ join tokens
  // Stores SHA-256(token). kAlreadyExists for the same secret.
  virtual absl::StatusOr<JoinToken> CreateJoinToken(
      const NewJoinToken& token) = 0;
  // Marks the token used, exactly once across all stores sharing the
  // database. kNotFound for an unknown secret; kFailedPrecondition when it
  // was already used, was revoked or has expired.
  virtual absl::StatusOr<JoinToken> ConsumeJoinToken(
      const base::SecretBytes& token) = 0;
  // The token whose secret is `token`, in whatever state, without using
  // it (what an enrolment checks before it spends the token). kNotFound
  // for an unknown secret.
  virtual absl::StatusOr<JoinToken> GetJoinToken(
      const base::SecretBytes& token) = 0;
  // Tokens by id, ascending. kInvalidArgument for a limit outside 1..10000.
  virtual absl::StatusOr<std::vector<JoinToken>> ListJoinTokens(
      const JoinTokenFilter& filter) = 0;
  // Revokes an unused token so it can never be consumed (atomic with
  // ConsumeJoinToken: exactly one of them wins). kNotFound for an unknown
  // id; kFailedPrecondition when it was already used or revoked.
  virtual absl::StatusOr<JoinToken> RevokeJoinToken(int64_t id) = 0;

  // ------------------------------------------------------------ CA keys
  // kAlreadyExists for a known fingerprint, or when adding an active key
  // while another key of the same purpose is active.
  virtual absl::StatusOr<CaKey> AddCaKey(const CaKey& key) = 0;
  // Atomically retires the active key of new_key.purpose (if any) and adds
  // new_key as active.
  virtual absl::StatusOr<CaKey> RotateCaKey(const CaKey& new_key) = 0;
  // kNotFound; kFailedPrecondition when already retired.
  virtual absl::StatusOr<CaKey> RetireCaKey(std::string_view fingerprint) = 0;
  // All keys of the purpose (or all), oldest first.
  virtual absl::StatusOr<std::vector<CaKey>> ListCaKeys(
      std::optional<CaKeyPurpose> purpose) = 0;
};

}  // namespace sallyport::storage

#endif  // SALLYPORT_STORAGE_STORE_H_
