// A SIGHUP that moves `listen` (gateway/serve_listeners.h), end to end: the
// real `sallyport-gateway serve` with `listen` in its config (no --listen,
// which a reload keeps), the real CA, an sshd target and stock `ssh`. A new
// address in use is refused, logged, and the gateway goes on serving SSH
// on the old one, also when it had to close its listeners first (a new
// address they overlap) and then could not bind the new one: it opens the
// old address again. A later SIGHUP to a free address moves it there.
// In one process with direct Reload calls: gateway/serve_listen_test.cc.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/net_util.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {
namespace {

// A socket bound to 127.0.0.1:port with SO_REUSEPORT only and not
// listening: as another process of the same user would hold it, it keeps
// the port from a bind without SO_REUSEPORT (the gateway's check that a
// new address is free) and takes no connection.
struct BoundNotListening {
  explicit BoundNotListening(uint16_t port) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    bound = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0 &&
            bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~BoundNotListening() { close(fd); }
  int fd = -1;
  bool bound = false;
};

class GatewayListenReloadE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("gwlisten");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_.emplace(std::move(*dir));
    auto f = BastionFixture::Start();
    ASSERT_TRUE(f.ok()) << f.status();
    fixture_ = std::move(*f);
    // Enrolled (and served with --listen) as usual, then served again
    // with `listen` in the config.
    const std::string binary = RunfilePath("gateway/sallyport-gateway");
    absl::Status st = fixture_->StartGateway(binary);
    ASSERT_TRUE(st.ok()) << st << "\n" << fixture_->GatewayLog();
    fixture_->StopGateway();
    absl::StatusOr<uint16_t> port = FreeLoopbackPort();
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
    ASSERT_TRUE(SetListen(Loopback(port_)).ok());
    BackgroundProcess::Options po;
    po.log_path = dir_->File("gateway.log");
    auto gateway = BackgroundProcess::Start(
        {binary, "serve", "--config",
         fixture_->gateway_state_dir() + "/gateway.yaml"},
        po);
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = std::move(*gateway);
    st = WaitForTcpListener("127.0.0.1", port_, absl::Seconds(20));
    ASSERT_TRUE(st.ok()) << st << "\n" << Log();
  }
  void TearDown() override {
    if (HasFailure()) std::fprintf(stderr, "%s", Log().c_str());
    if (gateway_ != nullptr) (void)gateway_->Stop();
  }

  static std::string Loopback(uint16_t port) {
    return absl::StrCat("127.0.0.1:", port);
  }
  std::string Log() const {
    return dir_.has_value() ? ReadFileOrEmpty(dir_->File("gateway.log")) : "";
  }

  absl::Status SetListen(const std::string& listen) {
    return fixture_->EditGatewayConfig(
        [&](config::GatewayConfig* c) { c->set_listen(listen); });
  }

  // Sets `listen`, sends SIGHUP and waits (up to 30 s) until the reload
  // logged its "reloaded:" line; returns what it logged.
  std::string Reload(const std::string& listen) {
    const size_t before = Log().size();
    EXPECT_TRUE(SetListen(listen).ok());
    gateway_->Signal(SIGHUP);
    const absl::Time limit = absl::Now() + absl::Seconds(30);
    while (!absl::StrContains(Log().substr(before), "reloaded:") &&
           absl::Now() < limit) {
      absl::SleepFor(absl::Milliseconds(100));
    }
    const std::string logged = Log().substr(before);
    EXPECT_TRUE(absl::StrContains(logged, "reloaded:")) << logged;
    return logged;
  }

  // Alice's session on web01 through the gateway at `port`, with stock ssh.
  RunResult Session(uint16_t port) {
    auto args = fixture_->SshArgs("alice");
    EXPECT_TRUE(args.ok()) << args.status();
    if (!args.ok()) return RunResult();
    args->insert(args->end(), {"-p", absl::StrCat(port), "-l",
                               absl::StrCat(fixture_->target_login(), "+web01"),
                               "gateway", "echo through the gateway"});
    RunOptions ro;
    ro.timeout = absl::Seconds(60);
    auto r = RunCommand(*args, ro);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : RunResult();
  }

  std::optional<TempDir> dir_;
  std::unique_ptr<BastionFixture> fixture_;
  std::unique_ptr<BackgroundProcess> gateway_;
  uint16_t port_ = 0;
};

TEST_F(GatewayListenReloadE2eTest, AnAddressInUseKeepsTheOldListener) {
  ASSERT_EQ(Session(port_).out, "through the gateway\n");
  const std::string old = Loopback(port_);

  // Another port, held by another listener: the old listeners never
  // closed.
  {
    const LoopbackListener other = ListenOnLoopback(8);
    ASSERT_GE(other.fd, 0);
    const std::string taken = Loopback(other.port);
    const std::string logged = Reload(taken);
    close(other.fd);
    EXPECT_TRUE(absl::StrContains(
        logged,
        absl::StrCat("reload: listen ", taken,
                     " not applied, still listening on ", old,
                     ": cannot listen on ", taken, ": Address already in use")))
        << logged;
    const RunResult r = Session(port_);
    EXPECT_EQ(r.out, "through the gateway\n") << r.Describe();
  }

  // The same port as IPv6 names 127.0.0.1, which the gateway's listeners
  // overlap: they close first, the new address is still held by another
  // socket, and the gateway listens on the old address again.
  {
    BoundNotListening holder(port_);
    ASSERT_TRUE(holder.bound);
    const std::string mapped = absl::StrCat("[::ffff:127.0.0.1]:", port_);
    const std::string logged = Reload(mapped);
    EXPECT_TRUE(absl::StrContains(
        logged,
        absl::StrCat("reload: closing the listeners on ", old,
                     " first: ::ffff:127.0.0.1:", port_, " overlaps them")))
        << logged;
    EXPECT_TRUE(absl::StrContains(
        logged, absl::StrCat("reload: listen ", mapped,
                             " not applied, still listening on ", old,
                             ": cannot listen on ::ffff:127.0.0.1:", port_,
                             ": Address already in use")))
        << logged;
    // Served there while the other socket still holds the port.
    const RunResult r = Session(port_);
    EXPECT_EQ(r.out, "through the gateway\n") << r.Describe();
    EXPECT_EQ(HttpGet(fixture_->gateway_metrics_port(), "/healthz").first, 200);
  }

  // A free address: the gateway moves there and leaves the old one.
  absl::StatusOr<uint16_t> free_port = FreeLoopbackPort();
  ASSERT_TRUE(free_port.ok()) << free_port.status();
  const std::string logged = Reload(Loopback(*free_port));
  EXPECT_FALSE(absl::StrContains(logged, "not applied")) << logged;
  const RunResult moved = Session(*free_port);
  EXPECT_EQ(moved.out, "through the gateway\n") << moved.Describe();
  const int fd = ConnectToLoopback(port_);
  EXPECT_EQ(fd, -1) << "the old address still accepts";
  if (fd >= 0) close(fd);
}

}  // namespace
}  // namespace sallyport::testing
