// AuthorizeChannel and IssueSessionCertificate (issue 11 "Gateway RPCs",
// "Session certificate"): the CA re-verifies the user certificate and asks
// the RBAC engine; session certificates are checked with `ssh-keygen -L`
// and used against the real sshd, from the egress address and from
// another. On SQLite and on a real PostgreSQL server.
#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ca/audit_log.h"
#include "ca/gateway_service.h"
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

using audit::kEventJumpAllowed;
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

class GatewaySessionTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto env = StartCa(GetParam(), &pg_);
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = std::move(*env);
    login_ = testing::CurrentUserName();
    testing::SshdFixture::Options sshd_options;
    sshd_options.config = {{"TrustedUserCAKeys", "%DIR%/user_ca.pub"}};
    auto sshd = testing::SshdFixture::Start(sshd_options);
    ASSERT_TRUE(sshd.ok()) << sshd.status();
    sshd_ = std::move(*sshd);
    ASSERT_TRUE(testing::WriteFile(sshd_->dir() + "/user_ca.pub",
                                   env_->init().user_ca_public_key + "\n")
                    .ok());

    storage::Role ops;
    ops.name = "ops";
    ops.logins = {login_, "deploy"};
    ops.hosts = {storage::HostSelector{.labels = {}, .name_globs = {"web*"}}};
    ops.channels = {storage::ChannelKind::kShell, storage::ChannelKind::kExec,
                    storage::ChannelKind::kAgentForward};
    ASSERT_TRUE(env_->store().CreateRole(ops).ok());
    storage::Role db;
    db.name = "db";
    db.logins = {"dbadmin"};
    db.hosts = {storage::HostSelector{.labels = {}, .name_globs = {"db*"}}};
    db.channels = {storage::ChannelKind::kShell,
                   storage::ChannelKind::kPortForward};
    ASSERT_TRUE(env_->store().CreateRole(db).ok());
    ASSERT_TRUE(env_->AddUser("alice", "alice-pw", {"ops", "db"}).ok());
    for (const auto& [name, port] : std::vector<std::pair<std::string, int>>{
             {"web01", sshd_->port()}, {"db01", 22}, {"app01", 22}}) {
      storage::Host h;
      h.name = name;
      h.address = "127.0.0.1";
      h.port = static_cast<uint16_t>(port);
      ASSERT_TRUE(env_->store().CreateHost(h).ok());
    }
    alice_ = env_->Login("alice", "alice-pw");
    ASSERT_TRUE(alice_.status.ok()) << alice_.status.error_message();
    gateway_ = EnrollOrDie(*env_, "gw1");
    ASSERT_NE(gateway_.channel, nullptr);
    auto dir = testing::TempDir::Create("session");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<testing::TempDir>(std::move(*dir));
    auto key = testing::GenerateKey(dir_->path(), "ephemeral");
    ASSERT_TRUE(key.ok()) << key.status();
    ephemeral_ = *key;
  }

  grpc::Status IssueSession(const std::shared_ptr<grpc::Channel>& channel,
                            const std::string& login, const std::string& host,
                            gw::IssueSessionCertificateResponse* response,
                            const std::string& session_id = "s-1234") {
    gw::IssueSessionCertificateRequest request;
    request.set_user_certificate(alice_.response.ssh_certificate());
    request.set_session_id(session_id);
    request.set_login(login);
    request.set_host(host);
    request.set_ephemeral_public_key(ephemeral_.public_line);
    grpc::ClientContext ctx;
    return gw::Gateway::NewStub(channel)->IssueSessionCertificate(&ctx, request,
                                                                  response);
  }

  gw::AuthorizeChannelResponse Authorize(const std::string& login,
                                         const std::string& host,
                                         const std::string& kind,
                                         const std::string& destination = "",
                                         uint32_t jump_port = 0,
                                         grpc::Status* status = nullptr) {
    gw::AuthorizeChannelRequest request;
    request.set_user_certificate(alice_.response.ssh_certificate());
    request.set_login(login);
    request.set_host(host);
    request.set_kind(kind);
    request.set_destination(destination);
    request.set_jump_port(jump_port);
    grpc::ClientContext ctx;
    gw::AuthorizeChannelResponse response;
    grpc::Status st = gw::Gateway::NewStub(gateway_.channel)
                          ->AuthorizeChannel(&ctx, request, &response);
    if (status != nullptr) {
      *status = st;
    } else {
      EXPECT_TRUE(st.ok()) << st.error_message();
    }
    return response;
  }
  // A jump (`ssh -J gw LOGIN@HOST` asking for HOST:port): the CA decides
  // the kind.
  gw::AuthorizeChannelResponse Jump(const std::string& login,
                                    const std::string& host, uint32_t port) {
    return Authorize(login, host, "proxyjump-passthrough", "", port);
  }

  int CountEvents(std::string_view type, std::string_view containing = "") {
    auto all = env_->store().ListAuditEvents(0, 10000);
    EXPECT_TRUE(all.ok());
    int n = 0;
    for (const auto& e : *all) {
      n += e.type == type &&
           absl::StrContains(e.payload_json, std::string(containing));
    }
    return n;
  }

  // ssh to the fixture's sshd with the ephemeral key and `cert_path`,
  // optionally bound to `bind`; runs `echo ok`.
  testing::RunResult Ssh(const std::string& cert_path,
                         const std::string& bind = "") {
    std::vector<std::string> args =
        testing::SshClientArgs(sshd_->port(), sshd_->known_hosts_path(),
                               ephemeral_.private_path, cert_path);
    if (!bind.empty()) {
      args.push_back("-b");
      args.push_back(bind);
    }
    args.push_back(login_ + "@127.0.0.1");
    args.push_back("echo ok");
    auto r = RunCommand(args);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : testing::RunResult();
  }

  std::unique_ptr<testing::PostgresFixture> pg_;
  std::unique_ptr<CaTestEnv> env_;
  std::unique_ptr<testing::SshdFixture> sshd_;
  std::unique_ptr<testing::TempDir> dir_;
  std::string login_;
  CaTestEnv::LoginResult alice_;
  EnrolledGateway gateway_;
  testing::KeyPair ephemeral_;
};

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

