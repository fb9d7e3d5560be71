// Issue 12 "Load" (bounded, loopback only), with the real sallyport-gateway,
// CA and sshd target (BastionFixture): 200 concurrent recorded sessions
// each moving 5 MiB, plus 1,000 sequential handshakes, while 300 pre-auth
// clients sit in the banner. No legitimate session or handshake may fail,
// and the gateway's RSS (sampled from /proc/PID/status) stays under a
// fixed bound; the figures are printed.
//
// Limits chosen for this load (the defaults would refuse it by design):
//  - max_startups "600": 300 squatters + up to 200 logins in flight + 1
//    handshake stay below the cap, so no legitimate connection meets the
//    random early drop; with the default 10:30:100 the squatters alone
//    fill the pre-auth budget and logins are dropped, as sshd does.
//  - login_grace 1h (the maximum): the squatters are held for the whole
//    test (then the test checks all 300 are still connected, i.e. held,
//    not dropped).
//  - max_sessions_per_user 400: the 200 sessions belong to one user.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/preauth_clients.h"
#include "tests/harness/ssh_clients.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

constexpr int kSessions = 200;
constexpr int64_t kBytesPerSession = 5 << 20;
constexpr int kHandshakes = 1000;
constexpr int kSquatters = 300;
// Handshakes in flight at once while the 200 sessions connect (they all
// stay open, and run their commands together once all are up).
constexpr int kConnectParallel = 20;
// Generous: the gateway idles at a few MiB; each session's channels hold
// at most their SSH windows in flight.
constexpr int64_t kRssBoundKiB = 1536 * 1024;

// VmRSS of `pid` in KiB, or -1.
int64_t RssKiB(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StartsWith(line, "VmRSS:")) continue;
    std::string v(absl::StripAsciiWhitespace(line.substr(6)));
    v = std::string(absl::StripSuffix(v, " kB"));
    int64_t kib = -1;
    if (absl::SimpleAtoi(v, &kib)) return kib;
  }
  return -1;
}

