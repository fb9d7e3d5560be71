// The recorder's view of forwarding through the gateway (gwfwd): -J
// passthrough (events, never content), -W and -R (bytes through the tap).
// See gateway_test_fixture.h.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/files.h"
#include "gateway/gateway_test_fixture.h"
#include "gateway/proxy.h"
#include "gtest/gtest.h"
#include "ssh/connection/messages.h"
#include "ssh/net/driver.h"
#include "ssh/session/session.h"
#include "ssh/wire/writer.h"
#include "tests/harness/echo_server.h"
#include "tests/harness/net_util.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/wall_clock_step.h"

namespace sallyport::gateway {
namespace {

using testing::RunCommand;

// ---- forwarding (gwfwd): the recorder's view of -J, -W and -R.
class ForwardTest : public GatewayTest {
 protected:
  void SetUp() override {
    extra_kinds_ = {storage::ChannelKind::kPortForward,
                    storage::ChannelKind::kProxyJumpPassthrough};
    GatewayTest::SetUp();
  }
  // What `ssh -J LOGIN@gw web01 COMMAND` runs: the first hop is a
  // jump-only connection (user name = the login) with -W.
  std::vector<std::string> JumpArgs(const std::string& command) {
    std::vector<std::string> hop = testing::SshClientArgs(
        server_->local_endpoint().port(), known_hosts_, key_path_, cert_path_);
    hop.insert(hop.end(), {"-W", "%h:%p", "-l", login_, "127.0.0.1"});
    std::vector<std::string> args = testing::SshClientArgs(
        sshd_->port(), known_hosts_, key_path_, cert_path_);
    args.insert(args.end(), {"-o", "ProxyCommand=" + absl::StrJoin(hop, " "),
                             "-l", login_, "web01", command});
    return args;
  }
};

TEST_F(ForwardTest, JumpPassthroughRecordsStartEndAndBytesNotContent) {
  auto r = RunCommand(JumpArgs("echo inner"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0) << r->Describe() << sshd_->Log();
  EXPECT_EQ(r->out, "inner\n");
  ASSERT_TRUE(AllChannelsClosed());
  ASSERT_EQ(recorder_.channels().size(), 1u);
  const ChannelInfo info = recorder_.channels()[0].info;
  EXPECT_EQ(info.type, "direct-tcpip");
  EXPECT_EQ(info.destination, absl::StrCat("web01:", sshd_->port()));
  EXPECT_EQ(info.login, login_);
  bool started = false, ended = false;
  for (const auto& e : recorder_.events()) {
    EXPECT_NE(e.kind, "data") << "passthrough content was recorded";
    started |= e.kind == "request" && e.bytes == "proxyjump-passthrough";
    ended |= e.kind == "request" && e.bytes == "passthrough-end" &&
             absl::StrContains(e.summary, "bytes_in=") &&
             !absl::StrContains(e.summary, "bytes_in=0 ");
  }
  EXPECT_TRUE(started);
  EXPECT_TRUE(ended);
}

TEST_F(ForwardTest, LocalForwardBytesGoThroughTheTap) {
  testing::EchoServer echo;
  ASSERT_NE(echo.port(), 0);
  std::vector<std::string> args = testing::SshClientArgs(
      server_->local_endpoint().port(), known_hosts_, key_path_, cert_path_);
  args.insert(args.end(), {"-W", absl::StrCat("127.0.0.1:", echo.port()), "-l",
                           login_ + "+web01", "127.0.0.1"});
  testing::RunOptions o;
  o.stdin_data = "forwarded bytes\n";
  auto r = RunCommand(args, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0) << r->Describe();
  EXPECT_EQ(r->out, o.stdin_data);
  EXPECT_EQ(recorder_.DataFor("web01", Direction::kInput), o.stdin_data);
  EXPECT_EQ(recorder_.DataFor("web01", Direction::kOutput), o.stdin_data);
  ASSERT_EQ(recorder_.channels().size(), 1u);
  EXPECT_EQ(recorder_.channels()[0].info.destination,
            absl::StrCat("127.0.0.1:", echo.port()));
}

// A jump's duration (its proxyjump.close event's duration_ms, the log's
// duration_ms) is measured on the monotonic clock: with the wall clock set
// back an hour while the jump ran (NTP after a VM resume, `date -s`), it
// was about an hour less than nothing.
TEST_F(ForwardTest, AJumpsDurationHoldsWhenTheClockStepsBackDuringIt) {
  if (!testing::InChildUnderFakeWallClock()) return;
  // The command on web01 says it runs, then waits for `done`.
  const std::string running = dir_->File("running");
  const std::string done = dir_->File("done");
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<testing::RunResult> r;
  std::thread client([&] {
    r = RunCommand(JumpArgs(absl::StrCat("touch ", running, "; while [ ! -e ",
                                         done, " ]; do sleep 0.1; done")));
  });
  const bool ran = testing::WaitSteadily(
      [&] { return ::access(running.c_str(), F_OK) == 0; }, absl::Seconds(30));
  testing::SetWallClockInChild(-absl::Hours(1));
  ASSERT_TRUE(testing::WriteFile(done, "").ok());
  client.join();
  ASSERT_TRUE(ran);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->Describe();
  EXPECT_TRUE(OneDurationWithin(
      "proxyjump.close", absl::Seconds(testing::SecondsSince(start) + 1)));
}

// The host could not connect (nothing listens there): the user is told it
// was the host, to which destination, in the host's words.
TEST_F(ForwardTest, AForwardTheHostCannotConnectNamesHostAndDestination) {
  absl::StatusOr<uint16_t> closed = testing::FreeLoopbackPort();
  ASSERT_TRUE(closed.ok()) << closed.status();
  std::vector<std::string> args = testing::SshClientArgs(
      server_->local_endpoint().port(), known_hosts_, key_path_, cert_path_);
  const std::string destination = absl::StrCat("127.0.0.1:", *closed);
  args.insert(args.end(),
              {"-W", destination, "-l", login_ + "+web01", "127.0.0.1"});
  auto r = RunCommand(args);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->exit_code, 0) << r->Describe();
  EXPECT_TRUE(absl::StrContains(
      r->err, absl::StrCat("web01 could not connect to ", destination, ": ")))
      << r->Describe();
}

TEST_F(ForwardTest, RemoteForwardChannelsComeBackThroughTheTap) {
  testing::EchoServer echo;
  ASSERT_NE(echo.port(), 0);
  auto rport = testing::FreeLoopbackPort();
  ASSERT_TRUE(rport.ok());
  std::vector<std::string> args = testing::SshClientArgs(
      server_->local_endpoint().port(), known_hosts_, key_path_, cert_path_);
  args.insert(args.end(),
              {"-N", "-R", absl::StrCat(*rport, ":127.0.0.1:", echo.port()),
               "-l", login_ + "+web01", "127.0.0.1"});
  testing::BackgroundProcess::Options o;
  o.log_path = dir_->File("ssh_r.log");
  auto ssh = testing::BackgroundProcess::Start(args, o);
  ASSERT_TRUE(ssh.ok()) << ssh.status();
  // A connection to the port on the host comes back to the user's side.
  EXPECT_TRUE(testing::EchoesThrough(*rport, "back\n"))
      << testing::ReadFileOrEmpty(o.log_path) << GatewayLog();
  bool forwarded = false;
  for (const auto& c : recorder_.channels()) {
    forwarded |= c.info.type == "forwarded-tcpip" &&
                 c.info.destination == absl::StrCat("localhost:", *rport);
  }
  EXPECT_TRUE(forwarded);
  EXPECT_TRUE(absl::StrContains(recorder_.DataFor("web01", Direction::kInput),
                                "back\n"));
}

// A host on our own library that accepts every tcpip-forward and never
// answers a cancel-tcpip-forward (a host slow to answer): counts them.
class CancelsWaitAtTheHost : public ssh::session::SessionHandler {
 public:
  std::atomic<int> cancels{0};

