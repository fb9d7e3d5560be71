// Proves BastionFixture without the gateway: the certificates `sp login`
// got from the real CA reach the real sshd targets directly with stock
// `ssh`, host certificates from our host CA verify with no prompt through
// the @cert-authority line (and only through it), a certificate without the
// login is refused by sshd, and the inventory holds what the targets are.
#include "tests/harness/bastion_fixture.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/net_util.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

class BastionFixtureTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto f = BastionFixture::Start();
    ASSERT_TRUE(f.ok()) << f.status();
    fixture_ = f->release();
  }
  static void TearDownTestSuite() {
    delete fixture_;
    fixture_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(fixture_, nullptr); }

  // `ssh -F <user's config> HOST COMMAND`.
  static RunResult Ssh(const std::string& user, const std::string& host,
                       const std::string& command,
                       const std::vector<std::string>& options = {}) {
    auto args = fixture_->SshArgs(user);
    EXPECT_TRUE(args.ok()) << args.status();
    if (!args.ok()) return RunResult();
    args->insert(args->end(), options.begin(), options.end());
    args->push_back(host);
    args->push_back(command);
    auto r = RunCommand(*args);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : RunResult();
  }

  static std::string Hostname() {
    char buf[256] = {};
    gethostname(buf, sizeof(buf) - 1);
    return buf;
  }

  static std::string CertInfo(const std::string& path) {
    auto r = RunCommand({"ssh-keygen", "-L", "-f", path});
    EXPECT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->Describe() : "");
    return r.ok() ? r->out : "";
  }

  static BastionFixture* fixture_;
};

BastionFixture* BastionFixtureTest::fixture_ = nullptr;

TEST_F(BastionFixtureTest, LoggedInUserReachesTargetDirectlyAndGetsExitCode) {
  const RunResult r = Ssh("alice", "web01", "hostname; exit 3");
  EXPECT_EQ(r.exit_code, 3) << r.Describe();
  EXPECT_EQ(r.out, Hostname() + "\n");
  // sshd accepted alice's certificate from our user CA, not some other key.
  const std::string log = fixture_->target("web01")->sshd->Log();
  EXPECT_TRUE(absl::StrContains(
      log, "Accepted publickey for " + fixture_->target_login()))
      << log;
  EXPECT_TRUE(absl::StrContains(log, "ID alice (serial")) << log;
}

TEST_F(BastionFixtureTest, PinnedTargetIsReachableWithItsKnownHostsLine) {
  const RunResult r = Ssh("olivia", "web02", "echo pinned-ok");
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "pinned-ok\n");
}

TEST_F(BastionFixtureTest, HostCertificateFromOurHostCaIsWhatMakesItVerify) {
  // The certificate the target presents names it and is signed by our CA.
  BastionFixture::Target* web01 = fixture_->target("web01");
  ASSERT_NE(web01, nullptr);
  const std::string info = CertInfo(web01->host_certificate);
  EXPECT_TRUE(absl::StrContains(info, "host certificate")) << info;
  EXPECT_TRUE(absl::StrContains(info, "web01")) << info;
  auto ca_fp = RunCommand(
      {"ssh-keygen", "-l", "-f", fixture_->ca_state_dir() + "/host_ca.pub"});
  ASSERT_TRUE(ca_fp.ok() && ca_fp->ok());
  const std::string fp = ca_fp->out.substr(ca_fp->out.find("SHA256:"), 50);
  EXPECT_TRUE(absl::StrContains(info, fp.substr(0, fp.find(' ')))) << info;

  // Without the @cert-authority line the same connection fails in batch
  // mode (no prompt, no trust on first use).
  auto u = fixture_->user("alice");
  ASSERT_TRUE(u.ok());
  const RunResult no_ca = Ssh("alice", "web01", "echo must-not-run",
                              {"-o", "UserKnownHostsFile=/dev/null"});
  EXPECT_EQ(no_ca.exit_code, 255) << no_ca.Describe();
  EXPECT_TRUE(absl::StrContains(no_ca.err, "Host key verification failed"))
      << no_ca.err;
  EXPECT_EQ(no_ca.out, "");
}

TEST_F(BastionFixtureTest, CertificateWithoutTheLoginIsRefusedBySshd) {
  auto bob = fixture_->user("bob");
  ASSERT_TRUE(bob.ok());
  const std::string info = CertInfo((*bob)->certificate);
  EXPECT_TRUE(absl::StrContains(info, "Principals: \n                guest\n"))
      << info;
  const RunResult r = Ssh("bob", "web01", "echo must-not-run");
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "Permission denied")) << r.err;
  EXPECT_EQ(r.out, "");
  // The same target lets alice in: the refusal is about bob's principals.
  EXPECT_EQ(Ssh("alice", "web01", "true").exit_code, 0);
}

TEST_F(BastionFixtureTest, LoginCertificatesCarryTheRolesLogins) {
  auto alice = fixture_->user("alice");
  ASSERT_TRUE(alice.ok());
  const std::string info = CertInfo((*alice)->certificate);
  EXPECT_TRUE(absl::StrContains(info, "user certificate")) << info;
  EXPECT_TRUE(absl::StrContains(info, "Key ID: \"alice\"")) << info;
  EXPECT_TRUE(absl::StrContains(
      info, "Principals: \n                " + fixture_->target_login() + "\n"))
      << info;
}

TEST_F(BastionFixtureTest, InventoryHoldsTheTargets) {
  grpc::ClientContext ctx;
  admin::v1::ListHostsResponse hosts;
  ASSERT_TRUE(fixture_->admin()
                  .ListHosts(&ctx, admin::v1::ListHostsRequest(), &hosts)
                  .ok());
  ASSERT_EQ(hosts.hosts_size(), 2);
  const admin::v1::Host& web01 = hosts.hosts(0);
  const admin::v1::Host& web02 = hosts.hosts(1);
  EXPECT_EQ(web01.name(), "web01");
  EXPECT_EQ(web01.address(), "127.0.0.1");
  EXPECT_EQ(web01.port(), fixture_->target("web01")->sshd->port());
  EXPECT_EQ(web01.labels().at("env"), "dev");
  EXPECT_EQ(web01.trust(), "host-ca");
  EXPECT_EQ(web02.name(), "web02");
  EXPECT_EQ(web02.port(), fixture_->target("web02")->sshd->port());
  EXPECT_EQ(web02.labels().at("env"), "prod");
  EXPECT_EQ(web02.trust(), "pinned-key");
  EXPECT_EQ(web02.host_key(), fixture_->target("web02")->host_key.public_line);
}

TEST_F(BastionFixtureTest, JoinTokensAreIssued) {
  auto a = fixture_->CreateJoinToken("gateway");
  auto b = fixture_->CreateJoinToken("gateway");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_GE(a->size(), 40u);
  EXPECT_NE(*a, *b);
  EXPECT_FALSE(fixture_->CreateJoinToken("printer").ok());
}

}  // namespace
}  // namespace sallyport::testing
