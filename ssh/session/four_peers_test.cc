// Four peers in one process: client <-> (ServerSession | ClientSession) <->
// target, the shape of the gateway, built only from //ssh/session and
// //ssh/connection over in-memory links. The bridge in the middle forwards
// channel by channel and Consume()s on one side only what the other side
// took, so nothing it buffers outgrows a window.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "ssh/connection/messages.h"
#include "ssh/session/session.h"
#include "ssh/session/session_test_util.h"

namespace sallyport::ssh::session {
namespace {

using testing::Link;
using testing::PairSetup;
using testing::Pattern;
using testing::Settle;

constexpr size_t kWindow = 2 << 20;  // ConnectionOptions default

std::string Str(Bytes b) { return std::string(b.begin(), b.end()); }
Bytes AsBytes(const std::string& s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                             s.size());
}

// The middle: front is the server session the client logs in to, back the
// client session to the target. Everything goes through the channels'
// ordered queues (Channel::Queue, SendRequest, SendEof, Close): data a
// channel brings is queued on its partner and Consume()d only once it
// went on the wire (at once, or later in OnQueuedDataSent), so the window
// of the source holds everything still queued and the queue (one window)
// always has room for what the source's peer may send.
struct Bridge : SessionHandler {
  Session* front = nullptr;
  Session* back = nullptr;
  struct Couple {
    Channel front, back;
    bool front_closed = false, back_closed = false;
  };
  std::map<std::pair<Session*, uint32_t>, std::shared_ptr<Couple>> couples;
  // Bytes a partner's queue did not take (must stay 0, see above).
  size_t refused = 0;

  std::shared_ptr<Couple> Find(Channel c) {
    auto it = couples.find({c.session(), c.id()});
    return it == couples.end() ? nullptr : it->second;
  }
  bool IsFront(Channel c) const { return c.session() == front; }
  // The other side of `c`.
  Channel Other(const Couple& k, Channel c) const {
    return IsFront(c) ? k.back : k.front;
  }
  size_t buffered() const {
    size_t n = 0;
    for (const auto& [key, k] : couples) {
      if (key.first == front)
        n += k->front.QueuedBytes() + k->back.QueuedBytes();
    }
    return n;
  }

  void OnChannelOpen(Channel c, std::string_view type, Bytes extra) override {
    auto b = back->OpenChannel(type, extra);
    if (!b.ok()) {
      (void)c.Reject(connection::OpenFailure::kConnectFailed,
                     std::string(b.status().message()));
      return;
    }
    auto k = std::make_shared<Couple>();
    k->front = c;
    k->back = *b;
    couples[{front, c.id()}] = k;
    couples[{back, b->id()}] = k;
  }
  void OnChannelOpenResult(Channel c,
                           const connection::OpenResult& s) override {
    auto k = Find(c);
    if (k == nullptr) return;
    if (s.ok()) {
      (void)k->front.Accept();
      return;
    }
    (void)k->front.Reject(s.reason, s.description);
    couples.erase({front, k->front.id()});
    couples.erase({back, k->back.id()});
  }
  void OnData(Channel c, uint32_t stream, Bytes data) override {
    auto k = Find(c);
    if (k == nullptr) return c.Consume(data.size());
    Channel to = Other(*k, c);
    const size_t before = to.QueuedBytes();
    auto taken = to.Queue(data, stream);
    if (!taken.ok()) return c.Consume(data.size());  // the partner is gone
    refused += data.size() - *taken;
    // What went out at once is done with; the rest once it leaves the
    // queue.
    c.Consume(*taken - (to.QueuedBytes() - before));
  }
  void OnQueuedDataSent(Channel to, size_t n) override {
    if (auto k = Find(to)) Other(*k, to).Consume(n);
  }
  void OnEof(Channel c) override {
    if (auto k = Find(c)) (void)Other(*k, c).SendEof();
  }
  void OnClose(Channel c) override {
    auto k = Find(c);
    if (k == nullptr) return;
    (IsFront(c) ? k->front_closed : k->back_closed) = true;
    (void)Other(*k, c).Close();
    if (k->front_closed && k->back_closed) {
      couples.erase({front, k->front.id()});
      couples.erase({back, k->back.id()});
    }
  }
  void OnChannelRequest(Channel c, std::string_view type, bool want_reply,
                        Bytes data, connection::RequestId request) override {
    auto k = Find(c);
    if (k == nullptr) {
      if (want_reply) (void)c.Reply(request, false);
      return;
    }
    (void)Other(*k, c).SendRequest(type, want_reply, data);
  }
  void OnChannelRequestReply(Channel c, bool ok) override {
    // The answer to a request forwarded from the other side: replies go
    // back in the order the requests came.
    if (auto k = Find(c)) (void)Other(*k, c).Reply(ok);
  }
};

// The target: "session" channels run a command named by exec:
//   echo    data back on stdout, a copy on stderr; on EOF: exit-status 7,
//           EOF, CLOSE (after the last data)
//   flood   `flood_bytes` of Pattern(_, 1) on stdout, then EOF and CLOSE
//   sink    never consumes what it gets
//   eof-first  "hello" on stdout and EOF at once; on the client's EOF:
//           exit-status 3 and CLOSE
// Requests "yes"/"no" are answered true/false. "black-hole" opens are never
// answered. Output goes through the channel's ordered queue.
struct Target : SessionHandler {
  size_t flood_bytes = 0;
  // How much of the flood may be produced so far (a test paces it).
  size_t flood_allowed = SIZE_MAX;
  struct Ch {
    Channel channel;
    std::string command;
    size_t flooded = 0;
    std::string received;
  };
  std::map<uint32_t, Ch> channels;
  // What each channel had received when it closed.
  std::map<uint32_t, std::string> received_at_close;
  std::vector<uint8_t> flood = Pattern(64 << 10, 1);

