// Proves SshdFixture runs a real sshd that stock ssh logs in to with a
// certificate from `ssh-keygen -s`, and that it refuses what it should.
#include "tests/harness/sshd_fixture.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {
namespace {

class SshdFixtureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("sshtest");
    ASSERT_TRUE(dir.ok()) << dir.status();
    keys_ = std::make_unique<TempDir>(std::move(*dir));
    auto ca = GenerateKey(keys_->path(), "user_ca");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *ca;
    auto user = GenerateKey(keys_->path(), "user");
    ASSERT_TRUE(user.ok()) << user.status();
    user_ = *user;
  }

  std::unique_ptr<TempDir> keys_;
  KeyPair ca_;
  KeyPair user_;
};

TEST_F(SshdFixtureTest, SshLogsInWithCertificateAndRunsEcho) {
  SshdFixture::Options options;
  options.config["TrustedUserCAKeys"] = ca_.public_path;
  auto sshd = SshdFixture::Start(options);
  ASSERT_TRUE(sshd.ok()) << sshd.status();

  const std::string login = CurrentUserName();
  auto cert = SignWithSshKeygen(ca_.private_path, user_.public_path,
                                "smoke-test", login);
  ASSERT_TRUE(cert.ok()) << cert.status();

  auto args = SshClientArgs((*sshd)->port(), (*sshd)->known_hosts_path(),
                            user_.private_path, *cert);
  args.push_back(login + "@127.0.0.1");
  args.push_back("echo hello-from-sshd");
  auto r = RunCommand(args);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->Describe();
  EXPECT_EQ(r->out, "hello-from-sshd\n");
  // sshd's own log shows it accepted the certificate, not some other key.
  EXPECT_NE((*sshd)->Log().find("Accepted publickey"), std::string::npos);
  EXPECT_NE((*sshd)->Log().find("ID smoke-test"), std::string::npos);
}

TEST_F(SshdFixtureTest, CertificateForAnotherPrincipalIsRefused) {
  SshdFixture::Options options;
  options.config["TrustedUserCAKeys"] = ca_.public_path;
  auto sshd = SshdFixture::Start(options);
  ASSERT_TRUE(sshd.ok()) << sshd.status();

  auto cert = SignWithSshKeygen(ca_.private_path, user_.public_path, "other",
                                "someone-else");
  ASSERT_TRUE(cert.ok()) << cert.status();
  auto args = SshClientArgs((*sshd)->port(), (*sshd)->known_hosts_path(),
                            user_.private_path, *cert);
  args.push_back(CurrentUserName() + "@127.0.0.1");
  args.push_back("echo should-not-run");
  auto r = RunCommand(args);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 255) << r->Describe();
  EXPECT_NE(r->err.find("Permission denied"), std::string::npos) << r->err;
  EXPECT_EQ(r->out, "");
}

TEST_F(SshdFixtureTest, AuthorizedPrincipalsFileIsHonoured) {
  ASSERT_TRUE(WriteFile(keys_->File("principals"), "ops-team\n").ok());
  SshdFixture::Options options;
  options.config["TrustedUserCAKeys"] = ca_.public_path;
  options.config["AuthorizedPrincipalsFile"] = keys_->File("principals");
  auto sshd = SshdFixture::Start(options);
  ASSERT_TRUE(sshd.ok()) << sshd.status();

  auto cert =
      SignWithSshKeygen(ca_.private_path, user_.public_path, "ops", "ops-team");
  ASSERT_TRUE(cert.ok()) << cert.status();
  auto args = SshClientArgs((*sshd)->port(), (*sshd)->known_hosts_path(),
                            user_.private_path, *cert);
  args.push_back(CurrentUserName() + "@127.0.0.1");
  args.push_back("echo via-principals-file");
  auto r = RunCommand(args);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->Describe();
  EXPECT_EQ(r->out, "via-principals-file\n");
}

TEST_F(SshdFixtureTest, BadConfigFailsWithTheReason) {
  SshdFixture::Options options;
  options.config["NoSuchOption"] = "yes";
  auto sshd = SshdFixture::Start(options);
  ASSERT_FALSE(sshd.ok());
  EXPECT_NE(sshd.status().message().find("NoSuchOption"), std::string::npos)
      << sshd.status();
}

TEST_F(SshdFixtureTest, StopsAndCleansUp) {
  std::string dir;
  uint16_t port;
  {
    auto sshd = SshdFixture::Start();
    ASSERT_TRUE(sshd.ok()) << sshd.status();
    dir = (*sshd)->dir();
    port = (*sshd)->port();
    EXPECT_TRUE((*sshd)->Running());
  }
  EXPECT_NE(access(dir.c_str(), F_OK), 0) << dir << " still exists";
  auto r = RunCommand({"ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o",
                       "ConnectTimeout=5", "-p", std::to_string(port),
                       "127.0.0.1", "true"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 255);
  EXPECT_NE(r->err.find("refused"), std::string::npos) << r->err;
}

}  // namespace
}  // namespace sallyport::testing
