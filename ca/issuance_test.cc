// Certificate issuance through Login: role max_ttl, disabled users and users
// without roles, and the record of every issuance in the Store and the
// audit log.
#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "ca/audit_log.h"
#include "ca/ca_test_env.h"
#include "ca/server_test_util.h"
#include "gtest/gtest.h"
#include "ssh/cert/certificate.h"

namespace sallyport::ca {
namespace {

using grpc::StatusCode;

TEST(IssuanceTest, RoleMaxTtlOfOneHourGivesAOneHourCertificate) {
  auto env = CaTestEnv::CreateOrNull();
  ASSERT_NE(env, nullptr);
  ASSERT_TRUE(env->AddRole("oncall", {"ops"}, absl::Hours(1)).ok());
  ASSERT_TRUE(env->AddUser("carol", "carol-pw", {"oncall"}).ok());
  auto r = env->Login("carol", "carol-pw");
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  auto cert = ssh::cert::Certificate::FromLine(r.response.ssh_certificate());
  ASSERT_TRUE(cert.ok());
  const int64_t now = absl::ToUnixSeconds(env->clock().Now());
  EXPECT_EQ(static_cast<int64_t>(cert->valid_before), now + 3600);
  EXPECT_EQ(static_cast<int64_t>(cert->valid_after), now - 60);
  EXPECT_EQ(r.response.valid_before().seconds(), now + 3600);
  EXPECT_EQ(cert->principals, std::vector<std::string>{"ops"});
  // The client certificate has the same validity.
  EXPECT_TRUE(absl::StrContains(r.response.tls_client_certificate_pem(),
                                "BEGIN CERTIFICATE"));
}

TEST(IssuanceTest, DisabledUserGetsNoCertificate) {
  auto env = CaTestEnv::CreateOrNull();
  ASSERT_NE(env, nullptr);
  ASSERT_TRUE(env->AddUser("dave", "dave-pw", {"login"}).ok());
  storage::User dave;
  dave.name = "dave";
  dave.disabled = true;
  ASSERT_TRUE(env->store().UpdateUser(dave).ok());
  auto r = env->Login("dave", "dave-pw");
  EXPECT_EQ(r.status.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(r.response.ssh_certificate().empty());
  storage::CertificateFilter filter;
  filter.user = "dave";
  auto certs = env->store().ListCertificates(filter);
  ASSERT_TRUE(certs.ok());
  EXPECT_TRUE(certs->empty());
  auto refused = Events(*env, kEventCertRefused);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_TRUE(absl::StrContains(refused[0].payload_json, "disabled"));
}

TEST(IssuanceTest, UserWithoutRolesGetsNoCertificate) {
  auto env = CaTestEnv::CreateOrNull();
  ASSERT_NE(env, nullptr);
  ASSERT_TRUE(env->AddUser("nora", "nora-pw", {}).ok());
  auto r = env->Login("nora", "nora-pw");
  EXPECT_EQ(r.status.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(r.status.error_message(), "no roles"));
}

TEST(IssuanceTest, EveryIssuanceIsInTheStoreAndTheAuditLog) {
  auto env = CaTestEnv::CreateOrNull();
  ASSERT_NE(env, nullptr);
  auto a = env->Login("admin", env->admin_password());
  auto b = env->Login("admin", env->admin_password());
  ASSERT_TRUE(a.status.ok() && b.status.ok());
  EXPECT_NE(a.response.serial(), b.response.serial());
  for (const auto* r : {&a, &b}) {
    auto cert = ssh::cert::Certificate::FromLine(r->response.ssh_certificate());
    ASSERT_TRUE(cert.ok());
    auto stored = env->store().GetCertificate(r->response.serial());
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_EQ(stored->user, "admin");
    EXPECT_EQ(stored->key_id, "admin");
    EXPECT_EQ(stored->purpose, storage::CertificatePurpose::kLogin);
    EXPECT_EQ(stored->principals, cert->principals);
    EXPECT_EQ(stored->public_key_fingerprint, cert->KeyFingerprint());
    EXPECT_EQ(stored->ca_key_fingerprint, cert->CaFingerprint());
    EXPECT_EQ(absl::ToUnixSeconds(stored->valid_before),
              static_cast<int64_t>(cert->valid_before));
  }
  auto issued = Events(*env, kEventCertIssued);
  ASSERT_EQ(issued.size(), 2u);
  EXPECT_EQ(issued[0].actor, "admin");
  EXPECT_TRUE(
      absl::StrContains(issued[0].payload_json,
                        absl::StrCat("\"serial\":", a.response.serial(), ",")));
  EXPECT_TRUE(absl::StrContains(issued[0].payload_json, "\"via\":\"login\""));
  EXPECT_EQ(Events(*env, kEventLoginOk).size(), 2u);
}

TEST(IssuanceTest, RenewalNeverOutlivesTheClientCertificate) {
  auto env = CaTestEnv::CreateOrNull();
  ASSERT_NE(env, nullptr);
  auto r = env->Login("admin", env->admin_password());
  ASSERT_TRUE(r.status.ok());
  env->clock().Advance(absl::Hours(2));
  auto key = ssh::crypto::PrivateKey::GenerateEcdsaP256();
  v1::IssueUserCertificateRequest req;
  req.set_ssh_public_key(key->public_key().ToAuthorizedKeysLine());
  v1::IssueUserCertificateResponse resp;
  grpc::ClientContext ctx;
  grpc::Status st =
      v1::CertificateAuthority::NewStub(r.channel)->IssueUserCertificate(
          &ctx, req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.valid_before().seconds(), r.response.valid_before().seconds());
  auto cert = ssh::cert::Certificate::FromLine(resp.ssh_certificate());
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(cert->type_name, ssh::cert::kEcdsaP256CertName);
}

}  // namespace
}  // namespace sallyport::ca