  void OnChannelOpen(Channel c, std::string_view type, Bytes) override {
    if (type == "black-hole") return;
    channels[c.id()].channel = c;
    (void)c.Accept();
  }
  void OnChannelRequest(Channel c, std::string_view type, bool want_reply,
                        Bytes data, connection::RequestId) override {
    Ch& ch = channels[c.id()];
    if (type == "exec") ch.command = *connection::ParseStringRequest(data);
    if (want_reply) (void)c.Reply(type != "no");
    if (type == "exec" && ch.command == "eof-first") {
      (void)c.Queue(AsBytes("hello"));
      (void)c.SendEof();
    }
    Pump();
  }
  void OnData(Channel c, uint32_t, Bytes data) override {
    Ch& ch = channels[c.id()];
    if (ch.command == "sink") return;  // never consumed
    ch.received += Str(data);
    if (ch.command == "echo") {
      // Small test data: the queue takes all of it.
      EXPECT_EQ(*c.Queue(data, 0), data.size());
      EXPECT_EQ(*c.Queue(data, 1), data.size());
    }
    c.Consume(data.size());
  }
  void OnEof(Channel c) override {
    Ch& ch = channels[c.id()];
    if (ch.command == "eof-first") {
      (void)c.SendRequest("exit-status", false,
                          connection::SerializeExitStatus(3));
      (void)c.Close();
      return;
    }
    if (ch.command != "echo") return;
    (void)c.SendRequest("exit-status", false,
                        connection::SerializeExitStatus(7));
    (void)c.SendEof();
    (void)c.Close();
  }
  void OnClose(Channel c) override {
    received_at_close[c.id()] = channels[c.id()].received;
    channels.erase(c.id());
  }
  void OnWindowAvailable(Channel) override { Pump(); }
  void OnQueuedDataSent(Channel, size_t) override { Pump(); }
  // Produces flood data, at most a little ahead of what the window takes.
  void Pump() {
    for (auto& [id, ch] : channels) {
      if (ch.command != "flood" || ch.flooded == flood_bytes) continue;
      const size_t limit = std::min(flood_bytes, flood_allowed);
      while (ch.flooded < limit && ch.channel.QueuedBytes() < 256 << 10) {
        const size_t at = ch.flooded % flood.size();
        const size_t n = std::min(flood.size() - at, limit - ch.flooded);
        auto taken =
            ch.channel.Queue(absl::MakeConstSpan(flood).subspan(at, n));
        if (!taken.ok() || *taken == 0) break;
        ch.flooded += *taken;
      }
      if (ch.flooded == flood_bytes) {
        (void)ch.channel.SendEof();
        (void)ch.channel.Close();
      }
    }
  }
};

// The user's client: records what each channel brings, in order.
struct Client : SessionHandler {
  struct Ch {
    std::string out, err;
    std::vector<std::string> events;  // "data", "exit-status 7", "eof", ...
    bool closed = false;
  };
  std::map<uint32_t, Ch> channels;
  std::map<uint32_t, absl::Status> open_results;
  std::vector<bool> replies;
  bool consume = true;