TEST_P(GatewaySessionTest, AuthorizeChannelDecidesWithRbac) {
  gw::AuthorizeChannelResponse a = Authorize(login_, "web01", "shell");
  EXPECT_TRUE(a.allowed()) << a.reason();
  EXPECT_EQ(a.role(), "ops");
  EXPECT_EQ(a.user(), "alice");
  EXPECT_EQ(a.record(), "always");
  EXPECT_FALSE(a.certificate_revoked());
  EXPECT_EQ(a.host().address(), "127.0.0.1");
  EXPECT_EQ(a.host().port(), sshd_->port());
  EXPECT_EQ(a.host().trust(), "host-ca");

  a = Authorize(login_, "web01", "sftp");
  EXPECT_FALSE(a.allowed());
  EXPECT_TRUE(absl::StrContains(a.reason(), "sftp")) << a.reason();
  a = Authorize("dbadmin", "db01", "port-forward", "10.0.0.1:5432");
  EXPECT_TRUE(a.allowed()) << a.reason();
  a = Authorize(login_, "app01", "shell");
  EXPECT_FALSE(a.allowed());
  a = Authorize(login_, "nosuch", "shell");
  EXPECT_FALSE(a.allowed());
  a = Authorize(login_, "web01;id", "shell");
  EXPECT_FALSE(a.allowed());
  // Each refusal is an audit event.
  EXPECT_EQ(CountEvents(kEventAccessDenied, "\"method\""), 0);
  EXPECT_EQ(CountEvents(kEventAccessDenied, "\"kind\""), 4);

  // A certificate from another CA is refused by the CA itself.
  auto other = testing::GenerateKey(dir_->path(), "other_ca");
  ASSERT_TRUE(other.ok());
  auto forged = testing::SignWithSshKeygen(
      other->private_path, ephemeral_.public_path, "alice", login_);
  ASSERT_TRUE(forged.ok()) << forged.status();
  gw::AuthorizeChannelRequest request;
  request.set_user_certificate(testing::ReadFileOrEmpty(*forged));
  request.set_login(login_);
  request.set_host("web01");
  request.set_kind("shell");
  grpc::ClientContext ctx;
  gw::AuthorizeChannelResponse response;
  ASSERT_TRUE(gw::Gateway::NewStub(gateway_.channel)
                  ->AuthorizeChannel(&ctx, request, &response)
                  .ok());
  EXPECT_FALSE(response.allowed());
  // And a user certificate is no gateway identity.
  grpc::ClientContext ctx2;
  EXPECT_EQ(gw::Gateway::NewStub(alice_.channel)
                ->AuthorizeChannel(&ctx2, request, &response)
                .error_code(),
            StatusCode::PERMISSION_DENIED);
}

