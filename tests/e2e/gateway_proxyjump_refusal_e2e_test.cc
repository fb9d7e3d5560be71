// Recorded ProxyJump (issue 13): what is refused, each case a test that
// fails if its rule goes, plus multi-hop (`ssh -J gw,web01 db01`) allowed
// and refused by RBAC, and passthrough kept for a role that chooses it.
// Deployment: tests/e2e/gateway_proxyjump_env.h.
#include <stdlib.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/e2e/gateway_proxyjump_env.h"
#include "tests/e2e/gateway_refusal_util.h"
#include "tests/e2e/gateway_ship_util.h"
#include "tests/harness/echo_server.h"
#include "tests/harness/net_util.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

using gateway::Direction;

class ProxyJumpRefusalTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto env = ProxyJumpEnv::Start();
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = env->release();
  }
  static void TearDownTestSuite() {
    delete env_;
    env_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(env_, nullptr);
    ASSERT_EQ(getenv("SSH_AUTH_SOCK"), nullptr);
  }
  static RunResult Ssh(const std::string& user,
                       const std::vector<std::string>& args,
                       const std::string& config = "") {
    std::vector<std::string> argv = {
        "ssh", "-F", config.empty() ? env_->Config(user) : config};
    argv.insert(argv.end(), args.begin(), args.end());
    return env_->Run(user, argv);
  }
  // Polls the in-process gateway's log for `text` (events may be logged
  // just after the client exited).
  static bool WaitForLog(const std::string& text) {
    const absl::Time limit = absl::Now() + absl::Seconds(30);
    while (absl::Now() < limit) {
      if (absl::StrContains(env_->GatewayLog(), text)) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }
  // The gateway's log lines of session `id` (its own lines start with
  // "session=<id> ").
  static std::vector<std::string> SessionLines(const std::string& id) {
    std::vector<std::string> out;
    for (absl::string_view l : absl::StrSplit(env_->GatewayLog(), '\n')) {
      if (absl::StrContains(l, absl::StrCat("session=", id, " "))) {
        out.emplace_back(l);
      }
    }
    return out;
  }
  // The session id on the first log line containing `text`, or "".
  static std::string SessionOf(const std::string& text) {
    for (absl::string_view l : absl::StrSplit(env_->GatewayLog(), '\n')) {
      size_t at = l.find("session=s");
      if (!absl::StrContains(l, text) || at == l.npos) continue;
      absl::string_view id = l.substr(at + 8);
      return std::string(id.substr(0, id.find_first_of(" \"")));
    }
    return "";
  }
  static ProxyJumpEnv* env_;
};
ProxyJumpEnv* ProxyJumpRefusalTest::env_ = nullptr;

TEST_F(ProxyJumpRefusalTest, InnerCertificateOfAnotherUserIsRefused) {
  // The jump to the gateway is alice's; inside it, bob's (valid, same CA,
  // listing the login) certificate: refused, and logged.
  absl::StatusOr<std::string> mixed = env_->MixedIdentityConfig("alice", "bob");
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  RunResult r = Ssh("alice", {"web01", "echo should-not-run"}, *mixed);
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "should-not-run"));
  EXPECT_TRUE(absl::StrContains(r.err, "is not the identity of the jump"))
      << r.Describe();
  EXPECT_TRUE(WaitForLog("event=jump.identity_mismatch")) << env_->GatewayLog();
  // And audited: the CA's log holds a session.refused event with the
  // reason (the gateway sends its events in batches: wait for it).
  bool audited = false;
  RunResult events;
  for (const absl::Time limit = absl::Now() + absl::Seconds(30);
       !audited && absl::Now() < limit;
       absl::SleepFor(absl::Milliseconds(200))) {
    events = Spctl(env_->fixture(), {"audit", "ls", "--json"});
    for (absl::string_view l : absl::StrSplit(events.out, '\n')) {
      if (absl::StrContains(l, "\"session.refused\"") &&
          absl::StrContains(l, "identity-mismatch")) {
        audited = true;
      }
    }
  }
  EXPECT_TRUE(audited) << events.Describe();
  // The gateway connects to web01 early, while the inner user finishes
  // authenticating, but only once it has seen the jump's own identity: for
  // another one it connected nowhere (it connected as soon as the inner
  // connection started, so a user could have it open unauthenticated
  // connections to the host at will).
  const std::string inner = SessionOf("event=jump.identity_mismatch");
  ASSERT_FALSE(inner.empty()) << env_->GatewayLog();
  for (const std::string& l : SessionLines(inner)) {
    EXPECT_FALSE(absl::StrContains(l, "event=upstream.connect")) << l;
    EXPECT_FALSE(absl::StrContains(l, "event=upstream.ready")) << l;
    EXPECT_FALSE(absl::StrContains(l, "event=upstream.failed")) << l;
  }
  // bob's own jump works: it is the mismatch that was refused.
  r = Ssh("bob", {"web01", "echo bob-ok"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "bob-ok\n");
}

