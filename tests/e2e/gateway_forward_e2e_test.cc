// Forwarding through the real `sallyport-gateway` (issue 12 "Addressing"
// and "Authorization per channel"), with stock `ssh`, real sshd targets,
// a real ssh-agent and the real CA (BastionFixture):
//   - `ssh -J gateway web01` passthrough for a role with
//     proxyjump-passthrough, recorded ProxyJump without it (and with a
//     deny rule), refused for a host not in the inventory;
//   - on a jump-only connection, another port of an inventory host is a
//     port-forward decision;
//   - `ssh -L` allowed for one role and refused for another, with the
//     reason shown;
//   - `ssh -R` refused by default, allowed for a role, at most
//     max_remote_forwards (16) per connection;
//   - the channels the host opens toward the user (forwarded-tcpip) count
//     against max_channels_per_connection as reloaded by SIGHUP;
//   - agent forwarding refused by default and by a role's deny rule,
//     allowed for a role (`ssh-add -l` on the target lists the key).
// Roles (BastionFixture::DefaultOptions, plus a deny of agent-forward in
// prod-readonly): alice [dev] has no port-forward, agent-forward or
// proxyjump-passthrough (her certificate has no permit-port-forwarding or
// permit-agent-forwarding); olivia [ops] has every kind on env=dev and
// env=prod; rita [ops, prod-readonly] has ops' kinds, but prod-readonly's
// deny rule refuses port-forward, agent-forward and proxyjump-passthrough
// on env=prod (web02).
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
#include "tests/e2e/gateway_ship_util.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/echo_server.h"
#include "tests/harness/net_util.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {
namespace {

// Waits up to 30 s for `text` in a file.
bool WaitForText(const std::string& path, const std::string& text) {
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  while (absl::Now() < limit) {
    if (absl::StrContains(ReadFileOrEmpty(path), text)) return true;
    absl::SleepFor(absl::Milliseconds(200));
  }
  return false;
}

class GatewayForwardE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    BastionFixture::Options o = BastionFixture::DefaultOptions();
    // A role's deny rule that refuses agent forwarding on env=prod.
    for (auto& role : o.roles) {
      if (role.name() == "prod-readonly")
        role.mutable_deny(0)->add_channels("agent-forward");
    }
    auto f = BastionFixture::Start(o);
    ASSERT_TRUE(f.ok()) << f.status();
    fixture_ = f->release();
    absl::Status st =
        fixture_->StartGateway(RunfilePath("gateway/sallyport-gateway"));
    ASSERT_TRUE(st.ok()) << st << "\n" << fixture_->GatewayLog();
  }
  static void TearDownTestSuite() {
    if (fixture_ != nullptr) {
      EXPECT_EQ(fixture_->StopGateway(), 0) << fixture_->GatewayLog();
    }
    delete fixture_;
    fixture_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(fixture_, nullptr); }
  void TearDown() override {
    if (HasFailure())
      std::fprintf(stderr, "%s", fixture_->GatewayLog().c_str());
  }

  // `ssh -F CONFIG` for `user`: the fixture's ssh_config with LogLevel
  // INFO first (the default of a user's ssh, so the reasons of refused
  // channel opens are printed), for the ProxyJump hop as well.
  static std::vector<std::string> Args(const std::string& user) {
    auto u = fixture_->user(user);
    EXPECT_TRUE(u.ok()) << u.status();
    if (!u.ok()) return {"false"};
    const std::string config =
        absl::StrCat(::testing::TempDir(), "/", user, "_ssh_config");
    EXPECT_TRUE(
        WriteFile(config, absl::StrCat("Host *\n  LogLevel INFO\n", "Include ",
                                       (*u)->ssh_config, "\n"))
            .ok());
    return {"ssh", "-F", config};
  }
  static std::string Login(const std::string& host) {
    return absl::StrCat(fixture_->target_login(), "+", host);
  }
  static RunResult Run(const std::vector<std::string>& args,
                       const RunOptions& o = {}) {
    auto r = RunCommand(args, o);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : RunResult();
  }
  // `ssh -J gateway -o HostName=HOST HOST COMMAND` as `user`.
  static RunResult Jump(const std::string& user, const std::string& host,
                        const std::string& command) {
    std::vector<std::string> args = Args(user);
    args.insert(args.end(), {"-J", "gateway", "-o",
                             absl::StrCat("HostName=", host), host, command});
    return Run(args);
  }
  // `ssh OPTIONS -l LOGIN+HOST gateway ...` in the background (for -L and
  // -R), its output in a log file.
  static std::unique_ptr<BackgroundProcess> Background(
      const std::string& user, const std::string& host,
      const std::vector<std::string>& options, const std::string& log_name) {
    std::vector<std::string> args = Args(user);
    args.insert(args.end(), options.begin(), options.end());
    args.insert(args.end(), {"-N", "-l", Login(host), "gateway"});
    BackgroundProcess::Options o;
    o.log_path = absl::StrCat(::testing::TempDir(), "/", log_name, ".log");
    auto p = BackgroundProcess::Start(args, o);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? std::move(*p) : nullptr;
  }
  static bool WaitForGatewayLog(const std::string& text) {
    const absl::Time limit = absl::Now() + absl::Seconds(30);
    while (absl::Now() < limit) {
      if (absl::StrContains(fixture_->GatewayLog(), text)) return true;
      absl::SleepFor(absl::Milliseconds(200));
    }
    return false;
  }

  static BastionFixture* fixture_;
};

BastionFixture* GatewayForwardE2eTest::fixture_ = nullptr;

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
    EXPECT_FALSE(absl::StrContains(line, "bytes_in=0 ")) << line;
    const size_t at = line.find("session=");
    ASSERT_NE(at, absl::string_view::npos) << line;
    session = std::string(line.substr(at + 8, line.find(' ', at) - at - 8));
  }
  ASSERT_FALSE(session.empty()) << gw;
  bool closed = false;
  for (absl::string_view line : absl::StrSplit(gw, '\n')) {
    if (!absl::StrContains(line, "event=connection.close") ||
        !absl::StrContains(line, absl::StrCat("session=\"", session, "\""))) {
      continue;
    }
    closed = true;
    EXPECT_FALSE(absl::StrContains(line, "bytes_in=0 ")) << line;
    EXPECT_FALSE(absl::StrContains(line, "bytes_out=0 ")) << line;
  }
  EXPECT_TRUE(closed) << gw;
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
  // alice's certificate does not permit port forwarding.
  args = Args("alice");
  args.insert(args.end(),
              {"-W", absl::StrCat("web01:", echo.port()), "gateway"});
  r = Run(args, o);
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "port forwarding is not permitted"))
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
           {"alice", "web01", "agent forwarding is not permitted"},
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
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        listen(fd_, 16) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return;
    }
    port_ = ntohs(a.sin_port);
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
  ASSERT_TRUE(fixture_
                  ->EditGatewayConfig([](config::GatewayConfig* c) {
                    c->mutable_limits()->set_max_channels_per_connection(4);
                  })
                  .ok());
  fixture_->gateway_process()->Signal(SIGHUP);
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  while (!absl::StrContains(fixture_->GatewayLog(),
                            "max_channels_per_connection=4") &&
         absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(absl::StrContains(fixture_->GatewayLog(),
                                "max_channels_per_connection=4"))
      << fixture_->GatewayLog();

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
}

}  // namespace
}  // namespace sallyport::testing
