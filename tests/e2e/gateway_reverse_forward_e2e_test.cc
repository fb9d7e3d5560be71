// The channels toward the user through the real `sallyport-gateway`
// (issue 12 "Authorization per channel"), with stock `ssh`, real sshd
// targets, a real ssh-agent and the real CA (BastionFixture,
// gateway_forward_e2e_fixture.h):
//   - `ssh -R` refused by default, allowed for a role, at most
//     max_remote_forwards (16) per connection;
//   - the channels the host opens toward the user (forwarded-tcpip) count
//     against max_channels_per_connection as reloaded by SIGHUP;
//   - agent forwarding refused by default and by a role's deny rule,
//     allowed for a role (`ssh-add -l` on the target lists the key).
// ssh -J and ssh -L: gateway_forward_e2e_test.cc.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/e2e/gateway_forward_e2e_fixture.h"
#include "tests/e2e/gateway_ship_util.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/echo_server.h"
#include "tests/harness/net_util.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {
namespace {

// ------------------------------------------------------------ ssh -R

TEST_F(GatewayForwardE2eTest, RemoteForwardIsRefusedByDefault) {
  EchoServer echo;
  auto rport = FreeLoopbackPort();
  ASSERT_TRUE(rport.ok());
  const std::string spec = absl::StrCat(*rport, ":127.0.0.1:", echo.port());
  // alice: no role of hers allows port-forward; rita on web02: denied by
  // prod-readonly. Each is told why on the session's stderr.
  for (const auto& [user, host, reason] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"alice", "web01", "port forwarding is not permitted"},
           {"rita", "web02", "denied by role 'prod-readonly'"}}) {
    std::vector<std::string> args = Args(user);
    args.insert(args.end(), {"-o", "LogLevel=INFO", "-R", spec, "-l",
                             Login(host), "gateway", "sleep 1; echo done"});
    const RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    EXPECT_TRUE(absl::StrContains(r.err, "remote port forwarding failed"))
        << r.Describe();
    EXPECT_TRUE(absl::StrContains(r.err, "remote forwarding (-R)"))
        << user << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, reason)) << r.Describe();
  }
  EXPECT_EQ(RoundTrip(*rport, "ping\n"), "");
  EXPECT_EQ(echo.accepted(), 0);
  // Each refusal is an audit event at the CA, sent by the gateway
  // (channel.refused, with the kind and the reason); events come in
  // batches, so wait for them.
  int refused = 0;
  RunResult events;
  for (const absl::Time limit = absl::Now() + absl::Seconds(30);
       refused < 2 && absl::Now() < limit;
       absl::SleepFor(absl::Milliseconds(200))) {
    events = Spctl(*fixture_, {"audit", "ls", "--json"});
    refused = 0;
    for (absl::string_view l : absl::StrSplit(events.out, '\n')) {
      if (absl::StrContains(l, "\"channel.refused\"") &&
          absl::StrContains(l, "tcpip-forward") &&
          (absl::StrContains(l, "port forwarding is not permitted") ||
           absl::StrContains(l, "prod-readonly"))) {
        ++refused;
      }
    }
  }
  EXPECT_GE(refused, 2) << events.Describe();
}

TEST_F(GatewayForwardE2eTest, RemoteForwardIsAllowedForARoleUpToTheLimit) {
  EchoServer echo;
  // 17 forwards: the limit (max_remote_forwards) is 16 per connection.
  std::vector<uint16_t> ports;
  std::vector<std::string> options = {"-o", "LogLevel=INFO"};
  while (ports.size() < 17) {
    auto p = FreeLoopbackPort();
    ASSERT_TRUE(p.ok());
    // The kernel may hand out a port again; ssh drops a repeated -R (the
    // 17th was then never asked for: a flake seen once).
    if (std::find(ports.begin(), ports.end(), *p) != ports.end()) continue;
    ports.push_back(*p);
    options.insert(options.end(),
                   {"-R", absl::StrCat(*p, ":127.0.0.1:", echo.port())});
  }
  auto ssh = Background("olivia", "web01", options, "r_olivia");
  ASSERT_NE(ssh, nullptr);
  // The host listens; a connection there comes back to the user's side.
  EXPECT_TRUE(EchoesThrough(ports[0], "pong\n"))
      << ReadFileOrEmpty(ssh->log_path());
  EXPECT_TRUE(EchoesThrough(ports[15], "pong16\n"))
      << ReadFileOrEmpty(ssh->log_path());
  // The 17th is over the limit.
  EXPECT_TRUE(
      WaitForText(ssh->log_path(),
                  absl::StrCat("remote port forwarding failed for listen port ",
                               ports[16])))
      << ReadFileOrEmpty(ssh->log_path());
  EXPECT_EQ(RoundTrip(ports[16], "x"), "");
  EXPECT_TRUE(absl::StrContains(fixture_->GatewayLog(),
                                "at most 16 remote forwards per connection"))
      << fixture_->GatewayLog();
}