TEST_F(ProxyJumpRefusalTest, AHostThatCannotBeReachedIsReportedAfterLogin) {
  // deadhost: in the inventory (env=dev, so alice's role selects it) on a
  // port nothing listens on. The gateway tries it while the inner user is
  // still authenticating; the failure is reported once they have (the
  // audit event names the login, which only the session certificate
  // gives), and the user is told why.
  absl::StatusOr<uint16_t> port = FreeLoopbackPort();
  ASSERT_TRUE(port.ok()) << port.status();
  ASSERT_TRUE(
      AddInventoryHost(env_->fixture(), "deadhost", "host-ca", *port, "").ok());
  RunResult r = Ssh("alice", {"deadhost", "echo should-not-run"});
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "should-not-run"));
  EXPECT_TRUE(absl::StrContains(r.err, "cannot reach deadhost"))
      << r.Describe();
  ASSERT_TRUE(WaitForLog("event=upstream.failed")) << env_->GatewayLog();
  const std::string inner = SessionOf("event=upstream.failed");
  bool after_login = false, audited = false;
  for (const std::string& l : SessionLines(inner)) {
    if (absl::StrContains(l, "event=auth.ok")) after_login = true;
    if (absl::StrContains(l, "event=upstream.failed")) {
      EXPECT_TRUE(after_login) << env_->GatewayLog();
    }
  }
  for (absl::string_view l : absl::StrSplit(env_->GatewayLog(), '\n')) {
    if (absl::StrContains(l, "event=upstream.connect outcome=failure") &&
        absl::StrContains(l, absl::StrCat("session=\"", inner, "\"")) &&
        absl::StrContains(l, "host=\"deadhost\"") &&
        absl::StrContains(l, absl::StrCat("login=\"", env_->login(), "\""))) {
      audited = true;
    }
  }
  EXPECT_TRUE(audited) << env_->GatewayLog();
}

TEST_F(ProxyJumpRefusalTest, AnInventoryChangeWhileConnectingIsRefused) {
  // The gateway connects to the host named by the jump's decision while
  // the inner user authenticates; the session certificate comes with the
  // host's record as it is then. When the two differ, the connection made
  // went to the old record: refused, the user told to connect again.
  // movinghost: web02's sshd (its pinned key), env=dev so alice may reach
  // it; moved to another port between the jump and the inner login.
  BastionFixture::Target* web02 = env_->fixture().target("web02");
  BastionFixture::Target* web01 = env_->fixture().target("web01");
  ASSERT_NE(web02, nullptr);
  ASSERT_NE(web01, nullptr);
  const std::string pinned = web02->host_key.public_line;
  ASSERT_TRUE(AddInventoryHost(env_->fixture(), "movinghost", "pinned-key",
                               web02->sshd->port(), pinned)
                  .ok());
  // The jump hop goes out at once; the inner client's bytes wait for
  // `go` (at most 60 s), so the inner login comes after the change.
  const std::string go = env_->File("movinghost-go");
  const std::string relay = env_->File("movinghost-relay.sh");
  ASSERT_TRUE(WriteFile(relay,
                        "#!/bin/sh\n"
                        "go=$1; shift\n"
                        "( i=0; while [ ! -e \"$go\" ] && [ $i -lt 1200 ]; do "
                        "sleep 0.05; i=$((i+1)); done; exec cat ) |\n"
                        "  exec ssh -F \"$1\" -W \"$2:$3\" gw\n",
                        0755)
                  .ok());
  absl::StatusOr<const BastionFixture::User*> alice =
      env_->fixture().user("alice");
  ASSERT_TRUE(alice.ok()) << alice.status();
  const std::string known = env_->File("movinghost-known_hosts");
  ASSERT_TRUE(
      WriteFile(known, absl::StrCat("@cert-authority movinghost ",
                                    env_->fixture().host_ca_public_key(), "\n"))
          .ok());
  const std::string config = env_->File("movinghost-config");
  ASSERT_TRUE(
      WriteFile(config,
                absl::StrCat("Host movinghost\n  ProxyCommand ", relay, " ", go,
                             " ", env_->Config("alice"), " %h %p\n", "  User ",
                             env_->login(), "\n  CertificateFile ",
                             (*alice)->certificate, "\n  IdentityFile ",
                             (*alice)->key, "\n  IdentitiesOnly yes\n",
                             "  UserKnownHostsFile ", known,
                             "\n  GlobalKnownHostsFile /dev/null\n",
                             "  StrictHostKeyChecking yes\n  BatchMode yes\n"))
          .ok());
  RunResult r;
  std::thread client([&] {
    r = Ssh("alice", {"movinghost", "echo should-not-run"}, config);
  });
  // The jump was decided (the old record) before the change.
  EXPECT_TRUE(WaitForLog("to=movinghost inner_session=")) << env_->GatewayLog();
  EXPECT_TRUE(UpdateInventoryHost(env_->fixture(), "movinghost", "pinned-key",
                                  web01->sshd->port(), pinned)
                  .ok());
  EXPECT_TRUE(WriteFile(go, "").ok());
  client.join();
  // The early connection went to the old record (web02's port; the log
  // line names no host yet: the inner user had not logged in).
  const std::string old_address =
      absl::StrCat("address=127.0.0.1:", web02->sshd->port(), " ");
  bool early = false;
  for (absl::string_view l : absl::StrSplit(env_->GatewayLog(), '\n')) {
    if (absl::StrContains(l, "event=upstream.connect") &&
        absl::StrContains(l, old_address) && absl::StrContains(l, "early=1")) {
      early = true;
    }
  }
  EXPECT_TRUE(early) << env_->GatewayLog();
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "should-not-run")) << r.Describe();
  EXPECT_TRUE(absl::StrContains(
      r.err, "the inventory entry for movinghost changed while connecting"))
      << r.Describe();
}

