// Gateway.IssueHostCertificateForTarget certifies only the calling
// gateway's own host key: the one its newest host certificate on record
// certifies (its latest enrolment's or renewal's). Users' known_hosts
// trust the host CA for every inventory name, so a certificate for web01
// on any other key would let whoever holds a gateway's mTLS identity
// impersonate web01 anywhere. SQLite (the check reads no more of the store
// than RenewGatewayHostCertificate).
#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "ca/audit_log.h"
#include "ca/gateway_test_util.h"
#include "gtest/gtest.h"
#include "ssh/cert/certificate.h"
#include "ssh/crypto/keys.h"

namespace sallyport::ca {
namespace {

using grpc::StatusCode;
namespace gw = gateway::v1;

class TargetCertificateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = StartCa(Backend::kSqlite, &pg_);
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = std::move(*env);
    storage::Host web;
    web.name = "web01";
    web.address = "10.0.0.5";
    ASSERT_TRUE(env_->store().CreateHost(web).ok());
  }
  // IssueHostCertificateForTarget for web01 on `key` (authorized_keys
  // line), as the gateway on `channel`.
  grpc::Status Issue(const std::shared_ptr<grpc::Channel>& channel,
                     const std::string& key,
                     gw::IssueHostCertificateForTargetResponse* response) {
    gw::IssueHostCertificateForTargetRequest request;
    request.set_host("web01");
    request.set_ssh_public_key(key);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return gw::Gateway::NewStub(channel)->IssueHostCertificateForTarget(
        &ctx, request, response);
  }
  // Issued for web01 on `key`.
  void ExpectIssued(const std::shared_ptr<grpc::Channel>& channel,
                    const std::string& key) {
    gw::IssueHostCertificateForTargetResponse response;
    grpc::Status st = Issue(channel, key, &response);
    ASSERT_TRUE(st.ok()) << st.error_message();
    auto cert = ssh::cert::Certificate::FromLine(
        response.certificate().ssh_certificate());
    ASSERT_TRUE(cert.ok()) << cert.status();
    EXPECT_EQ(cert->key.ToAuthorizedKeysLine(), key);
    EXPECT_EQ(cert->principals,
              (std::vector<std::string>{"web01", "10.0.0.5"}));
  }
  // Refused with PERMISSION_DENIED saying `why` and how to enrol gateway
  // `name` again.
  void ExpectRefused(const std::shared_ptr<grpc::Channel>& channel,
                     const std::string& key, const std::string& name,
                     const std::string& why) {
    gw::IssueHostCertificateForTargetResponse response;
    grpc::Status st = Issue(channel, key, &response);
    EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED)
        << st.error_message();
    EXPECT_TRUE(absl::StrContains(st.error_message(), why))
        << st.error_message();
    EXPECT_TRUE(absl::StrContains(
        st.error_message(),
        absl::StrCat("enrol gateway ", name,
                     " again with a token for its name (spctl tokens create "
                     "--kind gateway --gateway-name ",
                     name, ")")))
        << st.error_message();
    EXPECT_TRUE(response.certificate().ssh_certificate().empty());
  }
  static std::string FreshKey() {
    auto key = ssh::crypto::PrivateKey::GenerateEd25519();
    EXPECT_TRUE(key.ok());
    return key->public_key().ToAuthorizedKeysLine();
  }
  int Refusals(const std::string& gateway) {
    return CountAuditEvents(
        env_->store(), kEventCertRefused,
        {"\"purpose\":\"proxyjump-target\"",
         absl::StrCat("\"gateway\":\"", gateway, "\""), "\"web01\""});
  }
  std::unique_ptr<testing::PostgresFixture> pg_;
  std::unique_ptr<CaTestEnv> env_;
};

constexpr char kNotEnrolled[] = "is not the host key gateway";

// The gateway's own host key is certified, after a renewal of its host
// certificate too; any other key, another gateway's included, is refused
// with a cert.refused event, and nothing is issued for it.
TEST_F(TargetCertificateTest, OnlyTheGatewaysOwnHostKeyIsCertified) {
  EnrolledGateway gw1 = EnrollOrDie(*env_, "gw1");
  EnrolledGateway gw2 = EnrollOrDie(*env_, "gw2");
  ExpectIssued(gw1.channel, gw1.host_public_key);
  ExpectRefused(gw1.channel, FreshKey(), "gw1", kNotEnrolled);
  ExpectRefused(gw1.channel, gw2.host_public_key, "gw1", kNotEnrolled);
  EXPECT_EQ(Refusals("gw1"), 2);
  EXPECT_EQ(
      CountAuditEvents(env_->store(), kEventCertIssued, {"proxyjump-target"}),
      1);

  gw::RenewGatewayHostCertificateRequest renew;
  renew.set_host_certificate(gw1.response.host_certificate().ssh_certificate());
  gw::RenewGatewayHostCertificateResponse renewed;
  grpc::ClientContext ctx;
  grpc::Status st = gw::Gateway::NewStub(gw1.channel)
                        ->RenewGatewayHostCertificate(&ctx, renew, &renewed);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ExpectIssued(gw1.channel, gw1.host_public_key);
}