  std::optional<bool> OnGlobalRequest(std::string_view name, bool,
                                      ssh::wire::Bytes,
                                      ssh::connection::RequestId) override {
    if (name == "tcpip-forward") return true;
    if (name != "cancel-tcpip-forward") return false;
    ++cancels;
    return std::nullopt;
  }
  void OnData(ssh::session::Channel ch, uint32_t,
              ssh::wire::Bytes data) override {
    ch.Consume(data.size());
  }
};

// Our client: asks for a remote forward and, once the host accepted it,
// sends `cancels` cancel-tcpip-forward requests for it at once (no reply
// wanted). Disconnects when Stop() is called, from any thread.
class ManyCancels : public ssh::session::SessionHandler {
 public:
  explicit ManyCancels(size_t cancels) : cancels_(cancels) {}

  std::atomic<bool> forwarded{false};
  ssh::net::TransportDriver* driver = nullptr;

  void Stop() {
    asio::post(driver->executor(), [this] {
      if (session_ != nullptr) session_->Disconnect("done");
    });
  }
  void OnAuthenticated(ssh::session::Session& s) override {
    session_ = &s;
    (void)s.SendGlobalRequest("tcpip-forward", true, Listen());
  }
  void OnGlobalRequestReply(bool ok, ssh::wire::Bytes) override {
    if (!ok) {
      ADD_FAILURE() << "the remote forward was refused";
      session_->Disconnect("refused");
      return;
    }
    forwarded = true;
    for (size_t i = 0; i < cancels_; ++i) {
      (void)session_->SendGlobalRequest("cancel-tcpip-forward", false,
                                        Listen());
    }
  }
  void OnData(ssh::session::Channel ch, uint32_t,
              ssh::wire::Bytes data) override {
    ch.Consume(data.size());
  }

