// Forwarding through the real `sallyport-gateway` (issue 12 "Addressing"
// and "Authorization per channel"), with stock `ssh`, real sshd targets
// and the real CA (BastionFixture, gateway_forward_e2e_fixture.h):
//   - `ssh -J gateway web01` passthrough for a role with
//     proxyjump-passthrough, recorded ProxyJump without it (and with a
//     deny rule), refused for a host not in the inventory;
//   - on a jump-only connection, another port of an inventory host is a
//     port-forward decision;
//   - `ssh -L` allowed for one role and refused for another, with the
//     reason shown.
// ssh -R, agent forwarding and the channels the host opens:
// gateway_reverse_forward_e2e_test.cc.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/e2e/gateway_forward_e2e_fixture.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/echo_server.h"
#include "tests/harness/net_util.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

// ------------------------------------------------------------ ssh -J

TEST_F(GatewayForwardE2eTest, JumpPassthroughReachesTheHostEndToEnd) {
  const RunResult r = Jump("olivia", "web01", "echo jumped");
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "jumped\n") << r.Describe();
  // Passthrough: the target authenticated olivia's own certificate (key
  // id "olivia"), not a session certificate of the gateway.
  const std::string log = fixture_->target("web01")->sshd->Log();
  EXPECT_TRUE(absl::StrContains(log, "ID olivia (serial")) << log;
  // Start, end and bytes are events in the gateway's log.
  EXPECT_TRUE(WaitForGatewayLog("event=jump.end")) << fixture_->GatewayLog();
  const std::string gw = fixture_->GatewayLog();
  EXPECT_TRUE(absl::StrContains(gw, "event=jump.start")) << gw;
  EXPECT_TRUE(absl::StrContains(gw, "to=web01:")) << gw;
  // The jump's own line and its connection's close line (log and
  // metrics totals) both count the relayed bytes.
  std::string session;
  for (absl::string_view line : absl::StrSplit(gw, '\n')) {
    if (!absl::StrContains(line, "event=jump.end")) continue;
    EXPECT_FALSE(absl::StrContains(line, " bytes_in=0 ")) << line;
    const size_t at = line.find("session=");
    ASSERT_NE(at, absl::string_view::npos) << line;
    session = std::string(line.substr(at + 8, line.find(' ', at) - at - 8));
  }
  ASSERT_FALSE(session.empty()) << gw;
  // The connection's close line comes just after the jump's end line.
  const absl::StatusOr<std::string> close_line = WaitForLogLine(
      [] { return fixture_->GatewayLog(); },
      {"event=connection.close", absl::StrCat("session=\"", session, "\"")});
  ASSERT_TRUE(close_line.ok()) << close_line.status();
  EXPECT_FALSE(absl::StrContains(*close_line, " bytes_in=0 ")) << *close_line;
  EXPECT_FALSE(absl::StrContains(*close_line, " bytes_out=0 ")) << *close_line;
}

TEST_F(GatewayForwardE2eTest, JumpWithoutProxyjumpPassthroughIsRecorded) {
  // alice's role (dev) does not allow proxyjump-passthrough: her jump is
  // not relayed but terminated by the gateway (recorded ProxyJump, issue
  // 13; tests/e2e/gateway_proxyjump_*_e2e_test), with a web01 host
  // certificate her known_hosts trusts.
  RunResult r = Jump("alice", "web01", "echo recorded-$((40+2))");
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "recorded-42\n") << r.Describe();
  EXPECT_TRUE(absl::StrContains(fixture_->GatewayLog(), "event=jump.record"))
      << fixture_->GatewayLog();
  // rita's ops role allows passthrough, prod-readonly's deny rule refuses
  // it on env=prod: recorded too, and RBAC decides inside (exec allowed).
  r = Jump("rita", "web02", "echo recorded-web02");
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "recorded-web02\n") << r.Describe();
}

