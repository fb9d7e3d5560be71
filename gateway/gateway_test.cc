// The gateway end to end in one process: a real CA (ca/gateway_test_util,
// SQLite), the real GatewayServer on loopback, a real sshd target whose
// host certificate comes from our host CA and which trusts our user CA,
// and the real OpenSSH `ssh` client logging in with a certificate from
// the CA's Login. How sessions end (revocation, drain, expiry, idle,
// recording failure) is in session_end_test.cc.
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gateway/gateway_test_fixture.h"
#include "gateway/spool_tap.h"
#include "gtest/gtest.h"
#include "tests/harness/subprocess.h"

namespace sallyport::gateway {
namespace {

using testing::RunCommand;
using testing::RunResult;

TEST_F(GatewayTest, ExecReturnsTheOutputAndTheExitCodeAndIsRecorded) {
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  RunResult r = Ssh(login_ + "+web01", "hostname; echo oops >&2; exit 3");
  EXPECT_EQ(r.exit_code, 3) << r.Describe() << sshd_->Log();
  EXPECT_EQ(r.out, std::string(host) + "\n");
  EXPECT_TRUE(absl::StrContains(r.err, "oops")) << r.err;
  // The tap saw the output, stderr, the command and the exit status.
  EXPECT_EQ(recorder_.DataFor("web01", Direction::kOutput),
            std::string(host) + "\n");
  EXPECT_EQ(recorder_.DataFor("web01", Direction::kOutput, 1), "oops\n");
  bool saw_exec = false, saw_exit = false;
  for (const auto& e : recorder_.events()) {
    saw_exec |= e.kind == "request" && e.bytes == "exec" &&
                e.summary == "hostname; echo oops >&2; exit 3";
    saw_exit |=
        e.kind == "request" && e.bytes == "exit-status" && e.summary == "3";
  }
  EXPECT_TRUE(saw_exec);
  EXPECT_TRUE(saw_exit);
  ASSERT_EQ(recorder_.channels().size(), 1u);
  EXPECT_EQ(recorder_.channels()[0].info.user, "alice");
  EXPECT_EQ(recorder_.channels()[0].info.login, login_);
  EXPECT_TRUE(AllChannelsClosed());
  // The target saw the session certificate, not the user's.
  EXPECT_TRUE(absl::StrContains(sshd_->Log(), "alice@s")) << sshd_->Log();
  // The user ended it: a normal end.
  EXPECT_TRUE(SessionEndedAs("ok"));
}

// session.start and the log's auth line name the CA key that signed the
// user's certificate, as the CA's cert.issued event of that certificate
// does: both were empty (ReportAuth left the fingerprint out), so an
// auditor could not tell which CA key let a user in after a rotation.
TEST_F(GatewayTest, TheSessionStartNamesTheCaKeyOfTheUsersCertificate) {
  RunResult r = Ssh(login_ + "+web01", "true");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  absl::StatusOr<ssh::cert::Certificate> cert =
      ssh::cert::LoadCertificate(cert_path_);
  ASSERT_TRUE(cert.ok()) << cert.status();
  std::string issued_by;
  for (const std::string& p : AuditPayloads("cert.issued")) {
    if (absl::StrContains(p, absl::StrCat("\"serial\":", cert->serial, ","))) {
      issued_by = PayloadText(p, "ca_fingerprint");
    }
  }
  ASSERT_TRUE(absl::StartsWith(issued_by, "SHA256:")) << issued_by;
  EXPECT_EQ(issued_by, cert->CaFingerprint());
  const std::vector<std::string> starts = AuditPayloads("session.start");
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(PayloadText(starts[0], "ca_fingerprint"), issued_by) << starts[0];
  const std::string log = GatewayLog();
  const size_t auth = log.find("event=auth outcome=success");
  ASSERT_NE(auth, std::string::npos) << log;
  EXPECT_TRUE(absl::StrContains(log.substr(auth, log.find('\n', auth) - auth),
                                absl::StrCat("ca=\"", issued_by, "\"")))
      << log;
}

// A role with `record: never` (issue 11): the session works, its channels
// reach no recorder, and the log still has the session and its channel.
// Once a role that allows the same host says `always`, it is recorded
// again (recording wins when roles disagree).
TEST_F(GatewayTest, ARecordNeverRoleRecordsNothing) {
  absl::StatusOr<storage::Role> ops = env_->store().GetRole("ops");
  ASSERT_TRUE(ops.ok()) << ops.status();
  ops->record = storage::RecordMode::kNever;
  ASSERT_TRUE(env_->store().UpdateRole(*ops).ok());
  testing::RunResult r = Ssh(login_ + "+web01", "echo unrecorded-$((6*7))");
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << GatewayLog();
  EXPECT_EQ(r.out, "unrecorded-42\n");
  EXPECT_TRUE(recorder_.channels().empty());
  EXPECT_TRUE(recorder_.events().empty());
  const std::string log = GatewayLog();
  EXPECT_TRUE(absl::StrContains(log, "record=never")) << log;
  EXPECT_TRUE(absl::StrContains(log, "event=channel.open")) << log;

  storage::Role also = *ops;
  also.name = "ops-recorded";
  also.record = storage::RecordMode::kAlways;
  ASSERT_TRUE(env_->store().CreateRole(also).ok());
  ASSERT_TRUE(env_->store().BindRole("alice", "ops-recorded").ok());
  r = Ssh(login_ + "+web01", "echo recorded-$((6*7))");
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << GatewayLog();
  EXPECT_EQ(recorder_.DataFor("web01", Direction::kOutput), "recorded-42\n");
  EXPECT_EQ(recorder_.channels().size(), 1u);
}

// A request from the host queued behind output the user has not read yet
// costs no output. sshd sends exit-status as soon as the command exits,
// before the output still in its buffers (here a background `head` keeps
// writing): the output fills the user's window and the gateway's queue
// (as much as the host's window allows), exit-status waits in that full
// queue, then the user reads everything, slowly (ssh opens its window in
// steps, so the queue never empties). The queue once had room for the
// window only: the 25-byte request left the host's next output 25 bytes
// short, the bridge aborted "not keeping up" and the user lost the end of
// the output (gateway_load_e2e_test, 2 of 200 sessions).
TEST_F(GatewayTest, AHostRequestQueuedBehindUnreadOutputLosesNoOutput) {
  constexpr int kBytes = 6 << 20;  // more than both windows together
  // The shell exits 2 s after it started (saying so in a file first); the
  // client's output is read from 2 s after that on, at about 3 MB/s. Not
  // a fixed time after ssh starts: on a loaded machine the connection
  // alone can take seconds, and the reader would empty the windows before
  // the shell exits.
  const std::string exited = dir_->File("shell-exits");
  const std::string command =
      absl::StrCat("head -c ", kBytes, " /dev/zero & sleep 2; : > ",
                   testing::ShellJoin({exited}), "; exit 0");
  const std::string reader = absl::StrCat(
      "import os, sys, time\n"
      "deadline = time.monotonic() + 120\n"
      "while not os.path.exists('",
      exited,  // a TempDir path: no quote in it
      "') and time.monotonic() < deadline:\n"
      "    time.sleep(0.05)\n"
      "time.sleep(2)\n"
      "n = 0\n"
      "while b := sys.stdin.buffer.raw.read(65536):\n"
      "    n += len(b)\n"
      "    time.sleep(0.02)\n"
      "print(n)\n");
  absl::StatusOr<RunResult> run = RunCommand(
      {"/bin/bash", "-c",
       absl::StrCat("set -o pipefail; ",
                    testing::ShellJoin(SshArgs(login_ + "+web01", command)),
                    " < /dev/null | ",
                    testing::ShellJoin({"python3", "-c", reader}))});
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 0) << run->Describe() << GatewayLog();
  EXPECT_EQ(run->out, absl::StrCat(kBytes, "\n"));
  // The case happened: output went through the gateway after exit-status.
  const std::vector<InMemoryRecorder::Event> events = recorder_.events();
  size_t exit_at = events.size(), last_output_at = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    const InMemoryRecorder::Event& e = events[i];
    if (e.kind == "request" && e.bytes == "exit-status") exit_at = i;
    if (e.kind == "data" && e.direction == Direction::kOutput) {
      last_output_at = i;
    }
  }
  EXPECT_LT(exit_at, last_output_at);
  EXPECT_FALSE(absl::StrContains(GatewayLog(), "not keeping up"))
      << GatewayLog();
}

