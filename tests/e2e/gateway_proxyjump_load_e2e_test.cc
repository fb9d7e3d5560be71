// Recorded ProxyJump under load (issue 13): 50 stock `ssh web01` processes
// at once (ProxyJump to the gateway, ControlMaster off), all through the
// gateway's inner SSH server, all succeed, each recorded. Bounded: 50
// sessions, 180 s per command; pre-auth limits raised for the burst.
#include <stdlib.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/e2e/gateway_proxyjump_env.h"

namespace sallyport::testing {
namespace {

using gateway::Direction;

constexpr int kSessions = 50;

TEST(ProxyJumpLoadTest, FiftyParallelSessionsAllSucceed) {
  // 50 handshakes at once on a loaded machine: the pre-auth limits
  // (MaxStartups-style random early drop from 10, 30 s login grace) and
  // the per-user limit (50) are sized for them, as an operator would.
  auto env = ProxyJumpEnv::Start(
      ProxyJumpEnv::DefaultOptions(), [](config::GatewayConfig* c) {
        c->mutable_limits()->set_max_startups("200");
        c->mutable_limits()->mutable_login_grace()->set_seconds(300);
        c->mutable_limits()->set_max_sessions_per_user(200);
      });
  ASSERT_TRUE(env.ok()) << env.status();
  ASSERT_EQ(getenv("SSH_AUTH_SOCK"), nullptr);
  std::vector<RunResult> results(kSessions);
  std::vector<std::thread> threads;
  for (int i = 0; i < kSessions; ++i) {
    threads.emplace_back([&, i] {
      std::vector<std::string> argv = (*env)->Ssh("frank");
      argv.insert(argv.end(), {"-o", "ControlMaster=no", "web01",
                               absl::StrCat("echo pj-load-", i, "-done")});
      results[i] = (*env)->Run("frank", argv);
    });
  }
  for (std::thread& t : threads) t.join();
  int ok = 0;
  for (int i = 0; i < kSessions; ++i) {
    EXPECT_EQ(results[i].exit_code, 0) << i << ": " << results[i].Describe();
    EXPECT_EQ(results[i].out, absl::StrCat("pj-load-", i, "-done\n"));
    ok += results[i].ok() ? 1 : 0;
  }
  EXPECT_EQ(ok, kSessions);
  const std::string recorded =
      (*env)->recorder().DataFor("web01", Direction::kOutput);
  for (int i = 0; i < kSessions; ++i) {
    EXPECT_TRUE(
        absl::StrContains(recorded, absl::StrCat("pj-load-", i, "-done")))
        << i;
  }
}

}  // namespace
}  // namespace sallyport::testing