// ------------------------------------------------------ agent forwarding

class AgentForwardTest : public GatewayForwardE2eTest {
 protected:
  void SetUp() override {
    GatewayForwardE2eTest::SetUp();
    auto dir = TempDir::Create("agent");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    socket_ = dir_->File("agent.sock");
    BackgroundProcess::Options o;
    o.log_path = dir_->File("agent.log");
    auto agent =
        BackgroundProcess::Start({"ssh-agent", "-D", "-a", socket_}, o);
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = std::move(*agent);
    auto key = GenerateKey(dir_->path(), "agent_key");
    ASSERT_TRUE(key.ok()) << key.status();
    RunOptions env;
    env.env["SSH_AUTH_SOCK"] = socket_;
    const absl::Time limit = absl::Now() + absl::Seconds(30);
    absl::StatusOr<RunResult> added;
    do {
      added = RunCommand({"ssh-add", key->private_path}, env);
      if (added.ok() && added->exit_code == 0) break;
      absl::SleepFor(absl::Milliseconds(200));
    } while (absl::Now() < limit);
    ASSERT_TRUE(added.ok() && added->exit_code == 0)
        << (added.ok() ? added->Describe() : added.status().ToString());
    auto listed = RunCommand({"ssh-add", "-l"}, env);
    ASSERT_TRUE(listed.ok() && listed->exit_code == 0);
    // "256 SHA256:... comment (ED25519)"
    std::vector<std::string> parts = absl::StrSplit(listed->out, ' ');
    if (parts.size() > 1) fingerprint_ = parts[1];
  }

  // `ssh -A -o IdentityAgent=SOCKET -l LOGIN+HOST gateway 'ssh-add -l'`
  // (the fixture's config says IdentityAgent none).
  RunResult ListKeysOnTarget(const std::string& user, const std::string& host) {
    std::vector<std::string> args = Args(user);
    args.insert(args.end(),
                {"-A", "-o", absl::StrCat("IdentityAgent=", socket_), "-l",
                 Login(host), "gateway", "ssh-add -l; echo rc=$?"});
    return Run(args);
  }

  std::unique_ptr<TempDir> dir_;
  std::string socket_;
  std::unique_ptr<BackgroundProcess> agent_;
  std::string fingerprint_;
};

TEST_F(AgentForwardTest, TheTargetListsTheKeyForARoleThatAllowsIt) {
  ASSERT_TRUE(absl::StartsWith(fingerprint_, "SHA256:")) << fingerprint_;
  const RunResult r = ListKeysOnTarget("olivia", "web01");
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.out, fingerprint_)) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.out, "rc=0")) << r.Describe();
}

TEST_F(AgentForwardTest, IsRefusedByDefaultAndByARolesDenyRule) {
  for (const auto& [user, host, reason] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"alice", "web01",
            "agent forwarding is not permitted by your certificate (none of "
            "your roles allowed agent-forward when you ran `sp login`"},
           {"rita", "web02", "denied by role 'prod-readonly'"}}) {
    const RunResult r = ListKeysOnTarget(user, host);
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    EXPECT_FALSE(absl::StrContains(r.out, fingerprint_)) << r.Describe();
    // ssh-add finds no agent on the target.
    EXPECT_FALSE(absl::StrContains(r.out, "rc=0")) << r.Describe();
    EXPECT_TRUE(absl::StrContains(r.err, reason)) << user << r.Describe();
  }
  EXPECT_TRUE(
      absl::StrContains(fixture_->GatewayLog(), "auth-agent-req@openssh.com"))
      << fixture_->GatewayLog();
}

// ------------------------------------- channels the host opens, at the limit

// A loopback listener on the user's side that greets every connection
// with "hi\n" and keeps it open until destroyed: each forwarded-tcpip
// channel the host opens stays open while the test holds its end.
class GreetingServer {
 public:
  GreetingServer() {
    const testing::LoopbackListener l = testing::ListenOnLoopback(16);
    fd_ = l.fd;
    port_ = l.port;
    if (fd_ < 0) return;
    thread_ = std::thread([this] {
      for (;;) {
        const int c = accept(fd_, nullptr, nullptr);
        if (c < 0) return;  // shutdown() in the destructor
        (void)!write(c, "hi\n", 3);
        absl::MutexLock lock(&mu_);
        held_.push_back(c);
      }
    });
  }
  ~GreetingServer() {
    if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
    absl::MutexLock lock(&mu_);
    for (int c : held_) close(c);
  }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<int> held_ ABSL_GUARDED_BY(mu_);
};

