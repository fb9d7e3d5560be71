// Gateway enrolment and identity separation (issue 11 "Gateway identity",
// "Host enrolment"): one-time join tokens of a kind, the gateway's client
// and host certificates, and which identity may call what. Every test runs
// on SQLite and on a real PostgreSQL server.
#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "base/secret_bytes.h"
#include "ca/audit_log.h"
#include "ca/enrollment.h"
#include "ca/gateway_test_util.h"
#include "ca/tls_material.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "ssh/cert/certificate.h"
#include "ssh/cert/verify.h"

namespace sallyport::ca {
namespace {

using grpc::StatusCode;
namespace gw = gateway::v1;

class GatewayEnrollTest : public ::testing::TestWithParam<Backend> {
 protected:
  // The CA's options (a derived suite edits the config).
  virtual CaTestEnv::Options CaOptions() { return {}; }
  void SetUp() override {
    auto env = StartCa(GetParam(), &pg_, CaOptions());
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = std::move(*env);
  }
  std::string Token(const std::string& purpose,
                    absl::Duration ttl = absl::Hours(1)) {
    std::string token;
    grpc::Status st = CreateJoinToken(*env_, purpose, ttl, &token);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return token;
  }
  // IssueHostCertificate for `host` with a fresh key and `token`, over an
  // anonymous channel.
  grpc::Status EnrollHost(const std::string& host, const std::string& address,
                          const std::string& token,
                          v1::IssueHostCertificateResponse* response) {
    auto key = ssh::crypto::PrivateKey::GenerateEd25519();
    if (!key.ok()) return grpc::Status(StatusCode::INTERNAL, "keygen");
    v1::IssueHostCertificateRequest request;
    request.set_host(host);
    request.set_address(address);
    request.set_ssh_public_key(key->public_key().ToAuthorizedKeysLine());
    request.set_join_token(token);
    grpc::ClientContext ctx;
    return v1::CertificateAuthority::NewStub(env_->AnonymousChannel())
        ->IssueHostCertificate(&ctx, request, response);
  }
  int CountEvents(std::string_view type) {
    auto all = env_->store().ListAuditEvents(0, 10000);
    EXPECT_TRUE(all.ok());
    int n = 0;
    for (const auto& e : *all) n += e.type == type;
    return n;
  }
  std::unique_ptr<testing::PostgresFixture> pg_;
  std::unique_ptr<CaTestEnv> env_;
};

grpc::Status ListUsers(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = admin::v1::Admin::NewStub(channel);
  grpc::ClientContext ctx;
  admin::v1::ListUsersResponse response;
  return stub->ListUsers(&ctx, admin::v1::ListUsersRequest(), &response);
}

TEST_P(GatewayEnrollTest, EnrolmentGivesAClientCertificateAndAHostCertificate) {
  std::string token = Token("gateway");
  EnrolledGateway g =
      Enroll(*env_, token, "gw1", {"gw1.example.com", "192.0.2.10"});
  ASSERT_TRUE(g.status.ok()) << g.status.error_message();
  const int64_t now = absl::ToUnixSeconds(env_->clock().Now());
  EXPECT_EQ(g.response.tls_valid_before().seconds(), now + 7 * 24 * 3600);

  auto cert = ssh::cert::Certificate::FromLine(
      g.response.host_certificate().ssh_certificate());
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->type, ssh::cert::CertType::kHost);
  EXPECT_EQ(cert->principals,
            (std::vector<std::string>{"gw1", "gw1.example.com", "192.0.2.10"}));
  EXPECT_EQ(cert->key.ToAuthorizedKeysLine(), g.host_public_key);
  // Signed by the host CA: it verifies for each of its names.
  auto host_ca = ssh::crypto::PublicKey::FromAuthorizedKeysLine(
      env_->init().host_ca_public_key);
  ASSERT_TRUE(host_ca.ok());
  ssh::cert::VerifyOptions verify;
  verify.trusted_cas = {*host_ca};
  verify.expected_type = ssh::cert::CertType::kHost;
  verify.principal = "gw1.example.com";
  verify.now = env_->clock().Now();
  EXPECT_TRUE(ssh::cert::VerifyCertificate(*cert, verify).ok());
  ASSERT_EQ(g.response.host_ca_public_keys_size(), 1);
  EXPECT_TRUE(absl::StartsWith(env_->init().host_ca_public_key,
                               g.response.host_ca_public_keys(0)));
  EXPECT_EQ(CountEvents(kEventGatewayEnrolled), 1);

