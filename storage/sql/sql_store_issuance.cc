// SqlStore: the issuance path (serials and certificate records), built to
// issue thousands of certificates per second without giving up durability:
// serials come from the database in blocks, and certificate records with
// their audit events are written by group commit (group_commit.h).
#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "storage/sql/codec.h"
#include "storage/sql/sql_store.h"

namespace sallyport::storage::sql {
namespace {

// The one dialect difference for serials: a counter row advanced by a whole
// block under the database write lock (SQLite: returns the block's first
// serial), or a sequence (PostgreSQL: returns one row per serial; nextval
// never hands the same value to two sessions).
constexpr Statement kAllocateSerialBlock(
    "UPDATE serial_counter SET next = next + $1 WHERE id = 1 "
    "RETURNING next - $1",
    "SELECT nextval('certificate_serials') FROM generate_series(1, $1)");
// A second renewal of one gateway identity writes nothing (0 rows) rather
// than failing the transaction, which the rest of its batch shares.
constexpr Statement kInsertCertificate(
    "INSERT INTO certificates (serial, key_id, user_name, principals, "
    "valid_after_us, valid_before_us, public_key_fingerprint, "
    "ca_key_fingerprint, purpose, issued_at_us, renews_serial) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
    "ON CONFLICT (renews_serial) DO NOTHING");
// The user a certificate is issued to, held (PostgreSQL: FOR SHARE) until
// the record commits: UpdateUser and DeleteUser wait for it, and a record
// waiting behind one reads the user as it committed. SQLite's write lock
// already orders them.
constexpr Statement kUserForCertificate(
    "SELECT disabled, created_at_us FROM users WHERE name = $1",
    "SELECT disabled, created_at_us FROM users WHERE name = $1 FOR SHARE");

// Finding B: a userauth proof's one use, until its user certificate
// expires. 0 rows: used before (PostgreSQL: after waiting for a store
// recording it meanwhile, whose row it then sees).
constexpr Statement kUseProof(
    "INSERT INTO used_userauth_proofs (proof_sha256, session_id, "
    "expires_at_us) VALUES ($1, $2, $3) "
    "ON CONFLICT (proof_sha256) DO NOTHING");
constexpr Statement kProofUsedFor(
    "SELECT session_id FROM used_userauth_proofs WHERE proof_sha256 = $1");
// At most $2 proofs expired before $1, the oldest first. PostgreSQL skips
// the rows another store is deleting: two stores' prunes neither wait for
// nor deadlock with each other.
constexpr Statement kPruneProofs(
    "DELETE FROM used_userauth_proofs WHERE proof_sha256 IN ("
    "SELECT proof_sha256 FROM used_userauth_proofs WHERE expires_at_us < $1 "
    "ORDER BY expires_at_us, proof_sha256 LIMIT $2)",
    "DELETE FROM used_userauth_proofs WHERE proof_sha256 IN ("
    "SELECT proof_sha256 FROM used_userauth_proofs WHERE expires_at_us < $1 "
    "ORDER BY expires_at_us, proof_sha256 LIMIT $2 FOR UPDATE SKIP LOCKED)");

std::string CertificateWhat(const IssuedCertificate& cert) {
  return absl::StrCat("certificate serial ", cert.serial);
}

absl::Status ValidateClaim(const SessionClaim& claim) {
  RETURN_IF_ERROR(
      ValidateText("session id", claim.session_id, kMaxNameBytes, true));
  RETURN_IF_ERROR(
      ValidateText("gateway id", claim.gateway_id, kMaxNameBytes, true));
  RETURN_IF_ERROR(ValidateText("user", claim.user, kMaxNameBytes, false));
  RETURN_IF_ERROR(ValidateText("login", claim.login, kMaxNameBytes, false));
  RETURN_IF_ERROR(ValidateText("host", claim.host, kMaxNameBytes, false));
  if (!claim.userauth_proof_sha256.empty() &&
      !IsLowerHexHash(claim.userauth_proof_sha256)) {
    return absl::InvalidArgumentError(
        "userauth proof digest must be 64 lowercase hex characters");
  }
  return absl::OkStatus();
}

// The refusal of a session certificate on a userauth proof used before,
// for `used_for` (empty: its row expired and went meanwhile).
absl::Status ProofUsed(const SessionClaim& claim, std::string_view used_for) {
  absl::Status st = absl::PermissionDeniedError(absl::StrCat(
      "the user's userauth proof (the signature of this login to the "
      "gateway) was already used for ",
      used_for.empty() ? std::string("an earlier session")
                       : SessionWhat(used_for),
      ", so it gets no certificate for ", SessionWhat(claim.session_id),
      ": a replayed proof"));
  st.SetPayload(SessionClaim::kProofUsed, absl::Cord("1"));
  return st;
}

// The refusal of a second renewal of one gateway identity.
absl::Status RenewedAlready(const IssuedCertificate& cert) {
  return absl::AlreadyExistsError(
      absl::StrCat("gateway identity serial ", cert.renews_serial,
                   " was renewed already (each renews once)"));
}

}  // namespace

absl::StatusOr<uint64_t> SqlStore::AllocateSerial() {
  absl::MutexLock lock(&serial_mu_);
  if (serials_.empty()) {
    std::vector<Row> rows;
    RETURN_IF_ERROR(
        Describe(Transact(TxMode::kReadCommitted,
                          [&](Tx& tx) -> absl::Status {
                            ASSIGN_OR_RETURN(
                                rows, tx.Query(kAllocateSerialBlock,
                                               {Param::Int(serial_block_)}));
                            return absl::OkStatus();
                          }),
                 "allocate certificate serials"));
    std::vector<int64_t> block;
    if (db().dialect() == Dialect::kSqlite) {
      const int64_t first = rows.empty() ? 0 : rows[0][0].AsInt();
      for (int64_t i = 0; i < serial_block_ && first > 0; ++i) {
        block.push_back(first + i);
      }
    } else {
      for (const Row& r : rows) block.push_back(r[0].AsInt());
    }
    if (block.size() != static_cast<size_t>(serial_block_)) {
      return absl::DataLossError(
          "allocate certificate serials: the serial counter is missing");
    }
    for (int64_t s : block) {
      if (s <= 0 || static_cast<uint64_t>(s) > kMaxSerial) {
        return absl::DataLossError(
            "allocate certificate serials: bad or exhausted counter");
      }
      serials_.push_back(static_cast<uint64_t>(s));
    }
  }
  const uint64_t serial = serials_.front();
  serials_.pop_front();
  return serial;
}

absl::StatusOr<std::vector<Row>> SqlStore::ReadOne(BatchQuery query,
                                                   std::string_view what) {
  std::vector<Row> rows;
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kReadOne,
               [&](Tx& tx) -> absl::Status {
                 ASSIGN_OR_RETURN(rows, tx.Query(*query.stmt, query.params));
                 return absl::OkStatus();
               }),
      what));
  return rows;
}