// LOGIN+ADDRESS: a host named by an inventory address only it has is
// that host, and the session goes by its name (recording, decisions).
// web03 is web01's sshd at "localhost", pinned to its key.
TEST_F(GatewayTest, ASessionNamedByAnAddressGoesByTheHostsName) {
  storage::Host web03;
  web03.name = "web03";
  web03.address = "localhost";
  web03.port = sshd_->port();
  web03.trust = storage::HostTrust::kPinnedKey;
  web03.host_key = std::string(absl::StripTrailingAsciiWhitespace(
      testing::ReadFileOrEmpty(dir_->File("web01_host.pub"))));
  ASSERT_TRUE(env_->store().CreateHost(web03).ok());
  testing::RunResult r = Ssh(login_ + "+localhost", "echo by-address-$((6*7))");
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << GatewayLog();
  EXPECT_EQ(r.out, "by-address-42\n");
  EXPECT_EQ(recorder_.DataFor("web03", Direction::kOutput), "by-address-42\n");
  ASSERT_EQ(recorder_.channels().size(), 1u);
  EXPECT_EQ(recorder_.channels()[0].info.host, "web03");
}

TEST_F(GatewayTest, StdinReachesTheHost) {
  std::vector<std::string> args = testing::SshClientArgs(
      server_->local_endpoint().port(), known_hosts_, key_path_, cert_path_);
  args.insert(args.end(), {"-l", login_ + "+web01", "127.0.0.1", "wc -c"});
  testing::RunOptions o;
  o.stdin_data = std::string(100000, 'x');
  auto r = RunCommand(args, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0) << r->Describe();
  EXPECT_EQ(r->out, "100000\n");
  EXPECT_EQ(recorder_.DataFor("web01", Direction::kInput).size(), 100000u);
}

