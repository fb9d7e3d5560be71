// The limits of the real `sallyport-gateway serve` (issue 12 "Limits"),
// enrolled and served by BastionFixture with the real CA, real sshd
// targets and stock `ssh` (gateway_ops_e2e_fixture.h): SIGHUP reloads
// each limit, tested at its limit (max_sessions_per_user, max_auth_tries,
// max_channels_per_connection, idle_timeout, login_grace, max_startups),
// without ending an established session, and says which changes need a
// restart. Metrics, logs, threads, certificates and drain:
// gateway_ops_e2e_test.cc.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/e2e/gateway_ops_e2e_fixture.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/net_util.h"
#include "tests/harness/preauth_clients.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {
namespace {

TEST_F(GatewayOpsE2eTest, SighupChangesMaxSessionsPerUserAndKeepsSessions) {
  auto dir = TempDir::Create("gwops");
  ASSERT_TRUE(dir.ok());
  auto held = StartSession("echo held-up; sleep 20; echo held-done",
                           dir->File("held.log"));
  ASSERT_NE(held, nullptr);
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(ReadLog(dir->File("held.log")), "held-up");
  })) << ReadLog(dir->File("held.log"));
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->set_max_sessions_per_user(1);
    c->set_threads(3);  // cannot change live
  });
  EXPECT_TRUE(absl::StrContains(fixture_->GatewayLog(),
                                "needs a restart to take effect: threads"))
      << fixture_->GatewayLog();
  // At the limit: alice's second session is refused.
  // (LogLevel INFO: the user's ssh_config hides banners.)
  const RunResult second = ViaGateway("echo second", {"-o", "LogLevel=INFO"});
  EXPECT_EQ(second.exit_code, 255) << second.Describe();
  EXPECT_TRUE(
      absl::StrContains(second.err,
                        "you already have 1 session open through this gateway "
                        "(limits.max_sessions_per_user is 1)"))
      << second.Describe();
  // The established session was not touched.
  ASSERT_TRUE(WaitFor([&] { return !held->Running(); }, absl::Seconds(90)));
  EXPECT_TRUE(absl::StrContains(ReadLog(dir->File("held.log")), "held-done"))
      << ReadLog(dir->File("held.log"));
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->set_max_sessions_per_user(50);
    c->set_threads(0);
  });
  EXPECT_EQ(ViaGateway("echo again").exit_code, 0);
}

TEST_F(GatewayOpsE2eTest, MaxAuthTriesAtItsLimit) {
  // Stock ssh offering three plain keys (OpenSSH offers certificates
  // first, so plain keys are what can fail before a success).
  std::vector<std::string> args = {"ssh",
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
                                   "-o",
                                   "IdentityAgent=none"};
  for (int i = 0; i < 3; ++i) {
    auto key = GenerateKey(::testing::TempDir(), absl::StrCat("tries_", i));
    ASSERT_TRUE(key.ok()) << key.status();
    args.push_back("-i");
    args.push_back(key->private_path);
  }
  for (const std::string& a :
       {std::string("-p"), absl::StrCat(fixture_->gateway_port()),
        std::string("-l"), absl::StrCat(fixture_->target_login(), "+web01"),
        std::string("127.0.0.1"), std::string("true")}) {
    args.push_back(a);
  }
  // At the limit (2 < 3 keys): the gateway disconnects, saying why.
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->set_max_auth_tries(2);
  });
  auto cut = RunCommand(args);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->exit_code, 255) << cut->Describe();
  EXPECT_TRUE(absl::StrContains(cut->err, "too many authentication failures"))
      << cut->Describe();
  // Above it: all three are tried and refused one by one.
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->set_max_auth_tries(4);
  });
  auto tried = RunCommand(args);
  ASSERT_TRUE(tried.ok());
  EXPECT_EQ(tried->exit_code, 255) << tried->Describe();
  EXPECT_FALSE(
      absl::StrContains(tried->err, "too many authentication failures"))
      << tried->Describe();
  EXPECT_TRUE(absl::StrContains(tried->err, "Permission denied"))
      << tried->Describe();
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->set_max_auth_tries(6);
  });
}