absl::StatusOr<IssuanceSnapshot> SqlStore::ReadForIssuance(
    const IssuanceReads& reads) {
  IssuanceSnapshot out;
  std::vector<BatchQuery> queries;
  for (const auto& [serial, fingerprint] : reads.revocations) {
    ASSIGN_OR_RETURN(BatchQuery q, RevokedQuery(serial, fingerprint));
    queries.push_back(std::move(q));
  }
  // A name or serial the single call refuses (or cannot find) without
  // asking the database is that field's answer; the rest are queried.
  int user_at = -1, roles_at = -1, cert_at = -1, cert_key_at = -1, host_at = -1,
      session_at = -1;
  const auto add = [&](BatchQuery q) {
    queries.push_back(std::move(q));
    return static_cast<int>(queries.size()) - 1;
  };
  if (!reads.user.empty()) {
    absl::Status valid =
        ValidateText("user name", reads.user, kMaxNameBytes, true);
    if (valid.ok()) {
      user_at = add(UserQuery(reads.user));
      if (reads.roles) roles_at = add(RolesForUserQuery(reads.user));
    } else {
      out.user = valid;
    }
  }
  if (reads.certificate != 0) {
    if (reads.certificate > kMaxSerial) {
      out.certificate =
          NotFound(absl::StrCat("certificate serial ", reads.certificate));
      if (reads.certificate_key_revoked) out.certificate_key_revoked = false;
    } else {
      cert_at = add(CertificateQuery(reads.certificate));
      if (reads.certificate_key_revoked) {
        cert_key_at = add(CertificateKeyRevokedQuery(reads.certificate));
      }
    }
  }
  if (!reads.host.empty()) {
    absl::Status valid =
        ValidateText("host name", reads.host, kMaxNameBytes, true);
    if (valid.ok()) {
      host_at = add(HostQuery(reads.host));
    } else {
      out.host = valid;
    }
  }
  if (!reads.session.empty()) {
    absl::Status valid =
        ValidateText("session id", reads.session, kMaxNameBytes, true);
    if (valid.ok()) {
      session_at = add(SessionOwnerQuery(reads.session));
    } else {
      out.session_owner = valid;
    }
  }
  std::vector<std::vector<Row>> rows;
  if (!queries.empty()) {
    RETURN_IF_ERROR(Describe(Transact(BatchReadMode(),
                                      [&](Tx& tx) -> absl::Status {
                                        ASSIGN_OR_RETURN(
                                            rows, tx.QueryBatch(queries));
                                        return absl::OkStatus();
                                      }),
                             "issuance reads"));
  }
  for (size_t i = 0; i < reads.revocations.size(); ++i) {
    out.revoked.push_back(!rows[i].empty());
  }
  if (user_at >= 0) out.user = UserFromRows(rows[user_at], reads.user);
  if (roles_at >= 0) {
    ASSIGN_OR_RETURN(out.roles, RolesFromRows(rows[roles_at]));
  }
  if (cert_at >= 0) {
    out.certificate = CertificateFromRows(rows[cert_at], reads.certificate);
  }
  if (cert_key_at >= 0)
    out.certificate_key_revoked = !rows[cert_key_at].empty();
  if (host_at >= 0) out.host = HostFromRows(rows[host_at], reads.host);
  if (session_at >= 0) {
    out.session_owner = rows[session_at].empty()
                            ? std::string()
                            : rows[session_at][0][1].AsBytes();
  }
  return out;
}

