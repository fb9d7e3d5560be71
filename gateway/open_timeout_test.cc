// Channels that do not open in time (the SSH library's open timeout,
// ProxyLimits::channel_open_timeout, shortened here): whatever the gateway
// made for them on the other side is closed and freed, and they are
// audited as refused, never as opened. See gateway_test_fixture.h.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gateway/gateway_test_fixture.h"
#include "gtest/gtest.h"
#include "ssh/connection/messages.h"
#include "ssh/wire/writer.h"
#include "tests/harness/net_util.h"

namespace sallyport::gateway {
namespace {

class OpenTimeoutTest : public GatewayTest {
 protected:
  void SetUp() override {
    extra_kinds_ = {storage::ChannelKind::kPortForward,
                    storage::ChannelKind::kProxyJumpPassthrough};
    GatewayTest::SetUp();
  }
  // The open timeout (3 s) and, for the gateway's own connects, a connect
  // timeout longer than the test.
  void ShortenTheOpenTimeout() {
    ProxyLimits limits = server_->proxy().limits();
    limits.channel_open_timeout = absl::Seconds(3);
    limits.upstream_connect_timeout = absl::Seconds(120);
    server_->proxy().SetLimits(limits);
  }
};

// A destination slow to connect: its listen queue is full (backlog 0 and
// one connection nobody accepted), so a connection to it waits (the
// kernel drops the SYNs) until Release() accepts that one; the host's
// SYN, sent again, then gets through.
class SlowToConnect {
 public:
  SlowToConnect() {
    const testing::LoopbackListener l = testing::ListenOnLoopback(0);
    fd_ = l.fd;
    if (fd_ < 0) return;
    filler_ = testing::ConnectToLoopback(l.port);
    if (filler_ < 0) return;
    port_ = l.port;
  }
  ~SlowToConnect() {
    for (int fd : {fd_, filler_}) {
      if (fd >= 0) close(fd);
    }
  }
  uint16_t port() const { return port_; }
  void Release() {
    const int queued = AcceptWithin(absl::Seconds(1));
    if (queued >= 0) close(queued);
  }
  // The next connection, or -1.
  int AcceptWithin(absl::Duration limit) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(limit))) <= 0)
      return -1;
    return accept(fd_, nullptr, nullptr);
  }

 private:
  int fd_ = -1;
  int filler_ = -1;
  uint16_t port_ = 0;
};

// Our client on LOGIN+web01: a session channel (so the host's connection
// is ready), then a forward to `destination`, which the gateway cannot
// open in time. Once the client was told so, the destination takes the
// host's connection and the client checks that the host closes it.
class ForwardThatTimesOut : public ssh::session::SessionHandler {
 public:
  // `host`: the forward's host; "" for a LOGIN+HOST connection (the
  // forward goes to 127.0.0.1 from the host, after a session channel),
  // an inventory name for a jump-only connection (the gateway connects).
  explicit ForwardThatTimesOut(SlowToConnect& destination,
                               std::string host = "")
      : destination_(destination), host_(std::move(host)) {}

  void OnAuthenticated(ssh::session::Session& s) override {
    session_ = &s;
    if (!host_.empty()) {
      session_open_ = true;
      OpenForward();
      return;
    }
    if (!s.OpenChannel("session").ok()) s.Disconnect("cannot open");
  }
  void OnChannelOpenResult(ssh::session::Channel,
                           const ssh::connection::OpenResult& r) override {
    if (!session_open_) {
      session_open_ = true;
      if (!r.ok()) {
        session_->Disconnect("cannot open");
        return;
      }
      OpenForward();
      return;
    }
    forward_ok = r.ok();
    forward_description = r.description;
    destination_.Release();
    const int fd = destination_.AcceptWithin(absl::Seconds(30));
    host_connected = fd >= 0;
    if (fd >= 0) {
      // The host closes its side once its channel is closed; a host whose
      // channel stays open keeps the connection.
      pollfd p{fd, POLLIN, 0};
      char c;
      host_closed = poll(&p, 1, 15000) > 0 && read(fd, &c, 1) <= 0;
      close(fd);
    }
    session_->Disconnect("done");
  }
  void OnData(ssh::session::Channel ch, uint32_t,
              ssh::wire::Bytes data) override {
    ch.Consume(data.size());
  }