  void OnChannelOpenResult(Channel c,
                           const connection::OpenResult& s) override {
    open_results[c.id()] = s.status;
  }
  void OnData(Channel c, uint32_t stream, Bytes data) override {
    Ch& ch = channels[c.id()];
    (stream == 0 ? ch.out : ch.err) += Str(data);
    if (ch.events.empty() || ch.events.back() != "data")
      ch.events.push_back("data");
    c.Consume(data.size());
  }
  void OnEof(Channel c) override { channels[c.id()].events.push_back("eof"); }
  void OnClose(Channel c) override {
    channels[c.id()].events.push_back("close");
    channels[c.id()].closed = true;
  }
  void OnChannelRequest(Channel c, std::string_view type, bool want_reply,
                        Bytes data, connection::RequestId) override {
    std::string e(type);
    if (type == "exit-status")
      e += " " + std::to_string(*connection::ParseExitStatus(data));
    channels[c.id()].events.push_back(e);
    if (want_reply) (void)c.Reply(false);
  }
  void OnChannelRequestReply(Channel, bool ok) override {
    replies.push_back(ok);
  }
};

class FourPeersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inner.clock = outer.clock;  // one clock for all four
    ServerSessionOptions fo = outer.ServerOptions();
    front = *ServerSession::Create(std::move(fo), bridge);
    ClientSessionOptions bo = inner.ClientOptions("bridge");
    bo.open_timeout = absl::Seconds(5);  // before the client's 30 s
    back = *ClientSession::Create(std::move(bo), bridge);
    bridge.front = front.get();
    bridge.back = back.get();
    target = *ServerSession::Create(inner.ServerOptions(), target_app);
    client = *ClientSession::Create(outer.ClientOptions(), client_app);
    user_link.client = client.get();
    user_link.server = front.get();
    host_link.client = back.get();
    host_link.server = target.get();
    Run();
    ASSERT_TRUE(front->authenticated());
    ASSERT_TRUE(target->authenticated());
  }

  void Run(int max_rounds = 100000) {
    Settle({&user_link, &host_link}, max_rounds, [this] { target_app.Pump(); });
  }
  void Advance(absl::Duration d) {
    outer.clock->Advance(d);
    for (Session* s : std::initializer_list<Session*>{client.get(), front.get(),
                                                      back.get(), target.get()})
      s->OnTimer();
    Run();
  }
  Channel Exec(const std::string& command) {
    auto c = client->OpenChannel("session");
    EXPECT_TRUE(c.ok()) << c.status();
    Run();
    EXPECT_TRUE(client_app.open_results[c->id()].ok());
    EXPECT_TRUE(c->SendRequest("exec", true,
                               connection::SerializeStringRequest(command))
                    .ok());
    Run();
    return *c;
  }
  // Bytes held anywhere in the middle: the bridge's queues and both middle
  // sessions' unwritten output.
  size_t MiddleBuffered() const {
    return bridge.buffered() + front->BufferedOutputBytes() +
           back->BufferedOutputBytes();
  }

  PairSetup outer, inner;
  Bridge bridge;
  Target target_app;
  Client client_app;
  std::unique_ptr<ServerSession> front, target;
  std::unique_ptr<ClientSession> back, client;
  Link user_link, host_link;
};