TEST(GatewayLoadE2eTest, SessionsAndHandshakesSucceedWhileSquattersWait) {
  BastionFixture::Options options = BastionFixture::DefaultOptions();
  // The target sshd must not drop the gateway's upstream connections
  // (its own MaxStartups default is 10:30:100).
  options.sshd_config["MaxStartups"] = "1000";
  auto f = BastionFixture::Start(options);
  ASSERT_TRUE(f.ok()) << f.status();
  std::unique_ptr<BastionFixture> fixture = std::move(*f);
  fixture->AddGatewayConfigEdit([](config::GatewayConfig& c) {
    c.mutable_limits()->set_max_startups("600");
    c.mutable_limits()->mutable_login_grace()->set_seconds(3600);
    c.mutable_limits()->set_max_sessions_per_user(400);
  });
  absl::Status st =
      fixture->StartGateway(RunfilePath("gateway/sallyport-gateway"));
  ASSERT_TRUE(st.ok()) << st << "\n" << fixture->GatewayLog();
  const pid_t pid = fixture->gateway_process()->pid();
  const uint16_t port = fixture->gateway_port();

  // The gateway's plain host key, for AsyncSSH's known host list.
  auto host_key =
      RunCommandOk({"ssh-keygen", "-y", "-f",
                    fixture->gateway_state_dir() + "/ssh_host_ed25519_key"});
  ASSERT_TRUE(host_key.ok()) << host_key.status();
  auto olivia = fixture->user("olivia");
  auto alice = fixture->user("alice");
  ASSERT_TRUE(olivia.ok() && alice.ok());
  SshEndpoint sessions_to;
  sessions_to.port = port;
  sessions_to.user = fixture->target_login() + "+web01";
  sessions_to.key = (*olivia)->key;
  sessions_to.certificate = (*olivia)->certificate;
  sessions_to.host_public_key =
      std::string(absl::StripAsciiWhitespace(host_key->out));
  SshEndpoint handshakes_to = sessions_to;
  handshakes_to.key = (*alice)->key;
  handshakes_to.certificate = (*alice)->certificate;

  const int64_t idle_rss = RssKiB(pid);
  ASSERT_GT(idle_rss, 0);

  auto squatters = PreauthClients::Open("127.0.0.1", port, kSquatters,
                                        PreauthClients::Mode::kBannerOnly);
  ASSERT_TRUE(squatters.ok()) << squatters.status();
  // Let the gateway take them all in.
  absl::SleepFor(absl::Seconds(2));
  const int64_t squatter_rss = RssKiB(pid);

  std::atomic<bool> done{false};
  std::atomic<int64_t> peak_rss{0};
  std::thread sampler([&] {
    while (!done.load()) {
      const int64_t kib = RssKiB(pid);
      if (kib > peak_rss.load()) peak_rss.store(kib);
      absl::SleepFor(absl::Milliseconds(100));
    }
  });

  const absl::Time start = absl::Now();
  absl::StatusOr<RunResult> sessions, handshakes;
  absl::Duration sessions_took, handshakes_took;
  std::thread sessions_thread([&] {
    RunOptions ro;
    ro.timeout = absl::Minutes(10);
    sessions =
        RunCommand({"/usr/bin/python3",
                    "-W",
                    "ignore",
                    RunfilePath("tests/harness/clients/load_sessions.py"),
                    "--barrier",
                    "--port",
                    absl::StrCat(port),
                    "--user",
                    sessions_to.user,
                    "--key",
                    sessions_to.key,
                    "--cert",
                    sessions_to.certificate,
                    "--host-key",
                    sessions_to.host_public_key,
                    "--count",
                    absl::StrCat(kSessions),
                    "--parallel",
                    absl::StrCat(kConnectParallel),
                    "--command",
                    absl::StrCat("head -c ", kBytesPerSession, " /dev/zero"),
                    "--expect-bytes",
                    absl::StrCat(kBytesPerSession)},
                   ro);
    sessions_took = absl::Now() - start;
  });
  std::thread handshakes_thread([&] {
    RunOptions ro;
    ro.timeout = absl::Minutes(10);
    handshakes = RunCommand(
        {"/usr/bin/python3", "-W", "ignore",
         RunfilePath("tests/e2e/gateway_load_handshakes.py"), "--port",
         absl::StrCat(port), "--user", handshakes_to.user, "--key",
         handshakes_to.key, "--cert", handshakes_to.certificate, "--host-key",
         handshakes_to.host_public_key, "--count", absl::StrCat(kHandshakes)},
        ro);
    handshakes_took = absl::Now() - start;
  });
  sessions_thread.join();
  handshakes_thread.join();
  done.store(true);
  sampler.join();
  const int still_open = (*squatters)->StillOpen();
  const int64_t after_rss = RssKiB(pid);

  std::printf(
      "load: %d sessions x %lld bytes in %.1f s; %d handshakes in %.1f s; "
      "%d of %d squatters held\n",
      kSessions, static_cast<long long>(kBytesPerSession),
      absl::ToDoubleSeconds(sessions_took), kHandshakes,
      absl::ToDoubleSeconds(handshakes_took), still_open, kSquatters);
  std::printf(
      "gateway VmRSS KiB: idle %lld, with squatters %lld, peak %lld, after "
      "%lld (bound %lld)\n",
      static_cast<long long>(idle_rss), static_cast<long long>(squatter_rss),
      static_cast<long long>(peak_rss.load()),
      static_cast<long long>(after_rss), static_cast<long long>(kRssBoundKiB));

  // The logs, kept for a failure's post-mortem (Bazel keeps them in
  // test.outputs).
  if (const char* out = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR")) {
    std::ofstream(absl::StrCat(out, "/gateway.log")) << fixture->GatewayLog();
    std::ofstream(absl::StrCat(out, "/ca.log")) << fixture->CaLog();
  }
  if (handshakes.ok()) std::printf("%s", handshakes->out.c_str());

  ASSERT_TRUE(sessions.ok()) << sessions.status();
  EXPECT_EQ(sessions->exit_code, 0) << sessions->Describe();
  EXPECT_TRUE(absl::StrContains(
      sessions->out,
      absl::StrCat("sessions ", kSessions, " ok ", kSessions,
                   " failed 0 bytes ", kSessions * kBytesPerSession)))
      << sessions->Describe();
  ASSERT_TRUE(handshakes.ok()) << handshakes.status();
  EXPECT_EQ(handshakes->exit_code, 0) << handshakes->Describe();
  EXPECT_TRUE(absl::StrContains(handshakes->out,
                                absl::StrCat("handshakes ", kHandshakes, " ok ",
                                             kHandshakes, " failed 0")))
      << handshakes->Describe();
  // The squatters were held (not dropped) while all of that went through.
  EXPECT_EQ(still_open, kSquatters);
  EXPECT_GT(peak_rss.load(), 0);
  EXPECT_LT(peak_rss.load(), kRssBoundKiB);
  EXPECT_TRUE(fixture->gateway_process()->Running());
}

}  // namespace
}  // namespace sallyport::testing