 private:
  static std::vector<uint8_t> Listen() {
    ssh::wire::Writer w;
    w.String(std::string_view("127.0.0.1"));
    w.Uint32(40022);
    return w.data();
  }

  const size_t cancels_;
  ssh::session::Session* session_ = nullptr;
};

// cancel-tcpip-forward requests waiting for a host slow to answer: at most
// max_remote_forwards of them go to the host, more are refused at once
// (and logged), so a user cannot make the gateway hold their requests
// without limit.
TEST_F(ForwardTest, CancelsWaitingForTheHostStopAtTheForwardLimit) {
  const size_t limit = ProxyLimits{}.max_remote_forwards;
  CancelsWaitAtTheHost host;
  std::unique_ptr<OwnHost> web08 = StartOwnHost("web08", host);
  ASSERT_NE(web08, nullptr);
  ManyCancels client(limit + 1);
  std::thread stop([&] {
    // Well within the client's limit below (the driver lives until then).
    const absl::Time until = absl::Now() + absl::Seconds(20);
    while (absl::Now() < until &&
           !(host.cancels >= static_cast<int>(limit) &&
             absl::StrContains(GatewayLog(), "global=cancel-tcpip-forward"))) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    // Time for one more to reach the host, if it were going to.
    absl::SleepFor(absl::Seconds(1));
    client.Stop();
  });
  OurClientOptions options;
  options.limit = absl::Seconds(60);
  options.on_driver = [&](ssh::net::TransportDriver& d) { client.driver = &d; };
  LoginResult run = RunOurClient(login_ + "+web08", client, options);
  stop.join();
  ASSERT_TRUE(run.authenticated) << run.banner;
  ASSERT_TRUE(client.forwarded) << GatewayLog();
  EXPECT_EQ(host.cancels, static_cast<int>(limit)) << GatewayLog();
  const std::string log = GatewayLog();
  // Logged and audited as refused (event=request.refused, channel.refused).
  EXPECT_TRUE(absl::StrContains(
      log, absl::StrCat("at most ", limit,
                        " cancel-tcpip-forwards waiting at a time")))
      << log;
}

// A slow destination: a small receive buffer, read a little at a time.
// Reads its first connection to the end, counting the bytes, then writes
// "done" to its second.
class SlowDestination {
 public:
  SlowDestination() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    const int small = 4096;  // accepted connections inherit it
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        listen(fd_, 4) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return;
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~SlowDestination() {
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }
  size_t received() const { return received_; }