TEST_F(ProxyJumpRefusalTest, InnerLoginNotAllowedOnTheHostIsRefused) {
  // dbadmin is one of alice's principals (role dbonly, db* only), not a
  // login any of her roles grants on web01.
  RunResult r = Ssh("alice", {"dbadmin@web01", "echo should-not-run"});
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "should-not-run"));
  EXPECT_TRUE(absl::StrContains(r.err, "access to dbadmin@web01 denied"))
      << r.Describe();
}

TEST_F(ProxyJumpRefusalTest, AnotherPortIsAPortForwardDecision) {
  EchoServer echo;
  const std::string dest = absl::StrCat("web01:", echo.port());
  RunOptions in;
  in.stdin_data = "echo through a jump-only port forward\n";
  // alice: no port-forward (and no permit-port-forwarding): refused,
  // not treated as a jump.
  std::vector<std::string> argv = {"ssh", "-F", env_->Config("alice"),
                                   "-W",  dest, ProxyJumpEnv::kGatewayAlias};
  RunResult r = env_->Run("alice", argv, in);
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "port forwarding is not permitted"))
      << r.Describe();
  // frank's role has port-forward on web01: the bytes reach the port.
  argv[2] = env_->Config("frank");
  r = env_->Run("frank", argv, in);
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, in.stdin_data);
}

TEST_F(ProxyJumpRefusalTest, HostNotInTheInventoryIsRefused) {
  RunResult r = Ssh("alice", {"nosuchhost", "echo should-not-run"});
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "is not in the inventory"))
      << r.Describe();
  // Reported like every refused channel (log line, channel.refused audit
  // event, metric): probing through the bastion left only a detail line.
  const absl::StatusOr<std::string> reported = WaitForLogLine(
      [] { return env_->GatewayLog(); },
      {"event=channel.refused outcome=failure", "nosuchhost:22"});
  EXPECT_TRUE(reported.ok()) << reported.status();
}

TEST_F(ProxyJumpRefusalTest, PassthroughOnlyForARoleWithProxyjumpPassthrough) {
  // olivia's role has proxyjump-passthrough: relayed end to end, events
  // only (no content in the recording).
  size_t before = env_->recorder().DataFor("web01", Direction::kOutput).size();
  RunResult r = Ssh("olivia", {"web01", "echo olivia-$((1+1))"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "olivia-2\n");
  EXPECT_TRUE(WaitForLog("event=jump.start")) << env_->GatewayLog();
  EXPECT_FALSE(absl::StrContains(
      env_->recorder().DataFor("web01", Direction::kOutput).substr(before),
      "olivia-2"));
  // alice's role does not: her jump is not passed through but recorded.
  before = env_->recorder().DataFor("web01", Direction::kOutput).size();
  r = Ssh("alice", {"web01", "echo alice-$((2+2))"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "alice-4\n");
  EXPECT_TRUE(absl::StrContains(
      env_->recorder().DataFor("web01", Direction::kOutput).substr(before),
      "alice-4"));
  for (const auto& c : env_->recorder().channels()) {
    if (c.info.user == "alice") {
      EXPECT_NE(c.info.destination, "web01:22");
    }
  }
}

TEST_F(ProxyJumpRefusalTest, MultiHopIsAPortForwardInsideTheRecordedSession) {
  BastionFixture::Target* db = env_->fixture().target("db01");
  ASSERT_NE(db, nullptr);
  const std::string hop = absl::StrCat("127.0.0.1:", db->sshd->port());
  // frank's role allows port-forward on web01: `ssh -J gw,web01 db01`.
  RunResult r =
      Ssh("frank", {"-J", "gw,web01", "db01-via-web01", "echo db01-reached"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe() << env_->GatewayLog();
  EXPECT_EQ(r.out, "db01-reached\n");
  // The second hop is a recorded port-forward channel of frank's web01
  // session (its bytes are db01's encrypted SSH).
  bool forward = false;
  for (const auto& c : env_->recorder().channels()) {
    if (c.info.user == "frank" && c.info.host == "web01" &&
        c.info.type == "direct-tcpip" && c.info.destination == hop) {
      forward = true;
    }
  }
  EXPECT_TRUE(forward);
  // bob's certificate permits port forwarding (role fwddb, db* only), but
  // no role of his allows port-forward on web01: refused with the reason.
  r = Ssh("bob", {"-J", "gw,web01", "db01-via-web01", "echo should-not-run"});
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "should-not-run"));
  EXPECT_TRUE(absl::StrContains(r.err, "port-forward")) << r.Describe();
}

}  // namespace
}  // namespace sallyport::testing
