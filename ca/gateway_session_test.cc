// IssueSessionCertificate (issue 11 "Gateway RPCs", "Session
// certificate"): the CA re-verifies the user certificate and asks the RBAC
// engine; session certificates are checked with `ssh-keygen -L` and used
// against the real sshd, from the egress address and from another. On
// SQLite and on a real PostgreSQL server (gateway_session_fixture.h).
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "ca/audit_log.h"
#include "ca/ca_service.h"
#include "ca/gateway_service.h"
#include "ca/gateway_session_fixture.h"
#include "ca/gateway_test_util.h"
#include "ca/presented_cert.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "ssh/cert/certificate.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::ca {
namespace {

using grpc::StatusCode;
using testing::RunCommand;
using testing::RunCommandOk;
namespace gw = gateway::v1;

// Seconds between "Valid: from A to B" in `ssh-keygen -L` output (both in
// the same local time zone), or -1.
int64_t KeygenValiditySeconds(const std::string& text) {
  const size_t at = text.find("Valid: from ");
  if (at == std::string::npos) return -1;
  std::vector<std::string> words =
      absl::StrSplit(text.substr(at, 80), ' ', absl::SkipEmpty());
  if (words.size() < 5 || words[3] != "to") return -1;
  absl::Time from, to;
  std::string err;
  const std::string end = words[4].substr(0, 19);
  if (!absl::ParseTime("%Y-%m-%dT%H:%M:%S", words[2], &from, &err) ||
      !absl::ParseTime("%Y-%m-%dT%H:%M:%S", end, &to, &err)) {
    return -1;
  }
  return absl::ToInt64Seconds(to - from);
}

TEST_P(GatewaySessionTest, SessionCertificateWorksOnlyFromTheEgressAddress) {
  gw::IssueSessionCertificateResponse response;
  grpc::Status st = IssueSession(gateway_.channel, login_, "web01", &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  const std::string cert_path = dir_->File("ephemeral-cert.pub");
  ASSERT_TRUE(testing::WriteFile(
                  cert_path, response.certificate().ssh_certificate() + "\n")
                  .ok());
  auto shown = RunCommandOk({"ssh-keygen", "-L", "-f", cert_path});
  ASSERT_TRUE(shown.ok()) << shown.status();
  const std::string& text = shown->out;
  EXPECT_TRUE(absl::StrContains(text, "Key ID: \"alice@s-1234\"")) << text;
  EXPECT_TRUE(absl::StrContains(
      text, absl::StrCat("Principals: \n                ", login_,
                         "\n        Critical Options:")))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "source-address 127.0.0.1/32")) << text;
  EXPECT_EQ(KeygenValiditySeconds(text), 150) << text;
  // Extensions: alice's login certificate has pty, agent and port
  // forwarding (from both roles); RBAC for web01 (role ops) allows pty and
  // agent forwarding only.
  EXPECT_TRUE(absl::StrContains(text, "permit-pty")) << text;
  EXPECT_TRUE(absl::StrContains(text, "permit-agent-forwarding")) << text;
  EXPECT_FALSE(absl::StrContains(text, "permit-port-forwarding")) << text;
  EXPECT_EQ(response.host().name(), "web01");
  EXPECT_EQ(response.host().port(), sshd_->port());
  EXPECT_EQ(response.record(), "always");

  // Recorded as a session certificate with its audit event.
  auto stored = env_->store().GetCertificate(response.certificate().serial());
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->purpose, storage::CertificatePurpose::kSession);
  EXPECT_EQ(stored->key_id, "alice@s-1234");
  EXPECT_EQ(CountEvents(kEventCertIssued, "\"session_id\":\"s-1234\""), 1);

  // The real sshd accepts it from 127.0.0.1 and refuses it from 127.0.0.2.
  testing::RunResult ok = Ssh(cert_path);
  EXPECT_EQ(ok.exit_code, 0) << ok.Describe() << sshd_->Log();
  EXPECT_EQ(ok.out, "ok\n");
  testing::RunResult elsewhere = Ssh(cert_path, "127.0.0.2");
  EXPECT_NE(elsewhere.exit_code, 0) << elsewhere.Describe();
  EXPECT_TRUE(absl::StrContains(
      sshd_->Log(), "not from a permitted source address (127.0.0.2)"))
      << sshd_->Log();
}