TEST_F(GatewayForwardE2eTest, JumpByInventoryAddressReachesThatHost) {
  // The ssh_config's web01 and web02 have HostName 127.0.0.1 (each its
  // own port): `ssh -J gateway web02` asks for 127.0.0.1:PORT, resolved by
  // the inventory's address and port.
  for (const std::string host : {"web01", "web02"}) {
    std::vector<std::string> args = Args("olivia");
    args.insert(args.end(),
                {"-J", "gateway", host, "echo by-address $SSH_CONNECTION"});
    const RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    // SSH_CONNECTION ends with the target's address and port.
    EXPECT_TRUE(absl::StartsWith(r.out, "by-address ")) << r.Describe();
    EXPECT_TRUE(absl::EndsWith(
        r.out, absl::StrCat(" 127.0.0.1 ", fixture_->target(host)->sshd->port(),
                            "\n")))
        << r.Describe();
  }
  EXPECT_TRUE(WaitForGatewayLog("event=jump.start")) << fixture_->GatewayLog();
  EXPECT_TRUE(absl::StrContains(fixture_->GatewayLog(), "to=127.0.0.1:"))
      << fixture_->GatewayLog();
  // Both hosts have 127.0.0.1: another port of that address names no
  // single host, and is refused saying so.
  EchoServer echo;
  std::vector<std::string> args = Args("olivia");
  args.insert(args.end(),
              {"-W", absl::StrCat("127.0.0.1:", echo.port()), "gateway"});
  RunOptions o;
  o.stdin_data = "hello\n";
  const RunResult r = Run(args, o);
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "several inventory hosts"))
      << r.Describe();
}

TEST_F(GatewayForwardE2eTest, JumpToAHostNotInTheInventoryIsRefused) {
  // db99 is no inventory host (and 127.0.0.2 no inventory name).
  for (const std::string host : {"db99", "127.0.0.2"}) {
    const RunResult r = Jump("olivia", host, "echo should-not-run");
    EXPECT_EQ(r.exit_code, 255) << r.Describe();
    EXPECT_TRUE(absl::StrContains(r.err, "is not in the inventory"))
        << r.Describe();
  }
}

TEST_F(GatewayForwardE2eTest, AnotherPortOfAnInventoryHostIsAPortForward) {
  EchoServer echo;
  // `ssh -W web01:ECHO gateway`: a jump-only connection to a port that is
  // not web01's SSH port is decided as port-forward (olivia: allowed).
  std::vector<std::string> args = Args("olivia");
  args.insert(args.end(),
              {"-W", absl::StrCat("web01:", echo.port()), "gateway"});
  RunOptions o;
  o.stdin_data = "hello through the gateway\n";
  RunResult r = Run(args, o);
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, o.stdin_data) << r.Describe();
  EXPECT_TRUE(WaitForGatewayLog("event=forward.end")) << fixture_->GatewayLog();
  // alice's certificate does not permit port forwarding: she is told why
  // (her roles at `sp login`) and what to do.
  args = Args("alice");
  args.insert(args.end(),
              {"-W", absl::StrCat("web01:", echo.port()), "gateway"});
  r = Run(args, o);
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_TRUE(absl::StrContains(
      r.err,
      "port forwarding is not permitted by your certificate (none of your "
      "roles allowed port-forward when you ran `sp login`; if one does now, "
      "run `sp login` again"))
      << r.Describe();
}

// ------------------------------------------------------------ ssh -L

TEST_F(GatewayForwardE2eTest, LocalForwardAllowedForOneRoleRefusedForAnother) {
  EchoServer echo;
  auto lport = FreeLoopbackPort();
  ASSERT_TRUE(lport.ok());
  const std::string spec = absl::StrCat(*lport, ":127.0.0.1:", echo.port());
  {
    // olivia (ops) on web01: the host connects to the echo server.
    auto ssh = Background("olivia", "web01", {"-L", spec}, "l_olivia");
    ASSERT_NE(ssh, nullptr);
    EXPECT_TRUE(EchoesThrough(*lport, "ping\n"))
        << ReadFileOrEmpty(ssh->log_path());
  }
  {
    // rita on web02 (env=prod): prod-readonly denies port-forward, and the
    // user sees why.
    auto ssh = Background("rita", "web02", {"-L", spec}, "l_rita");
    ASSERT_NE(ssh, nullptr);
    const int before = echo.accepted();
    ASSERT_TRUE(WaitForTcpListener("127.0.0.1", *lport, absl::Seconds(30)).ok())
        << ReadFileOrEmpty(ssh->log_path());
    EXPECT_EQ(RoundTrip(*lport, "ping\n"), "");
    EXPECT_TRUE(WaitForText(ssh->log_path(), "denied by role 'prod-readonly'"))
        << ReadFileOrEmpty(ssh->log_path());
    EXPECT_EQ(echo.accepted(), before);
  }
}

}  // namespace
}  // namespace sallyport::testing
