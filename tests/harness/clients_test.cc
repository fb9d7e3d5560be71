// Proves the client helpers against a real sshd target of BastionFixture
// (directly, no gateway): a pty shell in tmux (type, read the screen,
// resize, exit status), and PuTTY plink/pscp, paramiko and AsyncSSH each
// running a command and moving a file both ways with the certificate from
// `sp login` — and each refusing a server whose host key is not the
// expected one.
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/preauth_clients.h"
#include "tests/harness/ssh_clients.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/tmux_session.h"

namespace sallyport::testing {
namespace {

class ClientsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    BastionFixture::Options options = BastionFixture::DefaultOptions();
    // Pre-auth clients stay until the test closes them, however slow the
    // machine is.
    options.sshd_config["LoginGraceTime"] = "0";
    auto f = BastionFixture::Start(options);
    ASSERT_TRUE(f.ok()) << f.status();
    fixture_ = f->release();
    auto c = SshClients::Create();
    ASSERT_TRUE(c.ok()) << c.status();
    clients_ = c->release();
  }
  static void TearDownTestSuite() {
    delete clients_;
    delete fixture_;
  }
  void SetUp() override {
    ASSERT_NE(fixture_, nullptr);
    ASSERT_NE(clients_, nullptr);
    auto dir = TempDir::Create("clt");
    ASSERT_TRUE(dir.ok());
    tmp_ = std::make_unique<TempDir>(std::move(*dir));
  }

  // alice (role dev) straight to web01.
  static SshEndpoint AliceToWeb01() {
    auto alice = fixture_->user("alice");
    EXPECT_TRUE(alice.ok());
    BastionFixture::Target* web01 = fixture_->target("web01");
    SshEndpoint e;
    e.port = web01->sshd->port();
    e.user = fixture_->target_login();
    e.key = (*alice)->key;
    e.certificate = (*alice)->certificate;
    e.host_public_key = web01->host_key.public_line;
    return e;
  }

  static std::string Hostname() {
    char buf[256] = {};
    gethostname(buf, sizeof(buf) - 1);
    return buf;
  }

  std::string RandomFile(const std::string& name, size_t size) {
    std::string data(size, '\0');
    std::ifstream("/dev/urandom", std::ios::binary).read(data.data(), size);
    EXPECT_TRUE(WriteFile(tmp_->File(name), data).ok());
    return data;
  }

  // Every client fails to run a command at `to`, and nothing runs.
  static void ExpectEveryClientRefused(const SshEndpoint& to) {
    for (SshClientKind kind : kAllSshClients) {
      SCOPED_TRACE(SshClientName(kind));
      auto exec = clients_->Exec(kind, to, "echo must-not-run");
      ASSERT_TRUE(exec.ok()) << exec.status();
      EXPECT_NE(exec->exit_code, 0) << exec->Describe();
      EXPECT_FALSE(absl::StrContains(exec->out, "must-not-run"));
    }
  }

  static BastionFixture* fixture_;
  static SshClients* clients_;
  std::unique_ptr<TempDir> tmp_;
};

BastionFixture* ClientsTest::fixture_ = nullptr;
SshClients* ClientsTest::clients_ = nullptr;

TEST_F(ClientsTest, PtyShellInTmuxTypesReadsResizesAndExits) {
  auto ssh = fixture_->SshArgs("alice");
  ASSERT_TRUE(ssh.ok());
  ssh->insert(ssh->end(), {"-tt", "web01"});
  TmuxSession::Options options;
  options.width = 120;
  options.height = 40;
  auto tmux = TmuxSession::Start(*ssh, options);
  ASSERT_TRUE(tmux.ok()) << tmux.status();
  TmuxSession& t = **tmux;
  // The typed line shows "$((6*7))"; only the shell's answer shows "42".
  ASSERT_TRUE(t.TypeLine("echo mark-$((6*7)) $(tty)").ok());
  // Generous waits: on a loaded machine a keystroke's echo can take seconds.
  const absl::Duration wait = absl::Seconds(90);
  auto screen = t.WaitForText("mark-42 /dev/pts/", wait);
  ASSERT_TRUE(screen.ok()) << screen.status();
  ASSERT_TRUE(t.TypeLine("stty size").ok());
  screen = t.WaitForText("40 120", wait);
  ASSERT_TRUE(screen.ok()) << screen.status();
  ASSERT_TRUE(t.Resize(100, 30).ok());
  ASSERT_TRUE(t.TypeLine("clear; echo size-$(stty size | tr ' ' x)").ok());
  screen = t.WaitForText("size-30x100", wait);
  ASSERT_TRUE(screen.ok()) << screen.status();
  ASSERT_TRUE(t.TypeLine("exit 4").ok());
  auto status = t.WaitForExit(wait);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 4);
}

TEST_F(ClientsTest, EachClientRunsACommandAndMovesAFileBothWays) {
  const SshEndpoint to = AliceToWeb01();
  std::printf("%-10s %-6s %-6s %-6s\n", "client", "exec", "put", "get");
  for (SshClientKind kind : kAllSshClients) {
    const std::string name(SshClientName(kind));
    SCOPED_TRACE(name);
    auto exec = clients_->Exec(kind, to, "hostname; echo err >&2; exit 3");
    ASSERT_TRUE(exec.ok()) << exec.status();
    EXPECT_EQ(exec->exit_code, 3) << exec->Describe();
    EXPECT_EQ(exec->out, Hostname() + "\n") << exec->Describe();

    const std::string data = RandomFile(name + ".up", 1 << 20);
    const std::string remote = tmp_->File(name + ".remote");
    auto put = clients_->Put(kind, to, tmp_->File(name + ".up"), remote);
    ASSERT_TRUE(put.ok()) << put.status();
    EXPECT_EQ(put->exit_code, 0) << put->Describe();
    // The target is this machine: the file landed where we asked.
    EXPECT_TRUE(ReadFileOrEmpty(remote) == data) << name << " put";

    auto get = clients_->Get(kind, to, remote, tmp_->File(name + ".down"));
    ASSERT_TRUE(get.ok()) << get.status();
    EXPECT_EQ(get->exit_code, 0) << get->Describe();
    EXPECT_TRUE(ReadFileOrEmpty(tmp_->File(name + ".down")) == data)
        << name << " get";
    std::printf("%-10s %-6s %-6s %-6s\n", name.c_str(),
                exec->exit_code == 3 ? "ok" : "FAIL",
                put->exit_code == 0 ? "ok" : "FAIL",
                get->exit_code == 0 ? "ok" : "FAIL");
  }
}