TEST_F(FourPeersTest, DataBothWaysOnSeveralChannelsWithStderrAndExitStatus) {
  std::vector<Channel> chans;
  for (int i = 0; i < 4; ++i) {
    chans.push_back(Exec("echo"));
  }
  std::vector<std::string> sent(chans.size());
  for (int round = 0; round < 8; ++round) {
    for (size_t i = 0; i < chans.size(); ++i) {
      std::vector<uint8_t> d = Pattern(3000 + 1000 * i + round, 10 * i + round);
      auto took = chans[i].Send(d);
      ASSERT_TRUE(took.ok());
      sent[i] += Str(absl::MakeConstSpan(d).first(*took));
    }
    Run();
  }
  // EOF from the client: the target answers exit-status after its last
  // data, then EOF, then CLOSE.
  for (Channel& c : chans) ASSERT_TRUE(c.SendEof().ok());
  Run();
  for (size_t i = 0; i < chans.size(); ++i) {
    const Client::Ch& ch = client_app.channels[chans[i].id()];
    EXPECT_EQ(ch.out, sent[i]) << i;
    EXPECT_EQ(ch.err, sent[i]) << i;
    EXPECT_EQ(ch.events, (std::vector<std::string>{"data", "exit-status 7",
                                                   "eof", "close"}))
        << i;
  }
  EXPECT_TRUE(bridge.couples.empty());
  EXPECT_EQ(front->connection()->channel_count(), 0u);
  EXPECT_EQ(back->connection()->channel_count(), 0u);
}

TEST_F(FourPeersTest, ClientClosesFirst) {
  Channel c = Exec("echo");
  ASSERT_TRUE(c.Send(AsBytes("last words")).ok());
  ASSERT_TRUE(c.Close().ok());
  Run();
  EXPECT_TRUE(client_app.channels[c.id()].closed);
  EXPECT_TRUE(target_app.channels.empty());  // the target saw CLOSE
  // ... after the data sent before it.
  ASSERT_EQ(target_app.received_at_close.size(), 1u);
  EXPECT_EQ(target_app.received_at_close.begin()->second, "last words");
  EXPECT_TRUE(bridge.couples.empty());
  EXPECT_EQ(back->connection()->channel_count(), 0u);
}

// The other order: the target sends EOF first and the client goes on
// sending into the half-closed channel; the client's EOF comes later, and
// the target answers it with exit-status and CLOSE.
TEST_F(FourPeersTest, TargetEofFirstThenTheClientsDataAndEof) {
  Channel c = Exec("eof-first");
  Run();
  const Client::Ch& ch = client_app.channels[c.id()];
  EXPECT_EQ(ch.out, "hello");
  EXPECT_EQ(ch.events, (std::vector<std::string>{"data", "eof"}));
  EXPECT_FALSE(ch.closed);
  std::string sent;
  for (int i = 0; i < 4; ++i) {
    std::vector<uint8_t> d = Pattern(5000, 40 + i);
    auto took = c.Send(d);
    ASSERT_TRUE(took.ok());
    sent += Str(absl::MakeConstSpan(d).first(*took));
    Run();
  }
  ASSERT_TRUE(c.SendEof().ok());
  Run();
  EXPECT_EQ(ch.events, (std::vector<std::string>{"data", "eof", "exit-status 3",
                                                 "close"}));
  ASSERT_EQ(target_app.received_at_close.size(), 1u);
  EXPECT_EQ(target_app.received_at_close.begin()->second, sent);
  EXPECT_TRUE(bridge.couples.empty());
  EXPECT_EQ(front->connection()->channel_count(), 0u);
  EXPECT_EQ(back->connection()->channel_count(), 0u);
}

TEST_F(FourPeersTest, WantReplyRequestsAnsweredInOrderAcrossTheBridge) {
  Channel c = Exec("echo");
  client_app.replies.clear();
  std::vector<bool> expected;
  for (int i = 0; i < 20; ++i) {
    const bool yes = (i * 7) % 3 != 0;
    expected.push_back(yes);
    ASSERT_TRUE(c.SendRequest(yes ? "yes" : "no", true).ok());
    if (i % 5 == 0) {
      ASSERT_TRUE(c.Send(AsBytes("interleaved data")).ok());
    }
  }
  Run();
  EXPECT_EQ(client_app.replies, expected);
}

TEST_F(FourPeersTest, TargetThatNeverConfirmsAnOpen) {
  auto c = client->OpenChannel("black-hole");
  ASSERT_TRUE(c.ok());
  Run();
  EXPECT_EQ(client_app.open_results.count(c->id()), 0u);
  Advance(absl::Seconds(4));
  EXPECT_EQ(client_app.open_results.count(c->id()), 0u);
  Advance(absl::Seconds(2));
  ASSERT_EQ(client_app.open_results.count(c->id()), 1u);
  EXPECT_FALSE(client_app.open_results[c->id()].ok());
  EXPECT_EQ(front->connection()->channel_count(), 0u);
}

