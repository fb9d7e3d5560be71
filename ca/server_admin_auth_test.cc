// Who may call the CA over gRPC/TLS: mutual TLS on every RPC but Login (no
// certificate, an expired one, one from another CA), the admin role on the
// admin API, and revocation, disabling or deleting a user cutting off their
// client certificate. The admin operations: server_admin_test.cc.
#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "ca/audit_log.h"
#include "ca/ca_test_env.h"
#include "ca/client_ca.h"
#include "ca/server_test_util.h"
#include "ca/tls_material.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "ssh/crypto/keys.h"

namespace sallyport::ca {
namespace {

using grpc::StatusCode;
namespace pb = admin::v1;

// A client certificate issued by the CA's own client CA with any validity.
struct ClientCert {
  std::string key_pem, cert_pem;
};
ClientCert IssueClientCert(CaTestEnv& env, const std::string& user,
                           uint64_t serial, absl::Time not_before,
                           absl::Time not_after) {
  auto ca = ClientCertificateAuthority::Load(
      env.dir() + "/state/client_ca.crt", env.dir() + "/state/client_ca.key");
  EXPECT_TRUE(ca.ok()) << ca.status();
  auto key = GenerateTlsKey();
  auto pem = (*ca)->Issue(ClientIdentity::Kind::kUser, user, serial, not_before,
                          not_after, *PublicKeyToDer(key->get()));
  EXPECT_TRUE(pem.ok()) << pem.status();
  return {std::string(PrivateKeyToPem(key->get())->view()), *pem};
}

TEST(AdminAuthTest, WithoutClientCertificateIsRefused) {
  auto env = CaTestEnv::CreateOrNull();
  ASSERT_NE(env, nullptr);
  grpc::Status st = ListUsers(env->AnonymousChannel());
  EXPECT_EQ(st.error_code(), StatusCode::UNAUTHENTICATED) << st.error_message();
  EXPECT_EQ(Events(*env, kEventAdminDenied).size(), 1u);
  // The CA service's other RPCs too.
  grpc::ClientContext ctx;
  v1::CaPublicKeys keys;
  EXPECT_EQ(v1::CertificateAuthority::NewStub(env->AnonymousChannel())
                ->GetCaPublicKeys(&ctx, {}, &keys)
                .error_code(),
            StatusCode::UNAUTHENTICATED);
}

TEST(AdminAuthTest, ExpiredClientCertificateIsRefused) {
  auto env = CaTestEnv::CreateOrNull();
  ASSERT_NE(env, nullptr);
  const absl::Time now = absl::Now();
  // Expired in real time: the TLS handshake itself fails.
  ClientCert old = IssueClientCert(*env, "admin", 99, now - absl::Hours(9),
                                   now - absl::Hours(1));
  grpc::Status st = ListUsers(env->ClientChannel(old.key_pem, old.cert_pem));
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.error_code(), StatusCode::PERMISSION_DENIED);

  // Expired by the CA's clock (checked again by the CA after TLS).
  auto admin = env->Login("admin", env->admin_password());
  ASSERT_TRUE(admin.status.ok());
  ASSERT_TRUE(ListUsers(admin.channel).ok());
  env->clock().Advance(absl::Hours(8) + absl::Seconds(1));
  st = ListUsers(admin.channel);
  EXPECT_EQ(st.error_code(), StatusCode::UNAUTHENTICATED) << st.error_message();
}

TEST(AdminAuthTest, NonAdminUserIsRefused) {
  auto env = CaTestEnv::CreateOrNull();
  ASSERT_NE(env, nullptr);
  ASSERT_TRUE(env->AddUser("bob", "bob-pw", {"login"}).ok());
  auto bob = env->Login("bob", "bob-pw");
  ASSERT_TRUE(bob.status.ok()) << bob.status.error_message();
  grpc::Status st = ListUsers(bob.channel);
  EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED);
  auto denied = Events(*env, kEventAdminDenied);
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_EQ(denied[0].actor, "bob");
  EXPECT_TRUE(absl::StrContains(denied[0].payload_json, "ListUsers"));
  // bob's certificate still works where no admin role is needed.
  grpc::ClientContext ctx;
  v1::CaPublicKeys keys;
  EXPECT_TRUE(v1::CertificateAuthority::NewStub(bob.channel)
                  ->GetCaPublicKeys(&ctx, {}, &keys)
                  .ok());
}