// A name enrolled again with a new host key: the key of the earlier
// enrolment is certified no more, with either identity.
TEST_F(TargetCertificateTest, AKeyOfAnEarlierEnrolmentIsRefused) {
  EnrolledGateway first = EnrollOrDie(*env_, "gw1");
  ExpectIssued(first.channel, first.host_public_key);
  std::string token;
  ASSERT_TRUE(
      CreateJoinToken(*env_, "gateway", absl::Hours(1), &token, "gw1").ok());
  EnrolledGateway second = Enroll(*env_, token, "gw1");
  ASSERT_TRUE(second.status.ok()) << second.status.error_message();
  ASSERT_NE(second.host_public_key, first.host_public_key);
  ExpectRefused(second.channel, first.host_public_key, "gw1", kNotEnrolled);
  ExpectRefused(first.channel, first.host_public_key, "gw1", kNotEnrolled);
  ExpectIssued(second.channel, second.host_public_key);
  ExpectIssued(first.channel, second.host_public_key);
}

// The gateway's newest host certificate revoked by serial, or its host
// key revoked: refused.
TEST_F(TargetCertificateTest, ARevokedHostCertificateOrKeyIsRefused) {
  EnrolledGateway gw1 = EnrollOrDie(*env_, "gw1");
  storage::Revocation by_serial;
  by_serial.serial = gw1.response.host_certificate().serial();
  by_serial.reason = "stolen";
  by_serial.revoked_by = "admin";
  ASSERT_TRUE(env_->store().Revoke(by_serial).ok());
  ExpectRefused(gw1.channel, gw1.host_public_key, "gw1", "is revoked");

  EnrolledGateway gw2 = EnrollOrDie(*env_, "gw2");
  ExpectIssued(gw2.channel, gw2.host_public_key);
  auto key =
      ssh::crypto::PublicKey::FromAuthorizedKeysLine(gw2.host_public_key);
  ASSERT_TRUE(key.ok());
  storage::Revocation by_key;
  by_key.key_fingerprint = key->FingerprintSha256();
  by_key.reason = "stolen";
  by_key.revoked_by = "admin";
  ASSERT_TRUE(env_->store().Revoke(by_key).ok());
  ExpectRefused(gw2.channel, gw2.host_public_key, "gw2",
                "'s host certificate (serial");
  EXPECT_EQ(Refusals("gw1"), 1);
  EXPECT_EQ(Refusals("gw2"), 1);
}

// A gateway whose host certificates were recorded before they named it
// (user empty; found by key id and first principal, as for its renewal):
// its key is still certified, no other.
TEST_F(TargetCertificateTest, AGatewayRecordedWithoutItsNameIsCertified) {
  storage::Host host;
  host.name = "gw9";
  host.address = "10.0.0.9";
  ASSERT_TRUE(env_->store().CreateHost(host).ok());
  const std::string key = FreshKey();
  ASSERT_FALSE(IssueHostCertificateAsAdmin(*env_, "gw9", key).empty());
  auto gw9 = UnrecordedGatewayChannel(*env_, "gw9");
  ASSERT_NE(gw9, nullptr);
  ExpectIssued(gw9, key);
  ExpectRefused(gw9, FreshKey(), "gw9", kNotEnrolled);
}

// The records without a user are read once per gateway name: an admin's
// later certificate for an inventory host of the gateway's name (recorded
// the same way) is not taken for the gateway's enrolment.
TEST_F(TargetCertificateTest, AGatewayRecordedWithoutItsNameKeepsItsKey) {
  storage::Host host;
  host.name = "gw7";
  host.address = "10.0.0.7";
  ASSERT_TRUE(env_->store().CreateHost(host).ok());
  const std::string key = FreshKey();
  ASSERT_FALSE(IssueHostCertificateAsAdmin(*env_, "gw7", key).empty());
  auto gw7 = UnrecordedGatewayChannel(*env_, "gw7");
  ASSERT_NE(gw7, nullptr);
  ExpectIssued(gw7, key);
  const std::string other = FreshKey();
  ASSERT_FALSE(IssueHostCertificateAsAdmin(*env_, "gw7", other).empty());
  ExpectIssued(gw7, key);
  ExpectRefused(gw7, other, "gw7", kNotEnrolled);
}

// A gateway identity with no host certificate on record at all.
TEST_F(TargetCertificateTest, AGatewayWithoutAHostCertificateIsRefused) {
  auto gw8 = UnrecordedGatewayChannel(*env_, "gw8");
  ASSERT_NE(gw8, nullptr);
  ExpectRefused(gw8, FreshKey(), "gw8", "has no host certificate on record");
}

}  // namespace
}  // namespace sallyport::ca