absl::StatusOr<IssuedCertificate> SqlStore::PrepareCertificate(
    const IssuedCertificate& in) {
  RETURN_IF_ERROR(in.Validate());
  IssuedCertificate cert = in;
  cert.valid_after = TruncateToMicros(cert.valid_after);
  cert.valid_before = TruncateToMicros(cert.valid_before);
  cert.issued_at = Now();
  return cert;
}

absl::StatusOr<bool> SqlStore::InsertCertificate(
    Tx& tx, const IssuedCertificate& cert) {
  ASSIGN_OR_RETURN(std::string principals, EncodeStringList(cert.principals));
  ASSIGN_OR_RETURN(
      int64_t rows,
      tx.Exec(kInsertCertificate,
              {SerialParam(cert.serial), Param::Text(cert.key_id),
               Param::Text(cert.user), Param::Text(principals),
               TimeParam(cert.valid_after), TimeParam(cert.valid_before),
               Param::Text(cert.public_key_fingerprint),
               Param::Text(cert.ca_key_fingerprint),
               Param::Text(CertificatePurposeName(cert.purpose)),
               TimeParam(cert.issued_at),
               cert.renews_serial == 0 ? Param::OptInt(std::nullopt)
                                       : SerialParam(cert.renews_serial)}));
  return rows == 1;
}

absl::Status SqlStore::CheckCertificateUser(Tx& tx,
                                            const IssuedCertificate& cert,
                                            absl::Status* refusal) {
  *refusal = absl::OkStatus();
  if (!cert.user_created_at.has_value()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<Row> rows,
                   tx.Query(kUserForCertificate, {Param::Text(cert.user)}));
  const std::string not_recorded =
      absl::StrCat(", so its certificate (serial ", cert.serial,
                   ") was not recorded or handed out");
  if (rows.empty()) {
    *refusal = absl::FailedPreconditionError(absl::StrCat(
        "user ", Quote(cert.user), " was deleted since", not_recorded));
  } else if (rows[0][0].AsBool()) {
    *refusal = absl::FailedPreconditionError(absl::StrCat(
        "user ", Quote(cert.user), " was disabled since", not_recorded));
  } else if (TimeValue(rows[0][1]) != TruncateToMicros(*cert.user_created_at)) {
    *refusal = absl::FailedPreconditionError(
        absl::StrCat("user ", Quote(cert.user),
                     " was deleted and created again since", not_recorded));
  }
  return absl::OkStatus();
}