TEST_F(GatewayTest, APlainKeyIsRefusedWithTheSpLoginBanner) {
  // The same key without its certificate next to it (ssh would load
  // KEY-cert.pub by itself).
  auto text = base::ReadTextFile(key_path_);
  ASSERT_TRUE(text.ok());
  key_path_ = dir_->File("plain");
  ASSERT_TRUE(testing::WriteFile(key_path_, *text, 0600).ok());
  RunResult r = Ssh(login_ + "+web01", "true", {}, /*with_certificate=*/false);
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "log in with `sp login` first"))
      << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "Permission denied")) << r.err;
}

// An agent's keys are offered before the certificate: the banner sent at
// the plain key reaches the user on a connection that then logs in, so it
// must not read as a refusal of that login.
TEST_F(GatewayTest, AnAgentsPlainKeyBeforeTheCertificateIsNotAContradiction) {
  // `ssh-add KEY` adds the plain key, then KEY-cert.pub beside it: ssh
  // offers them in that order.
  std::vector<std::string> args;
  const std::vector<std::string> all =
      SshArgs(login_ + "+web01", "echo in", {}, /*with_certificate=*/false);
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i] == "-i") {
      ++i;  // the key comes from the agent only
    } else if (all[i] == "IdentitiesOnly=yes") {
      args.push_back("IdentitiesOnly=no");
    } else if (all[i] == "IdentityAgent=none") {
      args.push_back("IdentityAgent=SSH_AUTH_SOCK");
    } else {
      args.push_back(all[i]);
    }
  }
  std::vector<std::string> argv = {
      "ssh-agent", "sh", "-c", "ssh-add -q \"$0\" && exec \"$@\"", key_path_};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<RunResult> r = testing::RunCommand(argv);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->Describe();
  EXPECT_EQ(r->out, "in\n");
  // The plain key was offered (and refused) first.
  EXPECT_TRUE(absl::StrContains(GatewayLog(), "reason=\"plain-key\""))
      << GatewayLog();
  EXPECT_TRUE(absl::StrContains(
      r->err,
      "if ssh has no Sallyport certificate to offer, log in with "
      "`sp login` first"))
      << r->err;
}

TEST_F(GatewayTest, ALoginNotInThePrincipalsIsRefused) {
  RunResult r = Ssh("nobody+web01", "true");
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "certificate refused")) << r.err;
  EXPECT_TRUE(recorder_.channels().empty());
}

TEST_F(GatewayTest, AHostNotInTheInventoryIsRefused) {
  RunResult r = Ssh(login_ + "+db99", "true");
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "db99")) << r.err;
  EXPECT_TRUE(recorder_.channels().empty());
}

