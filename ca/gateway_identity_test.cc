// A gateway's mTLS identity (issue 11 "Gateway identity"): listed with
// its serial, renewed once, and which identity may call what. Enrolment and
// join tokens are in gateway_enroll_test.cc. Every test runs on SQLite and
// on a real PostgreSQL server.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "ca/audit_log.h"
#include "ca/enroll_test_fixture.h"
#include "ca/enrollment.h"
#include "ca/tls_material.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "ssh/cert/certificate.h"

namespace sallyport::ca {
namespace {

using grpc::StatusCode;
namespace gw = gateway::v1;

class GatewayEnrollTest : public EnrollTest {};

grpc::Status ListUsers(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = admin::v1::Admin::NewStub(channel);
  grpc::ClientContext ctx;
  admin::v1::ListUsersResponse response;
  return stub->ListUsers(&ctx, admin::v1::ListUsersRequest(), &response);
}

// A gateway's mTLS identity is an issued certificate like any other: its
// serial (in gateway.enrolled and gateway.renewed) is listed with purpose
// "gateway" and user "gateway:NAME", so an admin can find it and revoke it
// (it was not recorded anywhere: `spctl certs ls` did not show it, and
// gateway.enrolled did not name it).
TEST_P(GatewayEnrollTest, GatewayIdentitiesAreListedWithTheirSerials) {
  EnrolledGateway g = Enroll(*env_, Token("gateway"), "gw1");
  ASSERT_TRUE(g.status.ok()) << g.status.error_message();
  auto first = env_->server().client_ca().Verify(
      g.response.tls_client_certificate_pem(), env_->clock().Now());
  ASSERT_TRUE(first.ok()) << first.status();

  auto tls_key = GenerateTlsKey();
  ASSERT_TRUE(tls_key.ok());
  gw::RenewGatewayIdentityRequest renew;
  renew.set_tls_public_key_der(*PublicKeyToDer(tls_key->get()));
  gw::RenewGatewayIdentityResponse renewed;
  {
    grpc::ClientContext ctx;
    grpc::Status st = gw::Gateway::NewStub(g.channel)->RenewGatewayIdentity(
        &ctx, renew, &renewed);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  auto second = env_->server().client_ca().Verify(
      renewed.tls_client_certificate_pem(), env_->clock().Now());
  ASSERT_TRUE(second.ok()) << second.status();

  admin::v1::ListCertificatesRequest request;
  request.set_purpose("gateway");
  admin::v1::ListCertificatesResponse listed;
  grpc::ClientContext ctx;
  grpc::Status st = admin::v1::Admin::NewStub(AdminChannel(*env_))
                        ->ListCertificates(&ctx, request, &listed);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(listed.certificates_size(), 2);
  EXPECT_EQ(listed.certificates(0).serial(), first->serial);
  EXPECT_EQ(listed.certificates(1).serial(), second->serial);
  for (const auto& c : listed.certificates()) {
    EXPECT_EQ(c.purpose(), "gateway");
    EXPECT_EQ(c.user(), "gateway:gw1");
    EXPECT_EQ(c.key_id(), "gw1");
  }
  EXPECT_EQ(listed.certificates(1).public_key_fingerprint(),
            DerFingerprint(renew.tls_public_key_der()));
  EXPECT_EQ(CountAuditEvents(env_->store(), kEventGatewayEnrolled,
                             {absl::StrCat("\"serial\":", first->serial)}),
            1);
  EXPECT_EQ(
      CountAuditEvents(env_->store(), kEventGatewayRenewed,
                       {absl::StrCat("\"serial\":", second->serial),
                        absl::StrCat("\"previous_serial\":", first->serial)}),
      1);
}

// An mTLS identity renews once: a copy of it (a stolen key and
// certificate) cannot mint fresh 7-day identities while the gateway renews
// too, whichever of them comes second is refused and the gateway's log
// says so. The renewed identity is not revoked: the gateway's calls on the
// old channel finish. Before, the same identity renewed any number of
// times.
TEST_P(GatewayEnrollTest, AnIdentityRenewsOnce) {
  EnrolledGateway g = Enroll(*env_, Token("gateway"), "gw1");
  ASSERT_TRUE(g.status.ok()) << g.status.error_message();
  auto first = env_->server().client_ca().Verify(
      g.response.tls_client_certificate_pem(), env_->clock().Now());
  ASSERT_TRUE(first.ok()) << first.status();
  struct Renewed {
    grpc::Status status;
    std::shared_ptr<grpc::Channel> channel;
    uint64_t serial = 0;
  };
  const auto renew = [&](const std::shared_ptr<grpc::Channel>& channel) {
    Renewed out;
    auto tls_key = GenerateTlsKey();
    EXPECT_TRUE(tls_key.ok());
    if (!tls_key.ok()) return out;
    gw::RenewGatewayIdentityRequest request;
    request.set_tls_public_key_der(*PublicKeyToDer(tls_key->get()));
    gw::RenewGatewayIdentityResponse response;
    grpc::ClientContext ctx;
    out.status = gw::Gateway::NewStub(channel)->RenewGatewayIdentity(
        &ctx, request, &response);
    if (!out.status.ok()) return out;
    out.channel = env_->ClientChannel(
        std::string(PrivateKeyToPem(tls_key->get())->view()),
        response.tls_client_certificate_pem());
    auto id = env_->server().client_ca().Verify(
        response.tls_client_certificate_pem(), env_->clock().Now());
    EXPECT_TRUE(id.ok()) << id.status();
    if (id.ok()) out.serial = id->serial;
    return out;
  };

  Renewed second = renew(g.channel);
  ASSERT_TRUE(second.status.ok()) << second.status.error_message();
  Renewed again = renew(g.channel);
  EXPECT_EQ(again.status.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(
      again.status.error_message(),
      absl::StrCat("this gateway identity (serial ", first->serial,
                   ") was already renewed or replaced: gateway gw1 has a "
                   "newer one, serial ",
                   second.serial)))
      << again.status.error_message();
  EXPECT_EQ(
      CountAuditEvents(env_->store(), kEventAccessDenied,
                       {"\"method\":\"RenewGatewayIdentity\"",
                        absl::StrCat("\"serial\":", first->serial),
                        absl::StrCat("\"newer_serial\":", second.serial)}),
      1);
  EXPECT_EQ(CountEvents(kEventGatewayRenewed), 1);
  // The old identity is not revoked: its other calls still work.
  {
    v1::CaPublicKeys keys;
    grpc::ClientContext ctx;
    EXPECT_TRUE(v1::CertificateAuthority::NewStub(g.channel)
                    ->GetCaPublicKeys(&ctx, v1::GetCaPublicKeysRequest(), &keys)
                    .ok());
  }

  // The renewed identity renews, once.
  Renewed third = renew(second.channel);
  ASSERT_TRUE(third.status.ok()) << third.status.error_message();
  EXPECT_EQ(renew(second.channel).status.error_code(),
            StatusCode::PERMISSION_DENIED);

  // An enrolment of the name again replaces every identity before it.
  ASSERT_TRUE(Enroll(*env_, Token("gateway", absl::Hours(1), "gw1"), "gw1")
                  .status.ok());
  Renewed replaced = renew(third.channel);
  EXPECT_EQ(replaced.status.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CountEvents(kEventGatewayRenewed), 2);
}

// Renewals of one identity that reach the CA at the same moment: each
// found no newer identity on record, and each recorded one, so a copy of
// the identity renewing alongside the gateway could still get its own.
// The record takes each serial's renewal once: exactly one of 8 concurrent
// renewals succeeds, the others are refused naming it.
TEST_P(GatewayEnrollTest, ConcurrentRenewalsOfOneIdentityRenewItOnce) {
  EnrolledGateway g = Enroll(*env_, Token("gateway"), "gw1");
  ASSERT_TRUE(g.status.ok()) << g.status.error_message();
  constexpr int kRenewals = 8;
  std::vector<gw::RenewGatewayIdentityRequest> requests(kRenewals);
  for (auto& request : requests) {
    auto tls_key = GenerateTlsKey();
    ASSERT_TRUE(tls_key.ok());
    request.set_tls_public_key_der(*PublicKeyToDer(tls_key->get()));
  }
  std::vector<grpc::Status> results(kRenewals);
  absl::Notification go;
  std::vector<std::thread> threads;
  for (int i = 0; i < kRenewals; ++i) {
    threads.emplace_back([&, i] {
      auto stub = gw::Gateway::NewStub(g.channel);
      go.WaitForNotification();
      grpc::ClientContext ctx;
      gw::RenewGatewayIdentityResponse response;
      results[i] = stub->RenewGatewayIdentity(&ctx, requests[i], &response);
    });
  }
  go.Notify();
  for (std::thread& t : threads) t.join();
  int ok = 0;
  for (const grpc::Status& st : results) {
    if (st.ok()) {
      ++ok;
      continue;
    }
    EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED)
        << st.error_message();
    EXPECT_TRUE(absl::StrContains(st.error_message(),
                                  "was already renewed or replaced"))
        << st.error_message();
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(CountEvents(kEventGatewayRenewed), 1);
}

TEST_P(GatewayEnrollTest, AGatewayCannotCallTheAdminApiOrLogIn) {
  // Named like the admin user: the kind decides, not the name.
  std::string token = Token("gateway");
  EnrolledGateway g = Enroll(*env_, token, env_->init().admin);
  ASSERT_TRUE(g.status.ok()) << g.status.error_message();
  EXPECT_EQ(ListUsers(g.channel).error_code(), StatusCode::PERMISSION_DENIED);

  auto ca = v1::CertificateAuthority::NewStub(g.channel);
  v1::LoginRequest login;
  login.set_user(env_->init().admin);
  login.set_password(env_->admin_password());
  login.set_ssh_public_key(g.host_public_key);
  grpc::ClientContext ctx;
  v1::LoginResponse login_response;
  grpc::Status st = ca->Login(&ctx, login, &login_response);
  EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED)
      << st.error_message();

  v1::IssueUserCertificateRequest issue;
  issue.set_ssh_public_key(g.host_public_key);
  grpc::ClientContext ctx2;
  v1::IssueUserCertificateResponse issue_response;
  EXPECT_EQ(
      ca->IssueUserCertificate(&ctx2, issue, &issue_response).error_code(),
      StatusCode::PERMISSION_DENIED);
  // Nor may it mint 30-day host certificates.
  v1::IssueHostCertificateRequest host;
  host.set_host("web01");
  host.set_address("10.0.0.5");
  host.set_ssh_public_key(g.host_public_key);
  grpc::ClientContext ctx3;
  v1::IssueHostCertificateResponse host_response;
  EXPECT_EQ(ca->IssueHostCertificate(&ctx3, host, &host_response).error_code(),
            StatusCode::PERMISSION_DENIED);
}

TEST_P(GatewayEnrollTest, AUserCertificateCannotCallGatewayRpcs) {
  auto admin = AdminChannel(*env_);
  auto stub = gw::Gateway::NewStub(admin);
  auto tls_key = GenerateTlsKey();
  ASSERT_TRUE(tls_key.ok());
  gw::RenewGatewayIdentityRequest renew;
  renew.set_tls_public_key_der(*PublicKeyToDer(tls_key->get()));
  grpc::ClientContext ctx;
  gw::RenewGatewayIdentityResponse renew_response;
  EXPECT_EQ(
      stub->RenewGatewayIdentity(&ctx, renew, &renew_response).error_code(),
      StatusCode::PERMISSION_DENIED);

  storage::Host web;
  web.name = "web01";
  web.address = "10.0.0.5";
  ASSERT_TRUE(env_->store().CreateHost(web).ok());
  gw::IssueHostCertificateForTargetRequest target;
  target.set_host("web01");
  auto key = ssh::crypto::PrivateKey::GenerateEd25519();
  ASSERT_TRUE(key.ok());
  target.set_ssh_public_key(key->public_key().ToAuthorizedKeysLine());
  grpc::ClientContext ctx2;
  gw::IssueHostCertificateForTargetResponse target_response;
  EXPECT_EQ(stub->IssueHostCertificateForTarget(&ctx2, target, &target_response)
                .error_code(),
            StatusCode::PERMISSION_DENIED);
  // Without any client certificate: unauthenticated.
  grpc::ClientContext ctx3;
  EXPECT_EQ(gw::Gateway::NewStub(env_->AnonymousChannel())
                ->IssueHostCertificateForTarget(&ctx3, target, &target_response)
                .error_code(),
            StatusCode::UNAUTHENTICATED);
  // The same request from a gateway, for its own host key, works: 1 h,
  // name and address.
  EnrolledGateway g = EnrollOrDie(*env_, "gw1");
  target.set_ssh_public_key(g.host_public_key);
  grpc::ClientContext ctx4;
  grpc::Status st =
      gw::Gateway::NewStub(g.channel)->IssueHostCertificateForTarget(
          &ctx4, target, &target_response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  auto cert = ssh::cert::Certificate::FromLine(
      target_response.certificate().ssh_certificate());
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(cert->type, ssh::cert::CertType::kHost);
  EXPECT_EQ(cert->principals, (std::vector<std::string>{"web01", "10.0.0.5"}));
  EXPECT_EQ(static_cast<int64_t>(cert->valid_before),
            absl::ToUnixSeconds(env_->clock().Now()) + 3600);
  target.set_host("db99");
  grpc::ClientContext ctx5;
  EXPECT_EQ(gw::Gateway::NewStub(g.channel)
                ->IssueHostCertificateForTarget(&ctx5, target, &target_response)
                .error_code(),
            StatusCode::NOT_FOUND);
}

SP_INSTANTIATE_ON_BOTH_BACKENDS(GatewayEnrollTest);

}  // namespace
}  // namespace sallyport::ca