// kMaxUserCertificateBytes: a certificate line of that length (a long
// comment) is read and decided; one byte more is refused unread.
TEST_P(GatewaySessionTest, UserCertificateLinesUpToTheLimitAreRead) {
  std::string line(
      absl::StripTrailingAsciiWhitespace(alice_.response.ssh_certificate()));
  const size_t fields = std::count(line.begin(), line.end(), ' ');
  line += fields >= 2 ? "-" : " ";  // into (or as) the comment
  line.resize(kMaxUserCertificateBytes, 'c');
  gw::AuthorizeChannelRequest request;
  request.set_login(login_);
  request.set_host("web01");
  request.set_kind("shell");
  for (const std::string& cert : {line, line + "c"}) {
    request.set_user_certificate(cert);
    grpc::ClientContext ctx;
    gw::AuthorizeChannelResponse response;
    const grpc::Status st = gw::Gateway::NewStub(gateway_.channel)
                                ->AuthorizeChannel(&ctx, request, &response);
    if (cert.size() == kMaxUserCertificateBytes) {
      ASSERT_TRUE(st.ok()) << st.error_message();
      EXPECT_TRUE(response.allowed()) << response.reason();
    } else {
      EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
      EXPECT_TRUE(absl::StrContains(st.error_message(), "too long"))
          << st.error_message();
    }
  }
}

