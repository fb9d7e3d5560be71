// The session CA key end to end (`sallyport-ca init --session-ca`): the
// targets' sshd trusts only the key that signs the gateway's session
// certificates (TrustedUserCAKeys), not the user CA. Then:
//   - recorded sessions (LOGIN+HOST) and recorded ProxyJump work as before;
//   - a user's own `sp login` certificate does not open a target directly,
//     though it does open one that trusts the user CA (the bypass the key
//     closes: docs/threat-model.md);
//   - passthrough ProxyJump, in which the user authenticates to the target
//     with that certificate, is refused by the target too: with this key
//     only recorded sessions get in.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/e2e/gateway_e2e_env.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

class GatewaySessionCaE2eTest : public GatewaySuite<GatewaySessionCaE2eTest> {
 public:  // read by GatewaySuite
  static BastionFixture::Options SuiteOptions() {
    BastionFixture::Options options = BastionFixture::DefaultOptions();
    options.session_ca = true;
    return options;
  }

 protected:
  void TearDown() override {
    GatewaySuite::TearDown();
    if (HasFailure()) {
      std::fprintf(stderr, "%s",
                   env_->fixture().target("web01")->sshd->Log().c_str());
    }
  }

  // `ssh -F <user's config> ARGS... 'echo reached'`.
  static RunResult SshAs(const std::string& user,
                         const std::vector<std::string>& args) {
    auto argv = env_->fixture().SshArgs(user);
    EXPECT_TRUE(argv.ok()) << argv.status();
    if (!argv.ok()) return RunResult();
    argv->insert(argv->end(), args.begin(), args.end());
    argv->push_back("echo reached");
    return GatewayE2eEnv::Run(*argv);
  }
};

TEST_F(GatewaySessionCaE2eTest, RecordedSessionsGetInAndUsersOwnCertsDoNot) {
  BastionFixture& f = env_->fixture();
  ASSERT_FALSE(f.session_ca_public_key().empty());
  ASSERT_NE(f.session_ca_public_key(), f.user_ca_public_key());

  // Through the gateway: LOGIN+HOST, and a recorded ProxyJump (alice's
  // role has no proxyjump-passthrough).
  RunResult r = SshAs("alice", {"-l", env_->GatewayUser("web01"), "gateway"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "reached\n");
  r = SshAs("alice", {"-J", "gateway", "-o", "HostName=web01", "web01"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "reached\n");

  // Straight to the target with alice's own certificate: refused.
  r = SshAs("alice", {"web01"});
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "reached")) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "Permission denied")) << r.Describe();

  // The same certificate opens a host that trusts the user CA, as every
  // host had to without the session key.
  auto user = f.user("alice");
  ASSERT_TRUE(user.ok()) << user.status();
  SshdFixture::Options trusting_users;
  trusting_users.config = {{"TrustedUserCAKeys", "%DIR%/user_ca.pub"}};
  auto old_style = SshdFixture::Start(trusting_users);
  ASSERT_TRUE(old_style.ok()) << old_style.status();
  ASSERT_TRUE(WriteFile((*old_style)->dir() + "/user_ca.pub",
                        f.user_ca_public_key() + "\n")
                  .ok());
  std::vector<std::string> argv =
      SshClientArgs((*old_style)->port(), (*old_style)->known_hosts_path(),
                    (*user)->key, (*user)->certificate);
  argv.push_back(f.target_login() + "@127.0.0.1");
  argv.push_back("echo reached");
  r = GatewayE2eEnv::Run(argv);
  EXPECT_EQ(r.exit_code, 0) << r.Describe() << (*old_style)->Log();
  EXPECT_EQ(r.out, "reached\n");
}

// `spctl ca target-keys` prints what targets must trust: the session CA
// key only.
TEST_F(GatewaySessionCaE2eTest, TargetKeysAreTheSessionKeys) {
  BastionFixture& f = env_->fixture();
  auto admin = f.user("admin");
  ASSERT_TRUE(admin.ok()) << admin.status();
  const RunResult r =
      GatewayE2eEnv::Run({"env", "SALLYPORT_HOME=" + (*admin)->home,
                          RunfilePath("cli/spctl"), "ca", "target-keys"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, f.session_ca_public_key() + "\n");
  EXPECT_TRUE(absl::StrContains(r.err, "the session CA keys")) << r.err;
}

TEST_F(GatewaySessionCaE2eTest, PassthroughProxyJumpIsRefusedByTheTarget) {
  // olivia's role allows proxyjump-passthrough: the gateway relays the
  // bytes and the user authenticates to web01 with her own certificate,
  // which web01 does not trust.
  const RunResult r =
      SshAs("olivia", {"-J", "gateway", "-o", "HostName=web01", "web01"});
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "reached")) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "Permission denied")) << r.Describe();
}

}  // namespace
}  // namespace sallyport::testing
