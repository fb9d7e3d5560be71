// gwrest (issue 12): Gateway.RenewGatewayHostCertificate. A gateway
// identity renews its own host certificate (same key, same principals,
// the enrolment validity, a new serial); a user identity, another
// gateway's certificate, a certificate this CA did not sign, a revoked
// one and one an enrolment again replaced are refused. SQLite (the RPC
// reads no more of the store than enrolment).
#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "ca/gateway_test_util.h"
#include "ca/tls_material.h"
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

  // An expired certificate is renewed too (the mTLS identity is current),
  // and so is one the gateway renewed already when it certifies the same
  // key and principals (the answer was lost).
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

// Found in review: any host certificate the CA ever issued for the
// gateway's name was renewed, one of an earlier enrolment too. gw1
// enrolled with bastion.example.com and enrolled again without it (or
// with a new key) still got 30 days for the old names and key by showing
// its old certificate, expired or not, with its old identity or its new.
TEST_F(RenewHostCertificateTest, ACertificateOfAnEarlierEnrolmentIsNotRenewed) {
  // Host certificates of 36 h, which expire while the identities do not.
  CaTestEnv::Options options;
  options.config_edits = {{"host_ttl: 720h", "host_ttl: 36h"}};
  env_.reset();
  auto env = StartCa(Backend::kSqlite, &pg_, options);
  ASSERT_TRUE(env.ok()) << env.status();
  env_ = std::move(*env);
  std::string token;
  ASSERT_TRUE(CreateJoinToken(*env_, "gateway", absl::Hours(1), &token).ok());
  EnrolledGateway first = Enroll(*env_, token, "gw1", {"bastion.example.com"});
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  const std::string old_line =
      first.response.host_certificate().ssh_certificate();
  gw::RenewGatewayHostCertificateResponse response;
  const auto refused = [&](const std::shared_ptr<grpc::Channel>& channel,
                           const std::string& line) {
    grpc::Status st = Renew(channel, line, &response);
    EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED)
        << st.error_message();
    EXPECT_TRUE(absl::StrContains(
        st.error_message(), "was replaced by a later enrolment or renewal"))
        << st.error_message();
    EXPECT_TRUE(absl::StrContains(st.error_message(),
                                  "--kind gateway --gateway-name gw1"))
        << st.error_message();
  };

  // Enrolled again with the same key, without bastion.example.com.
  ASSERT_TRUE(
      CreateJoinToken(*env_, "gateway", absl::Hours(1), &token, "gw1").ok());
  EnrolledGateway second =
      Enroll(*env_, token, "gw1", {}, first.host_public_key);
  ASSERT_TRUE(second.status.ok()) << second.status.error_message();
  refused(second.channel, old_line);
  refused(first.channel, old_line);
  grpc::Status st =
      Renew(second.channel,
            second.response.host_certificate().ssh_certificate(), &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  auto renewed = ssh::cert::Certificate::FromLine(
      response.host_certificate().ssh_certificate());
  ASSERT_TRUE(renewed.ok());
  EXPECT_EQ(renewed->principals, std::vector<std::string>{"gw1"});

  // Enrolled again with a new key and the same names: neither earlier
  // certificate is renewed, expired or not.
  ASSERT_TRUE(
      CreateJoinToken(*env_, "gateway", absl::Hours(1), &token, "gw1").ok());
  EnrolledGateway third = Enroll(*env_, token, "gw1");
  ASSERT_TRUE(third.status.ok()) << third.status.error_message();
  const std::string second_line =
      second.response.host_certificate().ssh_certificate();
  refused(third.channel, second_line);
  env_->clock().Advance(absl::Hours(48));
  refused(third.channel, second_line);
  refused(third.channel, old_line);
  st = Renew(third.channel, third.response.host_certificate().ssh_certificate(),
             &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
}

// The renewal of an older certificate of the same key and principals (an
// answer the gateway did not get) does not undo the revocation of the
// newest.
TEST_F(RenewHostCertificateTest, AnOlderCertificateDoesNotUndoARevocation) {
  EnrolledGateway g = EnrollOrDie(*env_, "gw1");
  const std::string line = g.response.host_certificate().ssh_certificate();
  gw::RenewGatewayHostCertificateResponse response;
  ASSERT_TRUE(Renew(g.channel, line, &response).ok());
  storage::Revocation revocation;
  revocation.serial = response.host_certificate().serial();
  revocation.reason = "stolen";
  revocation.revoked_by = "admin";
  ASSERT_TRUE(env_->store().Revoke(revocation).ok());
  grpc::Status st = Renew(g.channel, line, &response);
  EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED)
      << st.error_message();
  EXPECT_TRUE(absl::StrContains(
      st.error_message(),
      absl::StrCat("the gateway's newest host certificate (serial ",
                   *revocation.serial, ") is revoked")))
      << st.error_message();
}

// Gateway host certificates recorded before they named their gateway
// (user empty, as a host's): the newest of them, by key id and first
// principal, is renewed; an older one for another key is not.
TEST_F(RenewHostCertificateTest, CertificatesRecordedWithoutTheGatewayRenew) {
  storage::Host host;
  host.name = "gw9";
  host.address = "10.0.0.9";
  ASSERT_TRUE(env_->store().CreateHost(host).ok());
  const auto legacy = [&]() {
    auto key = ssh::crypto::PrivateKey::GenerateEd25519();
    EXPECT_TRUE(key.ok());
    return IssueHostCertificateAsAdmin(
        *env_, "gw9", key->public_key().ToAuthorizedKeysLine());
  };
  const std::string older = legacy();
  env_->clock().Advance(absl::Seconds(1));
  const std::string newer = legacy();
  auto gw9 = UnrecordedGatewayChannel(*env_, "gw9");
  ASSERT_NE(gw9, nullptr);

  gw::RenewGatewayHostCertificateResponse response;
  grpc::Status st = Renew(gw9, older, &response);
  EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED)
      << st.error_message();
  st = Renew(gw9, newer, &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  // Recorded as gw9's now, the newest: the older one is still refused.
  EXPECT_EQ(Renew(gw9, older, &response).error_code(),
            StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Renew(gw9, newer, &response).ok());
}

}  // namespace
}  // namespace sallyport::ca