// ssh offers its certificate, then the plain key (and an agent's keys):
// a refusal is shown once, not once per key (it was printed twice, four
// times with an agent).
TEST_F(GatewayTest, ARefusalIsShownOnceHoweverManyKeysSshTries) {
  RunResult r = Ssh(login_ + "+web01:2201", "true");
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  size_t shown = 0;
  for (size_t at = r.err.find("invalid host name"); at != std::string::npos;
       at = r.err.find("invalid host name", at + 1)) {
    ++shown;
  }
  EXPECT_EQ(shown, 1u) << r.err;
}

TEST_F(GatewayTest, BadTargetNamesAreRefusedBeforeAnyLookup) {
  // OpenSSH's client refuses such user names itself, so our own client
  // sends them, with alice's valid certificate.
  for (const std::string& host :
       {std::string("a;id"), std::string("$(x)"), std::string("web01\nid"),
        std::string("web01%00"), std::string(240, 'a')}) {
    LoginResult r = LoginWithOurClient(login_ + "+" + host);
    EXPECT_FALSE(r.authenticated) << host;
    EXPECT_TRUE(absl::StrContains(r.banner, "invalid host name")) << r.banner;
    EXPECT_TRUE(absl::StrContains(r.banner, "LOGIN+HOST")) << r.banner;
  }
  // 300 bytes do not even fit the SSH layer's user name limit.
  RunResult r = Ssh(login_ + "+" + std::string(300, 'a'), "true");
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  // Nothing reached the CA, and the raw names never reached the log.
  EXPECT_TRUE(recorder_.channels().empty());
  const std::string log = GatewayLog();
  EXPECT_FALSE(absl::StrContains(log, "$(x)")) << log;
  EXPECT_FALSE(absl::StrContains(log, "a;id")) << log;
  EXPECT_FALSE(absl::StrContains(log, "web01\nid")) << log;
  EXPECT_FALSE(absl::StrContains(log, "event=auth.ok")) << log;
  // The good name still works with the same client.
  EXPECT_TRUE(LoginWithOurClient(login_ + "+web01").authenticated);
}

TEST_F(GatewayTest, AHostKeyMismatchRefusesTheSessionAndSaysSo) {
  RunResult r = Ssh(login_ + "+web02", "echo should-not-run");
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "should-not-run"));
  EXPECT_TRUE(absl::StrContains(r.err, "web02")) << r.err;
  EXPECT_TRUE(absl::StrContains(GatewayLog(), "event=upstream.failed"))
      << GatewayLog();
}

TEST_F(GatewayTest, OnlyTheSftpSubsystemIsAllowed) {
  RunResult r = Ssh(login_ + "+web01", "backdoor", {"-s"});
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  // The user sees why (the refusal ends the channel like a command that
  // fails).
  EXPECT_TRUE(absl::StrContains(r.err, "not allowed (only sftp)")) << r.err;
  EXPECT_TRUE(absl::StrContains(GatewayLog(), "not allowed (only sftp)"))
      << GatewayLog();
}

TEST_F(GatewayTest, PortForwardingNeedsTheCertificatesPermission) {
  RunResult r = Ssh(login_ + "+web01", "",
                    {"-W", absl::StrCat("127.0.0.1:", sshd_->port())});
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "port forwarding is not permitted"))
      << r.err;
}

class LimitsTest : public GatewayTest {
 protected:
  void SetUp() override {
    extra_yaml_ = "limits:\n  max_sessions_per_user: 1\n";
    GatewayTest::SetUp();
  }
};

TEST_F(LimitsTest, MaxSessionsPerUserRefusesTheNextOneUntilOneEnds) {
  RunResult first;
  std::thread client =
      StartLongSession("echo started; sleep 6; echo done", "started", &first);
  RunResult second = Ssh(login_ + "+web01", "echo second");
  EXPECT_EQ(second.exit_code, 255) << second.Describe();
  // One session, not "1 sessions", and the limit that refused it.
  EXPECT_TRUE(absl::StrContains(
      second.err,
      "sallyport: you already have 1 session open through this gateway "
      "(limits.max_sessions_per_user is 1)."))
      << second.err;
  client.join();
  // The established session was not disturbed, and its place is free.
  EXPECT_EQ(first.exit_code, 0) << first.Describe();
  EXPECT_EQ(first.out, "started\ndone\n");
  RunResult third = Ssh(login_ + "+web01", "echo third");
  EXPECT_EQ(third.exit_code, 0) << third.Describe();
}

