// Issue 12 refusals when the CA is unreachable, with the real binaries
// (BastionFixture): the CA process is stopped while the gateway runs, and
// the gateway is started while the CA is down.
//  - A new connection is refused with a message that says the CA is
//    unreachable (not a dropped connection).
//  - Once the revocation stream has been down longer than
//    revocation_grace, the gateway fails closed: even a new channel on an
//    established (multiplexed) connection is refused, although its kind was
//    authorized and cached before.
//    The established connection itself lives on (revocation_fail_mode
//    refuse_new, the default)...
//  - ...unless revocation_fail_mode is end_sessions: then it ends, with a
//    message that says why.
//  - A certificate revoked while the revocation stream was down (in the
//    CA's store, the CA stopped) ends the session once the gateway
//    catches up.
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/gateway_refusal_util.h"
#include "tests/harness/net_util.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

// Long enough for one ssh connection on a loaded machine to finish inside
// it, short enough to wait out.
constexpr absl::Duration kGrace = absl::Seconds(20);

class GatewayCaDownE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto f = BastionFixture::Start();
    ASSERT_TRUE(f.ok()) << f.status();
    fixture_ = std::move(*f);
    fixture_->AddGatewayConfigEdit([grace = grace_](config::GatewayConfig& c) {
      c.mutable_revocation_grace()->set_seconds(absl::ToInt64Seconds(grace));
    });
    absl::Status st =
        fixture_->StartGateway(RunfilePath("gateway/sallyport-gateway"));
    ASSERT_TRUE(st.ok()) << st << "\n" << fixture_->GatewayLog();
    auto dir = TempDir::Create("gwcadown");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<TempDir>(std::move(*dir));
  }
  void TearDown() override {
    if (HasFailure()) {
      std::fprintf(stderr, "--- gateway log ---\n%s\n",
                   fixture_->GatewayLog().c_str());
    }
  }

  // `ssh -S control ... COMMAND`: a channel on the master's connection.
  RunResult ViaMaster(const std::string& control, const std::string& command) {
    return ViaGateway(*fixture_, "olivia", "web01", command,
                      {"-S", control, "-o", "ControlMaster=no"});
  }

  // olivia's multiplexed connection (`ssh -M -S control -N`, its messages
  // in `log`), once its control socket is there; null (with a failure)
  // otherwise.
  std::unique_ptr<BackgroundProcess> StartMaster(const std::string& control,
                                                 const std::string& log) {
    auto args = fixture_->SshArgs("olivia");
    EXPECT_TRUE(args.ok()) << args.status();
    if (!args.ok()) return nullptr;
    args->insert(args->end(),
                 {"-o", "LogLevel=INFO", "-M", "-S", control, "-o",
                  "ControlPersist=no", "-N", "-l",
                  absl::StrCat(fixture_->target_login(), "+web01"), "gateway"});
    BackgroundProcess::Options po;
    po.log_path = log;
    auto master = BackgroundProcess::Start(*args, po);
    EXPECT_TRUE(master.ok()) << master.status();
    if (!master.ok()) return nullptr;
    const absl::Time limit = absl::Now() + absl::Seconds(60);
    while (access(control.c_str(), F_OK) != 0 && absl::Now() < limit &&
           (*master)->Running()) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    EXPECT_EQ(access(control.c_str(), F_OK), 0) << ReadFileOrEmpty(log);
    if (access(control.c_str(), F_OK) != 0) return nullptr;
    return std::move(*master);
  }

  // StartMaster, then `echo one` through it; null (with a failure) when
  // either fails.
  std::unique_ptr<BackgroundProcess> StartMasterAndRunOne(
      const std::string& control, const std::string& log) {
    auto master = StartMaster(control, log);
    if (master == nullptr) return nullptr;
    const RunResult r = ViaMaster(control, "echo one");
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    EXPECT_EQ(r.out, "one\n") << r.Describe();
    if (r.exit_code != 0 || r.out != "one\n") return nullptr;
    return master;
  }

  // revocation_fail_mode: end_sessions, by SIGHUP; waits for the reload.
  void SwitchToEndSessions() {
    absl::Status st = fixture_->ReloadGateway(
        [](config::GatewayConfig* c) {
          c->set_revocation_fail_mode("end_sessions");
        },
        "revocation_fail_mode is now end_sessions");
    ASSERT_TRUE(st.ok()) << st;
  }

  // Waits until `p` has exited or `limit` passed.
  static void WaitWhileRunning(BackgroundProcess& p, absl::Time limit) {
    while (p.Running() && absl::Now() < limit) {
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  absl::Duration grace_ = kGrace;  // set before SetUp
  std::unique_ptr<BastionFixture> fixture_;
  std::unique_ptr<TempDir> dir_;
};

TEST_F(GatewayCaDownE2eTest, NewSessionsThenNewChannelsAreRefused) {
  // olivia's multiplexed connection; one command runs through it (and
  // `exec` is authorized and cached for the connection).
  const std::string control = dir_->File("ctl");
  auto master = StartMasterAndRunOne(control, dir_->File("master.log"));
  ASSERT_NE(master, nullptr);

  // The CA goes away.
  fixture_->ca_process().Stop();
  const absl::Time down = absl::Now();

  // Inside revocation_grace: a new connection is refused, and says why.
  RunResult r = ViaGateway(*fixture_, "olivia", "web01", "echo should-not-run");
  EXPECT_LT(absl::Now() - down, kGrace) << "too slow to test inside the grace";
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "should-not-run"));
  EXPECT_TRUE(absl::StrContains(r.err, "the Sallyport CA is unreachable"))
      << r.err;
  // A ProxyJump's channel (direct-tcpip) is refused saying the same, not
  // with gRPC's connection error. (LogLevel INFO, a user's default, for
  // the jump's `ssh -W` too: it prints a refused open at INFO.)
  auto olivia = fixture_->user("olivia");
  ASSERT_TRUE(olivia.ok()) << olivia.status();
  const std::string config = dir_->File("olivia_ssh_config");
  ASSERT_TRUE(
      WriteFile(config, absl::StrCat("Host *\n  LogLevel INFO\n", "Include ",
                                     (*olivia)->ssh_config, "\n"))
          .ok());
  auto j = RunCommand({"ssh", "-F", config, "-J", "gateway", "-o",
                       "HostName=web01", "web01", "echo should-not-run"});
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_LT(absl::Now() - down, kGrace) << "too slow to test inside the grace";
  EXPECT_EQ(j->exit_code, 255) << j->Describe();
  EXPECT_FALSE(absl::StrContains(j->out, "should-not-run"));
  EXPECT_TRUE(absl::StrContains(
      j->err,
      "open failed: administratively prohibited: the Sallyport CA is "
      "unreachable"))
      << j->Describe();
  EXPECT_FALSE(absl::StrContains(j->err, "connect to all addresses"))
      << j->Describe();

  // Past it: not even a new channel on the established connection.
  absl::SleepFor(down + kGrace + absl::Seconds(3) - absl::Now());
  // (The master does not pass the gateway's reason on to the mux client;
  // the gateway logs it.)
  r = ViaMaster(control, "echo two");
  EXPECT_TRUE(master->Running()) << "refuse_new ends no established session";
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "two")) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "Session open refused by peer"))
      << r.err;
  EXPECT_TRUE(absl::StrContains(fixture_->GatewayLog(),
                                "the revocation list is not current"))
      << fixture_->GatewayLog();
  // Nor a new connection, and the user is told that the gateway cannot
  // check revocations (not that their certificate is revoked, nor to log
  // in again, which would not help).
  r = ViaGateway(*fixture_, "olivia", "web01", "echo should-not-run");
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_TRUE(absl::StrContains(
      r.err, "the gateway cannot check certificate revocations right now"))
      << r.err;
  EXPECT_FALSE(absl::StrContains(r.err, "sp login")) << r.err;
  // Counted and logged as the CA being away: nothing was revoked here.
  EXPECT_FALSE(absl::StrContains(fixture_->GatewayLog(), "reason=\"revoked\""))
      << fixture_->GatewayLog();

  // Switched to end_sessions now, while the list is stale: the session
  // ends at once (the outage's one staleness report has passed).
  SwitchToEndSessions();
  WaitWhileRunning(*master, absl::Now() + absl::Seconds(10));
  EXPECT_FALSE(master->Running()) << "end_sessions by SIGHUP did not end it";
}

