// Finding B: IssueSessionCertificate needs the user's proof of logging in
// to the gateway (IssueSessionCertificateRequest.userauth_signed_data and
// userauth_signature), not just the user's certificate, which is public. A
// gateway that saw alice's certificate but has no signature of hers for
// that login gets nothing; every refusal is a "cert.refused" event with the
// reason. Real signatures by real keys, on SQLite and on a real PostgreSQL
// server (gateway_session_fixture.h).
#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "ca/audit_log.h"
#include "ca/gateway_session_fixture.h"
#include "ca/gateway_test_util.h"
#include "gtest/gtest.h"
#include "ssh/cert/certificate.h"
#include "ssh/crypto/keys.h"

namespace sallyport::ca {
namespace {

using grpc::StatusCode;
namespace gw = gateway::v1;

class SessionProofTest : public GatewaySessionTest {
 protected:
  // IssueSession with `proof`: refused with a "cert.refused" event saying
  // `why`, and nothing issued.
  void ExpectRefused(const UserauthProof& proof, std::string_view why,
                     const std::string& session_id) {
    const int refused = CountEvents(kEventCertRefused);
    const int issued = CountEvents(kEventCertIssued);
    gw::IssueSessionCertificateResponse response;
    grpc::Status st = IssueSession(gateway_.channel, login_, "web01", &response,
                                   session_id, &proof);
    EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED)
        << st.error_message();
    EXPECT_TRUE(absl::StrContains(st.error_message(), std::string(why)))
        << st.error_message();
    EXPECT_FALSE(response.has_certificate());
    EXPECT_EQ(CountEvents(kEventCertRefused), refused + 1);
    EXPECT_EQ(CountEvents(kEventCertRefused, session_id), 1);
    EXPECT_EQ(CountEvents(kEventCertIssued), issued);
  }

  // IssueSession with `proof` for `session_id`, as login_ on web01.
  grpc::Status IssueWith(const UserauthProof& proof,
                         const std::string& session_id) {
    gw::IssueSessionCertificateResponse response;
    return IssueSession(gateway_.channel, login_, "web01", &response,
                        session_id, &proof);
  }
};

TEST_P(SessionProofTest, NoProofNoSessionCertificate) {
  ExpectRefused(UserauthProof{}, "no valid proof that the user logged in",
                "s-none");
  // The data without its signature is no proof either.
  UserauthProof unsigned_data = SignedLogin(login_ + "+web01");
  unsigned_data.signature.clear();
  ExpectRefused(unsigned_data, "signature is missing", "s-unsigned");
}

TEST_P(SessionProofTest, ASignatureByAnotherKeyIsRefused) {
  absl::StatusOr<ssh::crypto::PrivateKey> other =
      ssh::crypto::PrivateKey::GenerateEd25519();
  ASSERT_TRUE(other.ok());
  ExpectRefused(SignedLogin(login_ + "+web01", &*other), "does not verify",
                "s-other-key");
}

TEST_P(SessionProofTest, AProofForAnotherCertificateIsRefused) {
  // alice logged in again: a valid proof with her other certificate (and
  // its key) does not stand for the certificate in the request.
  CaTestEnv::LoginResult again = env_->Login("alice", "alice-pw");
  ASSERT_TRUE(again.status.ok()) << again.status.error_message();
  absl::StatusOr<ssh::crypto::PrivateKey> key =
      ssh::crypto::PrivateKey::Parse(again.ssh_private_key);
  ASSERT_TRUE(key.ok());
  ExpectRefused(
      SignedLogin(login_ + "+web01", &*key, again.response.ssh_certificate()),
      "another key than the user certificate", "s-other-cert");
}

TEST_P(SessionProofTest, AProofForAnotherLoginOrHostIsRefused) {
  // alice's own valid signature, from logging in as deploy+web01 or to
  // another host: it does not get a session as login_ on web01.
  ExpectRefused(SignedLogin("deploy+web01"), "user name", "s-deploy");
  ExpectRefused(SignedLogin(login_ + "+web02"), "user name", "s-web02");
  ExpectRefused(SignedLogin("deploy"), "user name", "s-deploy-jump");
}

TEST_P(SessionProofTest, AValidProofGetsTheSessionCertificate) {
  gw::IssueSessionCertificateResponse response;
  // LOGIN+HOST, as a user logs in to the gateway.
  grpc::Status st = IssueSession(gateway_.channel, login_, "web01", &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_FALSE(response.certificate().ssh_certificate().empty());
  // The login alone, as the inner login of a recorded ProxyJump.
  st = IssueWith(SignedLogin(login_), "s-inner");
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(CountEvents(kEventCertIssued, "s-inner"), 1);
}

// The CA cannot check the session identifier inside a proof, so each
// proof gets one session certificate: a compromised gateway that kept
// alice's proof gets no more sessions with it, for a new session id or
// for the first one again (the store suite has two CA instances' stores:
// storage/store_test_userauth_proofs.cc).
TEST_P(SessionProofTest, AReplayedProofGetsNoSecondSessionCertificate) {
  const UserauthProof proof = SignedLogin(login_ + "+web01");
  grpc::Status st = IssueWith(proof, "s-first");
  ASSERT_TRUE(st.ok()) << st.error_message();
  const std::string reason =
      "was already used for session 's-first', so it gets no certificate "
      "for session 's-replay': a replayed proof";
  ExpectRefused(proof, reason, "s-replay");
  EXPECT_EQ(CountEvents(kEventCertRefused, reason), 1);
  // Its own session again (no honest gateway asks twice on one signed
  // login): refused too.
  const std::string again =
      "was already used for session 's-first', so it gets no certificate "
      "for session 's-first': a replayed proof";
  st = IssueWith(proof, "s-first");
  EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED)
      << st.error_message();
  EXPECT_TRUE(absl::StrContains(st.error_message(), again))
      << st.error_message();
  EXPECT_EQ(CountEvents(kEventCertRefused, again), 1);
  EXPECT_EQ(CountEvents(kEventCertIssued, "alice@s-first"), 1);
  // alice's next login (a new connection, a new proof): its certificate.
  st = IssueWith(SignedLogin(login_ + "+web01"), "s-replay");
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(CountEvents(kEventCertIssued, "s-replay"), 1);
}

// A proof is remembered while its user certificate is valid (8 h here),
// not just the 2 minutes of the session certificate it got; after that
// the certificate itself is refused.
TEST_P(SessionProofTest, AProofIsRefusedAgainUntilItsCertificateExpires) {
  const UserauthProof proof = SignedLogin(login_ + "+web01");
  grpc::Status st = IssueWith(proof, "s-early");
  ASSERT_TRUE(st.ok()) << st.error_message();
  absl::StatusOr<ssh::cert::Certificate> user_cert =
      ssh::cert::Certificate::FromLine(alice_.response.ssh_certificate());
  ASSERT_TRUE(user_cert.ok()) << user_cert.status();
  const absl::Time end =
      absl::FromUnixSeconds(static_cast<int64_t>(user_cert->valid_before));
  env_->clock().Set(end - absl::Seconds(1));
  ExpectRefused(proof, "already used for session 's-early'", "s-late");
  env_->clock().Set(end);
  ExpectRefused(proof, "expired", "s-expired");
}

SP_INSTANTIATE_ON_BOTH_BACKENDS(SessionProofTest);

}  // namespace
}  // namespace sallyport::ca
