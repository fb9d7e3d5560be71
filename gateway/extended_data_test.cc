// Extended data (RFC 4254 §5.2) through the gateway: its type code is the
// sender's choice, and only stderr (1) from the host passes
// (kHostExtendedDataCode). Everything else, from either side, is given its
// window back and dropped: neither recorded nor forwarded, logged once per
// channel. Otherwise each distinct code was a stream of its own in the
// channel's recording state for the session's life (and a stream_summary
// record at its close): a peer sending 1-byte packets of distinct codes
// grew the gateway's memory without bound.
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
#include "gateway/proxy.h"
#include "gateway/recorder.h"
#include "gtest/gtest.h"
#include "ssh/connection/messages.h"
#include "ssh/session/session.h"

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

}  // namespace
}  // namespace sallyport::gateway