TEST_F(GatewayCaDownE2eTest, AGatewayThatNeverReachedTheCaSaysSo) {
  // Stop the gateway and the CA, then serve the same config again: the
  // gateway starts without the CA's keys.
  ASSERT_EQ(fixture_->StopGateway(), 0) << fixture_->GatewayLog();
  fixture_->ca_process().Stop();
  absl::StatusOr<uint16_t> port = FreeLoopbackPort();
  ASSERT_TRUE(port.ok());
  BackgroundProcess::Options po;
  po.log_path = dir_->File("gateway2.log");
  auto gateway = BackgroundProcess::Start(
      {RunfilePath("gateway/sallyport-gateway"), "serve", "--config",
       fixture_->gateway_state_dir() + "/gateway.yaml", "--listen",
       absl::StrCat("127.0.0.1:", *port)},
      po);
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  ASSERT_TRUE(WaitForTcpListener("127.0.0.1", *port, absl::Seconds(30)).ok())
      << ReadFileOrEmpty(po.log_path);
  const RunResult r =
      ViaGateway(*fixture_, "olivia", "web01", "echo should-not-run",
                 {"-p", absl::StrCat(*port)});
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "should-not-run"));
  EXPECT_TRUE(absl::StrContains(r.err, "the Sallyport CA is unreachable"))
      << r.Describe() << ReadFileOrEmpty(po.log_path);
  EXPECT_TRUE((*gateway)->Running()) << ReadFileOrEmpty(po.log_path);
}

