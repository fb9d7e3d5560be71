// Host enrolment seen from a stock OpenSSH client (issue 11 "Host
// certificates"): an sshd presenting a certificate from IssueHostCertificate
// is trusted through one `@cert-authority` line for our host CA, with
// StrictHostKeyChecking=yes and no prompt; a certificate for another name
// gets OpenSSH's refusal. On SQLite and on a real PostgreSQL server.
#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "ca/gateway_test_util.h"
#include "gtest/gtest.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::ca {
namespace {

class HostCertSshTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto env = StartCa(GetParam(), &pg_);
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = std::move(*env);
    auto dir = testing::TempDir::Create("hostcert");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<testing::TempDir>(std::move(*dir));
    auto client = testing::GenerateKey(dir_->path(), "client");
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *client;
    known_hosts_ = dir_->File("known_hosts");
    ASSERT_TRUE(testing::WriteFile(known_hosts_,
                                   "@cert-authority web01 " +
                                       env_->init().host_ca_public_key + "\n")
                    .ok());
  }

  // Enrols `host` (address 127.0.0.1) with a fresh host key, with a host
  // join token or, when `token` is false, as the admin. Returns the key's
  // path; the certificate is written beside it as "-cert.pub".
  std::string EnrolHost(const std::string& host, bool token) {
    auto key = testing::GenerateKey(dir_->path(), host + "_key");
    EXPECT_TRUE(key.ok()) << key.status();
    v1::IssueHostCertificateRequest request;
    request.set_host(host);
    request.set_address("127.0.0.1");
    request.set_ssh_public_key(key->public_line);
    std::shared_ptr<grpc::Channel> channel;
    if (token) {
      std::string secret;
      EXPECT_TRUE(CreateJoinToken(*env_, "host", absl::Hours(1), &secret).ok());
      request.set_join_token(secret);
      channel = env_->AnonymousChannel();
    } else {
      channel = AdminChannel(*env_);
    }
    grpc::ClientContext ctx;
    v1::IssueHostCertificateResponse response;
    grpc::Status st =
        v1::CertificateAuthority::NewStub(channel)->IssueHostCertificate(
            &ctx, request, &response);
    EXPECT_TRUE(st.ok()) << st.error_message();
    EXPECT_TRUE(testing::WriteFile(key->private_path + "-cert.pub",
                                   response.ssh_certificate() + "\n")
                    .ok());
    return key->private_path;
  }

  // An sshd presenting `host_key` and its certificate.
  std::unique_ptr<testing::SshdFixture> StartSshd(const std::string& host_key) {
    testing::SshdFixture::Options options;
    options.config = {{"HostKey", host_key},
                      {"HostCertificate", host_key + "-cert.pub"}};
    auto sshd = testing::SshdFixture::Start(options);
    EXPECT_TRUE(sshd.ok()) << sshd.status();
    if (!sshd.ok()) return nullptr;
    EXPECT_TRUE(testing::WriteFile((*sshd)->authorized_keys_path(),
                                   client_.public_line + "\n")
                    .ok());
    return std::move(*sshd);
  }

  // Stock ssh to web01 (HostKeyAlias) at 127.0.0.1:port,
  // StrictHostKeyChecking=yes.
  testing::RunResult SshToWeb01(uint16_t port) {
    std::vector<std::string> args =
        testing::SshClientArgs(port, known_hosts_, client_.private_path);
    args.insert(args.end(),
                {"-o", "HostKeyAlias=web01",
                 testing::CurrentUserName() + "@127.0.0.1", "echo ok"});
    auto r = testing::RunCommand(args);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : testing::RunResult();
  }

  std::unique_ptr<testing::PostgresFixture> pg_;
  std::unique_ptr<CaTestEnv> env_;
  std::unique_ptr<testing::TempDir> dir_;
  testing::KeyPair client_;
  std::string known_hosts_;
};

TEST_P(HostCertSshTest, StockSshTrustsTheEnrolledHostWithoutAPrompt) {
  const std::string key = EnrolHost("web01", /*token=*/true);
  auto sshd = StartSshd(key);
  ASSERT_NE(sshd, nullptr);
  testing::RunResult r = SshToWeb01(sshd->port());
  EXPECT_EQ(r.exit_code, 0) << r.Describe() << sshd->Log();
  EXPECT_EQ(r.out, "ok\n");
  // Nothing was learnt: known_hosts holds only the @cert-authority line.
  EXPECT_EQ(testing::ReadFileOrEmpty(known_hosts_),
            "@cert-authority web01 " + env_->init().host_ca_public_key + "\n");
}

TEST_P(HostCertSshTest, ACertificateForAnotherNameIsRefusedByOpenSsh) {
  const std::string key = EnrolHost("web02", /*token=*/false);
  auto sshd = StartSshd(key);
  ASSERT_NE(sshd, nullptr);
  testing::RunResult r = SshToWeb01(sshd->port());
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "not a listed principal")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "Host key verification failed"))
      << r.err;
}

SP_INSTANTIATE_ON_BOTH_BACKENDS(HostCertSshTest);

}  // namespace
}  // namespace sallyport::ca