TEST_F(FourPeersTest, ClientThatNeverReadsWhileTheTargetFloods) {
  constexpr size_t kFlood = 24 << 20;
  Channel c = Exec("flood");
  user_link.client_reads = false;
  target_app.flood_bytes = kFlood;  // starts on the next Run
  size_t peak = 0;
  for (int i = 0; i < 200; ++i) {
    Run(50);
    peak = std::max(peak, MiddleBuffered());
  }
  // The target is stopped at the window, the middle holds at most about
  // two windows.
  ASSERT_FALSE(target_app.channels.empty())
      << client_app.channels[c.id()].out.size() << " "
      << client_app.channels[c.id()].events.size() << " "
      << front->close_status() << back->close_status() << target->close_status()
      << " peak " << peak;
  EXPECT_LT(target_app.channels.begin()->second.flooded, kFlood);
  EXPECT_LE(peak, 2 * kWindow + (256 << 10)) << peak;
  EXPECT_GT(peak, kWindow / 2);  // the flood did reach the middle
  EXPECT_EQ(bridge.refused, 0u);
  // Once the client reads, every byte arrives, in order.
  user_link.client_reads = true;
  Run();
  const std::string& out = client_app.channels[c.id()].out;
  ASSERT_EQ(out.size(), kFlood);
  const std::vector<uint8_t>& f = target_app.flood;
  for (size_t off = 0; off < kFlood; off += f.size()) {
    ASSERT_EQ(out.compare(off, f.size(), Str(f)), 0) << off;
  }
}

TEST_F(FourPeersTest, TargetThatNeverReadsWhileTheClientFloods) {
  Channel c = Exec("sink");
  std::vector<uint8_t> chunk = Pattern(64 << 10, 2);
  size_t queued = 0, peak = 0;
  for (int i = 0; i < 200; ++i) {
    while (c.QueuedBytes() < (256 << 10)) {
      auto taken = c.Queue(chunk);
      ASSERT_TRUE(taken.ok());
      if (*taken == 0) break;
      queued += *taken;
    }
    Run(50);
    peak = std::max(peak, MiddleBuffered());
  }
  EXPECT_LT(queued - c.QueuedBytes(), 3 * kWindow);  // client stopped
  EXPECT_LE(peak, 2 * kWindow + (256 << 10)) << peak;
  EXPECT_GT(peak, kWindow / 2);
  EXPECT_EQ(bridge.refused, 0u);
}

TEST_F(FourPeersTest, RekeyOnEachSideWhileDataFlows) {
  constexpr size_t kFlood = 16 << 20;
  Channel c = Exec("flood");
  Channel e = Exec("echo");
  target_app.flood_bytes = kFlood;  // starts on the next Run
  target_app.flood_allowed = 0;     // paced: 512 KiB more per round
  const int front_kex = front->transport().kex_count();
  const int back_kex = back->transport().kex_count();
  std::string sent;
  for (int i = 0; i < 40; ++i) {
    if (i == 5 || i == 12) {
      // The flood is still going when each side rekeys.
      ASSERT_LT(client_app.channels[c.id()].out.size(), kFlood);
      ASSERT_TRUE(
          (i == 5 ? front->transport() : back->transport()).StartRekey().ok());
    }
    std::vector<uint8_t> d = Pattern(20000, i);
    auto took = e.Send(d);
    ASSERT_TRUE(took.ok());
    sent += Str(absl::MakeConstSpan(d).first(*took));
    target_app.flood_allowed += 512 << 10;
    Run(2);
  }
  target_app.flood_allowed = SIZE_MAX;
  Run();
  EXPECT_GT(front->transport().kex_count(), front_kex);
  EXPECT_GT(back->transport().kex_count(), back_kex);
  EXPECT_EQ(client_app.channels[c.id()].out.size(), kFlood);
  EXPECT_EQ(client_app.channels[e.id()].out, sent);
  EXPECT_FALSE(front->closed() || back->closed());
}

}  // namespace
}  // namespace sallyport::ssh::session