 private:
  int Accept() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 30000) <= 0) return -1;
    return accept(fd_, nullptr, nullptr);
  }
  void Serve() {
    const int first = Accept();
    if (first < 0) return;
    char buf[4096];
    for (;;) {
      pollfd p{first, POLLIN, 0};
      if (poll(&p, 1, 20000) <= 0) break;
      const ssize_t n = read(first, buf, sizeof(buf));
      if (n <= 0) break;
      received_ += static_cast<size_t>(n);
      absl::SleepFor(absl::Microseconds(500));
    }
    close(first);
    const int second = Accept();
    if (second < 0) return;
    (void)!write(second, "done", 4);
    close(second);
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<size_t> received_{0};
  std::thread thread_;
};

// Our client on a jump-only connection: a forward to web01:`port` that
// sends `bytes` as fast as the window allows, then EOF and CLOSE at once
// (as paramiko and Go's x/crypto do); once the gateway answered the
// CLOSE, a second forward, whose data ends the connection.
class SendAndClose : public ssh::session::SessionHandler {
 public:
  SendAndClose(uint16_t port, size_t bytes) : port_(port), bytes_(bytes) {}

  void OnAuthenticated(ssh::session::Session& s) override {
    session_ = &s;
    Open();
  }
  void OnChannelOpenResult(ssh::session::Channel ch,
                           const ssh::connection::OpenResult& r) override {
    if (!r.ok()) {
      ADD_FAILURE() << "forward refused: " << r.description;
      session_->Disconnect("refused");
      return;
    }
    if (first_.has_value()) return;  // the second: waits for "done"
    first_ = ch.id();
    Feed(ch);
  }
  void OnWindowAvailable(ssh::session::Channel ch) override { Feed(ch); }
  void OnQueuedDataSent(ssh::session::Channel ch, size_t) override { Feed(ch); }
  void OnClose(ssh::session::Channel ch) override {
    if (ch.id() == first_) Open();
  }
  void OnData(ssh::session::Channel ch, uint32_t,
              ssh::wire::Bytes data) override {
    ch.Consume(data.size());
    if (ch.id() != first_) session_->Disconnect("done");
  }

 private:
  void Feed(ssh::session::Channel ch) {
    if (ch.id() != first_ || closed_) return;
    const std::vector<uint8_t> chunk(32 << 10, 'x');
    while (sent_ < bytes_) {
      const size_t n = std::min(chunk.size(), bytes_ - sent_);
      absl::StatusOr<size_t> taken =
          ch.Queue(ssh::wire::Bytes(chunk.data(), n));
      if (!taken.ok()) {
        ADD_FAILURE() << taken.status();
        return;
      }
      sent_ += *taken;
      if (*taken < n) return;
    }
    closed_ = true;
    (void)ch.SendEof();
    (void)ch.Close();
  }
  void Open() {
    if (!OpenDirectTcpip(*session_, "web01", port_).ok()) {
      ADD_FAILURE() << "cannot open";
      session_->Disconnect("cannot open");
    }
  }

  uint16_t port_;
  size_t bytes_;
  size_t sent_ = 0;
  bool closed_ = false;
  std::optional<uint32_t> first_;
  ssh::session::Session* session_ = nullptr;
};

// What a user sent before closing a forward's channel reaches the
// destination even when the destination is slow: the gateway writes it
// all before it ends the relay (it dropped what it still held, up to a
// window, though the portforward.close event counted it).
TEST_F(ForwardTest, DataSentBeforeCloseReachesASlowDestination) {
  SlowDestination destination;
  ASSERT_NE(destination.port(), 0);
  // More than the gateway's socket buffers take: the gateway still holds
  // data (up to a window) when the CLOSE comes.
  constexpr size_t kBytes = 8 << 20;
  SendAndClose client(destination.port(), kBytes);
  LoginResult run = RunOurClient(login_, client, absl::Seconds(90));
  ASSERT_TRUE(run.authenticated) << run.banner;
  EXPECT_EQ(destination.received(), kBytes) << GatewayLog();
  const std::vector<std::string> closes = AuditPayloads("portforward.close", 2);
  const std::string counted = absl::StrCat("\"bytes_in\":", kBytes, ",");
  EXPECT_TRUE(std::any_of(
      closes.begin(), closes.end(),
      [&](const std::string& e) { return absl::StrContains(e, counted); }))
      << absl::StrJoin(closes, "\n");
}