// LOGIN+ADDRESS: a host is named by its inventory name or any of its
// addresses. An address only one inventory host has gets that host's
// certificate (RBAC decided by its name); one several hosts share is
// refused with the reason; one no host has is not in the inventory.
TEST_P(GatewaySessionTest, ASessionNamesItsHostByNameOrAddress) {
  storage::Host web09;
  web09.name = "web09";
  web09.address = "127.0.0.9";
  web09.port = 2209;
  ASSERT_TRUE(env_->store().CreateHost(web09).ok());
  gw::IssueSessionCertificateResponse response;
  grpc::Status st =
      IssueSession(gateway_.channel, login_, "127.0.0.9", &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(response.host().name(), "web09");
  EXPECT_EQ(response.host().port(), 2209u);
  EXPECT_EQ(response.record(), "always");
  auto stored = env_->store().GetCertificate(response.certificate().serial());
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->principals, std::vector<std::string>{login_});
  EXPECT_EQ(CountEvents(kEventCertIssued, "\"host\":\"web09\""), 1);
  // 127.0.0.1 is web01's, db01's and app01's address.
  st = IssueSession(gateway_.channel, login_, "127.0.0.1", &response);
  EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(st.error_message(),
                                "several inventory hosts have the address "
                                "\"127.0.0.1\""))
      << st.error_message();
  st = IssueSession(gateway_.channel, login_, "127.0.0.10", &response);
  EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(st.error_message(), "not in the inventory"))
      << st.error_message();
}

TEST_P(GatewaySessionTest, TheSessionCertificateCarriesTheAllowedSessionKinds) {
  // Role ops on web01: shell and exec, not sftp. Each decision is what
  // AuthorizeChannel answers for the kind; a refused kind is left out.
  gw::IssueSessionCertificateResponse response;
  ASSERT_TRUE(IssueSession(gateway_.channel, login_, "web01", &response).ok());
  std::vector<std::string> kinds;
  for (const gw::AuthorizeChannelResponse& d : response.session_decisions()) {
    kinds.push_back(d.kind());
    gw::AuthorizeChannelResponse a = Authorize(login_, "web01", d.kind());
    EXPECT_TRUE(d.allowed());
    EXPECT_EQ(d.allowed(), a.allowed()) << d.kind();
    EXPECT_EQ(d.role(), a.role()) << d.kind();
    EXPECT_EQ(d.rule(), a.rule()) << d.kind();
    EXPECT_EQ(d.reason(), a.reason()) << d.kind();
    EXPECT_EQ(d.record(), a.record()) << d.kind();
    EXPECT_EQ(d.record_mode(), a.record_mode()) << d.kind();
    EXPECT_EQ(d.user(), a.user()) << d.kind();
    EXPECT_EQ(d.host().name(), "web01");
    EXPECT_EQ(d.host().port(), a.host().port());
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"shell", "exec"}));
  EXPECT_FALSE(Authorize(login_, "web01", "sftp").allowed());
  // dbadmin on db01 (role db): shell only.
  ASSERT_TRUE(
      IssueSession(gateway_.channel, "dbadmin", "db01", &response, "s-db")
          .ok());
  ASSERT_EQ(response.session_decisions_size(), 1);
  EXPECT_EQ(response.session_decisions(0).kind(), "shell");
  EXPECT_EQ(response.session_decisions(0).role(), "db");
}

