// Interactive and multi-channel sessions through the real
// `sallyport-gateway` with stock OpenSSH (issue 12's E2E rows), against a
// real sshd target with a host certificate from our host CA:
//  - a pty shell in a real terminal (tmux): type, read the screen, resize
//    and see the new size with `stty size` on the target, `exit`;
//  - stderr stays apart from stdout, both complete;
//  - a command ended by a signal is reported as exit-signal (stock ssh and
//    AsyncSSH, which names the signal);
//  - keepalives from ssh and from the target are answered;
//  - env: LANG and LC_* reach the target, other variables do not, even when
//    the target would accept them;
//  - host names in any case (LOGIN+WEB01);
//  - two channels on one connection: a second command through an
//    `ssh -o ControlMaster=auto` master while the master's own command
//    runs, over the same upstream connection.
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/gateway_e2e_env.h"
#include "tests/harness/ssh_clients.h"
#include "tests/harness/tmux_session.h"

namespace sallyport::testing {
namespace {

// On a loaded machine a login shell on the target can take many seconds
// (the target runs the real login shell with its rc files).
constexpr absl::Duration kScreenWait = absl::Seconds(120);

class GatewaySessionE2eTest : public GatewaySuite<GatewaySessionE2eTest> {
 public:  // read by GatewaySuite
  static BastionFixture::Options SuiteOptions() {
    BastionFixture::Options options = BastionFixture::DefaultOptions();
    // The target would take SP_* too: only the gateway keeps it out.
    options.sshd_config["AcceptEnv"] = "LANG LC_* SP_*";
    // The target probes the gateway's upstream client every second and
    // drops it after 8 unanswered probes.
    options.sshd_config["ClientAliveInterval"] = "1";
    options.sshd_config["ClientAliveCountMax"] = "8";
    // DEBUG2 logs each probe ("request keepalive@openssh.com").
    options.sshd_config["LogLevel"] = "DEBUG2";
    return options;
  }

 protected:
  static std::string Hostname() {
    char buf[256] = {};
    gethostname(buf, sizeof(buf) - 1);
    return buf;
  }

  // ssh through the gateway as alice to web01, running `command`.
  static RunResult AliceRuns(const std::string& command,
                             const std::vector<std::string>& options = {},
                             RunOptions run = {}) {
    std::vector<std::string> argv = env_->Ssh("alice", "web01", options);
    argv.push_back(command);
    return GatewayE2eEnv::Run(argv, std::move(run));
  }
};

TEST_F(GatewaySessionE2eTest, PtyShellInTmuxTypesReadsResizesAndExits) {
  TmuxSession::Options options;
  options.width = 120;
  options.height = 40;
  auto tmux = TmuxSession::Start(env_->Ssh("alice", "web01", {"-tt"}), options);
  ASSERT_TRUE(tmux.ok()) << tmux.status();
  TmuxSession& t = **tmux;
  // The typed line shows "$((6*7))"; only the shell's answer shows "42".
  ASSERT_TRUE(t.TypeLine("echo mark-$((6*7)) $(tty) $(hostname)").ok());
  auto screen = t.WaitForText(absl::StrCat("mark-42 /dev/pts/"), kScreenWait);
  ASSERT_TRUE(screen.ok()) << screen.status();
  EXPECT_TRUE(absl::StrContains(*screen, Hostname())) << *screen;
  // The pty the target allocated has the terminal's size (pty-req).
  ASSERT_TRUE(t.TypeLine("echo size-$(stty size | tr ' ' x)").ok());
  screen = t.WaitForText("size-40x120", kScreenWait);
  ASSERT_TRUE(screen.ok()) << screen.status();
  // A resize reaches the target (window-change).
  ASSERT_TRUE(t.Resize(100, 30).ok());
  ASSERT_TRUE(t.TypeLine("clear; echo resized-$(stty size | tr ' ' x)").ok());
  screen = t.WaitForText("resized-30x100", kScreenWait);
  ASSERT_TRUE(screen.ok()) << screen.status();
  // Keystrokes reach the shell's line editor: ^U erases the typed line.
  ASSERT_TRUE(t.Type("echo wrong").ok());
  ASSERT_TRUE(t.Press("C-u").ok());
  ASSERT_TRUE(t.TypeLine("echo right-$((2+3))").ok());
  screen = t.WaitForText("right-5", kScreenWait);
  ASSERT_TRUE(screen.ok()) << screen.status();
  EXPECT_FALSE(absl::StrContains(*screen, "\nwrong")) << *screen;
  ASSERT_TRUE(t.TypeLine("exit 4").ok());
  auto status = t.WaitForExit(kScreenWait);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 4);
}

TEST_F(GatewaySessionE2eTest, StderrStaysApartFromStdout) {
  // Enough of each to cross several channel windows' worth of packets.
  const RunResult r = AliceRuns(
      "seq 1 60000; seq 70001 90000 >&2; echo out-end; "
      "echo err-end >&2; exit 7");
  EXPECT_EQ(r.exit_code, 7) << r.Describe();
  std::string want_out, want_err;
  for (int i = 1; i <= 60000; ++i) absl::StrAppend(&want_out, i, "\n");
  for (int i = 70001; i <= 90000; ++i) absl::StrAppend(&want_err, i, "\n");
  absl::StrAppend(&want_out, "out-end\n");
  absl::StrAppend(&want_err, "err-end\n");
  EXPECT_TRUE(r.out == want_out)
      << "stdout: " << r.out.size() << " bytes, want " << want_out.size();
  // stderr may carry ssh's own messages before the command's.
  EXPECT_TRUE(absl::EndsWith(r.err, want_err))
      << "stderr: " << r.err.size() << " bytes, want " << want_err.size()
      << "\n"
      << r.err.substr(0, 400);
  EXPECT_FALSE(absl::StrContains(r.out, "70001")) << r.out.substr(0, 400);
}

// Host names are DNS names: LOGIN+WEB01 reaches the inventory's web01 (it
// was "not in the inventory").
TEST_F(GatewaySessionE2eTest, HostNamesIgnoreCase) {
  std::vector<std::string> argv = env_->Ssh("alice", "WEB01");
  argv.push_back("echo reached");
  const RunResult r = GatewayE2eEnv::Run(argv);
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "reached\n");
}