TEST_F(ClientsTest, PscpScpModeCopiesToo) {
  const SshEndpoint to = AliceToWeb01();
  const std::string data = RandomFile("scp.up", 300000);
  auto r = clients_->Pscp(to, "-scp", tmp_->File("scp.up"),
                          "127.0.0.1:" + tmp_->File("scp.remote"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->Describe();
  EXPECT_TRUE(ReadFileOrEmpty(tmp_->File("scp.remote")) == data);
}

TEST_F(ClientsTest, EachClientRefusesAnUnexpectedHostKey) {
  SshEndpoint to = AliceToWeb01();
  // web02's key is a real host key, just not web01's.
  to.host_public_key = fixture_->target("web02")->host_key.public_line;
  ExpectEveryClientRefused(to);
}

TEST_F(ClientsTest, AsyncsshVerifiesTheHostCertificateWithCertAuthority) {
  SshEndpoint to = AliceToWeb01();
  to.host_public_key.clear();
  to.known_hosts = fixture_->client_known_hosts();
  auto ok = clients_->Exec(SshClientKind::kAsyncssh, to, "echo via-ca");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->exit_code, 0) << ok->Describe();
  EXPECT_EQ(ok->out, "via-ca\n");
  // The same file without the @cert-authority line trusts nothing.
  ASSERT_TRUE(WriteFile(tmp_->File("empty_known_hosts"), "\n").ok());
  to.known_hosts = tmp_->File("empty_known_hosts");
  auto refused = clients_->Exec(SshClientKind::kAsyncssh, to, "echo via-ca");
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->exit_code, 255) << refused->Describe();
  EXPECT_EQ(refused->out, "");
}

TEST_F(ClientsTest, ClientsAuthenticateOnlyWithTheCertificate) {
  // bob's certificate lacks the login: every client is refused by sshd.
  SshEndpoint to = AliceToWeb01();
  auto bob = fixture_->user("bob");
  ASSERT_TRUE(bob.ok());
  to.key = (*bob)->key;
  to.certificate = (*bob)->certificate;
  ExpectEveryClientRefused(to);
}

// The load tools of issue 12, against sshd: legitimate sessions and fresh
// handshakes get through while pre-auth clients hold connections (fewer
// than sshd's MaxStartups start of 100, so sshd drops none of them).
TEST_F(ClientsTest, SessionsPassWhilePreauthClientsHoldTheBanner) {
  const SshEndpoint to = AliceToWeb01();
  auto silent = PreauthClients::Open("127.0.0.1", to.port, 20,
                                     PreauthClients::Mode::kSilent);
  ASSERT_TRUE(silent.ok()) << silent.status();
  auto partial = PreauthClients::Open("127.0.0.1", to.port, 20,
                                      PreauthClients::Mode::kPartialBanner);
  ASSERT_TRUE(partial.ok()) << partial.status();

  auto load = clients_->ConcurrentSessions(to, 20, "head -c 1048576 /dev/zero",
                                           1048576);
  ASSERT_TRUE(load.ok()) << load.status();
  EXPECT_EQ(load->exit_code, 0) << load->Describe();
  EXPECT_TRUE(absl::StartsWith(
      load->out, "sessions 20 ok 20 failed 0 bytes 20971520 seconds"))
      << load->out;
  for (int i = 0; i < 3; ++i) {
    auto ssh = fixture_->SshArgs("alice");
    ASSERT_TRUE(ssh.ok());
    ssh->insert(ssh->end(), {"web01", "true"});
    RunOptions ro;
    ro.timeout = absl::Minutes(3);  // a loaded machine, not a refusal
    auto r = RunCommand(*ssh, ro);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->exit_code, 0) << r->Describe();
  }
  EXPECT_EQ((*silent)->StillOpen(), 20);
  EXPECT_EQ((*partial)->StillOpen(), 20);
}

// The load checker fails when the bytes are not what was expected.
TEST_F(ClientsTest, ConcurrentSessionsReportShortOutputAsFailure) {
  auto load = clients_->ConcurrentSessions(AliceToWeb01(), 2,
                                           "head -c 1000 /dev/zero", 1001);
  ASSERT_TRUE(load.ok()) << load.status();
  EXPECT_EQ(load->exit_code, 1) << load->Describe();
  EXPECT_TRUE(absl::StartsWith(load->out, "sessions 2 ok 0 failed 2 bytes 0"))
      << load->out;
  // The same with every command waiting until all are connected.
  load = clients_->ConcurrentSessions(AliceToWeb01(), 2,
                                      "head -c 1000 /dev/zero", 1001, 1,
                                      /*barrier=*/true);
  ASSERT_TRUE(load.ok()) << load.status();
  EXPECT_EQ(load->exit_code, 1) << load->Describe();
  EXPECT_TRUE(absl::StartsWith(
      load->out, "sessions 2 ok 0 failed 2 bytes 0 connect_seconds "))
      << load->out;
}

}  // namespace
}  // namespace sallyport::testing
