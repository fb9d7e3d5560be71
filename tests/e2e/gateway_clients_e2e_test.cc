// The other clients through the real `sallyport-gateway` (issue 12's
// "Other clients" interop matrix): PuTTY (plink, and pscp in both of its
// protocols), paramiko (exec + SFTP) and AsyncSSH (exec + SFTP) each run a
// command on web01 and move a file there and back, with the key and
// certificate from `sp login`. One row per client in the test output
// (Row/GatewayClientsE2eTest.RunsACommandAndMovesAFile/<client>).
//
// Host keys, never TOFU: plink/pscp and paramiko pin the gateway's host key
// (paramiko 2.12 cannot check host certificates; PuTTY would need a CA
// configured in its saved settings); AsyncSSH checks the gateway's host
// certificate against `@cert-authority * <our host CA>`.
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/e2e/gateway_e2e_env.h"
#include "tests/harness/ssh_clients.h"

namespace sallyport::testing {
namespace {

GatewayE2eEnv* env = nullptr;
SshClients* clients = nullptr;

class GatewayClientsE2eTest : public ::testing::TestWithParam<SshClientKind> {
 protected:
  static void SetUpTestSuite() {
    auto e = GatewayE2eEnv::Start();
    ASSERT_TRUE(e.ok()) << e.status();
    env = e->release();
    auto c = SshClients::Create();
    ASSERT_TRUE(c.ok()) << c.status();
    clients = c->release();
  }
  static void TearDownTestSuite() {
    delete clients;
    clients = nullptr;
    if (env != nullptr) {
      EXPECT_EQ(env->fixture().StopGateway(), 0) << env->fixture().GatewayLog();
    }
    delete env;
    env = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(env, nullptr);
    ASSERT_NE(clients, nullptr);
  }

  static std::string Hostname() {
    char buf[256] = {};
    gethostname(buf, sizeof(buf) - 1);
    return buf;
  }
};

TEST_P(GatewayClientsE2eTest, RunsACommandAndMovesAFile) {
  const SshClientKind kind = GetParam();
  const std::string name = SshClientName(kind);
  auto to = env->Endpoint("alice", "web01");
  ASSERT_TRUE(to.ok()) << to.status();

  // A command: its output and exit code come back.
  auto exec =
      clients->Exec(kind, *to, "echo row-" + name + "; hostname; exit 5");
  ASSERT_TRUE(exec.ok()) << exec.status();
  EXPECT_EQ(exec->exit_code, 5) << exec->Describe();
  EXPECT_EQ(exec->out, absl::StrCat("row-", name, "\n", Hostname(), "\n"))
      << exec->Describe();

  // A file there (SFTP) and back.
  const std::string local = env->File(name + "-local");
  ASSERT_TRUE(GatewayE2eEnv::RandomFile(local, 700 * 1024 + 17).ok());
  const std::string want = GatewayE2eEnv::Sha256(local);
  const std::string remote = env->File(name + "-on-target");
  auto put = clients->Put(kind, *to, local, remote);
  ASSERT_TRUE(put.ok()) << put.status();
  ASSERT_EQ(put->exit_code, 0) << put->Describe();
  EXPECT_EQ(GatewayE2eEnv::Sha256(remote), want);
  const std::string back = env->File(name + "-back");
  auto get = clients->Get(kind, *to, remote, back);
  ASSERT_TRUE(get.ok()) << get.status();
  ASSERT_EQ(get->exit_code, 0) << get->Describe();
  EXPECT_EQ(GatewayE2eEnv::Sha256(back), want);

  if (kind != SshClientKind::kPlink) return;
  // PuTTY's simple@putty.projects.tartarus.org global request is answered
  // as unsupported, quietly: no refusal line on every connection.
  EXPECT_FALSE(
      absl::StrContains(env->fixture().GatewayLog(), "global=\"simple@putty"))
      << env->fixture().GatewayLog();
  // pscp's legacy SCP protocol too (it runs `scp -t` / `scp -f` on web01).
  const std::string scp_remote = env->File("pscp-scp-on-target");
  auto scp_put = clients->Pscp(*to, "-scp", local, "127.0.0.1:" + scp_remote);
  ASSERT_TRUE(scp_put.ok()) << scp_put.status();
  ASSERT_EQ(scp_put->exit_code, 0) << scp_put->Describe();
  EXPECT_EQ(GatewayE2eEnv::Sha256(scp_remote), want);
  const std::string scp_back = env->File("pscp-scp-back");
  auto scp_get =
      clients->Pscp(*to, "-scp", "127.0.0.1:" + scp_remote, scp_back);
  ASSERT_TRUE(scp_get.ok()) << scp_get.status();
  ASSERT_EQ(scp_get->exit_code, 0) << scp_get->Describe();
  EXPECT_EQ(GatewayE2eEnv::Sha256(scp_back), want);
}

INSTANTIATE_TEST_SUITE_P(
    Row, GatewayClientsE2eTest, ::testing::ValuesIn(kAllSshClients),
    [](const ::testing::TestParamInfo<SshClientKind>& info) {
      // plink's row moves its files with pscp.
      return info.param == SshClientKind::kPlink ? std::string("plink_and_pscp")
                                                 : SshClientName(info.param);
    });

}  // namespace
}  // namespace sallyport::testing
