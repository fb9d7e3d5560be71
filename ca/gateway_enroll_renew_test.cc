// gwrest (issue 12): Gateway.RenewGatewayHostCertificate. A gateway
// identity renews its own host certificate (same key, same principals,
// the enrolment validity, a new serial); a user identity, another
// gateway's certificate, a certificate this CA did not sign and a revoked
// one are refused. SQLite (the RPC reads no more of the store than enrolment).
#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "ca/gateway_test_util.h"
#include "gtest/gtest.h"
#include "ssh/cert/certificate.h"
#include "ssh/cert/sign.h"
#include "ssh/cert/verify.h"

namespace sallyport::ca {
namespace {

using grpc::StatusCode;
namespace gw = gateway::v1;

class RenewHostCertificateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = StartCa(Backend::kSqlite, &pg_);
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = std::move(*env);
  }
  grpc::Status Renew(const std::shared_ptr<grpc::Channel>& channel,
                     const std::string& line,
                     gw::RenewGatewayHostCertificateResponse* response) {
    gw::RenewGatewayHostCertificateRequest request;
    request.set_host_certificate(line);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return gw::Gateway::NewStub(channel)->RenewGatewayHostCertificate(
        &ctx, request, response);
  }
  std::unique_ptr<testing::PostgresFixture> pg_;
  std::unique_ptr<CaTestEnv> env_;
};

TEST_F(RenewHostCertificateTest, SameKeyAndPrincipalsWithAFreshValidity) {
  std::string token;
  ASSERT_TRUE(CreateJoinToken(*env_, "gateway", absl::Hours(1), &token).ok());
  EnrolledGateway g = Enroll(*env_, token, "gw1", {"gw1.example.com"});
  ASSERT_TRUE(g.status.ok()) << g.status.error_message();
  auto before = ssh::cert::Certificate::FromLine(
      g.response.host_certificate().ssh_certificate());
  ASSERT_TRUE(before.ok());

  env_->clock().Advance(absl::Hours(24 * 5));
  gw::RenewGatewayHostCertificateResponse response;
  grpc::Status st = Renew(
      g.channel, g.response.host_certificate().ssh_certificate(), &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  auto after = ssh::cert::Certificate::FromLine(
      response.host_certificate().ssh_certificate());
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->type, ssh::cert::CertType::kHost);
  EXPECT_EQ(after->key, before->key);
  EXPECT_EQ(after->principals, before->principals);
  EXPECT_EQ(after->key_id, "gw1");
  EXPECT_NE(after->serial, before->serial);
  EXPECT_EQ(response.host_certificate().serial(), after->serial);
  EXPECT_EQ(static_cast<int64_t>(after->valid_before),
            absl::ToUnixSeconds(env_->clock().Now() + absl::Hours(720)));
  EXPECT_GT(after->valid_before, before->valid_before);
  auto host_ca = ssh::crypto::PublicKey::FromAuthorizedKeysLine(
      env_->init().host_ca_public_key);
  ASSERT_TRUE(host_ca.ok());
  ssh::cert::VerifyOptions verify;
  verify.trusted_cas = {*host_ca};
  verify.expected_type = ssh::cert::CertType::kHost;
  verify.principal = "gw1.example.com";
  verify.now = env_->clock().Now();
  EXPECT_TRUE(ssh::cert::VerifyCertificate(*after, verify).ok());

  // An expired certificate is renewed too (the mTLS identity is current).
  env_->clock().Advance(absl::Hours(24));
  ASSERT_TRUE(Renew(g.channel, g.response.host_certificate().ssh_certificate(),
                    &response)
                  .ok());
}

TEST_F(RenewHostCertificateTest, OnlyAGatewayRenewsOnlyItsOwnCertificate) {
  EnrolledGateway g1 = EnrollOrDie(*env_, "gw1");
  EnrolledGateway g2 = EnrollOrDie(*env_, "gw2");
  const std::string line1 = g1.response.host_certificate().ssh_certificate();
  gw::RenewGatewayHostCertificateResponse response;
  // A user's (the admin's) identity.
  EXPECT_EQ(Renew(AdminChannel(*env_), line1, &response).error_code(),
            StatusCode::PERMISSION_DENIED);
  // No client certificate.
  EXPECT_EQ(Renew(env_->AnonymousChannel(), line1, &response).error_code(),
            StatusCode::UNAUTHENTICATED);
  // Another gateway's certificate.
  EXPECT_EQ(Renew(g2.channel, line1, &response).error_code(),
            StatusCode::PERMISSION_DENIED);
  // A certificate for gw1's name that this CA did not sign.
  auto other_ca = ssh::crypto::PrivateKey::GenerateEd25519();
  ASSERT_TRUE(other_ca.ok());
  auto before = ssh::cert::Certificate::FromLine(line1);
  ASSERT_TRUE(before.ok());
  ssh::cert::CertificateRequest forged;
  forged.public_key = before->key;
  forged.type = ssh::cert::CertType::kHost;
  forged.key_id = "gw1";
  forged.principals = {"gw1", "intranet.example.com"};
  forged.valid_after = before->valid_after;
  forged.valid_before = before->valid_before;
  auto signed_forged = ssh::cert::SignCertificate(forged, *other_ca);
  ASSERT_TRUE(signed_forged.ok()) << signed_forged.status();
  EXPECT_EQ(
      Renew(g1.channel, signed_forged->ToLine("gw1"), &response).error_code(),
      StatusCode::PERMISSION_DENIED);
  // Not a certificate.
  EXPECT_EQ(Renew(g1.channel, "garbage", &response).error_code(),
            StatusCode::INVALID_ARGUMENT);
  // Its own: renewed.
  grpc::Status st = Renew(g1.channel, line1, &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
}

// Found in review: a host certificate an administrator revoked by its
// serial was renewed (it is checked as of its own start, so its
// revocation was never asked), and the gateway got a fresh serial for the
// same key and principals, undoing the revocation.
TEST_F(RenewHostCertificateTest, ARevokedCertificateIsNotRenewed) {
  EnrolledGateway g = EnrollOrDie(*env_, "gw1");
  const std::string line = g.response.host_certificate().ssh_certificate();
  storage::Revocation revocation;
  revocation.serial = g.response.host_certificate().serial();
  revocation.reason = "wrong principals";
  revocation.revoked_by = "admin";
  ASSERT_TRUE(env_->store().Revoke(revocation).ok());
  gw::RenewGatewayHostCertificateResponse response;
  grpc::Status st = Renew(g.channel, line, &response);
  EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED)
      << st.error_message();
  EXPECT_TRUE(absl::StrContains(st.error_message(), "is revoked"))
      << st.error_message();
  EXPECT_TRUE(response.host_certificate().ssh_certificate().empty());
}

}  // namespace
}  // namespace sallyport::ca