// issue 12 "revoked while connected": the CA knows of a revocation before
// the gateway does (another CA instance revoked the certificate: this
// CA's revocation stream finds it only at its next poll of the store, an
// hour here). The next channel the CA decides on the connection is
// refused, saying the certificate is revoked, and the connection ends
// then and there: allows the gateway cached for it open nothing more.
class RevokedAtTheCaTest : public ForwardTest {
 protected:
  void SetUp() override {
    ca_options_.revocation_poll = absl::Hours(1);
    ForwardTest::SetUp();
  }
};

TEST_F(RevokedAtTheCaTest, TheNextChannelIsRefusedAndTheConnectionEnds) {
  testing::EchoServer echo;
  ASSERT_NE(echo.port(), 0);
  auto before = testing::FreeLoopbackPort();
  auto after = testing::FreeLoopbackPort();
  ASSERT_TRUE(before.ok() && after.ok());
  ASSERT_NE(*before, *after);
  // Two local forwards to the echo server under two destinations, so
  // that the second is not answered from the first one's cached allow.
  std::vector<std::string> args = testing::SshClientArgs(
      server_->local_endpoint().port(), known_hosts_, key_path_, cert_path_);
  args.insert(args.end(),
              {"-o", "LogLevel=INFO", "-N", "-L",
               absl::StrCat(*before, ":127.0.0.1:", echo.port()), "-L",
               absl::StrCat(*after, ":localhost:", echo.port()), "-l",
               login_ + "+web01", "127.0.0.1"});
  testing::BackgroundProcess::Options o;
  o.log_path = dir_->File("ssh_l.log");
  auto ssh = testing::BackgroundProcess::Start(args, o);
  ASSERT_TRUE(ssh.ok()) << ssh.status();
  ASSERT_TRUE(testing::EchoesThrough(*before, "before\n"))
      << testing::ReadFileOrEmpty(o.log_path) << GatewayLog();

  auto line = base::ReadTextFile(cert_path_);
  ASSERT_TRUE(line.ok()) << line.status();
  auto cert = ssh::cert::Certificate::FromLine(*line);
  ASSERT_TRUE(cert.ok()) << cert.status();
  storage::Revocation r;
  r.serial = cert->serial;
  r.reason = "revoked by another CA instance";
  r.revoked_by = "admin";
  ASSERT_TRUE(env_->store().Revoke(r).ok());
  // The gateway has not heard of it.
  ASSERT_TRUE(
      server_->ca().CheckNotRevoked(cert->serial, cert->KeyFingerprint()).ok());

  // The new destination is decided by the CA: refused, saying why.
  EXPECT_EQ(testing::RoundTrip(*after, "after\n"), "");
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  while ((*ssh)->Running() && absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  const std::string log = testing::ReadFileOrEmpty(o.log_path);
  EXPECT_TRUE(absl::StrContains(log, "open failed")) << log;
  EXPECT_TRUE(absl::StrContains(log, "is revoked")) << log;
  // And the connection ended, saying so; the gateway still has not
  // heard of the revocation from its stream.
  EXPECT_FALSE((*ssh)->Running()) << log << GatewayLog();
  EXPECT_TRUE(absl::StrContains(log, kCertificateRevoked)) << log;
  EXPECT_TRUE(
      server_->ca().CheckNotRevoked(cert->serial, cert->KeyFingerprint()).ok());
  // Nothing is forwarded any more, not even to the cached destination.
  EXPECT_EQ(testing::RoundTrip(*before, "again\n"), "");
}

}  // namespace
}  // namespace sallyport::gateway
