// Host enrolment (issue 11 "Host enrolment"): IssueHostCertificate with a
// host join token or as an admin, what it records in the inventory
// (RecordEnrolledHost after CheckHostEnrolment), what it never takes over
// or moves, and how long host certificates are valid. Every test runs on
// SQLite and on a real PostgreSQL server (the default TTL on SQLite only).
#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "ca/enroll_test_fixture.h"
#include "ca/enrollment.h"
#include "gtest/gtest.h"
#include "ssh/cert/certificate.h"
#include "tests/harness/subprocess.h"

namespace sallyport::ca {
namespace {

using grpc::StatusCode;
namespace gw = gateway::v1;

class HostEnrollTest : public EnrollTest {};

TEST_P(HostEnrollTest, HostEnrolmentWithAHostToken) {
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
TEST_P(HostEnrollTest, EnrolmentNeverTakesOverOrMovesAHost) {
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

TEST_P(HostEnrollTest, ANewHostNeedsAnAddress) {
  v1::IssueHostCertificateResponse response;
  EXPECT_EQ(EnrollHost("web02", "", Token("host"), &response).error_code(),
            StatusCode::NOT_FOUND);
}

// A host enrolled under a name that reads as an IP address would become an
// inventory host named "10.0.0.9", shadowing the host at that address in
// the gateway's lookup: refused as the admin API refuses it, and the token
// is not spent.
TEST_P(HostEnrollTest, ANewHostNamedLikeAnAddressIsRefused) {
  const std::string token = Token("host");
  v1::IssueHostCertificateResponse response;
  const grpc::Status st = EnrollHost("10.0.0.9", "10.0.0.9", token, &response);
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("reads as an IP address"),
            std::string::npos)
      << st.error_message();
  EXPECT_TRUE(EnrollHost("web09", "10.0.0.9", token, &response).ok());
}

// A host join token names no host, and both the name and the address a new
// host enrols with become principals of its host certificate: "evil" at
// address "web01" got a certificate for ["evil", "web01"], which the
// gateway's upstream check (principal = inventory name) and users'
// @cert-authority lines accept for web01. A new host's name and address
// may be no other host's name or address, nor a name on a gateway's host
// certificate; the refusals do not spend the token, which still enrols a
// host of its own.
TEST_P(HostEnrollTest, AJoinTokenCannotEnrolAnotherHostsNames) {
  v1::IssueHostCertificateResponse response;
  ASSERT_TRUE(EnrollHost("web01", "10.0.0.5", Token("host"), &response).ok());
  storage::Host db;
  db.name = "db01";
  db.address = "db01.internal";
  db.port = 22;
  db.trust = storage::HostTrust::kHostCa;
  ASSERT_TRUE(env_->store().CreateHost(db).ok());
  const EnrolledGateway gw =
      Enroll(*env_, Token("gateway"), "gw1", {"bastion.example.com"});
  ASSERT_TRUE(gw.status.ok()) << gw.status.error_message();

  // The check reads every host and host certificate: made only with a
  // token, which it spends (a token used to claim another's name is not
  // given back); a caller without a valid token is refused for the token.
  const auto refused_for_token = [&](const std::string& token) {
    const grpc::Status st = EnrollHost("evil", "web01", token, &response);
    EXPECT_EQ(st.error_code(), StatusCode::UNAUTHENTICATED)
        << st.error_message();
  };
  refused_for_token("not-a-token");
  for (const auto& [name, address] :
       std::vector<std::pair<std::string, std::string>>{
           {"evil", "web01"},
           {"evil", "WEB01"},
           {"evil", "10.0.0.5"},
           {"evil", "db01"},
           {"db01.internal", "10.0.0.77"},
           {"evil", "db01.internal"},
           {"evil", "gw1"},
           {"bastion.example.com", "10.0.0.78"},
           {"evil", "Bastion.example.com"}}) {
    const std::string token = Token("host");
    const grpc::Status st = EnrollHost(name, address, token, &response);
    EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED)
        << name << " at " << address << ": " << st.error_message();
    EXPECT_TRUE(absl::StrContains(st.error_message(),
                                  "a join token cannot enrol a host as"))
        << st.error_message();
    refused_for_token(token);
  }
  EXPECT_EQ(env_->store().GetHost("evil").status().code(),
            absl::StatusCode::kNotFound);
  // Each refusal is an enroll.refused event: 9 for the names, 10 for the
  // tokens.
  EXPECT_GE(CountEvents(kEventEnrollRefused), 19);

  // Another token enrols a host of its own.
  const grpc::Status st =
      EnrollHost("web02", "10.0.0.6", Token("host"), &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  auto cert = ssh::cert::Certificate::FromLine(response.ssh_certificate());
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(cert->principals, (std::vector<std::string>{"web02", "10.0.0.6"}));
}

// An admin's change landing between an enrolment's check and its write is
// not undone: the enrolment wrote back the host it had read, so an
// address or label just set was lost, and an enrolment naming the old
// address recorded its key on the moved host. The write is conditional on
// the host checked, and the check runs again on the current host.
TEST_P(HostEnrollTest, EnrolmentIsDecidedOnTheHostAsItIsWhenWritten) {
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
      HostEnrolledBy::kJoinToken, env_->clock().Now(), [&] {
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
      env_->clock().Now(), [&] {
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
  got = RecordEnrolledHost(store, "web01", "", 0, other->public_key(),
                           HostEnrolledBy::kAdmin, env_->clock().Now(), [&] {
                             ++checks;
                             admin_edit([&](storage::Host& h) {
                               h.labels["n"] = std::to_string(checks);
                             });
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
  got =
      RecordEnrolledHost(store, "web05", "10.0.0.9", 0, other->public_key(),
                         HostEnrolledBy::kJoinToken, env_->clock().Now(), [&] {
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

SP_INSTANTIATE_ON_BOTH_BACKENDS(HostEnrollTest);

// ca.yaml's certificates.host_ttl line from init (720h) replaced by
// HostTtlLine(): 36h here.
class HostTtlTest : public EnrollTest {
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
