// Gateway enrolment (issue 11 "Gateway identity"): one-time join tokens
// of a kind, the gateway's client and host certificates, the names a token
// may enrol. Renewing the gateway's mTLS identity and which identity may
// call what are in gateway_identity_test.cc, host enrolment in
// host_enroll_test.cc. Every test runs on SQLite and on a real PostgreSQL
// server.
#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "base/secret_bytes.h"
#include "ca/audit_log.h"
#include "ca/enroll_test_fixture.h"
#include "ca/enrollment.h"
#include "ca/tls_material.h"
#include "gtest/gtest.h"
#include "ssh/cert/certificate.h"
#include "ssh/cert/verify.h"

namespace sallyport::ca {
namespace {

using grpc::StatusCode;
namespace gw = gateway::v1;

class GatewayEnrollTest : public EnrollTest {};

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

// A gateway's name owns its sessions (gateway_authz.cc, the events and
// recording services), so enrolling it again is an administrator's
// decision: a plain join token enrols only a name with no gateway
// identity on record, a token created for a name only that name. Before,
// any gateway token enrolled a second "gw1" that took gw1's sessions.
TEST_P(GatewayEnrollTest, OnlyATokenForItsNameEnrolsAGatewayAgain) {
  ASSERT_TRUE(Enroll(*env_, Token("gateway"), "gw1").status.ok());
  const int refused_before = CountEvents(kEventEnrollRefused);

  // A plain token: refused, saying which token to make; not spent.
  const std::string plain = Token("gateway");
  EnrolledGateway taken = Enroll(*env_, plain, "gw1");
  EXPECT_EQ(taken.status.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(taken.status.error_message(),
                                "gateway gw1 is already enrolled"))
      << taken.status.error_message();
  EXPECT_TRUE(absl::StrContains(
      taken.status.error_message(),
      "spctl tokens create --kind gateway --gateway-name gw1"))
      << taken.status.error_message();
  EXPECT_EQ(
      CountAuditEvents(env_->store(), kEventEnrollRefused,
                       {"\"code\":\"PERMISSION_DENIED\"", "already enrolled"}),
      1);

  // A token for gw2 does not enrol gw1 (nor is it spent by trying).
  const std::string for_gw2 = Token("gateway", absl::Hours(1), "gw2");
  EnrolledGateway other = Enroll(*env_, for_gw2, "gw1");
  EXPECT_EQ(other.status.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(other.status.error_message(),
                                "created for gateway gw2, not gw1"))
      << other.status.error_message();
  EXPECT_EQ(CountEvents(kEventEnrollRefused), refused_before + 2);

  // The token created for gw1 enrols gw1 again.
  EnrolledGateway again =
      Enroll(*env_, Token("gateway", absl::Hours(1), "gw1"), "gw1");
  ASSERT_TRUE(again.status.ok()) << again.status.error_message();
  EXPECT_EQ(CountEvents(kEventGatewayEnrolled), 2);

  // The tokens refused still enrol what they may: a new name for the
  // plain one, gw2 for gw2's.
  EXPECT_TRUE(Enroll(*env_, plain, "gw3").status.ok());
  EXPECT_TRUE(Enroll(*env_, for_gw2, "gw2").status.ok());

  // The admin API: a name only on a gateway token, and a valid one.
  std::string token;
  EXPECT_EQ(CreateJoinToken(*env_, "host", absl::Hours(1), &token, "gw1")
                .error_code(),
            StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(CreateJoinToken(*env_, "gateway", absl::Hours(1), &token, "gw;id")
                .error_code(),
            StatusCode::INVALID_ARGUMENT);

  // An identity long expired still holds the name (its sessions and
  // recordings are still gw1's): a plain token is refused. (Tokens from
  // the store: the admin's TLS login would not survive the clock's jump.)
  const auto stored = [&](const std::string& secret,
                          const std::string& gateway_name) {
    storage::NewJoinToken t;
    t.token = base::SecretBytes::FromString(secret);
    t.purpose = "gateway";
    t.created_by = "admin";
    t.expires_at = env_->clock().Now() + absl::Hours(24 * 60);
    t.gateway_name = gateway_name;
    EXPECT_TRUE(env_->store().CreateJoinToken(t).ok());
    return secret;
  };
  const std::string late_plain = stored(std::string(43, 'p'), "");
  const std::string late_gw1 = stored(std::string(43, 'q'), "gw1");
  env_->clock().Advance(absl::Hours(24 * 30));
  EXPECT_EQ(Enroll(*env_, late_plain, "gw1").status.error_code(),
            StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Enroll(*env_, late_gw1, "gw1").status.ok());
}

// A gateway's name and its extra principals are all on its host
// certificate, which users' @cert-authority lines and the gateway's
// upstream check accept for each of them: `enroll --principal web01` with
// any gateway token got a certificate naming web01. A token that names no
// gateway may now take no name that is an inventory host's name or
// address, nor one on another valid host certificate (another gateway's),
// ignoring case; the refusals are enroll.refused events and do not spend
// the token. A token an administrator made for the gateway's name may not
// take an inventory host's name either, but keeps the names on the
// gateway's own host certificate.
TEST_P(GatewayEnrollTest, AJoinTokenCannotEnrolAGatewayUnderAnotherHostsNames) {
  storage::Host web;
  web.name = "web01";
  web.address = "10.0.0.5";
  web.port = 22;
  web.trust = storage::HostTrust::kHostCa;
  ASSERT_TRUE(env_->store().CreateHost(web).ok());
  const EnrolledGateway gw2 =
      Enroll(*env_, Token("gateway"), "gw2", {"bastion.example.com"});
  ASSERT_TRUE(gw2.status.ok()) << gw2.status.error_message();

  const std::string token = Token("gateway");
  struct Case {
    std::string name;
    std::vector<std::string> principals;
  };
  const std::vector<Case> cases = {
      {"gw1", {"web01"}},
      {"gw1", {"WEB01"}},
      {"gw1", {"gw1.example.com", "10.0.0.5"}},
      {"gw1", {"bastion.example.com"}},
      {"gw1", {"Bastion.Example.com"}},
      {"gw1", {"gw2"}},
      {"web01", {}},
      {"Web01", {"gw1.example.com"}},
  };
  for (const Case& c : cases) {
    const EnrolledGateway g = Enroll(*env_, token, c.name, c.principals);
    EXPECT_EQ(g.status.error_code(), StatusCode::PERMISSION_DENIED)
        << c.name << " " << absl::StrJoin(c.principals, ",") << ": "
        << g.status.error_message();
    EXPECT_TRUE(absl::StrContains(g.status.error_message(),
                                  "a join token cannot enrol gateway"))
        << g.status.error_message();
  }
  EXPECT_EQ(CountAuditEvents(env_->store(), kEventEnrollRefused,
                             {"a join token cannot enrol gateway"}),
            static_cast<int>(cases.size()));
  EXPECT_EQ(CountEvents(kEventGatewayEnrolled), 1);
  const EnrolledGateway named =
      Enroll(*env_, token, "gw1", {"web01"});  // the message names the clash
  EXPECT_TRUE(absl::StrContains(named.status.error_message(),
                                "with the name \"web01\": that name is the "
                                "name of host web01"))
      << named.status.error_message();

  // The unspent token enrols gw1 under names of its own.
  const EnrolledGateway gw1 =
      Enroll(*env_, token, "gw1", {"gw1.example.com", "192.0.2.10"});
  ASSERT_TRUE(gw1.status.ok()) << gw1.status.error_message();
  // Its names are now taken for a plain token too.
  EXPECT_EQ(Enroll(*env_, Token("gateway"), "gw3", {"GW1.example.com"})
                .status.error_code(),
            StatusCode::PERMISSION_DENIED);

  // Enrolled again with a token made for it, gw1 keeps its names, even
  // one an admin has since given a host; it takes no other host's name.
  web.name = "gw1.example.com";
  web.address = "10.0.0.6";
  ASSERT_TRUE(env_->store().CreateHost(web).ok());
  const EnrolledGateway refused =
      Enroll(*env_, Token("gateway", absl::Hours(1), "gw1"), "gw1", {"web01"});
  EXPECT_EQ(refused.status.error_code(), StatusCode::PERMISSION_DENIED)
      << refused.status.error_message();
  const EnrolledGateway again =
      Enroll(*env_, Token("gateway", absl::Hours(1), "gw1"), "gw1",
             {"gw1.example.com", "192.0.2.10"});
  ASSERT_TRUE(again.status.ok()) << again.status.error_message();
  auto cert = ssh::cert::Certificate::FromLine(
      again.response.host_certificate().ssh_certificate());
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->principals,
            (std::vector<std::string>{"gw1", "gw1.example.com", "192.0.2.10"}));
  // A token made for gw4 is the admin's decision to share a public name
  // with gw2 (two gateways behind one load balancer).
  EXPECT_TRUE(Enroll(*env_, Token("gateway", absl::Hours(1), "gw4"), "gw4",
                     {"bastion.example.com"})
                  .status.ok());
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

SP_INSTANTIATE_ON_BOTH_BACKENDS(GatewayEnrollTest);

}  // namespace
}  // namespace sallyport::ca