TEST_P(GatewaySessionTest, AJumpIsOneDecisionForItsHostByNameOrAddress) {
  const uint32_t ssh_port = sshd_->port();
  const std::string passthrough_event = "\"kind\":\"proxyjump-passthrough\"";
  const std::string forward_event = "\"kind\":\"port-forward\"";
  // web01's SSH port: a jump (ops does not allow proxyjump-passthrough,
  // so it is recorded).
  gw::AuthorizeChannelResponse a = Jump(login_, "web01", ssh_port);
  EXPECT_TRUE(a.allowed()) << a.reason();
  EXPECT_EQ(a.jump_mode(), "record");
  EXPECT_EQ(a.kind(), "proxyjump-passthrough");
  EXPECT_EQ(a.host().name(), "web01");
  EXPECT_EQ(CountEvents(kEventJumpAllowed, "\"mode\":\"record\""), 1);
  // By its address and port: the same host, the same decision.
  a = Jump(login_, "127.0.0.1", ssh_port);
  EXPECT_TRUE(a.allowed()) << a.reason();
  EXPECT_EQ(a.jump_mode(), "record");
  EXPECT_EQ(a.kind(), "proxyjump-passthrough");
  EXPECT_EQ(a.host().name(), "web01");
  EXPECT_EQ(a.host().port(), ssh_port);
  EXPECT_EQ(CountEvents(kEventJumpAllowed, "\"mode\":\"record\""), 2);
  EXPECT_EQ(CountEvents(kEventAccessDenied, passthrough_event), 0);
  // Another port of a host is one port-forward decision to HOST:PORT, and
  // no proxyjump-passthrough event: db allows it on db01...
  a = Jump("dbadmin", "db01", 5432);
  EXPECT_TRUE(a.allowed()) << a.reason();
  EXPECT_EQ(a.kind(), "port-forward");
  EXPECT_EQ(a.host().name(), "db01");
  // ...ops does not on web01: one event, of kind port-forward.
  a = Jump(login_, "web01", 5432);
  EXPECT_FALSE(a.allowed());
  EXPECT_EQ(a.kind(), "port-forward");
  EXPECT_TRUE(a.jump_mode().empty());
  EXPECT_EQ(CountEvents(kEventAccessDenied, passthrough_event), 0);
  EXPECT_EQ(CountEvents(kEventAccessDenied, forward_event), 1);
  EXPECT_EQ(CountEvents(kEventAccessDenied, "web01:5432"), 1);
  // db01 and app01 share 127.0.0.1:22 (and web01 has 127.0.0.1 too): an
  // address that names no single host is refused, saying why.
  for (uint32_t port : {22u, 9u}) {
    a = Jump("dbadmin", "127.0.0.1", port);
    EXPECT_FALSE(a.allowed());
    EXPECT_TRUE(a.host().name().empty());
    EXPECT_TRUE(absl::StrContains(a.reason(), "several inventory hosts"))
        << a.reason();
  }
  // An address no inventory host has.
  a = Jump(login_, "127.0.0.2", 22);
  EXPECT_FALSE(a.allowed());
  EXPECT_TRUE(a.host().name().empty());
  EXPECT_TRUE(absl::StrContains(a.reason(), "not in the inventory"))
      << a.reason();
  // jump_port goes with proxyjump-passthrough only.
  grpc::Status st;
  Authorize("dbadmin", "db01", "port-forward", "db01:5432", 5432, &st);
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
}

// How a jump is carried is the CA's decision, with one accurate event:
// passthrough when a role allows it, recorded when a role reaches the host
// but none passes it through (never an authz.denied for that), refused
// with the reason otherwise.
TEST_P(GatewaySessionTest, AJumpIsPassedThroughRecordedOrRefusedOnce) {
  const std::string passthrough_event = "\"kind\":\"proxyjump-passthrough\"";
  // Recorded: ops reaches web01 without proxyjump-passthrough.
  gw::AuthorizeChannelResponse a = Jump(login_, "web01", sshd_->port());
  EXPECT_TRUE(a.allowed()) << a.reason();
  EXPECT_EQ(a.jump_mode(), "record");
  EXPECT_EQ(CountEvents(kEventJumpAllowed, "\"host\":\"web01\""), 1);
  EXPECT_EQ(CountEvents(kEventAccessDenied), 0);
  // Refused: no role selects app01 (the reason says so; no recorded jump).
  a = Jump(login_, "app01", 22);
  EXPECT_FALSE(a.allowed());
  EXPECT_TRUE(a.jump_mode().empty());
  EXPECT_TRUE(absl::StrContains(a.reason(), "app01")) << a.reason();
  EXPECT_EQ(CountEvents(kEventAccessDenied, passthrough_event), 1);
  EXPECT_EQ(
      CountEvents(kEventAccessDenied, "\"code\":\"no-role-selects-host\""), 1);
  EXPECT_EQ(CountEvents(kEventJumpAllowed, "app01"), 0);
  // Passthrough: once db allows it on db01.
  auto db = env_->store().GetRole("db");
  ASSERT_TRUE(db.ok()) << db.status();
  db->channels.push_back(storage::ChannelKind::kProxyJumpPassthrough);
  ASSERT_TRUE(env_->store().UpdateRole(*db).ok());
  a = Jump("dbadmin", "db01", 22);
  EXPECT_TRUE(a.allowed()) << a.reason();
  EXPECT_EQ(a.jump_mode(), "passthrough");
  EXPECT_EQ(a.role(), "db");
  EXPECT_EQ(CountEvents(kEventJumpAllowed, "\"mode\":\"passthrough\""), 1);
  // A deny rule naming the passthrough kind leaves the jump recorded; one
  // for every kind refuses it.
  db->deny = {storage::DenyRule{
      .logins = {},
      .hosts = {storage::HostSelector{.labels = {}, .name_globs = {"db01"}}},
      .channels = {storage::ChannelKind::kProxyJumpPassthrough}}};
  ASSERT_TRUE(env_->store().UpdateRole(*db).ok());
  a = Jump("dbadmin", "db01", 22);
  EXPECT_TRUE(a.allowed()) << a.reason();
  EXPECT_EQ(a.jump_mode(), "record");
  db->deny[0].channels.clear();
  ASSERT_TRUE(env_->store().UpdateRole(*db).ok());
  a = Jump("dbadmin", "db01", 22);
  EXPECT_FALSE(a.allowed());
  EXPECT_TRUE(a.jump_mode().empty());
  EXPECT_EQ(CountEvents(kEventAccessDenied, "\"code\":\"denied-by-rule\""), 1);
  // A revoked certificate: refused, whatever the roles say.
  storage::Revocation r;
  r.serial = alice_.response.serial();
  r.reason = "lost laptop";
  r.revoked_by = "admin";
  ASSERT_TRUE(env_->store().Revoke(r).ok());
  a = Jump(login_, "web01", sshd_->port());
  EXPECT_FALSE(a.allowed());
  EXPECT_TRUE(a.certificate_revoked());
  EXPECT_TRUE(a.jump_mode().empty());
  EXPECT_EQ(CountEvents(kEventJumpAllowed, "\"host\":\"web01\""), 1);
}

