// Store suite: a session certificate binds its session to the user and
// login it was issued for (finding F; schema version 16). The session's
// stored session must name them (CreateSession, which a recording's upload
// calls), a claim made without a certificate (an event came first) is
// bound by the session's first certificate, a session stored or bound for
// another user gets no certificate, and claims made without a certificate,
// or before version 16, bind nothing. ClaimSessions reads the bindings.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "storage/store_test_suite.h"

namespace sallyport::storage::testing {
namespace {

using Rows = std::vector<std::vector<std::string>>;

IssuedCertificate CertFor(uint64_t serial, const std::string& user,
                          const std::string& session) {
  IssuedCertificate c =
      MakeCert(serial, user, CertificatePurpose::kSession,
               absl::FromUnixSeconds(1700000000), absl::Minutes(2));
  c.key_id = absl::StrCat(user, "@", session);
  return c;
}

AuditEventInput IssuedEvent(uint64_t serial) {
  return AuditEventInput{"cert.issued", "gateway",
                         absl::StrCat(R"({"serial":)", serial, "}")};
}

Session NamedSession(const std::string& id, const std::string& user,
                     const std::string& login) {
  Session s;
  s.id = id;
  s.user = user;
  s.login = login;
  s.host = "web01";
  s.started_at = absl::FromUnixSeconds(1700000000);
  s.gateway_id = "gw-a";
  return s;
}

// The certificate of `user`@`session` for login ubuntu on web01, by gw-a.
absl::StatusOr<IssuedCertificate> Certify(Store& store, const std::string& user,
                                          const std::string& session) {
  absl::StatusOr<uint64_t> serial = store.AllocateSerial();
  if (!serial.ok()) return serial.status();
  return store.RecordSessionCertificate(
      CertFor(*serial, user, session), IssuedEvent(*serial),
      SessionClaim{session, "gw-a", user, "ubuntu", "web01"});
}

TEST_P(StoreTest, ASessionCertificateBindsItsSessionToItsUserAndLogin) {
  SP_ASSERT_OK(Certify(*store_, "alice", "b1"));
  SP_ASSERT_OK_AND_ASSIGN(
      Rows claim,
      backend_->QueryRawSql("SELECT user_name, login, host FROM "
                            "session_owners WHERE session_id = 'b1'"));
  EXPECT_EQ(claim, (Rows{{"alice", "ubuntu", "web01"}}));
  // Its owner cannot store it as bob's, or under another login.
  for (const auto& [user, login] :
       std::vector<std::pair<std::string, std::string>>{{"bob", "ubuntu"},
                                                        {"alice", "root"}}) {
    absl::StatusOr<Session> refused =
        store_->CreateSession(NamedSession("b1", user, login));
    SP_EXPECT_CODE(refused, kPermissionDenied);
    EXPECT_TRUE(absl::StrContains(
        refused.status().message(),
        absl::StrCat("was issued its certificate for user 'alice' login "
                     "'ubuntu', not for user '",
                     user, "' login '", login, "'")))
        << refused.status();
    SP_EXPECT_CODE(store_->GetSession("b1"), kNotFound);
  }
  SP_EXPECT_OK(store_->CreateSession(NamedSession("b1", "alice", "ubuntu")));
  // Another certificate of the session for alice is recorded; one for bob
  // is refused and not recorded.
  SP_EXPECT_OK(Certify(*store_, "alice", "b1"));
  SP_ASSERT_OK_AND_ASSIGN(AuditHead before, store_->GetAuditHead());
  absl::StatusOr<IssuedCertificate> bob = Certify(*store_, "bob", "b1");
  SP_EXPECT_CODE(bob, kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(bob.status().message(), "'alice'"))
      << bob.status();
  SP_ASSERT_OK_AND_ASSIGN(AuditHead after, store_->GetAuditHead());
  EXPECT_EQ(after.seq, before.seq);
}

TEST_P(StoreTest, TheFirstCertificateBindsASessionClaimedBeforeIt) {
  // The session's event came first: claimed, bound to no one.
  SP_ASSERT_OK(store_->ClaimSession("b2", "gw-a"));
  SP_ASSERT_OK(Certify(*store_, "alice", "b2"));
  SP_EXPECT_CODE(store_->CreateSession(NamedSession("b2", "bob", "ubuntu")),
                 kPermissionDenied);
  SP_EXPECT_OK(store_->CreateSession(NamedSession("b2", "alice", "ubuntu")));
  // Stored as bob's before any certificate: alice's certificate for it is
  // refused, nothing written (the session stays bob's).
  SP_ASSERT_OK(store_->CreateSession(NamedSession("b3", "bob", "ubuntu")));
  SP_ASSERT_OK_AND_ASSIGN(AuditHead before, store_->GetAuditHead());
  absl::StatusOr<IssuedCertificate> refused = Certify(*store_, "alice", "b3");
  SP_EXPECT_CODE(refused, kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(
      refused.status().message(),
      "session 'b3' is stored for user 'bob' login 'ubuntu', not for user "
      "'alice' login 'ubuntu'"))
      << refused.status();
  SP_ASSERT_OK_AND_ASSIGN(AuditHead after, store_->GetAuditHead());
  EXPECT_EQ(after.seq, before.seq);
  // Bob's certificate for his stored session is recorded.
  SP_EXPECT_OK(Certify(*store_, "bob", "b3"));
}

TEST_P(StoreTest, AClaimWithoutAUserBindsNothing) {
  SP_ASSERT_OK_AND_ASSIGN(uint64_t serial, store_->AllocateSerial());
  SP_ASSERT_OK(store_->RecordSessionCertificate(
      CertFor(serial, "alice", "b4"), IssuedEvent(serial),
      SessionClaim{"b4", "gw-a", "", "", ""}));
  SP_EXPECT_OK(store_->CreateSession(NamedSession("b4", "bob", "root")));
  SP_ASSERT_OK(store_->ClaimSession("b5", "gw-a"));
  SP_EXPECT_OK(store_->CreateSession(NamedSession("b5", "bob", "root")));
  // Each bound field has the limit of a name.
  for (int field = 0; field < 3; ++field) {
    const std::string id = absl::StrCat("b6-", field);
    SessionClaim claim{id, "gw-a", "alice", "ubuntu", "web01"};
    std::string* f = field == 0   ? &claim.user
                     : field == 1 ? &claim.login
                                  : &claim.host;
    *f = std::string(kMaxNameBytes + 1, 'x');
    SP_ASSERT_OK_AND_ASSIGN(serial, store_->AllocateSerial());
    SP_EXPECT_CODE(
        store_->RecordSessionCertificate(CertFor(serial, "alice", id),
                                         IssuedEvent(serial), claim),
        kInvalidArgument);
    f->resize(kMaxNameBytes);
    SP_ASSERT_OK_AND_ASSIGN(serial, store_->AllocateSerial());
    SP_EXPECT_OK(store_->RecordSessionCertificate(CertFor(serial, "alice", id),
                                                  IssuedEvent(serial), claim));
  }
}

// ClaimSessions (a gateway's events, finding F): each session's owner as
// ClaimSession has it, with what its certificate bound it to, in the
// order asked; new ids are claimed, binding nothing.
TEST_P(StoreTest, ClaimSessionsReadsWhatEachClaimBinds) {
  SP_ASSERT_OK(Certify(*store_, "alice", "c1"));
  SP_ASSERT_OK(store_->ClaimSession("c2", "gw-a"));
  SP_ASSERT_OK(store_->ClaimSession("c3", "gw-b"));
  SP_ASSERT_OK(store_->CreateSession(NamedSession("c4", "bob", "root")));
  SP_ASSERT_OK(Certify(*store_, "alice", "c6"));
  SP_ASSERT_OK(store_->CreateSession(NamedSession("c6", "alice", "ubuntu")));
  const std::vector<std::string> ids = {"c6", "c1", "c2", "c3", "c4", "c5"};
  SP_ASSERT_OK_AND_ASSIGN(std::vector<SessionClaim> claims,
                          store_->ClaimSessions(ids, "gw-a"));
  Rows got;
  for (const SessionClaim& c : claims) {
    got.push_back({c.session_id, c.gateway_id, c.user, c.login, c.host});
  }
  EXPECT_EQ(got, (Rows{{"c6", "gw-a", "alice", "ubuntu", "web01"},
                       {"c1", "gw-a", "alice", "ubuntu", "web01"},
                       {"c2", "gw-a", "", "", ""},
                       {"c3", "gw-b", "", "", ""},
                       {"c4", "gw-a", "", "", ""},
                       {"c5", "gw-a", "", "", ""}}));
  SP_ASSERT_OK_AND_ASSIGN(std::string owner,
                          store_->ClaimSession("c5", "gw-b"));
  EXPECT_EQ(owner, "gw-a");
  // A bad id refuses the call before anything is claimed.
  const std::vector<std::string> bad = {"c7", ""};
  SP_EXPECT_CODE(store_->ClaimSessions(bad, "gw-a"), kInvalidArgument);
  SP_ASSERT_OK_AND_ASSIGN(owner, store_->ClaimSession("c7", "gw-b"));
  EXPECT_EQ(owner, "gw-b");
  SP_EXPECT_CODE(store_->ClaimSessions(ids, ""), kInvalidArgument);
}

// Claims made at version 15 bind nothing after the upgrade, until a
// certificate of their session is recorded.
TEST_P(StoreTest, ClaimsFromVersion15AreBoundOnlyByANewCertificate) {
  ASSERT_GE(backend_->Migrations().size(), 16u);
  EXPECT_STREQ(backend_->Migrations()[15].name, "session_claim_identity");
  std::unique_ptr<Store> upgraded = UpgradeFrom(
      15,
      "INSERT INTO session_owners (session_id, gateway_id, claimed_at_us) "
      "VALUES ('old', 'gw-a', 5), ('later', 'gw-a', 6);\n");
  ASSERT_NE(upgraded, nullptr);
  SP_EXPECT_OK(upgraded->CreateSession(NamedSession("old", "bob", "root")));
  SP_ASSERT_OK(Certify(*upgraded, "alice", "later"));
  SP_EXPECT_CODE(
      upgraded->CreateSession(NamedSession("later", "bob", "ubuntu")),
      kPermissionDenied);
  SP_EXPECT_OK(
      upgraded->CreateSession(NamedSession("later", "alice", "ubuntu")));
}

}  // namespace
}  // namespace sallyport::storage::testing