TEST_F(GatewaySessionE2eTest, ACommandEndedBySignalIsReportedAsExitSignal) {
  // Stock ssh: no exit status (255), and -v shows the exit-signal request.
  const RunResult r = AliceRuns("echo before; kill -TERM $$", {"-v"});
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_EQ(r.out, "before\n") << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "rtype exit-signal")) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.err, "rtype exit-status")) << r.Describe();

  // AsyncSSH names the signal the gateway passed on.
  auto clients = SshClients::Create();
  ASSERT_TRUE(clients.ok()) << clients.status();
  auto to = env_->Endpoint("alice", "web01");
  ASSERT_TRUE(to.ok()) << to.status();
  auto a = (*clients)->Exec(SshClientKind::kAsyncssh, *to,
                            "echo before; kill -TERM $$");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->exit_code, 255) << a->Describe();
  EXPECT_EQ(a->out, "before\n") << a->Describe();
  EXPECT_TRUE(absl::StrContains(a->err, "exit-signal TERM")) << a->Describe();
}

TEST_F(GatewaySessionE2eTest, OnlyLangAndLcVariablesReachTheTarget) {
  RunOptions run;
  run.env["LANG"] = "C.sp-lang";
  run.env["LC_TIME"] = "C.sp-time";
  run.env["SP_OTHER"] = "must-not-pass";
  const std::string print =
      "printf '%s|%s|%s\\n' \"$LANG\" \"$LC_TIME\" \"$SP_OTHER\"";
  const std::vector<std::string> send = {"-o", "SendEnv=LANG LC_TIME SP_OTHER"};
  const RunResult r = AliceRuns(print, send, run);
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "C.sp-lang|C.sp-time|\n") << r.Describe();
  // Straight to the target (no gateway) all three pass: the gateway is
  // what keeps SP_OTHER out.
  std::vector<std::string> direct = {"ssh", "-F", env_->SshConfig("alice")};
  direct.insert(direct.end(), send.begin(), send.end());
  direct.insert(direct.end(), {"web01", print});
  const RunResult d = GatewayE2eEnv::Run(direct, run);
  EXPECT_EQ(d.out, "C.sp-lang|C.sp-time|must-not-pass\n") << d.Describe();
}

