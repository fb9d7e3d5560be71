// Recorded ProxyJump on one jump connection (issue 13): what a jump
// channel nobody logs in to costs the host, how long it may wait, and how
// the inner sessions count against max_sessions_per_user. See
// gateway_test_fixture.h (the "ops" role has no proxyjump-passthrough, so
// a jump to web* is recorded).
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gateway/gateway_test_fixture.h"
#include "gateway/proxy.h"
#include "gtest/gtest.h"
#include "ssh/connection/messages.h"
#include "tests/harness/net_util.h"
#include "tests/harness/subprocess.h"

namespace sallyport::gateway {
namespace {

using testing::RunCommand;
using testing::RunResult;

// A TCP listener on loopback that accepts and counts connections (and
// closes them): the host a jump goes to, seen from the host's side.
class CountingListener {
 public:
  CountingListener() {
    const testing::LoopbackListener l = testing::ListenOnLoopback(64);
    fd_ = l.fd;
    port_ = l.port;
    if (fd_ < 0) return;
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        const int c = accept(fd_, nullptr, nullptr);
        if (c < 0) continue;
        ++accepted_;
        close(c);
      }
    });
  }
  ~CountingListener() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
  }
  uint16_t port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// Our client on a jump-only connection: opens `count` jump channels to
// host:port at once and logs in to none of them; counts the opens
// answered, the refusals (with their reasons) and the channels whose inner
// server sent its SSH banner, and disconnects once every open was
// answered and every accepted channel showed its banner.
class UnusedJumps : public ssh::session::SessionHandler {
 public:
  UnusedJumps(std::string host, uint16_t port, int count)
      : host_(std::move(host)), port_(port), count_(count) {}

  void OnAuthenticated(ssh::session::Session& s) override {
    session_ = &s;
    for (int i = 0; i < count_; ++i) {
      if (!OpenDirectTcpip(s, host_, port_).ok()) {
        ADD_FAILURE() << "cannot open";
        s.Disconnect("cannot open");
        return;
      }
    }
  }
  void OnChannelOpenResult(ssh::session::Channel,
                           const ssh::connection::OpenResult& r) override {
    ++answered_;
    if (!r.ok()) refusals_.push_back(r.description);
    MaybeDone();
  }
  void OnData(ssh::session::Channel ch, uint32_t,
              ssh::wire::Bytes data) override {
    ch.Consume(data.size());
    std::string& seen = received_[ch.id()];
    seen.append(data.begin(), data.end());
    MaybeDone();
  }
  void OnClose(ssh::session::Channel ch) override {
    closed_.push_back(ch.id());
    if (wait_for_close) session_->Disconnect("closed");
  }

  int accepted() const {
    return answered_ - static_cast<int>(refusals_.size());
  }
  const std::vector<std::string>& refusals() const { return refusals_; }
  int banners() const {
    int n = 0;
    for (const auto& [id, text] : received_) {
      n += absl::StartsWith(text, "SSH-2.0-") ? 1 : 0;
    }
    return n;
  }
  const std::vector<uint32_t>& closed() const { return closed_; }
  // Set to keep the connection until the channels close (the test of the
  // login grace).
  bool wait_for_close = false;

 private:
  void MaybeDone() {
    if (answered_ == count_ && banners() == accepted() && !wait_for_close) {
      session_->Disconnect("done");
    }
  }

  std::string host_;
  uint16_t port_;
  int count_;
  ssh::session::Session* session_ = nullptr;
  int answered_ = 0;
  std::vector<std::string> refusals_;
  std::map<uint32_t, std::string> received_;
  std::vector<uint32_t> closed_;
};

class JumpTest : public GatewayTest {
 protected:
  // `name` (selected by the ops role: web*) in the inventory at the
  // listener's port.
  void AddHost(const std::string& name, uint16_t port) {
    storage::Host h;
    h.name = name;
    h.address = "127.0.0.1";
    h.port = port;
    h.trust = storage::HostTrust::kHostCa;
    ASSERT_TRUE(env_->store().CreateHost(h).ok());
  }
};

