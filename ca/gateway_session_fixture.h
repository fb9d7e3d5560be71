// The fixture of the CA's gateway RPC tests (gateway_session_test.cc:
// IssueSessionCertificate; gateway_authorize_test.cc: AuthorizeChannel
// and jumps): a CA on SQLite or a real PostgreSQL server, a real sshd
// trusting its user CA, roles "ops" (web*) and "db" (db*), hosts web01
// (the sshd), db01 and app01, alice logged in, gateway gw1 enrolled, and
// an ephemeral key.
#ifndef SALLYPORT_CA_GATEWAY_SESSION_FIXTURE_H_
#define SALLYPORT_CA_GATEWAY_SESSION_FIXTURE_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "ca/gateway_test_util.h"
#include "gtest/gtest.h"
#include "proto/gateway.grpc.pb.h"
#include "ssh/crypto/keys.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::ca {

class GatewaySessionTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    CaTestEnv::Options options;
    options.session_ca = session_ca_;
    auto env = StartCa(GetParam(), &pg_, options);
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = std::move(*env);
    login_ = testing::CurrentUserName();
    // The host trusts the key that signs session certificates: the session
    // CA key when the CA has one, else the user CA key.
    testing::SshdFixture::Options sshd_options;
    sshd_options.config = {{"TrustedUserCAKeys", "%DIR%/user_ca.pub"}};
    auto sshd = testing::SshdFixture::Start(sshd_options);
    ASSERT_TRUE(sshd.ok()) << sshd.status();
    sshd_ = std::move(*sshd);
    ASSERT_TRUE(
        testing::WriteFile(sshd_->dir() + "/user_ca.pub",
                           (session_ca_ ? env_->init().session_ca_public_key
                                        : env_->init().user_ca_public_key) +
                               "\n")
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

  // Alice's userauth proof (ca::SignedLogin) of logging in as `user`.
  UserauthProof SignedLogin(const std::string& user,
                            const ssh::crypto::PrivateKey* key = nullptr,
                            std::string certificate_line = "") {
    return ca::SignedLogin(alice_, user, key, std::move(certificate_line));
  }

  // Without `proof`: alice's proof of logging in as LOGIN+HOST.
  grpc::Status IssueSession(
      const std::shared_ptr<grpc::Channel>& channel, const std::string& login,
      const std::string& host,
      gateway::v1::IssueSessionCertificateResponse* response,
      const std::string& session_id = "s-1234",
      const UserauthProof* proof = nullptr) {
    gateway::v1::IssueSessionCertificateRequest request;
    request.set_user_certificate(alice_.response.ssh_certificate());
    request.set_session_id(session_id);
    request.set_login(login);
    request.set_host(host);
    request.set_ephemeral_public_key(ephemeral_.public_line);
    const UserauthProof signed_login =
        proof != nullptr ? *proof : SignedLogin(login + "+" + host);
    request.set_userauth_signed_data(signed_login.signed_data);
    request.set_userauth_signature(signed_login.signature);
    grpc::ClientContext ctx;
    return gateway::v1::Gateway::NewStub(channel)->IssueSessionCertificate(
        &ctx, request, response);
  }

  gateway::v1::AuthorizeChannelResponse Authorize(
      const std::string& login, const std::string& host,
      const std::string& kind, const std::string& destination = "",
      uint32_t jump_port = 0, grpc::Status* status = nullptr) {
    gateway::v1::AuthorizeChannelRequest request;
    request.set_user_certificate(alice_.response.ssh_certificate());
    request.set_login(login);
    request.set_host(host);
    request.set_kind(kind);
    request.set_destination(destination);
    request.set_jump_port(jump_port);
    grpc::ClientContext ctx;
    gateway::v1::AuthorizeChannelResponse response;
    grpc::Status st = gateway::v1::Gateway::NewStub(gateway_.channel)
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
  gateway::v1::AuthorizeChannelResponse Jump(const std::string& login,
                                             const std::string& host,
                                             uint32_t port) {
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
    auto r = testing::RunCommand(args);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : testing::RunResult();
  }

  // Set by a derived fixture's constructor: the CA has a session CA key.
  bool session_ca_ = false;
  std::unique_ptr<testing::PostgresFixture> pg_;
  std::unique_ptr<CaTestEnv> env_;
  std::unique_ptr<testing::SshdFixture> sshd_;
  std::unique_ptr<testing::TempDir> dir_;
  std::string login_;
  CaTestEnv::LoginResult alice_;
  EnrolledGateway gateway_;
  testing::KeyPair ephemeral_;
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_GATEWAY_SESSION_FIXTURE_H_
