// Store suite: a session certificate claims its session (issue 14: a
// gateway writes events and recordings of its own sessions only).
// RecordSessionCertificate claims the id for the gateway in the
// certificate's transaction, so no other gateway can claim it later; an id
// another gateway owns refuses the certificate and writes nothing; the
// same gateway may record several certificates of its session; of several
// gateways racing for one id, on one store or two, exactly one is given
// certificates.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/store_test_suite.h"

namespace sallyport::storage::testing {
namespace {

IssuedCertificate SessionCert(uint64_t serial, const std::string& session) {
  IssuedCertificate c =
      MakeCert(serial, "alice", CertificatePurpose::kSession,
               absl::FromUnixSeconds(1700000000), absl::Minutes(2));
  c.key_id = absl::StrCat("alice@", session);
  return c;
}

AuditEventInput SessionEvent(uint64_t serial) {
  return AuditEventInput{"cert.issued", "gateway",
                         absl::StrCat(R"({"serial":)", serial, "}")};
}

Session StoredSession(const std::string& id, const std::string& gateway) {
  Session s;
  s.id = id;
  s.user = "alice";
  s.login = "ubuntu";
  s.host = "web01";
  s.started_at = absl::FromUnixSeconds(1700000000);
  s.gateway_id = gateway;
  return s;
}

TEST_P(StoreTest, ASessionCertificateClaimsItsSession) {
  SP_ASSERT_OK_AND_ASSIGN(uint64_t serial, store_->AllocateSerial());
  SP_ASSERT_OK(store_->RecordSessionCertificate(
      SessionCert(serial, "s1"), SessionEvent(serial), {"s1", "gw-a"}));
  // gw-a has written nothing of s1, yet the id is its own.
  SP_ASSERT_OK_AND_ASSIGN(std::string owner,
                          store_->ClaimSession("s1", "gw-b"));
  EXPECT_EQ(owner, "gw-a");
  SP_EXPECT_CODE(store_->CreateSession(StoredSession("s1", "gw-b")),
                 kPermissionDenied);
  SP_EXPECT_OK(store_->CreateSession(StoredSession("s1", "gw-a")));
}

TEST_P(StoreTest, ASessionOwnedByAnotherGatewayGetsNoCertificate) {
  // gw-b wrote an event of s2 first; gw-a then asks for its certificate.
  SP_ASSERT_OK(store_->ClaimSession("s2", "gw-b"));
  SP_ASSERT_OK_AND_ASSIGN(AuditHead before, store_->GetAuditHead());
  SP_ASSERT_OK_AND_ASSIGN(uint64_t serial, store_->AllocateSerial());
  absl::StatusOr<IssuedCertificate> refused = store_->RecordSessionCertificate(
      SessionCert(serial, "s2"), SessionEvent(serial), {"s2", "gw-a"});
  SP_EXPECT_CODE(refused, kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "'gw-b'"))
      << refused.status();
  // Nothing written: no certificate, no event, the claim unchanged.
  SP_EXPECT_CODE(store_->GetCertificate(serial), kNotFound);
  SP_ASSERT_OK_AND_ASSIGN(AuditHead after, store_->GetAuditHead());
  EXPECT_EQ(after.seq, before.seq);
  SP_ASSERT_OK_AND_ASSIGN(std::string owner,
                          store_->ClaimSession("s2", "gw-a"));
  EXPECT_EQ(owner, "gw-b");
  // A stored session is its gateway's; one stored before version 5 (no
  // gateway) is no one's: both refuse another gateway's certificate.
  SP_ASSERT_OK(store_->CreateSession(StoredSession("s3", "gw-b")));
  SP_ASSERT_OK(store_->CreateSession(StoredSession("s4", "")));
  for (const char* id : {"s3", "s4"}) {
    SP_ASSERT_OK_AND_ASSIGN(serial, store_->AllocateSerial());
    SP_EXPECT_CODE(
        store_->RecordSessionCertificate(SessionCert(serial, id),
                                         SessionEvent(serial), {id, "gw-a"}),
        kPermissionDenied);
    SP_EXPECT_CODE(store_->GetCertificate(serial), kNotFound);
  }
  SP_ASSERT_OK_AND_ASSIGN(serial, store_->AllocateSerial());
  SP_EXPECT_CODE(
      store_->RecordSessionCertificate(SessionCert(serial, "s5"),
                                       SessionEvent(serial), {"s5", ""}),
      kInvalidArgument);
  SP_EXPECT_CODE(
      store_->RecordSessionCertificate(SessionCert(serial, "s5"),
                                       SessionEvent(serial), {"", "gw-a"}),
      kInvalidArgument);
}

TEST_P(StoreTest, TheOwnerGetsCertificatesOfItsSessionAgain) {
  // A retry, or a second connection of the same session: every one is
  // recorded, with its event.
  SP_ASSERT_OK(store_->ClaimSession("s6", "gw-a"));
  SP_ASSERT_OK_AND_ASSIGN(AuditHead before, store_->GetAuditHead());
  for (int i = 0; i < 3; ++i) {
    SP_ASSERT_OK_AND_ASSIGN(uint64_t serial, store_->AllocateSerial());
    SP_ASSERT_OK(store_->RecordSessionCertificate(
        SessionCert(serial, "s6"), SessionEvent(serial), {"s6", "gw-a"}));
    SP_EXPECT_OK(store_->GetCertificate(serial));
  }
  SP_ASSERT_OK_AND_ASSIGN(AuditHead after, store_->GetAuditHead());
  EXPECT_EQ(after.seq, before.seq + 3);
}

// The CA reads a session's owner with the other reads of an issuance
// (before it signs): the answer ClaimSession would give, without claiming.
TEST_P(StoreTest, ReadForIssuanceReadsTheSessionOwnerWithoutClaiming) {
  SP_ASSERT_OK(store_->ClaimSession("claimed", "gw-a"));
  SP_ASSERT_OK(store_->CreateSession(StoredSession("stored", "gw-b")));
  SP_ASSERT_OK(store_->CreateSession(StoredSession("legacy", "")));
  for (const auto& [id, want] :
       std::vector<std::pair<std::string, std::string>>{{"claimed", "gw-a"},
                                                        {"stored", "gw-b"},
                                                        {"legacy", ""},
                                                        {"unknown", ""}}) {
    IssuanceReads reads;
    reads.revocations = {{0, "SHA256:some-key"}};
    reads.session = id;
    SP_ASSERT_OK_AND_ASSIGN(IssuanceSnapshot got,
                            store_->ReadForIssuance(reads));
    EXPECT_EQ(got.revoked, std::vector<bool>{false});
    ASSERT_TRUE(got.session_owner.has_value()) << id;
    ASSERT_TRUE(got.session_owner->ok()) << got.session_owner->status();
    EXPECT_EQ(**got.session_owner, want) << id;
  }
  // Read, not claimed: the first claim is still open.
  SP_ASSERT_OK_AND_ASSIGN(std::string owner,
                          store_->ClaimSession("unknown", "gw-c"));
  EXPECT_EQ(owner, "gw-c");
  IssuanceReads bad;
  bad.session = std::string(kMaxNameBytes + 1, 's');
  SP_ASSERT_OK_AND_ASSIGN(IssuanceSnapshot none, store_->ReadForIssuance(bad));
  SP_EXPECT_CODE(*none.session_owner, kInvalidArgument);
  SP_ASSERT_OK_AND_ASSIGN(none, store_->ReadForIssuance(IssuanceReads()));
  EXPECT_FALSE(none.session_owner.has_value());
}

// Gateways race for fresh ids through two stores, async and sync (so
// claims of one id may share a batch, or race between two stores): per id
// exactly one gateway gets its certificates, the others are refused, and the
// refused certificates were not recorded while the batch's other certificates
// were.
TEST_P(StoreTest, GatewaysRacingForASessionAgreeOnOneOwner) {
  std::unique_ptr<Store> other = OpenAnother();
  ASSERT_NE(other, nullptr);
  constexpr int kGateways = 4, kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    const std::string id = absl::StrCat("race-", round);
    absl::Mutex mu;
    std::vector<std::pair<int, absl::StatusOr<IssuedCertificate>>> results;
    std::vector<uint64_t> serials;
    std::vector<std::thread> threads;
    for (int g = 0; g < kGateways; ++g) {
      Store* s = g % 2 == 0 ? store_.get() : other.get();
      SP_ASSERT_OK_AND_ASSIGN(uint64_t serial, s->AllocateSerial());
      serials.push_back(serial);
      const SessionClaim claim{id, absl::StrCat("gw-", g)};
      auto keep = [&mu, &results, g](absl::StatusOr<IssuedCertificate> r) {
        absl::MutexLock lock(&mu);
        results.emplace_back(g, std::move(r));
      };
      if (g < 2) {
        s->RecordSessionCertificateAsync(SessionCert(serial, id),
                                         SessionEvent(serial), claim, keep);
      } else {
        threads.emplace_back([s, serial, id, claim, keep] {
          keep(s->RecordSessionCertificate(SessionCert(serial, id),
                                           SessionEvent(serial), claim));
        });
      }
    }
    for (auto& t : threads) t.join();
    {
      absl::MutexLock lock(&mu);
      auto all = [&] { return results.size() == kGateways; };
      ASSERT_TRUE(
          mu.AwaitWithTimeout(absl::Condition(&all), absl::Seconds(60)));
    }
    SP_ASSERT_OK_AND_ASSIGN(std::string owner,
                            store_->ClaimSession(id, "gw-none"));
    int granted = 0;
    for (const auto& [g, r] : results) {
      if (r.ok()) {
        ++granted;
        EXPECT_EQ(owner, absl::StrCat("gw-", g)) << id;
        SP_EXPECT_OK(store_->GetCertificate(serials[g]));
      } else {
        EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied)
            << r.status();
        SP_EXPECT_CODE(store_->GetCertificate(serials[g]), kNotFound);
      }
    }
    EXPECT_EQ(granted, 1) << id;
  }
}

}  // namespace
}  // namespace sallyport::storage::testing