// Jump channels nobody logs in to: the gateway connects to the host for
// none of them (it made an unauthenticated connection to the host for
// each, which its sshd counts against MaxStartups and PerSourcePenalties),
// and at most kMaxJumpsAwaitingLogin wait at once: the next is refused,
// saying why, and audited with its host and destination.
TEST_F(JumpTest, JumpsNobodyLogsInToConnectNowhereAndAreCapped) {
  CountingListener host;
  ASSERT_NE(host.port(), 0);
  AddHost("webcount", host.port());
  const int extra = 2;
  UnusedJumps client("webcount", host.port(),
                     static_cast<int>(kMaxJumpsAwaitingLogin) + extra);
  LoginResult run = RunOurClient(login_, client, absl::Seconds(60));
  ASSERT_TRUE(run.authenticated) << run.banner;
  EXPECT_EQ(client.accepted(), static_cast<int>(kMaxJumpsAwaitingLogin))
      << GatewayLog();
  EXPECT_EQ(client.banners(), static_cast<int>(kMaxJumpsAwaitingLogin));
  EXPECT_EQ(client.refusals().size(), static_cast<size_t>(extra));
  for (const std::string& why : client.refusals()) {
    EXPECT_TRUE(absl::StrContains(
        why, absl::StrCat("recorded ProxyJumps waiting for their login (at "
                          "most ",
                          kMaxJumpsAwaitingLogin, " at a time)")))
        << why;
  }
  // The early connection to the host was made as soon as an inner
  // connection started: each would have connected within moments.
  absl::SleepFor(absl::Seconds(2));
  EXPECT_EQ(host.accepted(), 0) << GatewayLog();
  EXPECT_FALSE(absl::StrContains(GatewayLog(), "event=upstream.connect"))
      << GatewayLog();
  const std::vector<std::string> refused = AuditPayloads("channel.refused");
  ASSERT_FALSE(refused.empty());
  EXPECT_EQ(PayloadText(refused[0], "destination"),
            absl::StrCat("webcount:", host.port()))
      << refused[0];
  EXPECT_EQ(PayloadText(refused[0], "host"), "webcount") << refused[0];
}

class JumpGraceTest : public JumpTest {
 protected:
  void SetUp() override {
    extra_yaml_ = "limits:\n  login_grace: 2s\n";
    JumpTest::SetUp();
  }
};

// An inner connection has limits.login_grace to log in, as every
// connection has (it had a fixed minute): then the gateway ends it and
// closes the jump channel.
TEST_F(JumpGraceTest, AnInnerConnectionHasTheConfiguredLoginGrace) {
  UnusedJumps client("web01", sshd_->port(), 1);
  client.wait_for_close = true;
  LoginResult run = RunOurClient(login_, client, absl::Seconds(40));
  ASSERT_TRUE(run.authenticated) << run.banner;
  EXPECT_EQ(client.accepted(), 1) << GatewayLog();
  EXPECT_EQ(client.banners(), 1);
  EXPECT_EQ(client.closed().size(), 1u) << GatewayLog();
}

class JumpSessionLimitTest : public JumpTest {
 protected:
  void SetUp() override {
    extra_yaml_ = "limits:\n  max_sessions_per_user: 1\n";
    JumpTest::SetUp();
  }
  // `ssh -J` as OpenSSH runs it, the jump connection shared
  // (ControlMaster): the first jump's `ssh -W` becomes the master, later
  // ones open their jump channel on it.
  // With `shared` false, a jump connection of its own.
  std::vector<std::string> JumpArgs(const std::string& command,
                                    bool shared = true) {
    std::vector<std::string> hop = testing::SshClientArgs(
        server_->local_endpoint().port(), known_hosts_, key_path_, cert_path_);
    if (shared) {
      hop.insert(hop.end(),
                 {"-o", "ControlMaster=auto", "-o",
                  "ControlPath=" + control_path(), "-o", "ControlPersist=60"});
    }
    hop.insert(hop.end(), {"-W", "%h:%p", "-l", login_, "127.0.0.1"});
    std::vector<std::string> args = testing::SshClientArgs(
        sshd_->port(), known_hosts_, key_path_, cert_path_);
    args.insert(args.end(), {"-o", "ProxyCommand=" + absl::StrJoin(hop, " "),
                             "-l", login_, "web01", command});
    return args;
  }
  std::string control_path() { return dir_->File("cm"); }
  void TearDown() override {
    (void)RunCommand({"ssh", "-o", "ControlPath=" + control_path(), "-O",
                      "exit", "127.0.0.1"});
    JumpTest::TearDown();
  }
};