// `record: never` (issue 11): both RPCs carry it to the gateway when every
// role that allows the request says never; one allowing role that says
// always wins (recording is the safe side). A role that does not allow the
// request (db: other logins and hosts) has no say.
TEST_P(GatewaySessionTest, RecordNeverReachesTheGatewayAndAlwaysWins) {
  absl::StatusOr<storage::Role> ops = env_->store().GetRole("ops");
  ASSERT_TRUE(ops.ok()) << ops.status();
  ops->record = storage::RecordMode::kNever;
  ASSERT_TRUE(env_->store().UpdateRole(*ops).ok());
  gw::AuthorizeChannelResponse a = Authorize(login_, "web01", "exec");
  EXPECT_TRUE(a.allowed()) << a.reason();
  EXPECT_EQ(a.record(), "never");
  gw::IssueSessionCertificateResponse issued;
  grpc::Status st = IssueSession(gateway_.channel, login_, "web01", &issued);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(issued.record(), "never");

  storage::Role recorded = *ops;
  recorded.name = "ops-recorded";
  recorded.record = storage::RecordMode::kAlways;
  recorded.channels = {storage::ChannelKind::kExec};
  ASSERT_TRUE(env_->store().CreateRole(recorded).ok());
  ASSERT_TRUE(env_->store().BindRole("alice", "ops-recorded").ok());
  a = Authorize(login_, "web01", "exec");
  EXPECT_TRUE(a.allowed()) << a.reason();
  EXPECT_EQ(a.record(), "always");
  // A shell only ops allows: never for that channel decision...
  EXPECT_EQ(Authorize(login_, "web01", "shell").record(), "never");
  // ...but the session, which may carry the exec, is recorded.
  st = IssueSession(gateway_.channel, login_, "web01", &issued, "s-5678");
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(issued.record(), "always");
}

INSTANTIATE_TEST_SUITE_P(Backends, GatewaySessionTest,
                         ::testing::Values(Backend::kSqlite,
                                           Backend::kPostgres),
                         [](const auto& info) {
                           return BackendName(info.param);
                         });

}  // namespace
}  // namespace sallyport::ca