absl::StatusOr<IssuedCertificate> SqlStore::RecordCertificate(
    const IssuedCertificate& in) {
  ASSIGN_OR_RETURN(IssuedCertificate cert, PrepareCertificate(in));
  absl::Status refusal;
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kReadCommitted,
               [&](Tx& tx) -> absl::Status {
                 RETURN_IF_ERROR(CheckCertificateUser(tx, cert, &refusal));
                 if (!refusal.ok()) return absl::OkStatus();
                 ASSIGN_OR_RETURN(bool inserted, InsertCertificate(tx, cert));
                 if (!inserted) refusal = RenewedAlready(cert);
                 return absl::OkStatus();
               }),
      CertificateWhat(cert)));
  RETURN_IF_ERROR(refusal);
  return cert;
}

absl::StatusOr<IssuedCertificate> SqlStore::RecordCertificateWithAudit(
    const IssuedCertificate& in, const AuditEventInput& event) {
  return SubmitCertificate(in, event, nullptr);
}

void SqlStore::RecordCertificateWithAuditAsync(const IssuedCertificate& in,
                                               const AuditEventInput& event,
                                               RecordedCertificate done) {
  SubmitCertificateAsync(in, event, nullptr, std::move(done));
}

absl::StatusOr<IssuedCertificate> SqlStore::RecordSessionCertificate(
    const IssuedCertificate& in, const AuditEventInput& event,
    const SessionClaim& claim) {
  return SubmitCertificate(in, event, &claim);
}

void SqlStore::RecordSessionCertificateAsync(const IssuedCertificate& in,
                                             const AuditEventInput& event,
                                             const SessionClaim& claim,
                                             RecordedCertificate done) {
  SubmitCertificateAsync(in, event, &claim, std::move(done));
}

absl::StatusOr<IssuedCertificate> SqlStore::SubmitCertificate(
    const IssuedCertificate& in, const AuditEventInput& event,
    const SessionClaim* claim) {
  ASSIGN_OR_RETURN(IssuedCertificate cert, PrepareCertificate(in));
  RETURN_IF_ERROR(event.Validate());
  if (claim != nullptr) RETURN_IF_ERROR(ValidateClaim(*claim));
  CertificateWrite write{&cert, &event, claim, absl::OkStatus(), {}};
  RETURN_IF_ERROR(certificate_commit_.Submit(write));
  RETURN_IF_ERROR(write.refusal);
  return cert;
}

void SqlStore::SubmitCertificateAsync(const IssuedCertificate& in,
                                      const AuditEventInput& event,
                                      const SessionClaim* claim,
                                      RecordedCertificate done) {
  absl::StatusOr<IssuedCertificate> cert = PrepareCertificate(in);
  if (!cert.ok()) return done(cert.status());
  if (absl::Status st = event.Validate(); !st.ok()) return done(st);
  if (claim != nullptr) {
    if (absl::Status st = ValidateClaim(*claim); !st.ok()) return done(st);
  }
  // Owns the copies until the batch ends.
  struct Pending {
    IssuedCertificate cert;
    AuditEventInput event;
    std::optional<SessionClaim> claim;
    CertificateWrite write;
    RecordedCertificate done;
  };
  auto* p =
      new Pending{*std::move(cert), event, std::nullopt, {}, std::move(done)};
  if (claim != nullptr) p->claim = *claim;
  p->write = {&p->cert,
              &p->event,
              p->claim ? &*p->claim : nullptr,
              absl::OkStatus(),
              {}};
  certificate_commit_.SubmitAsync(p->write, [p](absl::Status st) {
    std::unique_ptr<Pending> owned(p);
    if (st.ok()) st = owned->write.refusal;
    if (st.ok()) {
      owned->done(std::move(owned->cert));
    } else {
      owned->done(st);
    }
  });
}

