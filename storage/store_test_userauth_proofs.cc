// Store suite: a session certificate's userauth proof gets one certificate
// (finding B; schema version 17). RecordSessionCertificate records the
// proof's digest as used with the certificate, refuses a certificate on a
// proof used before (for another session or its own, by this store or
// another on the same database: nothing written, no claim), keeps a used
// proof until its user certificate expired (plus
// kUsedProofKeptAfterExpiry) and prunes expired proofs a few per record
// (kExpiredProofsPrunedPerProof).
#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "storage/migrations/migrations.h"
#include "storage/store_test_suite.h"

namespace sallyport::storage::testing {
namespace {

using Rows = std::vector<std::vector<std::string>>;

// Proof number `i`'s digest: 64 lowercase hex digits.
std::string Proof(int i) { return absl::StrFormat("%064x", i); }

// alice's certificate for `session` (login ubuntu on web01, by gw-a),
// issued on the proof `proof` whose user certificate expires at `expires`.
absl::StatusOr<IssuedCertificate> Certify(Store& store,
                                          const std::string& session,
                                          const std::string& proof,
                                          absl::Time expires) {
  absl::StatusOr<uint64_t> serial = store.AllocateSerial();
  if (!serial.ok()) return serial.status();
  IssuedCertificate c =
      MakeCert(*serial, "alice", CertificatePurpose::kSession,
               absl::FromUnixSeconds(1700000000), absl::Minutes(2));
  c.key_id = absl::StrCat("alice@", session);
  SessionClaim claim{session, "gw-a", "alice", "ubuntu", "web01"};
  claim.userauth_proof_sha256 = proof;
  claim.userauth_proof_expires_at = expires;
  return store.RecordSessionCertificate(
      c,
      AuditEventInput{"cert.issued", "gateway",
                      absl::StrCat(R"({"serial":)", *serial, "}")},
      claim);
}

class ProofRows {
 public:
  explicit ProofRows(StoreBackend& backend) : backend_(backend) {}
  // The proofs remembered, by digest: digest and session.
  Rows All() {
    absl::StatusOr<Rows> rows = backend_.QueryRawSql(
        "SELECT proof_sha256, session_id FROM used_userauth_proofs "
        "ORDER BY proof_sha256");
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() ? *rows : Rows{};
  }
  Rows Digests() {
    Rows digests;
    for (const auto& r : All()) digests.push_back({r[0]});
    return digests;
  }