// sshd with MaxSessions 0 refuses every session channel ("open failed"):
// the user is told it is the host that refused, in its own words.
class HostRefusesSessionsTest : public GatewayTest {
 protected:
  void SetUp() override {
    extra_sshd_config_ = {{"MaxSessions", "0"}};
    GatewayTest::SetUp();
  }
};

TEST_F(HostRefusesSessionsTest, TheUserIsToldTheHostRefusedTheChannel) {
  RunResult r = Ssh(login_ + "+web01", "echo should-not-run");
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "should-not-run")) << r.Describe();
  EXPECT_TRUE(
      absl::StrContains(r.err, "web01 refused the channel: open failed"))
      << r.Describe();
}

// A connection allowed more than the SSH library's default of 64 channels
// (limits.max_channels_per_connection 80) opens them all on the host too:
// 70 session channels opened at once, before the connection to the host is
// ready, wait for it and are then all opened there. The host's side kept
// the default 64, so the 65th was refused and the refusal freed the channel
// under the loop opening the waiting ones (a use-after-free).
class ManyChannelsTest : public GatewayTest {
 protected:
  void SetUp() override {
    extra_yaml_ = "limits:\n  max_channels_per_connection: 80\n";
    extra_sshd_config_ = {{"MaxSessions", "100"}};
    GatewayTest::SetUp();
  }
};

// Our client opening `n` session channels at once, noting each answer;
// disconnects once all are answered.
class ManySessions : public ssh::session::SessionHandler {
 public:
  explicit ManySessions(size_t n) : n_(n) {}
  size_t opened = 0;
  std::vector<std::string> refusals;

  void OnAuthenticated(ssh::session::Session& s) override {
    session_ = &s;
    for (size_t i = 0; i < n_; ++i) {
      if (!s.OpenChannel("session").ok()) {
        ADD_FAILURE() << "our client cannot open channel " << i;
        s.Disconnect("cannot open");
        return;
      }
    }
  }
  void OnChannelOpenResult(ssh::session::Channel,
                           const ssh::connection::OpenResult& r) override {
    if (r.ok()) {
      ++opened;
    } else {
      refusals.push_back(r.description);
    }
    if (opened + refusals.size() == n_) session_->Disconnect("done");
  }
  void OnData(ssh::session::Channel ch, uint32_t,
              ssh::wire::Bytes data) override {
    ch.Consume(data.size());
  }

 private:
  size_t n_;
  ssh::session::Session* session_ = nullptr;
};

TEST_F(ManyChannelsTest, MoreThan64ChannelsOpenOnTheHostToo) {
  ManySessions client(70);
  LoginResult run = RunOurClient(login_ + "+web01", client, absl::Seconds(60),
                                 /*max_channels=*/100);
  ASSERT_TRUE(run.authenticated) << run.banner;
  EXPECT_EQ(client.opened, 70u) << absl::StrJoin(client.refusals, "\n");
  EXPECT_TRUE(client.refusals.empty()) << absl::StrJoin(client.refusals, "\n");
}

// The gateway refuses the channel itself (its spool cannot be used): the
// user's connection then ends while the upstream may still be connecting.
// That is not a failure of the target: no upstream.connect failure (nor
// upstream.failed audit event) is reported, which read like an
// unreachable host in the logs.
class RefusedChannelTest : public GatewayTest {
 protected:
  RefusedChannelTest() { recorder_override_ = &refusing_; }
  RefusingRecorder refusing_{"the recording spool cannot be used (test)"};
};

TEST_F(RefusedChannelTest, IsNotReportedAsAnUpstreamFailure) {
  for (int i = 0; i < 3; ++i) {
    RunResult r = Ssh(login_ + "+web01", "true");
    EXPECT_EQ(r.exit_code, 255) << r.Describe();
    EXPECT_TRUE(absl::StrContains(r.err, "the session cannot be recorded"))
        << r.err;
  }
  const absl::Time limit = absl::Now() + absl::Seconds(10);
  while (absl::Now() < limit) {
    std::string log = GatewayLog();
    size_t closes = 0;
    for (size_t at = log.find("event=connection.close");
         at != std::string::npos;
         at = log.find("event=connection.close", at + 1)) {
      ++closes;
    }
    if (closes >= 3) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_FALSE(
      absl::StrContains(GatewayLog(), "event=upstream.connect outcome=failure"))
      << GatewayLog();
}

}  // namespace
}  // namespace sallyport::gateway