// max_sessions_per_user counts the recorded sessions inside a jump
// connection: the first uses the jump connection's count, the second
// concurrent one on the same connection is refused (one ControlMaster
// connection carried 64).
TEST_F(JumpSessionLimitTest, ASecondInnerSessionCountsAgainstTheLimit) {
  const std::string release = dir_->File("release");
  RunResult first;
  std::thread client([&] {
    auto r =
        RunCommand(JumpArgs(absl::StrCat("echo started; while [ ! -e ", release,
                                         " ]; do sleep 0.1; done; echo done")));
    ASSERT_TRUE(r.ok()) << r.status();
    first = *r;
  });
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  while (absl::Now() < limit &&
         !absl::StrContains(recorder_.DataFor("web01", Direction::kOutput),
                            "started")) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  // One session to a host is open: the jump connection carrying it is
  // none (it was counted as two).
  EXPECT_TRUE(MetricsHave({"sallyport_gateway_sessions_active 1",
                           "sallyport_gateway_connections 2"}));
  auto second = RunCommand(JumpArgs("echo second"));
  // A jump connection of its own is refused at its authentication, and
  // closed as "limit" as a LOGIN+HOST connection is (it was
  // "auth-failed").
  auto own = RunCommand(JumpArgs("echo own", /*shared=*/false));
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->exit_code, 255) << own->Describe();
  EXPECT_FALSE(absl::StrContains(own->out, "own"));
  EXPECT_TRUE(absl::StrContains(own->err, "you already have 1 session open"))
      << own->Describe();
  ASSERT_TRUE(testing::WriteFile(release, "").ok());
  client.join();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->exit_code, 255) << second->Describe();
  EXPECT_FALSE(absl::StrContains(second->out, "second"));
  EXPECT_TRUE(absl::StrContains(
      second->err,
      "sallyport: you already have 1 session open through this gateway "
      "(limits.max_sessions_per_user is 1)."))
      << second->Describe() << GatewayLog();
  EXPECT_EQ(first.exit_code, 0) << first.Describe() << GatewayLog();
  EXPECT_EQ(first.out, "started\ndone\n");
  // Its place is free again once it ended.
  auto third = RunCommand(JumpArgs("echo third"));
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->exit_code, 0) << third->Describe() << GatewayLog();
  EXPECT_EQ(third->out, "third\n");
  // One jump connection carried the three recorded jumps; the CA issued
  // web01's host certificate for the first, the cache served the others.
  EXPECT_TRUE(MetricsHave(
      {"sallyport_gateway_connections_closed_total{outcome=\"limit\"} 2",
       "sallyport_gateway_jump_connections_total 1",
       "sallyport_gateway_jumps_total{mode=\"recorded\"} 3",
       "sallyport_gateway_jumps_total{mode=\"passthrough\"} 0",
       "sallyport_gateway_jump_host_certificates_total{source=\"issued\"} 1",
       "sallyport_gateway_jump_host_certificates_total{source=\"cached\"} "
       "2"}));
}

// Our client on a jump-only connection: opens a direct-tcpip channel to
// each destination in turn (the next once the last was answered, after
// its `before` step), closes those that opened, and records the answers.
class JumpsInTurn : public ssh::session::SessionHandler {
 public:
  struct Step {
    std::string host;
    uint32_t port = 0;
    std::function<void()> before;
  };
  explicit JumpsInTurn(std::vector<Step> steps) : steps_(std::move(steps)) {}

  void OnAuthenticated(ssh::session::Session& s) override {
    session_ = &s;
    Next();
  }
  void OnChannelOpenResult(ssh::session::Channel ch,
                           const ssh::connection::OpenResult& r) override {
    results.push_back(r.ok() ? std::string("opened") : r.description);
    if (r.ok()) (void)ch.Close();
    Next();
  }
  void OnData(ssh::session::Channel ch, uint32_t,
              ssh::wire::Bytes data) override {
    ch.Consume(data.size());
  }
  // "opened", or the refusal's description, per step.
  std::vector<std::string> results;