 private:
  StoreBackend& backend_;
};

// A replay of `proof` (used for `first`) for `session` by `store`:
// refused with the reason and the payload, nothing written.
void ExpectReplayRefused(Store& store, StoreBackend& backend,
                         const std::string& proof, const std::string& first,
                         const std::string& session, absl::Time expires) {
  SP_ASSERT_OK_AND_ASSIGN(AuditHead before, store.GetAuditHead());
  absl::StatusOr<IssuedCertificate> replay =
      Certify(store, session, proof, expires);
  SP_EXPECT_CODE(replay, kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(
      replay.status().message(),
      absl::StrCat("was already used for session '", first,
                   "', so it gets no certificate for session '", session,
                   "': a replayed proof")))
      << replay.status();
  EXPECT_TRUE(replay.status().GetPayload(SessionClaim::kProofUsed).has_value());
  SP_ASSERT_OK_AND_ASSIGN(AuditHead after, store.GetAuditHead());
  EXPECT_EQ(after.seq, before.seq);
  SP_ASSERT_OK_AND_ASSIGN(
      Rows certified,
      backend.QueryRawSql(absl::StrCat(
          "SELECT CAST(COUNT(*) AS TEXT) FROM certificates WHERE key_id = "
          "'alice@",
          session, "'")));
  SP_ASSERT_OK_AND_ASSIGN(
      Rows claimed,
      backend.QueryRawSql(absl::StrCat(
          "SELECT CAST(COUNT(*) AS TEXT) FROM session_owners WHERE "
          "session_id = '",
          session, "'")));
  // A session of its own (not `first`) gets neither a certificate nor a
  // claim.
  if (session != first) {
    EXPECT_EQ(certified, (Rows{{"0"}}));
    EXPECT_EQ(claimed, (Rows{{"0"}}));
  }
}

TEST_P(StoreTest, AUserauthProofGetsOneSessionCertificate) {
  const absl::Time expires = clock_.Now() + absl::Hours(8);
  SP_ASSERT_OK(Certify(*store_, "p1", Proof(1), expires));
  ProofRows proofs(*backend_);
  EXPECT_EQ(proofs.All(), (Rows{{Proof(1), "p1"}}));
  SP_ASSERT_OK_AND_ASSIGN(
      Rows expiry,
      backend_->QueryRawSql("SELECT CAST(expires_at_us AS TEXT) FROM "
                            "used_userauth_proofs"));
  EXPECT_EQ(expiry, (Rows{{absl::StrCat(absl::ToUnixMicros(expires))}}));
  // Replayed for another session, for its own again, and through another
  // store (a second CA instance on the database): refused.
  ExpectReplayRefused(*store_, *backend_, Proof(1), "p1", "p2", expires);
  ExpectReplayRefused(*store_, *backend_, Proof(1), "p1", "p1", expires);
  std::unique_ptr<Store> other = OpenAnother();
  ASSERT_NE(other, nullptr);
  ExpectReplayRefused(*other, *backend_, Proof(1), "p1", "p3", expires);
  // Still refused until the user certificate expired (and the margin).
  clock_.Advance(absl::Hours(8) + kUsedProofKeptAfterExpiry);
  ExpectReplayRefused(*other, *backend_, Proof(1), "p1", "p4", expires);
  // Another proof (another login): its own certificate.
  SP_EXPECT_OK(Certify(*other, "p2", Proof(2), clock_.Now() + absl::Hours(1)));
  EXPECT_EQ(proofs.All(), (Rows{{Proof(1), "p1"}, {Proof(2), "p2"}}));
}

TEST_P(StoreTest, AClaimWithoutAProofRemembersNothing) {
  const absl::Time expires = clock_.Now() + absl::Hours(8);
  SP_EXPECT_OK(Certify(*store_, "q1", "", expires));
  SP_EXPECT_OK(Certify(*store_, "q2", "", expires));
  EXPECT_EQ(ProofRows(*backend_).All(), Rows{});
  // A digest is 64 lowercase hex digits.
  for (const std::string& bad :
       {std::string(63, 'a'), std::string(65, 'a'), std::string(64, 'A'),
        std::string(64, 'g'), absl::StrCat(std::string(63, 'a'), "'")}) {
    SP_EXPECT_CODE(Certify(*store_, "q3", bad, expires), kInvalidArgument);
  }
  EXPECT_EQ(ProofRows(*backend_).All(), Rows{});
  SP_EXPECT_OK(Certify(*store_, "q3", std::string(64, 'f'), expires));
}

// Two stores (two CA instances) and several threads each (group commit
// batches, which may hold one proof twice) record certificates on the
// same proofs at once: each proof gets exactly one, every other is
// refused as a replay.
TEST_P(StoreTest, AProofGetsOneCertificateAcrossStoresAndThreads) {
  constexpr int kThreads = 4;
  constexpr int kProofs = 8;
  std::unique_ptr<Store> other = OpenAnother();
  ASSERT_NE(other, nullptr);
  const absl::Time expires = clock_.Now() + absl::Hours(8);
  // Per thread and proof: 'W' recorded, 'R' refused as a replay, 'E' else.
  std::vector<std::string> results(kThreads, std::string(kProofs, '?'));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    Store* s = t % 2 == 0 ? store_.get() : other.get();
    threads.emplace_back([s, t, expires, &results] {
      for (int k = 0; k < kProofs; ++k) {
        const int i = t % 2 == 0 ? k : kProofs - 1 - k;  // both orders
        absl::StatusOr<IssuedCertificate> r =
            Certify(*s, absl::StrCat("t", t, "-", i), Proof(i), expires);
        char& result = results[t][i];
        if (r.ok()) {
          result = 'W';
        } else if (r.status().GetPayload(SessionClaim::kProofUsed)) {
          result = 'R';
        } else {
          result = 'E';
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kProofs; ++i) {
    std::string column;
    for (const std::string& r : results) column += r[i];
    EXPECT_EQ(std::count(column.begin(), column.end(), 'W'), 1)
        << "proof " << i << ": " << column;
    EXPECT_EQ(std::count(column.begin(), column.end(), 'R'), kThreads - 1)
        << "proof " << i << ": " << column;
  }
  EXPECT_EQ(ProofRows(*backend_).All().size(), static_cast<size_t>(kProofs));
}

// Each record deletes at most kExpiredProofsPrunedPerProof expired proofs
// per proof it records, the oldest first, kept kUsedProofKeptAfterExpiry
// after their expiry; proofs still of use stay.
TEST_P(StoreTest, ExpiredProofsArePrunedAFewPerRecord) {
  static_assert(kExpiredProofsPrunedPerProof == 2, "the counts below assume 2");
  const absl::Time start = clock_.Now();
  for (int i = 1; i <= 5; ++i) {
    SP_ASSERT_OK(Certify(*store_, absl::StrCat("e", i), Proof(i),
                         start + absl::Hours(1) + absl::Seconds(i)));
  }
  SP_ASSERT_OK(Certify(*store_, "live", Proof(100), start + absl::Hours(10)));
  ProofRows proofs(*backend_);
  ASSERT_EQ(proofs.All().size(), 6u);
  // Expired, but the oldest just within the margin: kept.
  clock_.Set(start + absl::Hours(1) + absl::Seconds(1) +
             kUsedProofKeptAfterExpiry);
  SP_ASSERT_OK(Certify(*store_, "n1", Proof(201), start + absl::Hours(9)));
  EXPECT_EQ(proofs.All().size(), 7u);
  // All five past the margin: two per record, the oldest first.
  clock_.Advance(absl::Seconds(5));
  SP_ASSERT_OK(Certify(*store_, "n2", Proof(202), start + absl::Hours(9)));
  EXPECT_EQ(proofs.Digests(), (Rows{{Proof(3)},
                                    {Proof(4)},
                                    {Proof(5)},
                                    {Proof(100)},
                                    {Proof(201)},
                                    {Proof(202)}}));
  SP_ASSERT_OK(Certify(*store_, "n3", Proof(203), start + absl::Hours(9)));
  EXPECT_EQ(
      proofs.Digests(),
      (Rows{
          {Proof(5)}, {Proof(100)}, {Proof(201)}, {Proof(202)}, {Proof(203)}}));
  SP_ASSERT_OK(Certify(*store_, "n4", Proof(204), start + absl::Hours(9)));
  EXPECT_EQ(proofs.Digests(), (Rows{{Proof(100)},
                                    {Proof(201)},
                                    {Proof(202)},
                                    {Proof(203)},
                                    {Proof(204)}}));
  // A refused record prunes too (its transaction commits).
  clock_.Set(start + absl::Hours(9) + kUsedProofKeptAfterExpiry +
             absl::Seconds(1));
  ExpectReplayRefused(*store_, *backend_, Proof(100), "live", "n5",
                      start + absl::Hours(10));
  EXPECT_EQ(proofs.Digests(), (Rows{{Proof(100)}, {Proof(203)}, {Proof(204)}}));
}

// A database at version 16 has no used proofs: after the upgrade each
// proof gets one certificate.
TEST_P(StoreTest, ProofsAreRememberedFromVersion17) {
  ASSERT_GE(backend_->Migrations().size(), 17u);
  EXPECT_STREQ(backend_->Migrations()[16].name, "used_userauth_proofs");
  std::unique_ptr<Store> upgraded = UpgradeFrom(
      16,
      "INSERT INTO session_owners (session_id, gateway_id, claimed_at_us, "
      "user_name, login, host) VALUES ('old', 'gw-a', 5, 'alice', 'ubuntu', "
      "'web01');\n");
  ASSERT_NE(upgraded, nullptr);
  EXPECT_EQ(upgraded->SchemaVersion(), migrations::LatestSchemaVersion());
  const absl::Time expires = clock_.Now() + absl::Hours(8);
  SP_ASSERT_OK(Certify(*upgraded, "old", Proof(7), expires));
  ExpectReplayRefused(*upgraded, *backend_, Proof(7), "old", "new", expires);
}

}  // namespace
}  // namespace sallyport::storage::testing