  bool forward_ok = true;
  std::string forward_description;
  bool host_connected = false;
  bool host_closed = false;

 private:
  void OpenForward() {
    if (!OpenDirectTcpip(*session_, host_.empty() ? "127.0.0.1" : host_,
                         destination_.port())
             .ok()) {
      session_->Disconnect("cannot open");
    }
  }

  SlowToConnect& destination_;
  const std::string host_;
  ssh::session::Session* session_ = nullptr;
  bool session_open_ = false;
};

// A user's forward the host confirms only after the user's client was told
// it timed out: the gateway refuses it (channel.refused saying why) and
// closes the host's channel once it opens, instead of keeping a bridge for
// a channel the user never got (audited as open, the host's channel open,
// counted against the channel limit until the connection ended).
TEST_F(OpenTimeoutTest, AForwardOpenedAfterTheUsersTimeoutIsClosedAtTheHost) {
  ProxyLimits limits = server_->proxy().limits();
  limits.channel_open_timeout = absl::Seconds(3);
  server_->proxy().SetLimits(limits);
  SlowToConnect destination;
  ASSERT_NE(destination.port(), 0);
  ForwardThatTimesOut client(destination);
  LoginResult run = RunOurClient(login_ + "+web01", client, absl::Seconds(90));
  ASSERT_TRUE(run.authenticated) << run.banner;
  EXPECT_FALSE(client.forward_ok);
  EXPECT_EQ(client.forward_description, "open timed out");
  ASSERT_TRUE(client.host_connected) << GatewayLog();
  EXPECT_TRUE(client.host_closed) << GatewayLog();
  const std::string dest = absl::StrCat("127.0.0.1:", destination.port());
  const std::vector<std::string> refused = AuditPayloads("channel.refused");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(PayloadText(refused[0], "destination"), dest);
  EXPECT_EQ(PayloadText(refused[0], "reason"),
            absl::StrCat("the channel did not open within 3s: web01 did not "
                         "connect to ",
                         dest, " in time"));
  // Events arrive in order: once the session's end is there, an open of
  // the forward would be too.
  ASSERT_FALSE(AuditPayloads("session.end").empty());
  EXPECT_TRUE(AuditPayloads("portforward.open", 0).empty());
  for (const std::string& open : AuditPayloads("channel.open", 0)) {
    EXPECT_EQ(PayloadText(open, "kind"), "session") << open;
  }
}

// A forward on a jump-only connection (relayed from the gateway: it
// connects to the destination itself) that the gateway could not connect
// in time: the relay is freed when the user's open times out, so its
// connection, made later, is closed at once, and the forward is audited
// as refused, never as opened. (The relay stayed, with the connection to
// the destination open and a portforward.open event, until the user's
// next channel got the same id or the connection ended.)
TEST_F(OpenTimeoutTest, AJumpForwardThatTimedOutIsFreedAndItsConnectionClosed) {
  ShortenTheOpenTimeout();
  SlowToConnect destination;
  ASSERT_NE(destination.port(), 0);
  ForwardThatTimesOut client(destination, "web01");
  LoginResult run = RunOurClient(login_, client, absl::Seconds(90));
  ASSERT_TRUE(run.authenticated) << run.banner;
  EXPECT_FALSE(client.forward_ok);
  EXPECT_EQ(client.forward_description, "open timed out");
  ASSERT_TRUE(client.host_connected) << GatewayLog();
  EXPECT_TRUE(client.host_closed) << GatewayLog();
  const std::string dest = absl::StrCat("web01:", destination.port());
  const std::vector<std::string> refused = AuditPayloads("channel.refused");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(PayloadText(refused[0], "destination"), dest);
  EXPECT_EQ(PayloadText(refused[0], "reason"),
            absl::StrCat("the channel did not open within 3s: the gateway did "
                         "not connect to ",
                         dest, " in time"));
  ASSERT_FALSE(AuditPayloads("session.end").empty());
  EXPECT_TRUE(AuditPayloads("portforward.open", 0).empty());
  EXPECT_TRUE(AuditPayloads("portforward.close", 0).empty());
}

