// GatewayServer's SSH listeners against a real CA (SQLite), with
// serve_test_fixture.h: a listen or metrics_listen address in use stops the
// start; a reload to an address in use keeps the old listeners, one to a
// free address moves there; max_startups counts the connections of the
// listeners a reload replaced.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gateway/serve.h"
#include "gateway/serve_test_fixture.h"
#include "gtest/gtest.h"
#include "tests/harness/net_util.h"
#include "tests/harness/subprocess.h"

namespace sallyport::gateway {
namespace {

using ServeListenTest = ServeOpsTest;

// A listener of another process on 127.0.0.1: with SO_REUSEPORT (another
// copy of the gateway, same user), the kernel would let the gateway's
// listeners share its port and take part of the connections.
// `at` 0: a free port.
struct HeldPort {
  explicit HeldPort(bool reuse_port, uint16_t at = 0) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(at);
    socklen_t len = sizeof a;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        listen(fd, 8) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = ntohs(a.sin_port);
    }
  }
  ~HeldPort() { close(fd); }
  std::string address() const { return absl::StrCat("127.0.0.1:", port); }
  int fd = -1;
  uint16_t port = 0;
};

// A TCP connection to the gateway that sends nothing (unauthenticated);
// Greeting() is the gateway's first line, "" when it closed at once (a
// connection max_startups dropped, or none was made).
struct SilentClient {
  explicit SilentClient(uint16_t port, const char* ipv4 = "127.0.0.1") {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (inet_pton(AF_INET, ipv4, &a.sin_addr) != 1 ||
        connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd);
      fd = -1;
    }
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~SilentClient() { close(fd); }
  std::string Greeting() {
    std::string line;
    char c;
    while (line.size() < 256 && read(fd, &c, 1) == 1) {
      line += c;
      if (c == '\n') break;
    }
    return line;
  }
  int fd;
};