TEST(AdminAuthTest, CertificateFromAnotherCaIsRefused) {
  auto env = CaTestEnv::CreateOrNull();
  ASSERT_NE(env, nullptr);
  auto key = GenerateTlsKey();
  CertificateSpec spec;
  spec.common_name = "admin";
  spec.organizational_unit = "user";
  spec.serial = 5;
  spec.not_before = absl::Now() - absl::Minutes(1);
  spec.not_after = absl::Now() + absl::Hours(1);
  spec.client = true;
  auto self = IssueCertificate(spec, key->get(), nullptr, key->get());
  ASSERT_TRUE(self.ok());
  grpc::Status st = ListUsers(
      env->ClientChannel(std::string(PrivateKeyToPem(key->get())->view()),
                         *CertificateToPem(self->get())));
  EXPECT_FALSE(st.ok());
}

TEST(AdminAuthTest, RevokedOrDisabledOrDeletedUsersLoseAccess) {
  AdminAndBob ca = StartWithAdminAndBob();
  ASSERT_TRUE(ca.ok());
  auto& [env, admin, bob] = ca;
  auto keys = [&](std::shared_ptr<grpc::Channel> ch) {
    grpc::ClientContext ctx;
    v1::CaPublicKeys out;
    return v1::CertificateAuthority::NewStub(ch)->GetCaPublicKeys(&ctx, {},
                                                                  &out);
  };
  ASSERT_TRUE(keys(bob.channel).ok());
  pb::RevokeRequest revoke;
  revoke.set_serial(bob.response.serial());
  revoke.set_reason("laptop lost");
  pb::RevokedEntry entry;
  grpc::ClientContext ctx;
  ASSERT_TRUE(
      pb::Admin::NewStub(admin.channel)->Revoke(&ctx, revoke, &entry).ok());
  EXPECT_EQ(entry.revoked_by(), "admin");
  EXPECT_EQ(keys(bob.channel).error_code(), StatusCode::UNAUTHENTICATED);

  auto bob2 = env->Login("bob", "bob-pw");
  ASSERT_TRUE(bob2.status.ok());
  ASSERT_TRUE(keys(bob2.channel).ok());
  storage::User disabled;
  disabled.name = "bob";
  disabled.disabled = true;
  ASSERT_TRUE(env->store().UpdateUser(disabled).ok());
  EXPECT_EQ(keys(bob2.channel).error_code(), StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(env->store().DeleteUser("bob").ok());
  EXPECT_EQ(keys(bob2.channel).error_code(), StatusCode::UNAUTHENTICATED);
}

// A stolen laptop leaks the SSH key and the TLS identity `sp login` wrote
// beside it together: revoking the key (`spctl certs revoke --key`) must
// also stop that identity from getting a certificate for a new key.
TEST(AdminAuthTest, RevokingALoginsKeyCutsOffItsClientCertificate) {
  AdminAndBob ca = StartWithAdminAndBob();
  ASSERT_TRUE(ca.ok());
  auto& [env, admin, bob] = ca;
  auto issue = [&](std::shared_ptr<grpc::Channel> ch) {
    auto key = ssh::crypto::PrivateKey::GenerateEd25519();
    v1::IssueUserCertificateRequest req;
    req.set_ssh_public_key(key->public_key().ToAuthorizedKeysLine());
    v1::IssueUserCertificateResponse resp;
    grpc::ClientContext ctx;
    return v1::CertificateAuthority::NewStub(ch)->IssueUserCertificate(
        &ctx, req, &resp);
  };
  ASSERT_TRUE(issue(bob.channel).ok());

  auto bob_key =
      ssh::crypto::PublicKey::FromAuthorizedKeysLine(bob.ssh_public_key);
  ASSERT_TRUE(bob_key.ok()) << bob_key.status();
  pb::RevokeRequest revoke;
  revoke.set_key_fingerprint(bob_key->FingerprintSha256());
  revoke.set_reason("laptop stolen");
  pb::RevokedEntry entry;
  grpc::ClientContext ctx;
  ASSERT_TRUE(
      pb::Admin::NewStub(admin.channel)->Revoke(&ctx, revoke, &entry).ok());
  const grpc::Status st = issue(bob.channel);
  EXPECT_EQ(st.error_code(), StatusCode::UNAUTHENTICATED) << st.error_message();
  EXPECT_TRUE(absl::StrContains(st.error_message(), "revoked"))
      << st.error_message();
  // Bob himself is not cut off: a new login (a new key) works.
  auto again = env->Login("bob", "bob-pw");
  ASSERT_TRUE(again.status.ok()) << again.status.error_message();
  EXPECT_TRUE(issue(again.channel).ok());
}

}  // namespace
}  // namespace sallyport::ca
