// The gateway's egress_addresses (issue 12, proto/config.proto): the real
// `sallyport-gateway` connects to hosts from the first configured address
// of the host's family, and the session certificates the CA issues
// (source-address = the CA's gateway.egress_addresses) are accepted by the
// real sshd only from those addresses:
//   - recorded sessions, recorded ProxyJump and passthrough ProxyJump reach
//     the target from the configured address (the target's SSH_CLIENT),
//     and from 127.0.0.1 as before without one;
//   - a session certificate used from an address outside the CA's list is
//     refused by sshd;
//   - an address the gateway cannot bind refuses the connection with the
//     reason, to the user and in the log, and the gateway keeps serving.
// All of 127.0.0.0/8 is loopback: 127.0.0.2 and 127.0.0.3 need no setup.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proto/config.pb.h"
#include "tests/e2e/gateway_e2e_env.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

class GatewayEgressE2eTest : public GatewaySuite<GatewayEgressE2eTest> {
 public:  // read by GatewaySuite
  static BastionFixture::Options SuiteOptions() {
    BastionFixture::Options options = BastionFixture::DefaultOptions();
    // What the CA puts in session certificates: 127.0.0.3 is not there.
    options.egress_addresses = {"127.0.0.1", "127.0.0.2"};
    return options;
  }
  static constexpr bool kCheckCleanStop = false;

 protected:
  // Restarts the gateway with `addresses` as its egress_addresses.
  static void ServeWithEgress(const std::vector<std::string>& addresses) {
    BastionFixture& f = env_->fixture();
    ASSERT_EQ(f.StopGateway(), 0) << f.GatewayLog();
    ASSERT_TRUE(f.EditGatewayConfig([&](config::GatewayConfig* c) {
                   c->clear_egress_addresses();
                   for (const std::string& a : addresses)
                     c->add_egress_addresses(a);
                 }).ok());
    const absl::Status st =
        f.RestartGateway(RunfilePath("gateway/sallyport-gateway"));
    ASSERT_TRUE(st.ok()) << st;
  }

  // `echo from-$SSH_CLIENT` on web01 through the gateway as `user`: a
  // recorded session, or (jump) `ssh -J gateway web01`.
  static RunResult SshClientOnWeb01(const std::string& user, bool jump) {
    // LogLevel INFO (a user's default; the fixture's is quieter) for the
    // jump hop too, so refused channel opens print their reason.
    const std::string config = env_->File(user + "_ssh_config");
    EXPECT_TRUE(
        WriteFile(config, absl::StrCat("Host *\n  LogLevel INFO\n", "Include ",
                                       env_->SshConfig(user), "\n"))
            .ok());
    std::vector<std::string> argv = {"ssh", "-F", config};
    if (jump) {
      argv.insert(argv.end(),
                  {"-J", "gateway", "-o", "HostName=web01", "web01"});
    } else {
      argv.insert(argv.end(), {"-l", env_->GatewayUser("web01"), "gateway"});
    }
    argv.push_back("echo from-$SSH_CLIENT");
    return GatewayE2eEnv::Run(argv);
  }

  // The address the target saw ("from-ADDRESS PORT 22..." → ADDRESS).
  static std::string SourceOf(const RunResult& r) {
    if (!absl::StartsWith(r.out, "from-")) return "none: " + r.Describe();
    return r.out.substr(5, r.out.find(' ') - 5);
  }
};

TEST_F(GatewayEgressE2eTest, EveryConnectionToAHostLeavesFromTheEgressAddress) {
  // The IPv6 entry is skipped for the IPv4 target; 127.0.0.3 is not first.
  ServeWithEgress({"::1", "127.0.0.2", "127.0.0.3"});
  // A recorded session: the session certificate (source-address
  // 127.0.0.1,127.0.0.2) is accepted from 127.0.0.2.
  RunResult r = SshClientOnWeb01("alice", /*jump=*/false);
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(SourceOf(r), "127.0.0.2");
  // A recorded ProxyJump (alice's role has no proxyjump-passthrough): the
  // inner connection's upstream.
  r = SshClientOnWeb01("alice", /*jump=*/true);
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(SourceOf(r), "127.0.0.2");
  // A passthrough ProxyJump (olivia's ops role): the relayed connection.
  r = SshClientOnWeb01("olivia", /*jump=*/true);
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(SourceOf(r), "127.0.0.2");
}

TEST_F(GatewayEgressE2eTest, WithoutEgressAddressesTheKernelChooses) {
  ServeWithEgress({});
  RunResult r = SshClientOnWeb01("alice", /*jump=*/false);
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(SourceOf(r), "127.0.0.1");
  r = SshClientOnWeb01("olivia", /*jump=*/true);
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(SourceOf(r), "127.0.0.1");
}

TEST_F(GatewayEgressE2eTest, ASessionCertificateFromAnotherAddressIsRefused) {
  // The gateway leaves from 127.0.0.3, which the CA's list (the session
  // certificate's source-address) does not name: sshd refuses it.
  ServeWithEgress({"127.0.0.3"});
  const RunResult r = SshClientOnWeb01("alice", /*jump=*/false);
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "from-")) << r.Describe();
  EXPECT_TRUE(absl::StrContains(
      r.err, "connection to web01 (127.0.0.1:" +
                 std::to_string(env_->fixture().target("web01")->sshd->port()) +
                 ") failed: Permission denied"))
      << r.Describe();
  const std::string log = env_->fixture().target("web01")->sshd->Log();
  EXPECT_TRUE(absl::StrContains(log, "127.0.0.3")) << log;
  EXPECT_TRUE(absl::StrContains(log, "source address")) << log;
}

TEST_F(GatewayEgressE2eTest, AnAddressThatCannotBeBoundIsRefusedWithTheReason) {
  // TEST-NET-2 is no address of this machine: bind fails before any
  // packet is sent.
  ServeWithEgress({"198.51.100.7"});
  // The operator hears of it at start.
  EXPECT_TRUE(absl::StrContains(
      env_->fixture().GatewayLog(),
      "egress address 198.51.100.7 cannot be bound (Cannot assign requested "
      "address): connections to IPv4 hosts are refused until it can"));
  const std::string why = "cannot bind egress address 198.51.100.7";
  const std::string port =
      std::to_string(env_->fixture().target("web01")->sshd->port());
  // A recorded session.
  RunResult r = SshClientOnWeb01("alice", /*jump=*/false);
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_TRUE(absl::StrContains(
      r.err, absl::StrCat("cannot reach web01 (127.0.0.1:", port, "): ", why)))
      << r.Describe();
  // A passthrough ProxyJump.
  r = SshClientOnWeb01("olivia", /*jump=*/true);
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_TRUE(absl::StrContains(
      r.err, absl::StrCat("open failed: connect failed: cannot reach web01:",
                          port, " (127.0.0.1:", port, "): ", why)))
      << r.Describe();
  EXPECT_TRUE(absl::StrContains(env_->fixture().GatewayLog(), why));
  // The gateway still serves.
  BackgroundProcess* gateway = env_->fixture().gateway_process();
  ASSERT_NE(gateway, nullptr);
  EXPECT_TRUE(gateway->Running());
}

}  // namespace
}  // namespace sallyport::testing
