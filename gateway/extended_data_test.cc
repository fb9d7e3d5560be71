// Extended data (RFC 4254 §5.2) through the gateway: its type code is the
// sender's choice, and only stderr (1) from the host passes
// (kHostExtendedDataCode). Everything else, from either side, is given its
// window back and dropped: neither recorded nor forwarded, logged once per
// channel, counted apart in the channel's close event. The same on
// direct-tcpip channels: ssh -L on a login, and the gateway's own forwards
// and recorded jumps on a jump-only connection (whose drops went uncounted
// in any event, log line or metric). Otherwise each distinct code was a stream
// of its own in the channel's recording state for the session's life (and a
// stream_summary record at its close): a peer sending 1-byte packets of
// distinct codes grew the gateway's memory without bound.
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gateway/gateway_test_fixture.h"
#include "gateway/observer.h"
#include "gateway/proxy.h"
#include "gateway/recorder.h"
#include "gtest/gtest.h"
#include "ssh/connection/messages.h"
#include "ssh/session/session.h"
#include "tests/harness/echo_server.h"

namespace sallyport::gateway {
namespace {

using ssh::session::Channel;

// Codes a peer sends, one byte each: 1 (stderr) and kCodes more.
constexpr uint32_t kCodes = 10000;

// Sends one byte of extended data for each code of [first, first + n).
void SendCodes(Channel ch, uint32_t first, uint32_t n) {
  const uint8_t e = 'e';
  for (uint32_t code = first; code < first + n; ++code) {
    absl::StatusOr<size_t> taken = ch.Queue(ssh::wire::Bytes(&e, 1), code);
    ASSERT_TRUE(taken.ok() && *taken == 1) << code;
  }
}

size_t Count(const std::string& text, std::string_view what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// Our client: runs `command` on one session channel; once it runs, sends
// `codes` codes of extended data from 1 on (when non-zero), then `input`
// and EOF. Notes what comes back per stream; disconnects once the channel
// closed.
class Client : public SessionChannelClient {
 public:
  Client(std::string command, uint32_t codes, std::string input)
      : command_(std::move(command)), codes_(codes), input_(std::move(input)) {}

  std::map<uint32_t, std::string> got;  // stream -> bytes

  void OnData(Channel ch, uint32_t stream, ssh::wire::Bytes data) override {
    got[stream].append(data.begin(), data.end());
    ch.Consume(data.size());
  }

 private:
  void OnSessionOpen(Channel ch) override {
    Exec(ch, command_);
    if (codes_ > 0) SendCodes(ch, 1, codes_);
    if (!input_.empty()) {
      (void)ch.Queue(ssh::wire::Bytes(
          reinterpret_cast<const uint8_t*>(input_.data()), input_.size()));
    }
    (void)ch.SendEof();
  }

  const std::string command_;
  const uint32_t codes_;
  const std::string input_;
};

// A host on our own library: to an exec it answers with kCodes + 1 codes
// of extended data from 1 on, "err\n" on stderr, "out\n" on stream 0,
// exit-status 0, EOF and CLOSE.
class CodesHost : public ssh::session::SessionHandler {
 public:
  void OnChannelOpen(Channel ch, std::string_view, ssh::wire::Bytes) override {
    (void)ch.Accept();
  }
  void OnChannelRequest(Channel ch, std::string_view type, bool want_reply,
                        ssh::wire::Bytes,
                        ssh::connection::RequestId request) override {
    if (want_reply) (void)ch.Reply(request, type == "exec");
    if (type != "exec") return;
    SendCodes(ch, 1, kCodes + 1);
    const std::string err = "err\n", out = "out\n";
    (void)ch.Queue(
        ssh::wire::Bytes(reinterpret_cast<const uint8_t*>(err.data()), 4),
        ssh::connection::kExtendedDataStderr);
    (void)ch.Queue(
        ssh::wire::Bytes(reinterpret_cast<const uint8_t*>(out.data()), 4));
    (void)ch.SendRequest("exit-status", false,
                         ssh::connection::SerializeExitStatus(0));
    (void)ch.SendEof();
    (void)ch.Close();
  }
  void OnData(Channel ch, uint32_t, ssh::wire::Bytes data) override {
    ch.Consume(data.size());
  }
};

// (input?, stream) of every data event the recorder got.
std::set<std::pair<bool, uint32_t>> RecordedStreams(
    const InMemoryRecorder& recorder) {
  std::set<std::pair<bool, uint32_t>> streams;
  for (const InMemoryRecorder::Event& e : recorder.events()) {
    if (e.kind == "data") {
      streams.insert({e.direction == Direction::kInput, e.stream});
    }
  }
  return streams;
}

using ExtendedDataTest = GatewayTest;

// The metric lines of `from_user` and `from_host` one-byte messages of
// extended data dropped.
std::vector<std::string> DroppedLines(uint64_t from_user, uint64_t from_host) {
  std::vector<std::string> lines;
  for (const auto& [side, n] :
       {std::pair<const char*, uint64_t>{"user", from_user},
        {"host", from_host}}) {
    for (const char* unit : {"bytes", "messages"}) {
      lines.push_back(absl::StrCat("sallyport_gateway_extended_data_dropped_",
                                   unit, "_total{from=\"", side, "\"} ", n));
    }
  }
  return lines;
}

// The user's extended data, stderr (1) and 10,000 other codes, sent to
// `cat` on the real sshd before its input: dropped, so cat's input and
// output are just the data, the recorder has stream 0 only from the user,
// and the gateway says so once, naming the first code.
TEST_F(ExtendedDataTest, TheUsersExtendedDataIsDroppedAndLoggedOnce) {
  Client client("cat", kCodes + 1, "hello\n");
  LoginResult run = RunOurClient(login_ + "+web01", client, absl::Seconds(90));
  ASSERT_TRUE(run.authenticated) << run.banner;
  EXPECT_EQ(client.got[0], "hello\n") << GatewayLog();
  EXPECT_EQ(client.exit_status, std::optional<uint32_t>(0));
  ASSERT_TRUE(AllChannelsClosed());
  EXPECT_EQ(recorder_.DataFor("web01", Direction::kInput), "hello\n");
  EXPECT_EQ(recorder_.DataFor("web01", Direction::kOutput), "hello\n");
  const std::set<std::pair<bool, uint32_t>> streams =
      RecordedStreams(recorder_);
  EXPECT_EQ(streams,
            (std::set<std::pair<bool, uint32_t>>{{true, 0}, {false, 0}}));
  const std::string log = GatewayLog();
  EXPECT_EQ(Count(log, "event=channel.ext_data_dropped"), 1u) << log;
  EXPECT_TRUE(absl::StrContains(log, "from=user code=1 ")) << log;
  // Each of the kCodes + 1 one-byte messages is counted.
  EXPECT_TRUE(MetricsHave(DroppedLines(kCodes + 1, 0)));
}

// The host's: stderr passes, 10,000 other codes do not reach the user nor
// the recording; logged once, naming the first.
TEST_F(ExtendedDataTest, TheHostsOtherCodesAreDroppedAndLoggedOnce) {
  CodesHost host;
  std::unique_ptr<OwnHost> web08 = StartOwnHost("web08", host);
  ASSERT_NE(web08, nullptr);
  Client client("x", 0, "");
  LoginResult run = RunOurClient(login_ + "+web08", client, absl::Seconds(90));
  ASSERT_TRUE(run.authenticated) << run.banner;
  web08.reset();
  // One byte of code 1 ("e"), then "err\n"; nothing on other codes.
  EXPECT_EQ(client.got, (std::map<uint32_t, std::string>{
                            {0, "out\n"}, {kHostExtendedDataCode, "eerr\n"}}))
      << GatewayLog();
  EXPECT_EQ(client.exit_status, std::optional<uint32_t>(0));
  ASSERT_TRUE(AllChannelsClosed());
  EXPECT_EQ(recorder_.DataFor("web08", Direction::kOutput, 1), "eerr\n");
  EXPECT_EQ(RecordedStreams(recorder_),
            (std::set<std::pair<bool, uint32_t>>{{false, 0}, {false, 1}}));
  const std::string log = GatewayLog();
  EXPECT_EQ(Count(log, "event=channel.ext_data_dropped"), 1u) << log;
  EXPECT_TRUE(absl::StrContains(log, "from=host code=2 ")) << log;
  EXPECT_TRUE(MetricsHave(DroppedLines(0, kCodes)));
}

// ---- direct-tcpip channels: ssh -L / -W on a login, and the gateway's
// own relays and jumps on a jump-only connection.

// More extended data than a channel's window (2 MiB): were its window not
// given back when it is dropped, the channel would stall.
constexpr size_t kExtBytes = 3 * (size_t{2} << 20);

// What one side sends on a channel, in order: (code, bytes); code 0 is
// channel data. Queued as the window allows: call Feed again on
// OnWindowAvailable and OnQueuedDataSent. True once all was queued.
class Pieces {
 public:
  explicit Pieces(std::vector<std::pair<uint32_t, std::string>> pieces)
      : pieces_(std::move(pieces)) {}

  // `n` bytes of extended data, 16 KiB messages of codes 1 and 2 in turn.
  static std::vector<std::pair<uint32_t, std::string>> Extended(size_t n) {
    std::vector<std::pair<uint32_t, std::string>> out;
    for (size_t at = 0; at < n; at += 16 << 10) {
      out.push_back({out.size() % 2 == 0 ? 1 : 2,
                     std::string(std::min<size_t>(16 << 10, n - at), 'x')});
    }
    return out;
  }

  bool Feed(Channel ch) {
    while (next_ < pieces_.size()) {
      const auto& [code, text] = pieces_[next_];
      const ssh::wire::Bytes rest(
          reinterpret_cast<const uint8_t*>(text.data()) + sent_,
          text.size() - sent_);
      absl::StatusOr<size_t> taken = ch.Queue(rest, code);
      if (!taken.ok()) {
        ADD_FAILURE() << taken.status();
        return false;
      }
      sent_ += *taken;
      if (sent_ < text.size()) return false;
      ++next_;
      sent_ = 0;
    }
    return true;
  }

 private:
  std::vector<std::pair<uint32_t, std::string>> pieces_;
  size_t next_ = 0, sent_ = 0;
};

// One side of a direct-tcpip channel: sends `pieces` on it as the window
// allows (Feed, its own) and notes what it gets per stream.
class PiecesPeer : public ssh::session::SessionHandler {
 public:
  std::map<uint32_t, std::string> got;  // stream -> bytes

  void OnWindowAvailable(Channel ch) override { Feed(ch); }
  void OnQueuedDataSent(Channel ch, size_t) override { Feed(ch); }
  void OnData(Channel ch, uint32_t stream, ssh::wire::Bytes data) override {
    got[stream].append(data.begin(), data.end());
    ch.Consume(data.size());
  }

 protected:
  explicit PiecesPeer(Pieces pieces) : pieces_(std::move(pieces)) {}
  virtual void Feed(Channel ch) = 0;

  Pieces pieces_;
};

// Our client: opens one direct-tcpip channel to host:port; once it is
// open, sends `pieces`, then EOF (and CLOSE with `close`). Disconnects once
// the channel closed.
class ForwardClient : public PiecesPeer {
 public:
  ForwardClient(std::string host, uint32_t port, Pieces pieces,
                bool close = false)
      : PiecesPeer(std::move(pieces)),
        host_(std::move(host)),
        port_(port),
        close_(close) {}

  bool sent_all = false;

  void OnAuthenticated(ssh::session::Session& s) override {
    session_ = &s;
    if (absl::Status st = OpenDirectTcpip(s, host_, port_); !st.ok()) {
      ADD_FAILURE() << st;
      s.Disconnect("cannot open");
    }
  }
  void OnChannelOpenResult(Channel ch,
                           const ssh::connection::OpenResult& r) override {
    if (!r.ok()) {
      ADD_FAILURE() << "direct-tcpip refused: " << r.description;
      session_->Disconnect("refused");
      return;
    }
    Feed(ch);
  }
  void OnClose(Channel) override { session_->Disconnect("done"); }

 private:
  void Feed(Channel ch) override {
    if (sent_all || !pieces_.Feed(ch)) return;
    sent_all = true;
    (void)ch.SendEof();
    if (close_) (void)ch.Close();
  }

  const std::string host_;
  const uint32_t port_;
  const bool close_;
  ssh::session::Session* session_ = nullptr;
};

// A host on our own library: accepts a direct-tcpip channel and sends
// `pieces` on it; once they went and the gateway sent EOF, EOF and CLOSE.
class ForwardHost : public PiecesPeer {
 public:
  explicit ForwardHost(Pieces pieces) : PiecesPeer(std::move(pieces)) {}

  std::string type;  // of the channel opened

  void OnChannelOpen(Channel ch, std::string_view t,
                     ssh::wire::Bytes) override {
    type = std::string(t);
    (void)ch.Accept();
    Feed(ch);
  }
  void OnEof(Channel ch) override {
    eof_ = true;
    Feed(ch);
  }

 private:
  void Feed(Channel ch) override {
    if (closed_ || !pieces_.Feed(ch) || !eof_) return;
    closed_ = true;
    (void)ch.SendEof();
    (void)ch.Close();
  }

  bool eof_ = false, closed_ = false;
};

// Whether an event's JSON payload has the number `field` = `n`.
bool HasNumber(const std::string& payload, std::string_view field, uint64_t n) {
  const std::string key = absl::StrCat("\"", std::string(field), "\":", n);
  return absl::StrContains(payload, key + ",") ||
         absl::StrContains(payload, key + "}");
}

// The metric line of `n` bytes of extended data dropped from the user.
std::string DroppedFromUser(uint64_t n) {
  return absl::StrCat(
      "sallyport_gateway_extended_data_dropped_bytes_total{from=\"user\"} ", n);
}

class ForwardedExtendedDataTest : public GatewayTest {
 protected:
  void SetUp() override {
    extra_kinds_ = {storage::ChannelKind::kPortForward};
    GatewayTest::SetUp();
  }
};

// ssh -L on a login (a channel bridged to the host's direct-tcpip): the
// user's extended data and the host's of codes other than stderr are
// dropped without stalling the channel (more than a window of each);
// stderr from the host passes. The portforward.close event counts the
// channel data and stderr relayed in bytes_in/bytes_out and the dropped
// extended data apart, in ext_dropped_bytes_in/out.
TEST_F(ForwardedExtendedDataTest, ALoginsForwardCountsWhatItDropped) {
  std::vector<std::pair<uint32_t, std::string>> back =
      Pieces::Extended(kExtBytes);
  for (auto& [code, text] : back) code = 2;  // all dropped
  back.push_back({kHostExtendedDataCode, "err\n"});
  back.push_back({0, "out\n"});
  ForwardHost host{Pieces(std::move(back))};
  std::unique_ptr<OwnHost> web08 = StartOwnHost("web08", host);
  ASSERT_NE(web08, nullptr);
  std::vector<std::pair<uint32_t, std::string>> sent =
      Pieces::Extended(kExtBytes);
  sent.push_back({0, "hello\n"});
  ForwardClient client("db.internal", 5432, Pieces(std::move(sent)));
  LoginResult run = RunOurClient(login_ + "+web08", client, absl::Seconds(90));
  ASSERT_TRUE(run.authenticated) << run.banner;
  ASSERT_TRUE(client.sent_all) << GatewayLog();
  web08.reset();
  EXPECT_EQ(host.type, "direct-tcpip");
  EXPECT_EQ(host.got, (std::map<uint32_t, std::string>{{0, "hello\n"}}));
  EXPECT_EQ(client.got, (std::map<uint32_t, std::string>{
                            {0, "out\n"}, {kHostExtendedDataCode, "err\n"}}))
      << GatewayLog();
  const std::vector<std::string> closes = AuditPayloads("portforward.close");
  ASSERT_EQ(closes.size(), 1u) << GatewayLog();
  EXPECT_TRUE(HasNumber(closes[0], "bytes_in", 6)) << closes[0];
  EXPECT_TRUE(HasNumber(closes[0], "bytes_out", 8)) << closes[0];
  EXPECT_TRUE(HasNumber(closes[0], "ext_dropped_bytes_in", kExtBytes))
      << closes[0];
  EXPECT_TRUE(HasNumber(closes[0], "ext_dropped_bytes_out", kExtBytes))
      << closes[0];
  const std::string log = GatewayLog();
  EXPECT_EQ(Count(log, "event=channel.ext_data_dropped"), 2u) << log;
  EXPECT_TRUE(MetricsHave(
      {DroppedFromUser(kExtBytes),
       absl::StrCat("sallyport_gateway_extended_data_dropped_bytes_total{"
                    "from=\"host\"} ",
                    kExtBytes)}));
}

// A forward the gateway connects itself (a jump-only connection to
// another port of an inventory host): the user's extended data has no
// place in the TCP connection. It is dropped without stalling the channel,
// and it was not counted anywhere: now the log names it, the metric and
// the portforward.close event count it (bytes_in is what reached the
// destination).
TEST_F(ForwardedExtendedDataTest, TheGatewaysOwnForwardCountsWhatItDropped) {
  testing::EchoServer echo;
  ASSERT_NE(echo.port(), 0);
  std::vector<std::pair<uint32_t, std::string>> sent =
      Pieces::Extended(kExtBytes);
  sent.push_back({0, "hello\n"});
  ForwardClient client("web01", echo.port(), Pieces(std::move(sent)));
  LoginResult run = RunOurClient(login_, client, absl::Seconds(90));
  ASSERT_TRUE(run.authenticated) << run.banner;
  ASSERT_TRUE(client.sent_all) << GatewayLog();
  // The echo server got (and sent back) the channel data only.
  EXPECT_EQ(client.got, (std::map<uint32_t, std::string>{{0, "hello\n"}}))
      << GatewayLog();
  EXPECT_EQ(recorder_.DataFor("web01", Direction::kInput), "hello\n");
  const std::vector<std::string> closes = AuditPayloads("portforward.close");
  ASSERT_EQ(closes.size(), 1u) << GatewayLog();
  EXPECT_TRUE(HasNumber(closes[0], "bytes_in", 6)) << closes[0];
  EXPECT_TRUE(HasNumber(closes[0], "bytes_out", 6)) << closes[0];
  EXPECT_TRUE(HasNumber(closes[0], "ext_dropped_bytes_in", kExtBytes))
      << closes[0];
  EXPECT_TRUE(HasNumber(closes[0], "ext_dropped_bytes_out", 0)) << closes[0];
  const std::string log = GatewayLog();
  EXPECT_EQ(Count(log, "event=channel.ext_data_dropped"), 1u) << log;
  EXPECT_TRUE(absl::StrContains(log, "from=user code=1 ")) << log;
  EXPECT_TRUE(MetricsHave({DroppedFromUser(kExtBytes)}));
}

// A recorded ProxyJump (the default role passes no jump through): the
// inner SSH connection reads stream 0 only, so the user's extended data on
// the jump's channel is dropped without stalling it, and counted in the
// log, the metric and the proxyjump.close event.
TEST_F(ExtendedDataTest, ARecordedJumpCountsWhatItDropped) {
  ForwardClient client("web01", sshd_->port(),
                       Pieces(Pieces::Extended(kExtBytes)), /*close=*/true);
  LoginResult run = RunOurClient(login_, client, absl::Seconds(90));
  ASSERT_TRUE(run.authenticated) << run.banner;
  ASSERT_TRUE(client.sent_all) << GatewayLog();
  EXPECT_TRUE(absl::StartsWith(client.got[0], "SSH-2.0-")) << GatewayLog();
  const std::vector<std::string> closes = AuditPayloads("proxyjump.close");
  ASSERT_EQ(closes.size(), 1u) << GatewayLog();
  EXPECT_EQ(PayloadText(closes[0], "mode"), kJumpModeRecorded) << closes[0];
  EXPECT_TRUE(HasNumber(closes[0], "ext_dropped_bytes_in", kExtBytes))
      << closes[0];
  EXPECT_TRUE(HasNumber(closes[0], "ext_dropped_bytes_out", 0)) << closes[0];
  const std::string log = GatewayLog();
  EXPECT_EQ(Count(log, "event=channel.ext_data_dropped"), 1u) << log;
  EXPECT_TRUE(MetricsHave({DroppedFromUser(kExtBytes)}));
}

}  // namespace
}  // namespace sallyport::gateway