TEST_F(ServeListenTest, AListenOrMetricsAddressInUseStopsTheStart) {
  ASSERT_TRUE(testing::WriteFile(gw_dir_ + "/gateway.yaml", base_yaml_).ok());
  auto config = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  for (bool reuse_port : {true, false}) {
    SCOPED_TRACE(reuse_port ? "SO_REUSEPORT" : "plain");
    HeldPort other(reuse_port);
    ASSERT_NE(other.port, 0);
    GatewayServer::Options options;
    options.config = *config;
    options.config.listen = other.address();
    auto server = GatewayServer::Start(std::move(options));
    ASSERT_FALSE(server.ok());
    EXPECT_EQ(server.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(server.status().message(),
              absl::StrCat("listen: cannot listen on ", other.address(),
                           ": Address already in use"));
    options = GatewayServer::Options();
    options.config = *config;
    options.config.metrics_listen = other.address();
    server = GatewayServer::Start(std::move(options));
    ASSERT_FALSE(server.ok());
    EXPECT_EQ(server.status().message(),
              absl::StrCat("metrics_listen: cannot listen on ", other.address(),
                           ": Address already in use"));
    // `serve` says so and exits 1.
    ::testing::internal::CaptureStderr();
    const int code = RunServe(gw_dir_ + "/gateway.yaml", other.address());
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(code, 1);
    EXPECT_EQ(err, absl::StrCat("sallyport-gateway: listen: cannot listen on ",
                                other.address(), ": Address already in use\n"));
  }
}

TEST_F(ServeListenTest, ReloadKeepsTheListenerWhenTheNewAddressIsInUse) {
  StartServer("", 2.0 / 3.0);
  const uint16_t port = server_->local_endpoint().port();
  const std::string listen = server_->settings().listen;
  HeldPort other(/*reuse_port=*/true);
  ASSERT_NE(other.port, 0);
  auto fresh = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  fresh->listen = other.address();
  fresh->limits.max_sessions_per_user = 7;
  const absl::Status st = server_->Reload(*fresh);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_EQ(st.message(),
            absl::StrCat("reload: listen ", other.address(),
                         " not applied, still listening on ", listen,
                         ": cannot listen on ", other.address(),
                         ": Address already in use"));
  EXPECT_TRUE(WaitForLog(std::string(st.message()))) << Log();
  EXPECT_EQ(server_->local_endpoint().port(), port);
  EXPECT_EQ(server_->settings().listen, listen);
  EXPECT_TRUE(absl::StartsWith(SilentClient(port).Greeting(), "SSH-2.0-"));
  // The rest of the reload is applied.
  EXPECT_EQ(server_->proxy().limits().max_sessions_per_user, 7);

  // A free address: the gateway moves there and leaves the old one.
  absl::StatusOr<uint16_t> free_port = testing::FreeLoopbackPort();
  ASSERT_TRUE(free_port.ok());
  fresh->listen = absl::StrCat("127.0.0.1:", *free_port);
  ASSERT_TRUE(server_->Reload(*fresh).ok());
  EXPECT_EQ(server_->local_endpoint().port(), *free_port);
  EXPECT_EQ(server_->settings().listen, fresh->listen);
  EXPECT_TRUE(
      absl::StartsWith(SilentClient(*free_port).Greeting(), "SSH-2.0-"));
  const int old = testing::ConnectToLoopback(port);
  EXPECT_EQ(old, -1) << "the old address still accepts";
  if (old >= 0) close(old);
}

// max_startups counts the unauthenticated connections of every listener:
// a reload that replaces them (new limits, or a new address) does not
// start a fresh count while the old listeners' connections still wait.
TEST_F(ServeListenTest, MaxStartupsCountsTheConnectionsOfReplacedListeners) {
  StartServer("limits:\n  max_startups: \"2:100:2\"\n  login_grace: 60s\n",
              2.0 / 3.0);
  const uint16_t port = server_->local_endpoint().port();
  std::vector<std::unique_ptr<SilentClient>> waiting;
  for (int i = 0; i < 2; ++i) {
    waiting.push_back(std::make_unique<SilentClient>(port));
    ASSERT_TRUE(absl::StartsWith(waiting.back()->Greeting(), "SSH-2.0-")) << i;
  }
  EXPECT_EQ(SilentClient(port).Greeting(), "") << "a third was admitted";
  // New listeners on the same port (login_grace changed).
  ASSERT_TRUE(testing::WriteFile(gw_dir_ + "/gateway.yaml",
                                 base_yaml_ +
                                     "limits:\n  max_startups: \"2:100:2\"\n"
                                     "  login_grace: 59s\n")
                  .ok());
  auto fresh = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  ASSERT_TRUE(server_->Reload(*fresh).ok());
  ASSERT_EQ(server_->settings().limits.login_grace, absl::Seconds(59));
  EXPECT_EQ(SilentClient(port).Greeting(), "")
      << "the replaced listeners' connections were not counted";
  // New listeners on a new address.
  absl::StatusOr<uint16_t> free_port = testing::FreeLoopbackPort();
  ASSERT_TRUE(free_port.ok());
  fresh->listen = absl::StrCat("127.0.0.1:", *free_port);
  ASSERT_TRUE(server_->Reload(*fresh).ok());
  EXPECT_EQ(SilentClient(*free_port).Greeting(), "");
  // One of the waiting ones leaves: there is room again.
  waiting.pop_back();
  const absl::Time limit = absl::Now() + absl::Seconds(10);
  bool admitted = false;
  while (!admitted && absl::Now() < limit) {
    admitted =
        absl::StartsWith(SilentClient(*free_port).Greeting(), "SSH-2.0-");
    if (!admitted) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(admitted);
}

// A reload to the same port on an address that the gateway's own
// listeners overlap, which the kernel refuses to bind while they are open
// (127.0.0.1:2222 to 0.0.0.0:2222 or [::]:2222; here, on loopback only,
// to [::ffff:127.0.0.1]:P, 127.0.0.1 as an IPv6 socket names it, and
// back): the old listeners close first and the new ones take the port. It
// was refused as "Address already in use" and needed a restart. When the
// new address still cannot be bound (another process shares the port),
// the old address is listened on again and the reload is refused as
// before.
TEST_F(ServeListenTest, ReloadMovesToAnAddressItsOwnListenersOverlap) {
  StartServer("", 2.0 / 3.0);
  const uint16_t port = server_->local_endpoint().port();
  const std::string listen = server_->settings().listen;
  const std::string mapped = absl::StrCat("[::ffff:127.0.0.1]:", port);
  auto fresh = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  fresh->listen = mapped;
  {
    // Another process of the same user shares the port (SO_REUSEPORT).
    HeldPort other(/*reuse_port=*/true, port);
    ASSERT_EQ(other.port, port);
    const absl::Status st = server_->Reload(*fresh);
    EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
    EXPECT_EQ(st.message(),
              absl::StrCat("reload: listen ", mapped,
                           " not applied, still listening on ", listen,
                           ": cannot listen on ::ffff:127.0.0.1:", port,
                           ": Address already in use"));
    EXPECT_EQ(server_->settings().listen, listen);
    EXPECT_TRUE(server_->Health().ok()) << server_->Health();
  }
  // Still listening there: every connection reaches the gateway.
  EXPECT_TRUE(absl::StartsWith(SilentClient(port).Greeting(), "SSH-2.0-"));

  ClearLog();
  ASSERT_TRUE(server_->Reload(*fresh).ok()) << Log();
  EXPECT_EQ(server_->settings().listen, mapped);
  EXPECT_EQ(server_->local_endpoint().address().to_string(),
            "::ffff:127.0.0.1");
  EXPECT_EQ(server_->local_endpoint().port(), port);
  EXPECT_TRUE(absl::StartsWith(SilentClient(port).Greeting(), "SSH-2.0-"));
  EXPECT_TRUE(server_->Health().ok()) << server_->Health();
  EXPECT_TRUE(absl::StrContains(
      Log(), absl::StrCat("reload: closing the listeners on 127.0.0.1:", port,
                          " first: ::ffff:127.0.0.1:", port, " overlaps them")))
      << Log();
  // And back.
  fresh->listen = listen;
  ASSERT_TRUE(server_->Reload(*fresh).ok()) << Log();
  EXPECT_EQ(server_->local_endpoint().address().to_string(), "127.0.0.1");
  EXPECT_TRUE(absl::StartsWith(SilentClient(port).Greeting(), "SSH-2.0-"));
}

// The same port on another loopback address does not overlap: the new
// listeners open beside the old ones, which then close.
TEST_F(ServeListenTest, ReloadMovesToTheSamePortOnAnotherAddress) {
  StartServer("", 2.0 / 3.0);
  const uint16_t port = server_->local_endpoint().port();
  auto fresh = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  fresh->listen = absl::StrCat("127.0.0.2:", port);
  ClearLog();
  ASSERT_TRUE(server_->Reload(*fresh).ok()) << Log();
  EXPECT_EQ(server_->settings().listen, fresh->listen);
  EXPECT_TRUE(
      absl::StartsWith(SilentClient(port, "127.0.0.2").Greeting(), "SSH-2.0-"));
  EXPECT_EQ(SilentClient(port).fd, -1) << "the old address still accepts";
  EXPECT_FALSE(absl::StrContains(Log(), "reload: closing the listeners"))
      << Log();
}

}  // namespace
}  // namespace sallyport::gateway