// A connection to 127.0.0.1:port, held open. Greeted(): it read "hi\n"
// from the far end (false once the far end closed it without a word).
class HeldConnection {
 public:
  explicit HeldConnection(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{30, 0};
    if (fd_ >= 0) setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (fd_ >= 0 &&
        connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~HeldConnection() {
    if (fd_ >= 0) close(fd_);
  }
  bool Greeted() {
    if (fd_ < 0) return false;
    std::string got;
    char buf[16];
    while (got.size() < 3) {
      const ssize_t n = read(fd_, buf, sizeof(buf));
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    return got == "hi\n";
  }

 private:
  int fd_ = -1;
};

// max_channels_per_connection counts the channels the host opens toward
// the user (here forwarded-tcpip, for `ssh -R`) as well, with the limits
// of a SIGHUP: the gateway starts with 2 and is reloaded to 4; a new
// connection then carries 4 forwarded channels at once, and the 5th is
// refused at the gateway.
class ReverseChannelLimitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto f = BastionFixture::Start();
    ASSERT_TRUE(f.ok()) << f.status();
    fixture_ = std::move(*f);
    fixture_->AddGatewayConfigEdit([](config::GatewayConfig& c) {
      c.mutable_limits()->set_max_channels_per_connection(2);
    });
    absl::Status st =
        fixture_->StartGateway(RunfilePath("gateway/sallyport-gateway"));
    ASSERT_TRUE(st.ok()) << st << "\n" << fixture_->GatewayLog();
  }
  void TearDown() override {
    if (HasFailure() && fixture_ != nullptr)
      std::fprintf(stderr, "%s", fixture_->GatewayLog().c_str());
  }
  std::unique_ptr<BastionFixture> fixture_;
};

TEST_F(ReverseChannelLimitTest, ForwardedChannelsFollowTheReloadedLimit) {
  absl::Status reloaded = fixture_->ReloadGateway(
      [](config::GatewayConfig* c) {
        c->mutable_limits()->set_max_channels_per_connection(4);
      },
      "max_channels_per_connection=4");
  ASSERT_TRUE(reloaded.ok()) << reloaded;

  GreetingServer greeter;
  ASSERT_NE(greeter.port(), 0);
  auto rport = FreeLoopbackPort();
  ASSERT_TRUE(rport.ok());
  // olivia [ops] may forward; -N: no session channel, so the connection's
  // channels are the host's forwarded-tcpip ones only.
  auto u = fixture_->user("olivia");
  ASSERT_TRUE(u.ok()) << u.status();
  BackgroundProcess::Options o;
  o.log_path = absl::StrCat(::testing::TempDir(), "/reverse_limit.log");
  auto ssh = BackgroundProcess::Start(
      {"ssh", "-F", (*u)->ssh_config, "-v", "-N", "-R",
       absl::StrCat(*rport, ":127.0.0.1:", greeter.port()), "-l",
       absl::StrCat(fixture_->target_login(), "+web01"), "gateway"},
      o);
  ASSERT_TRUE(ssh.ok()) << ssh.status();
  // The host listens once the forward is set up (not probed: a probe
  // would be one more channel, closing while the test counts).
  ASSERT_TRUE(WaitForText(o.log_path, "remote forward success"))
      << ReadFileOrEmpty(o.log_path);
  std::vector<std::unique_ptr<HeldConnection>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<HeldConnection>(*rport));
    EXPECT_TRUE(held.back()->Greeted()) << "forwarded channel " << i + 1 << "\n"
                                        << ReadFileOrEmpty(o.log_path);
  }
  // The 5th is over the limit: the host's channel open is refused, and
  // the host closes the connection.
  HeldConnection fifth(*rport);
  EXPECT_FALSE(fifth.Greeted()) << ReadFileOrEmpty(o.log_path);
  EXPECT_TRUE(absl::StrContains(fixture_->GatewayLog(),
                                "too many channels on this connection"))
      << fixture_->GatewayLog();
  // Audited as the user's refused channels are (channel.refused, with the
  // kind, the forward and the reason); events come in batches.
  bool refused = false;
  RunResult events;
  for (const absl::Time limit = absl::Now() + absl::Seconds(30);
       !refused && absl::Now() < limit;
       absl::SleepFor(absl::Milliseconds(200))) {
    events = Spctl(*fixture_, {"audit", "ls", "--json"});
    for (absl::string_view l : absl::StrSplit(events.out, '\n')) {
      refused |= absl::StrContains(l, "\"channel.refused\"") &&
                 absl::StrContains(l, "forwarded-tcpip") &&
                 absl::StrContains(l, absl::StrCat(":", *rport)) &&
                 absl::StrContains(l, "too many channels on this connection");
    }
  }
  EXPECT_TRUE(refused) << events.Describe();
}

}  // namespace
}  // namespace sallyport::testing