 private:
  void Next() {
    if (next_ == steps_.size()) {
      session_->Disconnect("done");
      return;
    }
    const Step& step = steps_[next_++];
    if (step.before) step.before();
    if (!OpenDirectTcpip(*session_, step.host, step.port).ok()) {
      ADD_FAILURE() << "cannot open";
      session_->Disconnect("cannot open");
    }
  }

  std::vector<Step> steps_;
  size_t next_ = 0;
  ssh::session::Session* session_ = nullptr;
};

// The ops role passes jumps through (proxyjump-passthrough).
class JumpPassthroughTest : public JumpTest {
 protected:
  void SetUp() override {
    extra_kinds_ = {storage::ChannelKind::kProxyJumpPassthrough};
    JumpTest::SetUp();
  }
};

// A jump's decision is not kept for the connection: once an administrator
// removed the host from the inventory, the next jump on the same
// connection (a ControlMaster one lives for hours) is refused. It was
// relayed, to the address the first decision named.
TEST_F(JumpPassthroughTest, AHostRemovedFromTheInventoryIsRefusedNextTime) {
  JumpsInTurn client({{"web01", sshd_->port(), nullptr},
                      {"web01", sshd_->port(), [this] {
                         absl::StatusOr<std::string> gone =
                             env_->store().DeleteHost("web01");
                         EXPECT_TRUE(gone.ok()) << gone.status();
                       }}});
  LoginResult run = RunOurClient(login_, client);
  ASSERT_TRUE(run.authenticated) << run.banner;
  ASSERT_EQ(client.results.size(), 2u) << GatewayLog();
  EXPECT_EQ(client.results[0], "opened");
  EXPECT_TRUE(absl::StrContains(client.results[1], "not in the inventory"))
      << client.results[1];
  EXPECT_TRUE(MetricsHave(
      {"sallyport_gateway_jump_connections_total 1",
       "sallyport_gateway_jumps_total{mode=\"passthrough\"} 1",
       "sallyport_gateway_jumps_total{mode=\"recorded\"} 0",
       "sallyport_gateway_jump_host_certificates_total{source=\"issued\"} "
       "0"}));
}

// Port 0 is no destination: refused, saying so (the CA read a jump_port of
// 0 as "not a jump" and the gateway relayed it to the host's SSH port),
// for a jump and for a forward inside a LOGIN+HOST session alike. And a
// passthrough jump whose host cannot be reached is audited with its host
// and destination (a jump-only connection has no host of its own).
TEST_F(JumpPassthroughTest, PortZeroIsRefusedAndUnreachableHostsAreNamed) {
  absl::StatusOr<uint16_t> dead = testing::FreeLoopbackPort();
  ASSERT_TRUE(dead.ok()) << dead.status();
  AddHost("webdead", *dead);
  JumpsInTurn client({{"web01", 0, nullptr}, {"webdead", *dead, nullptr}});
  LoginResult run = RunOurClient(login_, client);
  ASSERT_TRUE(run.authenticated) << run.banner;
  ASSERT_EQ(client.results.size(), 2u) << GatewayLog();
  EXPECT_TRUE(absl::StrContains(client.results[0], "port 0 is not a port"))
      << client.results[0];
  EXPECT_TRUE(absl::StrContains(client.results[1], "cannot reach webdead"))
      << client.results[1];
  const std::vector<std::string> refused = AuditPayloads("channel.refused", 2);
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(PayloadText(refused[0], "destination"), "web01:0") << refused[0];
  EXPECT_EQ(PayloadText(refused[1], "destination"),
            absl::StrCat("webdead:", *dead))
      << refused[1];
  EXPECT_EQ(PayloadText(refused[1], "host"), "webdead") << refused[1];
  // A forward to port 0 inside a LOGIN+HOST session: refused the same way.
  JumpsInTurn forward({{"127.0.0.1", 0, nullptr}});
  run = RunOurClient(login_ + "+web01", forward);
  ASSERT_TRUE(run.authenticated) << run.banner;
  ASSERT_EQ(forward.results.size(), 1u) << GatewayLog();
  EXPECT_TRUE(absl::StrContains(forward.results[0], "port 0 is not a port"))
      << forward.results[0];
}

}  // namespace
}  // namespace sallyport::gateway