// revocation_fail_mode: end_sessions (set by SIGHUP here). A certificate
// revoked while the CA is away could not be learnt of, so once the
// revocation list is stale the established sessions end too, with the
// reason.
TEST_F(GatewayCaDownE2eTest, EndSessionsModeEndsTheSessionOnceTheGraceRunsOut) {
  SwitchToEndSessions();
  if (HasFatalFailure()) return;

  const std::string control = dir_->File("ctl");
  const std::string master_log = dir_->File("master.log");
  auto master = StartMasterAndRunOne(control, master_log);
  ASSERT_NE(master, nullptr);

  // (Taken before Stop returns: the CA ends the stream as it shuts down.)
  const absl::Time down = absl::Now();
  fixture_->ca_process().Stop();
  // Inside the grace the session stays.
  absl::SleepFor(kGrace / 2);
  EXPECT_TRUE(master->Running()) << ReadFileOrEmpty(master_log);
  // Past it (and the next reconnect attempt, at most 10 s apart), it ends.
  WaitWhileRunning(*master, down + kGrace + absl::Seconds(15));
  EXPECT_FALSE(master->Running()) << "the session outlived the grace\n"
                                  << ReadFileOrEmpty(master_log);
  EXPECT_GE(absl::Now() - down, kGrace);
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(master_log),
                                "revocations cannot be checked"))
      << ReadFileOrEmpty(master_log);
  EXPECT_TRUE(absl::StrContains(fixture_->GatewayLog(),
                                "the revocation list is no longer current"))
      << fixture_->GatewayLog();
  // The session is reported as ended for that reason, a failure (it read
  // as an "ok" end); the CA being down, the log is where it shows.
  const absl::StatusOr<std::string> ended_so =
      WaitForLogLine([&] { return fixture_->GatewayLog(); },
                     {"event=connection.close outcome=failure",
                      "result=\"revocations-unknown\""},
                     absl::Seconds(10));
  EXPECT_TRUE(ended_so.ok()) << ended_so.status();
}

// issue 12 "revoked while connected": revoked while the gateway's
// revocation stream was down. The CA is stopped, the certificate is
// revoked in the CA's store meanwhile (as another CA instance sharing the
// store would; the test writes the row with sqlite3), and the CA comes
// back: the gateway learns of the revocation when it catches up, and
// ends the session then, within revocation_grace (60 s) — not only
// refusing its new channels while it lives on until the certificate
// expires.
class RevokedWhileTheStreamIsDownTest : public GatewayCaDownE2eTest {
 protected:
  void SetUp() override {
    grace_ = absl::Seconds(60);  // the default
    GatewayCaDownE2eTest::SetUp();
  }
};

TEST_F(RevokedWhileTheStreamIsDownTest, TheSessionEndsWhenTheGatewayCatchesUp) {
  auto olivia = fixture_->user("olivia");
  ASSERT_TRUE(olivia.ok()) << olivia.status();
  // olivia's certificate serial.
  auto listed =
      RunCommandOk({"ssh-keygen", "-L", "-f", (*olivia)->certificate});
  ASSERT_TRUE(listed.ok()) << listed.status();
  const size_t at = listed->out.find("Serial: ");
  ASSERT_NE(at, std::string::npos) << listed->out;
  const std::string serial = listed->out.substr(
      at + 8, listed->out.find_first_not_of("0123456789", at + 8) - at - 8);
  ASSERT_FALSE(serial.empty()) << listed->out;

  // olivia's multiplexed connection, and a command through it.
  const std::string control = dir_->File("ctl");
  const std::string master_log = dir_->File("master.log");
  auto master = StartMasterAndRunOne(control, master_log);
  ASSERT_NE(master, nullptr);

  // The CA goes away; the certificate is revoked in its store meanwhile.
  fixture_->StopCa();
  ASSERT_FALSE(fixture_->ca_process().Running());
  auto inserted = RunCommandOk(
      {"sqlite3", fixture_->ca_state_dir() + "/ca.db",
       absl::StrCat("INSERT INTO revocations (serial, reason, revoked_by, "
                    "revoked_at_us) VALUES (",
                    serial, ", 'revoked elsewhere', 'admin', ",
                    absl::ToUnixMicros(absl::Now()), ");")});
  ASSERT_TRUE(inserted.ok()) << inserted.status();
  ASSERT_TRUE(master->Running()) << ReadFileOrEmpty(master_log);

  // The CA is back: the gateway catches up and ends the session.
  const absl::Time back = absl::Now();
  ASSERT_TRUE(fixture_->RestartCa().ok());
  WaitWhileRunning(*master, back + grace_);
  EXPECT_FALSE(master->Running()) << "the session outlived revocation_grace\n"
                                  << ReadFileOrEmpty(master_log);
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(master_log),
                                "your Sallyport certificate was revoked; run "
                                "`sp login` for a new one"))
      << ReadFileOrEmpty(master_log);
  // And no new session.
  RunResult r = ViaGateway(*fixture_, "olivia", "web01", "echo again");
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "revoked")) << r.err;
}

}  // namespace
}  // namespace sallyport::testing