// Our client on LOGIN+web01 asks for a remote forward (`ssh -R`) of
// 127.0.0.1:`port` on the host, connects to that port on the host, and
// never answers the forwarded-tcpip channel the host opens for it (it
// waits inside OnChannelOpen): the host's side must be refused, which
// closes the connection the host accepted.
class ReverseNeverAnswered : public ssh::session::SessionHandler {
 public:
  explicit ReverseNeverAnswered(uint16_t port) : port_(port) {}
  ~ReverseNeverAnswered() override {
    if (fd_ >= 0) close(fd_);
  }

  void OnAuthenticated(ssh::session::Session& s) override {
    session_ = &s;
    ssh::wire::Writer w;
    w.String("127.0.0.1").Uint32(port_);
    if (!s.SendGlobalRequest("tcpip-forward", true, w.data()).ok())
      s.Disconnect("cannot ask");
  }
  void OnGlobalRequestReply(bool success, ssh::wire::Bytes) override {
    forward_accepted = success;
    if (success) {
      fd_ = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(port_);
      connected = fd_ >= 0 &&
                  connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    }
    if (!connected) session_->Disconnect("done");
  }
  void OnChannelOpen(ssh::session::Channel, std::string_view type,
                     ssh::wire::Bytes) override {
    opened_type = std::string(type);
    // Never answered: the host's connection closes once the gateway
    // refused the host's channel; a channel kept open keeps it.
    pollfd p{fd_, POLLIN, 0};
    char c;
    host_closed = poll(&p, 1, 20000) > 0 && read(fd_, &c, 1) <= 0;
    session_->Disconnect("done");
  }
  void OnData(ssh::session::Channel ch, uint32_t,
              ssh::wire::Bytes data) override {
    ch.Consume(data.size());
  }

  bool forward_accepted = false;
  bool connected = false;
  std::string opened_type;
  bool host_closed = false;

 private:
  const uint16_t port_;
  int fd_ = -1;
  ssh::session::Session* session_ = nullptr;
};

// A channel the host opens toward the user (forwarded-tcpip of `-R`) that
// the user's client never answers: refused at the host when the user's
// open times out, audited as channel.refused saying so, never as opened.
TEST_F(OpenTimeoutTest, AReverseChannelTheUserNeverAnswersIsRefusedAtTheHost) {
  ShortenTheOpenTimeout();
  absl::StatusOr<uint16_t> port = testing::FreeLoopbackPort();
  ASSERT_TRUE(port.ok()) << port.status();
  ReverseNeverAnswered client(*port);
  LoginResult run = RunOurClient(login_ + "+web01", client, absl::Seconds(90));
  ASSERT_TRUE(run.authenticated) << run.banner;
  ASSERT_TRUE(client.forward_accepted) << GatewayLog();
  ASSERT_TRUE(client.connected);
  EXPECT_EQ(client.opened_type, "forwarded-tcpip");
  EXPECT_TRUE(client.host_closed) << GatewayLog();
  const std::string listen = absl::StrCat("127.0.0.1:", *port);
  const std::vector<std::string> refused = AuditPayloads("channel.refused");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(PayloadText(refused[0], "kind"), "forwarded-tcpip");
  EXPECT_EQ(PayloadText(refused[0], "destination"), listen);
  EXPECT_EQ(PayloadText(refused[0], "reason"),
            "the user's client did not open the channel within 3s");
  // The host was told so too (not the SSH library's "open timed out").
  EXPECT_TRUE(absl::StrContains(
      sshd_->Log(),
      "open failed: connect failed: the user's client did not open the "
      "channel within 3s"))
      << sshd_->Log();
  ASSERT_FALSE(AuditPayloads("session.end").empty());
  EXPECT_TRUE(AuditPayloads("portforward.open", 0).empty());
}

}  // namespace
}  // namespace sallyport::gateway
