// The real `sallyport-gateway` binary, enrolled and served through its
// documented command lines (BastionFixture::StartGateway), between stock
// `ssh` and real sshd targets, with the real CA (issue 12's E2E, first
// rows): a recorded exec session `LOGIN+HOST` returns the output and the
// exit code; a plain key is refused with the `sp login` banner; a role that
// does not select the host is refused.
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

class GatewayE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto f = BastionFixture::Start();
    ASSERT_TRUE(f.ok()) << f.status();
    fixture_ = f->release();
    absl::Status st =
        fixture_->StartGateway(RunfilePath("gateway/sallyport-gateway"));
    ASSERT_TRUE(st.ok()) << st << "\n" << fixture_->GatewayLog();
  }
  static void TearDownTestSuite() {
    if (fixture_ != nullptr) {
      // SIGTERM drains and exits cleanly.
      EXPECT_EQ(fixture_->StopGateway(), 0) << fixture_->GatewayLog();
    }
    delete fixture_;
    fixture_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(fixture_, nullptr); }
  void TearDown() override {
    if (HasFailure())
      std::fprintf(stderr, "%s", fixture_->GatewayLog().c_str());
  }

  // `ssh -F <user's config> -l LOGIN+HOST gateway COMMAND`.
  static RunResult ViaGateway(const std::string& user, const std::string& host,
                              const std::string& command,
                              const std::vector<std::string>& options = {}) {
    auto args = fixture_->SshArgs(user);
    EXPECT_TRUE(args.ok()) << args.status();
    if (!args.ok()) return RunResult();
    args->insert(args->end(), options.begin(), options.end());
    args->push_back("-l");
    args->push_back(absl::StrCat(fixture_->target_login(), "+", host));
    args->push_back("gateway");
    args->push_back(command);
    auto r = RunCommand(*args);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : RunResult();
  }

  static BastionFixture* fixture_;
};

BastionFixture* GatewayE2eTest::fixture_ = nullptr;

TEST_F(GatewayE2eTest, RecordedExecReturnsOutputAndExitCode) {
  const RunResult r = ViaGateway("alice", "web01", "hostname; exit 3");
  EXPECT_EQ(r.exit_code, 3) << r.Describe();
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  EXPECT_EQ(r.out, std::string(host) + "\n") << r.Describe();
  // The target saw the gateway's session certificate, not alice's key.
  const std::string log = fixture_->target("web01")->sshd->Log();
  EXPECT_TRUE(absl::StrContains(
      log, "Accepted publickey for " + fixture_->target_login()))
      << log;
}

TEST_F(GatewayE2eTest, APlainKeyIsRefusedWithTheSpLoginBanner) {
  auto key = GenerateKey(::testing::TempDir(), "plain_key");
  ASSERT_TRUE(key.ok()) << key.status();
  // Stock ssh with only the plain key (no user config, so no certificate).
  const std::vector<std::string> args = {
      "ssh",
      "-F",
      "/dev/null",
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "IdentitiesOnly=yes",
      "-i",
      key->private_path,
      "-p",
      absl::StrCat(fixture_->gateway_port()),
      "-l",
      absl::StrCat(fixture_->target_login(), "+web01"),
      "127.0.0.1",
      "true"};
  auto r = RunCommand(args);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 255) << r->Describe();
  EXPECT_TRUE(absl::StrContains(r->err, "sp login")) << r->Describe();
}

TEST_F(GatewayE2eTest, AHostNoRoleSelectsIsRefused) {
  // alice's role (dev) selects env=dev only; web02 is env=prod.
  const RunResult r = ViaGateway("alice", "web02", "true");
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "\n")) << r.Describe();
}

}  // namespace
}  // namespace sallyport::testing