TEST_F(GatewaySessionE2eTest, KeepalivesAreAnsweredOnBothSides) {
  // ssh probes the gateway every second and gives up after 8 unanswered
  // probes; the target probes the gateway's upstream the same way. A
  // quiet command that outlives both limits still ends normally.
  const RunResult r =
      AliceRuns("sleep 12; echo still-here",
                {"-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=8"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "still-here\n") << r.Describe();
  // The target did probe...
  const std::string log = env_->fixture().target("web01")->sshd->Log();
  EXPECT_TRUE(absl::StrContains(log, "request keepalive@openssh.com"))
      << log.substr(0, 4000);
  // ...and never dropped the gateway for not answering.
  EXPECT_FALSE(absl::StrContains(log, "Timeout, client not responding"));
}

TEST_F(GatewaySessionE2eTest, AReaderThatStopsStopsTheCommand) {
  // `ssh gw yes | head -1`: once head exits, ssh can write no more and
  // sends eow@openssh.com (only to a server whose version says OpenSSH);
  // the gateway passes it to the target, whose sshd closes the command's
  // output, so `yes` ends and so does ssh. Without it `yes` would stream
  // on until the timeout.
  std::vector<std::string> argv = env_->Ssh("alice", "web01");
  argv.push_back("yes");
  std::string line;
  for (const std::string& arg : argv)
    absl::StrAppend(&line, ShellQuote(arg), " ");
  RunOptions run;
  run.timeout = absl::Seconds(150);
  const RunResult r =
      GatewayE2eEnv::Shell(absl::StrCat(line, "| head -1"), run);
  EXPECT_FALSE(r.timed_out) << r.Describe() << env_->fixture().GatewayLog();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "y\n") << r.Describe();
}

TEST_F(GatewaySessionE2eTest, ControlMasterRunsASecondCommandOnOneConnection) {
  // %C: a short hash, so the socket path stays within sun_path.
  const std::vector<std::string> mux = {
      "-o", "ControlMaster=auto", "-o",
      absl::StrCat("ControlPath=", env_->File("cm-%C"))};
  const std::string go = env_->File("master-go");
  // The master's own channel runs until the test lets it finish.
  std::vector<std::string> master = env_->Ssh("alice", "web01", mux);
  master.push_back(absl::StrCat("echo first $SSH_CONNECTION; while [ ! -e ",
                                ShellQuote(go),
                                " ]; do sleep 0.2; done; echo master-done"));
  BackgroundProcess::Options po;
  po.log_path = env_->File("master.log");
  auto proc = BackgroundProcess::Start(master, po);
  ASSERT_TRUE(proc.ok()) << proc.status();
  std::string first;
  for (absl::Time end = absl::Now() + absl::Seconds(120); absl::Now() < end;
       absl::SleepFor(absl::Milliseconds(100))) {
    const std::string log = ReadFileOrEmpty(po.log_path);
    if (absl::StrContains(log, "\n")) {
      first = log;
      break;
    }
    if (!(*proc)->Running()) break;
  }
  ASSERT_TRUE(absl::StartsWith(first, "first "))
      << ReadFileOrEmpty(po.log_path);

  // The mux socket answers, and the second command goes through it while
  // the first channel still runs.
  std::vector<std::string> check = env_->Ssh("alice", "web01", mux);
  check.insert(check.begin() + 3, {"-O", "check"});
  const RunResult c = GatewayE2eEnv::Run(check);
  EXPECT_EQ(c.exit_code, 0) << c.Describe();
  EXPECT_TRUE(absl::StrContains(c.err, "Master running")) << c.Describe();
  // -o ControlMaster=no: fail rather than open a connection of its own.
  const std::vector<std::string> client = {
      "-o", "ControlMaster=no", "-o",
      absl::StrCat("ControlPath=", env_->File("cm-%C"))};
  const RunResult second = AliceRuns("echo second $SSH_CONNECTION", client);
  EXPECT_EQ(second.exit_code, 0)
      << second.Describe() << env_->fixture().GatewayLog();
  // SSH_CONNECTION on the target is the gateway's upstream connection: the
  // same for both channels (one upstream per downstream connection).
  const std::string first_line = first.substr(0, first.find('\n'));
  EXPECT_EQ(second.out, absl::StrCat("second", first_line.substr(5), "\n"))
      << "master: " << first_line;

  // The master closes a mux channel as soon as both directions are done,
  // without waiting for the exit status; the target sends its EOF when
  // the command closes its output, the exit status only when it ends.
  // The gateway must keep the user's channel until the host's channel is
  // closed, so that the exit status still reaches the master (it used to
  // answer the master's CLOSE at once: exit 255, about 1 run in 10 when
  // the target's EOF and exit status came apart by chance).
  const RunResult third =
      AliceRuns("echo third; exec >&- 2>&-; sleep 2; exit 7", client);
  EXPECT_EQ(third.exit_code, 7)
      << third.Describe() << env_->fixture().GatewayLog();
  EXPECT_EQ(third.out, "third\n") << third.Describe();

  ASSERT_TRUE(WriteFile(go, "").ok());
  for (absl::Time end = absl::Now() + absl::Seconds(120);
       (*proc)->Running() && absl::Now() < end;
       absl::SleepFor(absl::Milliseconds(100))) {
  }
  EXPECT_FALSE((*proc)->Running());
  const int status = (*proc)->Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(po.log_path), "master-done"))
      << ReadFileOrEmpty(po.log_path);
}

}  // namespace
}  // namespace sallyport::testing