absl::Status SqlStore::UseProofs(Tx& tx,
                                 absl::Span<CertificateWrite* const> batch) {
  std::vector<CertificateWrite*> proofs;
  for (CertificateWrite* w : batch) {
    if (w->claim != nullptr && !w->claim->userauth_proof_sha256.empty() &&
        w->refusal.ok()) {
      proofs.push_back(w);
    }
  }
  if (proofs.empty()) return absl::OkStatus();
  // In digest order, so that two stores' batches take the rows' locks in
  // one order (PostgreSQL); one proof twice in a batch: its first use.
  std::stable_sort(proofs.begin(), proofs.end(),
                   [](const CertificateWrite* a, const CertificateWrite* b) {
                     return a->claim->userauth_proof_sha256 <
                            b->claim->userauth_proof_sha256;
                   });
  RETURN_IF_ERROR(
      tx.Exec(kPruneProofs, {TimeParam(Now() - kUsedProofKeptAfterExpiry),
                             Param::Int(kExpiredProofsPrunedPerProof *
                                        static_cast<int64_t>(proofs.size()))})
          .status());
  for (CertificateWrite* w : proofs) {
    const SessionClaim& claim = *w->claim;
    ASSIGN_OR_RETURN(
        int64_t recorded,
        tx.Exec(kUseProof, {Param::Text(claim.userauth_proof_sha256),
                            Param::Text(claim.session_id),
                            TimeParam(claim.userauth_proof_expires_at)}));
    if (recorded == 1) continue;
    ASSIGN_OR_RETURN(
        std::vector<Row> used,
        tx.Query(kProofUsedFor, {Param::Text(claim.userauth_proof_sha256)}));
    w->refusal =
        ProofUsed(claim, used.empty() ? std::string() : used[0][0].AsBytes());
  }
  return absl::OkStatus();
}

absl::Status SqlStore::CommitCertificates(
    absl::Span<CertificateWrite* const> batch) {
  const CertificateWrite* failed = nullptr;
  absl::Status s =
      Transact(TxMode::kReadCommitted, [&](Tx& tx) -> absl::Status {
        failed = nullptr;
        for (CertificateWrite* w : batch) {
          w->refusal = absl::OkStatus();  // the transaction may run again
        }
        // The users certificates are bound to first, in name order so that
        // two stores' batches take their row locks in one order: a user
        // disabled or deleted since the issuer read them refuses the
        // certificate, which is left out with its event (and its session
        // claim).
        std::vector<CertificateWrite*> bound;
        for (CertificateWrite* w : batch) {
          if (w->cert->user_created_at.has_value()) bound.push_back(w);
        }
        std::stable_sort(
            bound.begin(), bound.end(),
            [](const CertificateWrite* a, const CertificateWrite* b) {
              return a->cert->user < b->cert->user;
            });
        for (CertificateWrite* w : bound) {
          RETURN_IF_ERROR(CheckCertificateUser(tx, *w->cert, &w->refusal));
        }
        RETURN_IF_ERROR(UseProofs(tx, batch));
        // Session claims (issue 14), in session id order likewise: a
        // certificate whose session another gateway owns is left out with
        // its event and refused after the commit; the rest of the batch
        // goes on.
        std::vector<CertificateWrite*> claims;
        for (CertificateWrite* w : batch) {
          if (w->claim != nullptr && w->refusal.ok()) claims.push_back(w);
        }
        std::stable_sort(
            claims.begin(), claims.end(),
            [](const CertificateWrite* a, const CertificateWrite* b) {
              return a->claim->session_id < b->claim->session_id;
            });
        for (CertificateWrite* w : claims) {
          RETURN_IF_ERROR(
              ClaimForCertificate(tx, *w->claim, &w->owner, &w->refusal));
        }
        // The certificates, then the events of those written with one
        // audit-head update. A renewal of an identity renewed already is
        // left out; one certificate that cannot be recorded (e.g. a known
        // serial) rolls back the whole batch, events included.
        for (CertificateWrite* w : batch) {
          if (!w->refusal.ok()) continue;
          failed = w;
          ASSIGN_OR_RETURN(bool inserted, InsertCertificate(tx, *w->cert));
          if (!inserted) {
            w->refusal = RenewedAlready(*w->cert);
          }
        }
        failed = nullptr;
        std::vector<const AuditEventInput*> events;
        events.reserve(batch.size());
        for (const CertificateWrite* w : batch) {
          if (w->refusal.ok()) events.push_back(w->event);
        }
        return AppendAuditEventsInTx(tx, events).status();
      });
  if (s.ok()) return s;
  s = Describe(s, failed != nullptr ? CertificateWhat(*failed->cert)
                                    : std::string("record certificates"));
  if (batch.size() == 1) return s;
  // Every caller of the batch gets the error: none of its certificates was
  // recorded, whichever one made the transaction fail.
  return absl::Status(
      s.code(), absl::StrCat("none of the ", batch.size(),
                             " certificates committed together was recorded: ",
                             s.message()));
}

}  // namespace sallyport::storage::sql