TEST_P(GatewaySessionTest, RefusalsAreDeniedAndAudited) {
  gw::IssueSessionCertificateResponse response;
  // A login alice's roles do not grant on web01 (her certificate has it,
  // from the db role).
  grpc::Status st =
      IssueSession(gateway_.channel, "dbadmin", "web01", &response);
  EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(st.error_message(), "dbadmin"))
      << st.error_message();
  EXPECT_EQ(CountEvents(kEventCertRefused, "\"login\":\"dbadmin\""), 1);
  // A host no role selects.
  st = IssueSession(gateway_.channel, login_, "app01", &response);
  EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CountEvents(kEventCertRefused, "\"host\":\"app01\""), 1);
  // A login her certificate does not carry.
  st = IssueSession(gateway_.channel, "nobody", "web01", &response);
  EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CountEvents(kEventCertRefused, "\"login\":\"nobody\""), 1);
  // Before revocation it works; after, it is refused.
  ASSERT_TRUE(IssueSession(gateway_.channel, login_, "web01", &response).ok());
  storage::Revocation r;
  r.serial = alice_.response.serial();
  r.reason = "lost laptop";
  r.revoked_by = "admin";
  ASSERT_TRUE(env_->store().Revoke(r).ok());
  st = IssueSession(gateway_.channel, login_, "web01", &response, "s-2");
  EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(st.error_message(), "revoked"))
      << st.error_message();
  EXPECT_EQ(CountEvents(kEventCertRefused, "\"session_id\":\"s-2\""), 1);
  gw::AuthorizeChannelResponse a = Authorize(login_, "web01", "shell");
  EXPECT_FALSE(a.allowed());
  EXPECT_TRUE(a.certificate_revoked());
}

// The CA remembers a user certificate that verified (per login and CA
// keys): after a session certificate for one login, a login the user
// certificate does not carry is still refused.
TEST_P(GatewaySessionTest, RememberedCertificateIsCheckedPerLogin) {
  gw::IssueSessionCertificateResponse response;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(
        IssueSession(gateway_.channel, login_, "web01", &response).ok());
  }
  grpc::Status st =
      IssueSession(gateway_.channel, "nobody", "web01", &response, "s-3");
  EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CountEvents(kEventCertRefused, "\"login\":\"nobody\""), 1);
  EXPECT_FALSE(Authorize("nobody", "web01", "shell").allowed());
  EXPECT_TRUE(Authorize(login_, "web01", "shell").allowed());
}

TEST_P(GatewaySessionTest, ExpiredCertificatesAndDisabledUsersAreRefused) {
  gw::IssueSessionCertificateResponse response;
  storage::User alice;
  alice.name = "alice";
  alice.disabled = true;
  ASSERT_TRUE(env_->store().UpdateUser(alice).ok());
  grpc::Status st = IssueSession(gateway_.channel, login_, "web01", &response);
  EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(st.error_message(), "disabled"))
      << st.error_message();
  alice.disabled = false;
  ASSERT_TRUE(env_->store().UpdateUser(alice).ok());
  ASSERT_TRUE(IssueSession(gateway_.channel, login_, "web01", &response).ok());
  // alice's login certificate is valid for 8 h.
  env_->clock().Advance(absl::Hours(8) + absl::Seconds(1));
  st = IssueSession(gateway_.channel, login_, "web01", &response);
  EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED);
  gw::AuthorizeChannelResponse a = Authorize(login_, "web01", "shell");
  EXPECT_FALSE(a.allowed());
  EXPECT_FALSE(a.certificate_revoked());
}

