// VS Code Remote-SSH's way through the gateway, with stock ssh and the
// user's ssh config holding only `sp`'s Include line (issue 13: "point VS
// Code Remote-SSH ... at web01"): Remote-SSH runs `ssh -T -D PORT web01
// ...` to start its server on the host's loopback, then reaches that
// server through the dynamic forward (SOCKS), a direct-tcpip channel
// inside the recorded session. Here the server is python3's http.server
// on web01's 127.0.0.1 and the SOCKS client is curl.
//   - A role with `port-forward`: the page arrives through
//     the forward, and the recording has the forward's channel.
//   - A role without it (alice's dev): the command runs, the forward is
//     refused, and ssh prints the reason, as docs/clients.md says.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/gateway_e2e_env.h"
#include "tests/e2e/gateway_ship_util.h"
#include "tests/e2e/sp_home_e2e_fixture.h"
#include "tests/harness/net_util.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

class VsCodeStyleTest : public SpHomeE2eTest {
 protected:
  // `ssh -T -D socks web01 'python3 -m http.server'` in the background
  // (the server on web01's loopback, serving a page) and curl through the
  // SOCKS port until the answer is not a connection failure or 30 s pass.
  RunResult FetchThroughDynamicForward() {
    absl::StatusOr<uint16_t> socks = FreeLoopbackPort();
    absl::StatusOr<uint16_t> http = FreeLoopbackPort();
    EXPECT_TRUE(socks.ok() && http.ok());
    if (!socks.ok() || !http.ok()) return {};
    const std::string site = env_->File("site");
    EXPECT_TRUE(RunCommandOk({"mkdir", "-p", site}).ok());
    EXPECT_TRUE(WriteFile(site + "/page", "vscode-server-page\n").ok());
    log_ = env_->File(absl::StrCat("ssh-", user(), ".log"));
    BackgroundProcess::Options o;
    o.log_path = log_;
    o.env["HOME"] = home_;
    std::vector<std::string> argv =
        Client("ssh", {"-T", "-D", absl::StrCat("127.0.0.1:", *socks), "web01",
                       absl::StrCat("exec python3 -m http.server ", *http,
                                    " --bind 127.0.0.1 --directory ", site)});
    auto ssh = BackgroundProcess::Start(argv, o);
    EXPECT_TRUE(ssh.ok()) << ssh.status();
    if (!ssh.ok()) return {};
    ssh_ = *std::move(ssh);
    EXPECT_TRUE(WaitForTcpListener("127.0.0.1", *socks, absl::Seconds(30)).ok())
        << ReadFileOrEmpty(log_);
    EXPECT_TRUE(WaitForTcpListener("127.0.0.1", *http, absl::Seconds(30)).ok())
        << ReadFileOrEmpty(log_);
    RunResult curl;
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    do {
      curl = Run({"curl", "-sS", "--max-time", "10", "--socks5-hostname",
                  absl::StrCat("127.0.0.1:", *socks),
                  absl::StrCat("http://127.0.0.1:", *http, "/page")});
      if (curl.ok()) break;
      absl::SleepFor(absl::Milliseconds(200));
    } while (absl::Now() < deadline &&
             !absl::StrContains(ReadFileOrEmpty(log_), "open failed"));
    return curl;
  }
  void TearDown() override { ssh_.reset(); }

  std::string log_;
  std::unique_ptr<BackgroundProcess> ssh_;
};

// Alice's dev role with port-forward added (ops has it too, but also
// proxyjump-passthrough, which relays `ssh web01` unrecorded).
class VsCodeStylePortForwardRoleTest : public VsCodeStyleTest {
 protected:
  BastionFixture::Options Options() override {
    BastionFixture::Options o = VsCodeStyleTest::Options();
    for (admin::v1::Role& role : o.roles) {
      if (role.name() == "dev") role.add_channels("port-forward");
    }
    return o;
  }
};

TEST_F(VsCodeStylePortForwardRoleTest, ItsServerIsReachedThroughTheSession) {
  RunResult curl = FetchThroughDynamicForward();
  ASSERT_TRUE(curl.ok()) << curl.Describe() << ReadFileOrEmpty(log_)
                         << env_->fixture().GatewayLog();
  EXPECT_EQ(curl.out, "vscode-server-page\n");
  // The session's command, and the forward inside it with the page.
  EXPECT_TRUE(WaitForChannel([](const RecordedChannel& c) {
    return c.type == "direct-tcpip" && c.bytes_output > 0 && c.bytes_input > 0;
  }));
  ssh_.reset();
  EXPECT_TRUE(WaitForChannel([](const RecordedChannel& c) {
    return c.HasRequest("exec", "python3 -m http.server");
  }));
}

class VsCodeStyleNoPortForwardRoleTest : public VsCodeStyleTest {};

TEST_F(VsCodeStyleNoPortForwardRoleTest, TheForwardIsRefusedWithTheReason) {
  RunResult curl = FetchThroughDynamicForward();
  EXPECT_FALSE(curl.ok()) << curl.Describe();
  EXPECT_FALSE(absl::StrContains(curl.out, "vscode-server-page"));
  const std::string log = ReadFileOrEmpty(log_);
  // Her certificate has no permit-port-forwarding (no role of hers
  // allows it), and ssh prints the gateway's reason.
  EXPECT_TRUE(absl::StrContains(log,
                                "open failed: administratively prohibited: "
                                "port forwarding is not permitted by your "
                                "certificate"))
      << log;
  std::vector<std::string> refused = Events(env_->fixture(), "channel.refused");
  ASSERT_FALSE(refused.empty()) << env_->fixture().CaLog();
  EXPECT_TRUE(absl::StrContains(refused[0], "direct-tcpip")) << refused[0];
}

}  // namespace
}  // namespace sallyport::testing