TEST_F(GatewayOpsE2eTest, MaxChannelsPerConnectionAtItsLimit) {
  auto dir = TempDir::Create("gwmux");
  ASSERT_TRUE(dir.ok());
  const std::string control = dir->File("mux");
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->set_max_channels_per_connection(1);
  });
  // A master connection with no channel, then two sessions over it.
  const std::vector<std::string> mux = {"-o", "ControlPath=" + control};
  std::vector<std::string> master = GatewayArgs(
      "alice", {"-o", "ControlMaster=yes", "-o", "ControlPath=" + control, "-o",
                "ControlPersist=60", "-f", "-N"});
  auto m = RunCommand(master);
  ASSERT_TRUE(m.ok() && m->exit_code == 0) << (m.ok() ? m->Describe() : "");
  std::vector<std::string> one = GatewayArgs("alice", mux);
  one.push_back("echo one-up; sleep 15");
  BackgroundProcess::Options o;
  o.log_path = dir->File("one.log");
  auto p = BackgroundProcess::Start(one, o);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(ReadLog(dir->File("one.log")), "one-up");
  })) << ReadLog(dir->File("one.log"));
  // The master's second channel is refused (ssh then falls back to a
  // connection of its own, so the command itself still runs).
  const RunResult two = ViaGateway("echo two", mux);
  EXPECT_TRUE(absl::StrContains(two.err, "Session open refused by peer"))
      << two.Describe();
  (*p)->Stop();
  const std::vector<std::string> exit_master =
      GatewayArgs("alice", {"-o", "ControlPath=" + control, "-O", "exit"});
  (void)RunCommand(exit_master);
  // Two channels are allowed on a new connection once the limit is 2.
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->set_max_channels_per_connection(2);
  });
  auto m2 = RunCommand(master);
  ASSERT_TRUE(m2.ok() && m2->exit_code == 0);
  o.log_path = dir->File("one2.log");
  auto p2 = BackgroundProcess::Start(one, o);
  ASSERT_TRUE(p2.ok());
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(ReadLog(dir->File("one2.log")), "one-up");
  })) << ReadLog(dir->File("one2.log"));
  const RunResult two_ok = ViaGateway("echo two", mux);
  EXPECT_EQ(two_ok.exit_code, 0) << two_ok.Describe();
  EXPECT_EQ(two_ok.out, "two\n");
  EXPECT_FALSE(absl::StrContains(two_ok.err, "refused")) << two_ok.Describe();
  (*p2)->Stop();
  (void)RunCommand(exit_master);
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->set_max_channels_per_connection(64);
  });
}

TEST_F(GatewayOpsE2eTest, IdleTimeoutEndsAQuietSessionOnly) {
  // 20 s: the target's command start-up (several seconds on a loaded
  // machine) counts as idle.
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->mutable_idle_timeout()->set_seconds(20);
  });
  // Output every second for 30 s: never idle for 20 s.
  const RunResult busy = ViaGateway(
      "i=0; while [ $i -lt 30 ]; do echo tick; sleep 1; i=$((i+1)); done");
  EXPECT_EQ(busy.exit_code, 0) << busy.Describe();
  EXPECT_EQ(busy.out.size(), 150u) << busy.Describe();
  // Silent for 90 s: ended after about 20 s, saying why.
  const absl::Time start = absl::Now();
  const RunResult quiet = ViaGateway("sleep 90; echo woke");
  EXPECT_NE(quiet.exit_code, 0) << quiet.Describe();
  EXPECT_FALSE(absl::StrContains(quiet.out, "woke")) << quiet.Describe();
  EXPECT_TRUE(absl::StrContains(quiet.err, "limits.idle_timeout"))
      << quiet.Describe();
  EXPECT_LT(absl::Now() - start, absl::Seconds(75));
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->mutable_idle_timeout()->set_seconds(0);
  });
}

TEST_F(GatewayOpsE2eTest, LoginGraceAndMaxStartupsAtTheirLimits) {
  auto dir = TempDir::Create("gwgrace");
  ASSERT_TRUE(dir.ok());
  // An established session first: the pre-auth limits must not touch it.
  auto held = StartSession("echo grace-up; sleep 20; echo grace-done",
                           dir->File("held.log"));
  ASSERT_NE(held, nullptr);
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(ReadLog(dir->File("held.log")), "grace-up");
  }));
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->set_max_startups("2");  // 2:100:2
    c->mutable_limits()->mutable_login_grace()->set_seconds(4);
  });
  // Connections max_startups drops are counted (found by hand: Ansible
  // with 10 forks had hosts UNREACHABLE that no metric showed).
  auto dropped = [&] {
    const std::string m =
        HttpGet(fixture_->gateway_metrics_port(), "/metrics").second;
    const std::string key = "\nsallyport_gateway_connections_dropped_total ";
    const size_t at = m.find(key);
    int64_t n = -1;
    if (at != std::string::npos) {
      (void)absl::SimpleAtoi(
          m.substr(at + key.size(), m.find('\n', at + 1) - at - key.size()),
          &n);
    }
    return n;
  };
  const int64_t dropped_before = dropped();
  ASSERT_GE(dropped_before, 0);
  auto squatters = PreauthClients::Open("127.0.0.1", fixture_->gateway_port(),
                                        4, PreauthClients::Mode::kSilent);
  ASSERT_TRUE(squatters.ok()) << squatters.status();
  // max_startups: only 2 unauthenticated connections are kept.
  EXPECT_TRUE(
      WaitFor([&] { return (*squatters)->StillOpen() == 2; }, absl::Seconds(3)))
      << (*squatters)->StillOpen();
  EXPECT_EQ(dropped() - dropped_before, 2);
  // login_grace: the 2 left are closed after 4 s.
  EXPECT_TRUE(WaitFor([&] { return (*squatters)->StillOpen() == 0; },
                      absl::Seconds(30)));
  squatters->reset();
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->set_max_startups("10:30:100");
    c->mutable_limits()->mutable_login_grace()->set_seconds(30);
  });
  ASSERT_TRUE(WaitFor([&] { return !held->Running(); }, absl::Seconds(90)));
  EXPECT_TRUE(absl::StrContains(ReadLog(dir->File("held.log")), "grace-done"))
      << ReadLog(dir->File("held.log"));
  EXPECT_EQ(ViaGateway("echo after").exit_code, 0);
}

}  // namespace
}  // namespace sallyport::testing