  // The client certificate is a gateway identity: GetCaPublicKeys,
  // WatchRevocations and renewal work with it.
  auto ca = v1::CertificateAuthority::NewStub(g.channel);
  {
    grpc::ClientContext ctx;
    v1::CaPublicKeys keys;
    grpc::Status st =
        ca->GetCaPublicKeys(&ctx, v1::GetCaPublicKeysRequest(), &keys);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(keys.host_ca_size(), 1);
  }
  {
    storage::Revocation r;
    r.serial = 4242;
    r.reason = "test";
    r.revoked_by = "admin";
    ASSERT_TRUE(env_->store().Revoke(r).ok());
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    auto stream = ca->WatchRevocations(&ctx, v1::WatchRevocationsRequest());
    v1::Revocation got;
    ASSERT_TRUE(stream->Read(&got));
    EXPECT_EQ(got.serial(), 4242u);
    ctx.TryCancel();
  }
  {
    auto tls_key = GenerateTlsKey();
    ASSERT_TRUE(tls_key.ok());
    gw::RenewGatewayIdentityRequest request;
    request.set_tls_public_key_der(*PublicKeyToDer(tls_key->get()));
    env_->clock().Advance(absl::Hours(24 * 6));
    grpc::ClientContext ctx;
    gw::RenewGatewayIdentityResponse response;
    grpc::Status st = gw::Gateway::NewStub(g.channel)->RenewGatewayIdentity(
        &ctx, request, &response);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(response.tls_valid_before().seconds(),
              absl::ToUnixSeconds(env_->clock().Now()) + 7 * 24 * 3600);
    // After the first identity has expired the CA refuses it, and the
    // renewed one is a valid gateway identity. (The fake clock runs ahead
    // of the TLS layer's real clock, so the renewed certificate is checked
    // with the CA's own verifier rather than through a handshake.)
    env_->clock().Advance(absl::Hours(24 * 2));
    auto id = env_->server().client_ca().Verify(
        response.tls_client_certificate_pem(), env_->clock().Now());
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_EQ(id->kind, ClientIdentity::Kind::kGateway);
    EXPECT_EQ(id->name, "gw1");
    v1::CaPublicKeys keys;
    grpc::ClientContext ctx3;
    EXPECT_EQ(ca->GetCaPublicKeys(&ctx3, v1::GetCaPublicKeysRequest(), &keys)
                  .error_code(),
              StatusCode::UNAUTHENTICATED);
  }
}

TEST_P(GatewayEnrollTest, ATokenUsedTwiceIsRefused) {
  std::string token = Token("gateway");
  ASSERT_TRUE(Enroll(*env_, token, "gw1").status.ok());
  EnrolledGateway again = Enroll(*env_, token, "gw2");
  EXPECT_EQ(again.status.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(CountEvents(kEventEnrollRefused), 1);
}

TEST_P(GatewayEnrollTest, AnExpiredTokenIsRefused) {
  std::string token = Token("gateway", absl::Minutes(10));
  std::string fresh = Token("gateway", absl::Minutes(12));
  env_->clock().Advance(absl::Minutes(11));
  EXPECT_EQ(Enroll(*env_, token, "gw1").status.error_code(),
            StatusCode::UNAUTHENTICATED);
  // One that is still valid works: the refusal is about the expiry.
  EXPECT_TRUE(Enroll(*env_, fresh, "gw1").status.ok());
}

TEST_P(GatewayEnrollTest, AnUnknownTokenIsRefused) {
  EXPECT_EQ(Enroll(*env_, "not-a-token", "gw1").status.error_code(),
            StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Enroll(*env_, "", "gw1").status.error_code(),
            StatusCode::UNAUTHENTICATED);
}

// A token of kMaxJoinTokenBytes is looked up; one a byte longer is refused
// for its size before the store is asked: both are in the store (which
// takes longer secrets), the first enrols, the second is refused with the
// size reason at both enrolment endpoints and is still unused.
TEST_P(GatewayEnrollTest, TokensUpToTheLimitAreLookedUpLongerOnesRefused) {
  const auto stored = [&](size_t size, char fill) -> int64_t {
    storage::NewJoinToken t;
    t.token = base::SecretBytes::FromString(std::string(size, fill));
    t.purpose = "gateway";
    t.created_by = "admin";
    t.expires_at = env_->clock().Now() + absl::Hours(1);
    absl::StatusOr<storage::JoinToken> created =
        env_->store().CreateJoinToken(t);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->id : -1;
  };
  stored(kMaxJoinTokenBytes, 'a');
  const int64_t over = stored(kMaxJoinTokenBytes + 1, 'b');
  const std::string over_token(kMaxJoinTokenBytes + 1, 'b');

  EnrolledGateway at_limit =
      Enroll(*env_, std::string(kMaxJoinTokenBytes, 'a'), "gw1");
  EXPECT_TRUE(at_limit.status.ok()) << at_limit.status.error_message();
  const std::string reason = "longer than 128 bytes";
  EnrolledGateway refused = Enroll(*env_, over_token, "gw2");
  EXPECT_EQ(refused.status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(refused.status.error_message(), reason))
      << refused.status.error_message();

  v1::IssueHostCertificateResponse response;
  grpc::Status host = EnrollHost("web01", "10.0.0.5", over_token, &response);
  EXPECT_EQ(host.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(host.error_message(), reason))
      << host.error_message();

  storage::JoinTokenFilter usable;
  usable.usable_at = env_->clock().Now();
  auto left = env_->store().ListJoinTokens(usable);
  ASSERT_TRUE(left.ok()) << left.status();
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(left->front().id, over);
  EXPECT_EQ(CountEvents(kEventEnrollRefused), 2);
}

TEST_P(GatewayEnrollTest, AHostTokenCannotEnrolAGateway) {
  std::string token = Token("host");
  EnrolledGateway g = Enroll(*env_, token, "gw1");
  EXPECT_EQ(g.status.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(g.status.error_message(), "for a host"));
}

TEST_P(GatewayEnrollTest, CreateJoinTokenTakesOnlyGatewayOrHost) {
  std::string token;
  EXPECT_EQ(
      CreateJoinToken(*env_, "admin", absl::Hours(1), &token).error_code(),
      StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(CreateJoinToken(*env_, "", absl::Hours(1), &token).error_code(),
            StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(CreateJoinToken(*env_, "host", absl::Hours(1), &token).ok());
}

TEST_P(GatewayEnrollTest, BadNamesAreRefusedWithoutSpendingTheToken) {
  std::string token = Token("gateway");
  EXPECT_EQ(Enroll(*env_, token, "gw;id").status.error_code(),
            StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Enroll(*env_, token, "gw1", {"a\nb"}).status.error_code(),
            StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Enroll(*env_, token, "gw1", std::vector<std::string>(17, "x"))
                .status.error_code(),
            StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Enroll(*env_, token, "gw1",
                     std::vector<std::string>(16, "gw1.example.com"))
                  .status.ok());
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
  // The same request from a gateway works: 1 h, name and address.
  EnrolledGateway g = EnrollOrDie(*env_, "gw1");
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

TEST_P(GatewayEnrollTest, HostEnrolmentWithAHostToken) {
  auto key = ssh::crypto::PrivateKey::GenerateEd25519();
  ASSERT_TRUE(key.ok());
  const std::string pub = key->public_key().ToAuthorizedKeysLine();
  std::string token = Token("host");
  auto ca = v1::CertificateAuthority::NewStub(env_->AnonymousChannel());
  v1::IssueHostCertificateRequest request;
  request.set_host("web01");
  request.set_address("10.0.0.5");
  request.set_port(2222);
  request.set_ssh_public_key(pub);
  request.set_join_token(token);
  v1::IssueHostCertificateResponse response;
  {
    // A bad name is refused without spending the token.
    request.set_host("web01;id");
    grpc::ClientContext ctx;
    EXPECT_EQ(ca->IssueHostCertificate(&ctx, request, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    request.set_host("web01");
  }
  {
    grpc::ClientContext ctx;
    grpc::Status st = ca->IssueHostCertificate(&ctx, request, &response);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  auto cert = ssh::cert::Certificate::FromLine(response.ssh_certificate());
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(cert->principals, (std::vector<std::string>{"web01", "10.0.0.5"}));
  EXPECT_EQ(static_cast<int64_t>(cert->valid_before),
            absl::ToUnixSeconds(env_->clock().Now()) + 30 * 24 * 3600);
  auto host = env_->store().GetHost("web01");
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(host->address, "10.0.0.5");
  EXPECT_EQ(host->port, 2222);
  EXPECT_EQ(host->host_key, pub);
  EXPECT_EQ(CountEvents(kEventHostEnrolled), 1);

  // The token is spent.
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(ca->IssueHostCertificate(&ctx, request, &response).error_code(),
              StatusCode::UNAUTHENTICATED);
  }
  // A gateway token does not enrol a host.
  request.set_join_token(Token("gateway"));
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(ca->IssueHostCertificate(&ctx, request, &response).error_code(),
              StatusCode::PERMISSION_DENIED);
  }
  // No token, no client certificate: refused.
  request.set_join_token("");
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(ca->IssueHostCertificate(&ctx, request, &response).error_code(),
              StatusCode::UNAUTHENTICATED);
  }
  // An admin re-enrols the host with a new key: the inventory follows.
  auto key2 = ssh::crypto::PrivateKey::GenerateEd25519();
  ASSERT_TRUE(key2.ok());
  request.set_ssh_public_key(key2->public_key().ToAuthorizedKeysLine());
  request.set_address("");
  request.set_port(0);
  {
    grpc::ClientContext ctx;
    grpc::Status st = v1::CertificateAuthority::NewStub(AdminChannel(*env_))
                          ->IssueHostCertificate(&ctx, request, &response);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  host = env_->store().GetHost("web01");
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(host->host_key, key2->public_key().ToAuthorizedKeysLine());
  EXPECT_EQ(host->address, "10.0.0.5");
  EXPECT_EQ(host->port, 2222);
}

// A join token names no host: it cannot replace the key of an enrolled
// host (whoever held one could take web01's name, and the sessions the
// gateway opens to it); the refusal does not spend the token, which still
// enrols a new host or one an admin added without a key. Enrolment never
// moves a host: another address or port is refused, for admins too (it
// was taken silently).
TEST_P(GatewayEnrollTest, EnrolmentNeverTakesOverOrMovesAHost) {
  v1::IssueHostCertificateResponse response;
  ASSERT_TRUE(EnrollHost("web01", "10.0.0.5", Token("host"), &response).ok());
  const std::string key_before = env_->store().GetHost("web01")->host_key;
  const std::string token = Token("host");
  grpc::Status st = EnrollHost("web01", "", token, &response);
  EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_NE(st.error_message().find("already enrolled with another key"),
            std::string::npos)
      << st.error_message();
  EXPECT_EQ(EnrollHost("WEB01", "10.0.0.5", token, &response).error_code(),
            StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(env_->store().GetHost("web01")->host_key, key_before);
  EXPECT_GE(CountEvents(kEventEnrollRefused), 2);

  // An admin added db01 without a key: the unspent token enrols it.
  storage::Host db;
  db.name = "db01";
  db.address = "10.0.0.9";
  db.port = 22;
  db.trust = storage::HostTrust::kHostCa;
  ASSERT_TRUE(env_->store().CreateHost(db).ok());
  st = EnrollHost("db01", "10.0.0.9", token, &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_FALSE(env_->store().GetHost("db01")->host_key.empty());

  // Another address or port: refused for an admin too, nothing changed.
  auto admin = v1::CertificateAuthority::NewStub(AdminChannel(*env_));
  auto key = ssh::crypto::PrivateKey::GenerateEd25519();
  ASSERT_TRUE(key.ok());
  for (const auto& [address, port] :
       std::vector<std::pair<std::string, uint32_t>>{{"10.0.0.66", 0},
                                                     {"", 2200}}) {
    v1::IssueHostCertificateRequest request;
    request.set_host("web01");
    request.set_address(address);
    request.set_port(port);
    request.set_ssh_public_key(key->public_key().ToAuthorizedKeysLine());
    grpc::ClientContext ctx;
    st = admin->IssueHostCertificate(&ctx, request, &response);
    EXPECT_EQ(st.error_code(), StatusCode::FAILED_PRECONDITION)
        << address << " " << port;
    EXPECT_NE(st.error_message().find("enrolment does not change it"),
              std::string::npos)
        << st.error_message();
    // And says how an admin changes it.
    EXPECT_NE(st.error_message().find("spctl hosts edit web01 --"),
              std::string::npos)
        << st.error_message();
  }
  absl::StatusOr<storage::Host> web = env_->store().GetHost("web01");
  ASSERT_TRUE(web.ok());
  EXPECT_EQ(web->address, "10.0.0.5");
  EXPECT_EQ(web->port, 22);
  EXPECT_EQ(web->host_key, key_before);
}

TEST_P(GatewayEnrollTest, ANewHostNeedsAnAddress) {
  v1::IssueHostCertificateResponse response;
  EXPECT_EQ(EnrollHost("web02", "", Token("host"), &response).error_code(),
            StatusCode::NOT_FOUND);
}

// A host enrolled under a name that reads as an IP address would become an
// inventory host named "10.0.0.9", shadowing the host at that address in
// the gateway's lookup: refused as the admin API refuses it, and the token
// is not spent.
TEST_P(GatewayEnrollTest, ANewHostNamedLikeAnAddressIsRefused) {
  const std::string token = Token("host");
  v1::IssueHostCertificateResponse response;
  const grpc::Status st = EnrollHost("10.0.0.9", "10.0.0.9", token, &response);
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("reads as an IP address"),
            std::string::npos)
      << st.error_message();
  EXPECT_TRUE(EnrollHost("web09", "10.0.0.9", token, &response).ok());
}

// An admin's change landing between an enrolment's check and its write is
// not undone: the enrolment wrote back the host it had read, so an
// address or label just set was lost, and an enrolment naming the old
// address recorded its key on the moved host. The write is conditional on
// the host checked, and the check runs again on the current host.
TEST_P(GatewayEnrollTest, EnrolmentIsDecidedOnTheHostAsItIsWhenWritten) {
  storage::Store& store = env_->store();
  storage::Host web;
  web.name = "web01";
  web.address = "10.0.0.5";
  web.port = 22;
  web.trust = storage::HostTrust::kHostCa;
  web.labels = {{"env", "dev"}};
  ASSERT_TRUE(store.CreateHost(web).ok());
  auto key = ssh::crypto::PrivateKey::GenerateEd25519();
  auto other = ssh::crypto::PrivateKey::GenerateEd25519();
  ASSERT_TRUE(key.ok() && other.ok());
  const std::string key_line = key->public_key().ToAuthorizedKeysLine();
  // An admin's edit of web01 (unconditional, as the admin API's without a
  // version read).
  const auto admin_edit = [&](const std::function<void(storage::Host&)>& f) {
    absl::StatusOr<storage::Host> h = store.GetHost("web01");
    ASSERT_TRUE(h.ok()) << h.status();
    f(*h);
    ASSERT_TRUE(store.UpdateHost(*h).ok());
  };

  // The admin moves web01 after the check: the enrolment naming the old
  // address is refused on the second check, and the move stands.
  int checks = 0;
  absl::StatusOr<storage::Host> got = RecordEnrolledHost(
      store, "web01", "10.0.0.5", 0, key->public_key(),
      HostEnrolledBy::kJoinToken, [&] {
        if (checks++ == 0) {
          admin_edit([](storage::Host& h) { h.address = "10.0.0.6"; });
        }
      });
  EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition)
      << got.status();
  EXPECT_EQ(checks, 1);
  got = store.GetHost("web01");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->address, "10.0.0.6");
  EXPECT_EQ(got->host_key, "");

  // A label set after the check: checked again, the key is recorded beside
  // it.
  checks = 0;
  got = RecordEnrolledHost(
      store, "web01", "", 0, key->public_key(), HostEnrolledBy::kJoinToken,
      [&] {
        if (checks++ == 0) {
          admin_edit([](storage::Host& h) { h.labels["team"] = "web"; });
        }
      });
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(checks, 2);
  got = store.GetHost("web01");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->host_key, key_line);
  EXPECT_EQ(got->address, "10.0.0.6");
  EXPECT_EQ(got->labels, (std::map<std::string, std::string>{{"env", "dev"},
                                                             {"team", "web"}}));

  // A host changed before every write: given up after
  // kHostEnrolmentAttempts, the last change kept.
  checks = 0;
  got = RecordEnrolledHost(
      store, "web01", "", 0, other->public_key(), HostEnrolledBy::kAdmin, [&] {
        ++checks;
        admin_edit(
            [&](storage::Host& h) { h.labels["n"] = std::to_string(checks); });
      });
  EXPECT_EQ(got.status().code(), absl::StatusCode::kAborted) << got.status();
  EXPECT_EQ(checks, kHostEnrolmentAttempts);
  got = store.GetHost("web01");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->host_key, key_line);
  EXPECT_EQ(got->labels["n"], std::to_string(kHostEnrolmentAttempts));

  // A new host enrolled by another after the check: this enrolment is
  // decided on it (a join token does not replace its key), not refused as
  // a duplicate.
  checks = 0;
  got = RecordEnrolledHost(store, "web05", "10.0.0.9", 0, other->public_key(),
                           HostEnrolledBy::kJoinToken, [&] {
                             if (checks++ > 0) return;
                             storage::Host first;
                             first.name = "web05";
                             first.address = "10.0.0.9";
                             first.port = 22;
                             first.trust = storage::HostTrust::kHostCa;
                             first.host_key = key_line;
                             ASSERT_TRUE(store.CreateHost(first).ok());
                           });
  EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied)
      << got.status();
  EXPECT_TRUE(absl::StrContains(got.status().message(),
                                "already enrolled with another key"))
      << got.status();
  got = store.GetHost("web05");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->host_key, key_line);
}

SP_INSTANTIATE_ON_BOTH_BACKENDS(GatewayEnrollTest);

// ca.yaml's certificates.host_ttl line from init (720h) replaced by
// HostTtlLine(): 36h here.
class HostTtlTest : public GatewayEnrollTest {
 protected:
  virtual std::string HostTtlLine() { return "  host_ttl: 36h\n"; }
  CaTestEnv::Options CaOptions() override {
    CaTestEnv::Options options;
    options.config_edits = {{"  host_ttl: 720h\n", HostTtlLine()}};
    return options;
  }
  // A host certificate from IssueHostCertificate with a host token.
  absl::StatusOr<ssh::cert::Certificate> EnrolledHostCertificate() {
    v1::IssueHostCertificateResponse host;
    grpc::Status st = EnrollHost("web01", "10.0.0.5", Token("host"), &host);
    if (!st.ok()) return absl::UnknownError(st.error_message());
    return ssh::cert::Certificate::FromLine(host.ssh_certificate());
  }
};

// A host's certificate (IssueHostCertificate) and a gateway's
// (EnrollGateway) are valid for certificates.host_ttl, backdated by
// certificates.backdate (1m); a jump target's stays at one hour.
TEST_P(HostTtlTest, HostCertificatesAreValidForTheConfiguredTtl) {
  const int64_t now = absl::ToUnixSeconds(env_->clock().Now());
  auto cert = EnrolledHostCertificate();
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(static_cast<int64_t>(cert->valid_before), now + 36 * 3600);
  EXPECT_EQ(static_cast<int64_t>(cert->valid_after), now - 60);

  EnrolledGateway g = Enroll(*env_, Token("gateway"), "gw1");
  ASSERT_TRUE(g.status.ok()) << g.status.error_message();
  cert = ssh::cert::Certificate::FromLine(
      g.response.host_certificate().ssh_certificate());
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(static_cast<int64_t>(cert->valid_before), now + 36 * 3600);

  gw::IssueHostCertificateForTargetRequest target;
  target.set_host("web01");
  target.set_ssh_public_key(g.host_public_key);
  gw::IssueHostCertificateForTargetResponse target_response;
  grpc::ClientContext ctx;
  grpc::Status st =
      gw::Gateway::NewStub(g.channel)->IssueHostCertificateForTarget(
          &ctx, target, &target_response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  cert = ssh::cert::Certificate::FromLine(
      target_response.certificate().ssh_certificate());
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(static_cast<int64_t>(cert->valid_before), now + 3600);
}

SP_INSTANTIATE_ON_BOTH_BACKENDS(HostTtlTest);

// Without certificates.host_ttl in ca.yaml.
class NoHostTtlTest : public HostTtlTest {
 protected:
  std::string HostTtlLine() override { return ""; }
};

// The default host certificate validity is 30 days.
TEST_P(NoHostTtlTest, HostCertificatesAreValidForThirtyDays) {
  ASSERT_FALSE(absl::StrContains(
      testing::ReadFileOrEmpty(env_->init().config_path), "host_ttl"));
  const int64_t now = absl::ToUnixSeconds(env_->clock().Now());
  auto cert = EnrolledHostCertificate();
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(static_cast<int64_t>(cert->valid_before), now + 30 * 24 * 3600);
}

// The default needs no second backend.
INSTANTIATE_TEST_SUITE_P(Sqlite, NoHostTtlTest,
                         ::testing::Values(Backend::kSqlite),
                         BackendParamName());

}  // namespace
}  // namespace sallyport::ca