TEST_P(GatewaySessionTest, AUserCertificateCannotGetSessionCertificates) {
  gw::IssueSessionCertificateResponse response;
  EXPECT_EQ(
      IssueSession(alice_.channel, login_, "web01", &response).error_code(),
      StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(IssueSession(env_->AnonymousChannel(), login_, "web01", &response)
                .error_code(),
            StatusCode::UNAUTHENTICATED);
  gw::AuthorizeChannelRequest authorize;
  authorize.set_user_certificate(alice_.response.ssh_certificate());
  authorize.set_login(login_);
  authorize.set_host("web01");
  authorize.set_kind("shell");
  gw::AuthorizeChannelResponse decision;
  grpc::ClientContext ctx;
  EXPECT_EQ(gw::Gateway::NewStub(alice_.channel)
                ->AuthorizeChannel(&ctx, authorize, &decision)
                .error_code(),
            StatusCode::PERMISSION_DENIED);
  EXPECT_GE(CountEvents(kEventAccessDenied, "IssueSessionCertificate"), 1);
  EXPECT_GE(CountEvents(kEventAccessDenied, "AuthorizeChannel"), 1);
  // The user certificate in those calls was not even verified for a caller
  // that is no gateway (its signature check would be CPU a stranger could
  // spend); a gateway's call verifies and remembers it.
  GatewayService& service = env_->server().gateway_service();
  EXPECT_EQ(service.RememberedUserCertificatesForTest(), 0u);
  ASSERT_TRUE(IssueSession(gateway_.channel, login_, "web01", &response).ok());
  EXPECT_EQ(service.RememberedUserCertificatesForTest(), 1u);
}

TEST_P(GatewaySessionTest, NoEgressAddressesNoSessionCertificates) {
  std::unique_ptr<testing::PostgresFixture> pg;
  CaTestEnv::Options options;
  options.gateway_egress_addresses.clear();
  auto env = CaTestEnv::Create(options);
  ASSERT_TRUE(env.ok());
  EnrolledGateway g = EnrollOrDie(**env, "gw1");
  gw::IssueSessionCertificateResponse response;
  EXPECT_EQ(IssueSession(g.channel, login_, "web01", &response).error_code(),
            StatusCode::FAILED_PRECONDITION);
}

// A gateway's calls as many as its places (kMaxGatewayCallsPerGateway,
// what its one connection carries), and gateways enough to fill the CA's
// (kMaxGatewayCalls), each loop asking again as soon as it has its answer
// (a login storm): none is refused as an overload. The place of an
// answered call is given back before its answer goes out, so the next
// call does not find it still taken.
TEST_P(GatewaySessionTest, CallsBackToBackAtTheLimitAreNotRefused) {
  std::vector<EnrolledGateway> gateways = {gateway_};
  while (static_cast<int>(gateways.size()) * kMaxGatewayCallsPerGateway <
         kMaxGatewayCalls) {
    gateways.push_back(
        EnrollOrDie(*env_, absl::StrCat("gw", gateways.size() + 1)));
    ASSERT_NE(gateways.back().channel, nullptr);
  }
  constexpr int kCallsPerLoop = 8;
  std::atomic<int> ok{0}, overloaded{0}, other{0};
  std::string first_other;
  absl::Mutex mu;
  std::vector<std::thread> loops;
  for (size_t g = 0; g < gateways.size(); ++g) {
    for (int loop = 0; loop < kMaxGatewayCallsPerGateway; ++loop) {
      loops.emplace_back([&, g, loop] {
        for (int i = 0; i < kCallsPerLoop; ++i) {
          gw::IssueSessionCertificateResponse response;
          grpc::Status st =
              IssueSession(gateways[g].channel, login_, "web01", &response,
                           absl::StrCat("s-", g, "-", loop, "-", i));
          if (st.ok()) {
            ++ok;
          } else if (st.error_code() == StatusCode::RESOURCE_EXHAUSTED) {
            ++overloaded;
          } else {
            ++other;
            absl::MutexLock lock(&mu);
            first_other = st.error_message();
          }
        }
      });
    }
  }
  for (std::thread& t : loops) t.join();
  EXPECT_EQ(overloaded.load(), 0);
  EXPECT_EQ(other.load(), 0) << first_other;
  EXPECT_EQ(ok.load(), kMaxGatewayCalls * kCallsPerLoop);
}

SP_INSTANTIATE_ON_BOTH_BACKENDS(GatewaySessionTest);

}  // namespace
}  // namespace sallyport::ca
