// A user who stops reading, end to end (the real gateway, CA and sshd
// target; the user is our own SSH client): what the gateway holds for them
// stays bounded whatever window their client advertises, and once they
// read again they get every byte.
#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gateway/gateway_test_fixture.h"
#include "gtest/gtest.h"
#include "ssh/connection/messages.h"
#include "ssh/net/driver.h"
#include "ssh/session/session.h"

namespace sallyport::gateway {
namespace {

using ssh::session::Channel;
using ssh::session::Session;

// Our client on `channels` session channels: runs `command` on each, stops
// reading its socket as soon as they are open, and watches the recording (the
// gateway records the host's output before it forwards it, so what was
// recorded and not received is what the gateway and the sockets between
// hold). Once the recording stopped growing for a second (the host is
// stopped) or has everything, it notes what is held and reads again.
// Disconnects when the channels closed.
class PausedReader : public SessionChannelClient {
 public:
  // `total`: the output of all channels together.
  PausedReader(const InMemoryRecorder& recorder, std::string command,
               uint64_t total, int channels = 1)
      : SessionChannelClient(channels),
        recorder_(recorder),
        command_(std::move(command)),
        total_(total),
        channels_(channels) {}

  ssh::net::TransportDriver* driver = nullptr;
  uint64_t received = 0;
  uint64_t not_zero = 0;  // received bytes other than '\0'
  std::optional<uint64_t> held_when_stopped;

  void OnData(Channel ch, uint32_t stream, ssh::wire::Bytes data) override {
    if (stream == 0) {
      for (uint8_t byte : data) not_zero += byte != 0;
      received += data.size();
    } else {
      err.append(data.begin(), data.end());
    }
    ch.Consume(data.size());
  }
  // The timer goes with the session: the client's io_context (which the
  // timer uses) is destroyed before this handler.
  void OnEnd(Session&, const absl::Status&) override { timer_.reset(); }

 private:
  void OnSessionOpen(Channel ch) override {
    Exec(ch, command_);
    (void)ch.SendEof();
    if (++opened_ < channels_) return;
    driver->PauseInput();
    timer_.emplace(driver->executor());
    Poll();
  }
  void OnAllClosed() override {
    if (timer_.has_value()) timer_->cancel();
  }
  void Poll() {
    const uint64_t recorded =
        recorder_.DataFor("web01", Direction::kOutput).size();
    still_ = recorded > 0 && recorded == last_ ? still_ + 1 : 0;
    last_ = recorded;
    if (recorded >= total_ || still_ >= 10) {
      held_when_stopped = recorded - received;
      std::printf("paused reader: %llu MiB recorded, %llu KiB received\n",
                  static_cast<unsigned long long>(recorded >> 20),
                  static_cast<unsigned long long>(received >> 10));
      driver->ResumeInput();
      return;
    }
    timer_->expires_after(std::chrono::milliseconds(100));
    timer_->async_wait([this](const asio::error_code& ec) {
      if (!ec) Poll();
    });
  }

  const InMemoryRecorder& recorder_;
  const std::string command_;
  const uint64_t total_;
  const int channels_;
  int opened_ = 0;
  std::optional<asio::steady_timer> timer_;
  uint64_t last_ = 0;
  int still_ = 0;
};

// Big enough for the whole output (InMemoryRecorder refuses more than its
// limit, which would end the session as a failed recording).
class SlowReaderTest : public GatewayTest {
 protected:
  SlowReaderTest() { recorder_override_ = &big_recorder_; }

  // Runs `reader` on LOGIN+web01 with a 4 GiB window: once the host was
  // stopped the gateway and the sockets held at most `max_held`, and then
  // the user received all `total` bytes (zeros).
  void ExpectHeldAtMost(PausedReader& reader, uint64_t max_held,
                        uint64_t total) {
    OurClientOptions options;
    options.limit = absl::Seconds(240);
    options.initial_window = 0xfff00000u;
    options.on_driver = [&](ssh::net::TransportDriver& d) {
      reader.driver = &d;
    };
    LoginResult run = RunOurClient(login_ + "+web01", reader, options);
    ASSERT_TRUE(run.authenticated) << run.banner;
    ASSERT_TRUE(reader.held_when_stopped.has_value()) << GatewayLog();
    EXPECT_LE(*reader.held_when_stopped, max_held);
    EXPECT_EQ(reader.received, total) << reader.err;
    EXPECT_EQ(reader.not_zero, 0u);
  }

  InMemoryRecorder big_recorder_{size_t{512} << 20};
};

// The user's client advertises a 4 GiB window and stops reading while the
// host writes 128 MiB: the host is stopped with a few MiB held (the
// gateway's transport below its watermark, the host's window, socket
// buffers), not the whole output; then the user reads everything. Fails if
// the bridge reopens the host's window for whatever it hands to the user's
// transport (the gateway held all 128 MiB).
TEST_F(SlowReaderTest, AUserWithAHugeWindowWhoStopsReadingStopsTheHost) {
  constexpr uint64_t kTotal = uint64_t{128} << 20;
  // Well above what the gateway may hold (4 MiB of transport backlog and
  // a 2 MiB window) plus loopback socket buffers, well below kTotal.
  constexpr uint64_t kMaxHeld = uint64_t{32} << 20;
  PausedReader reader(big_recorder_,
                      absl::StrCat("head -c ", kTotal, " /dev/zero"), kTotal);
  ExpectHeldAtMost(reader, kMaxHeld, kTotal);
  EXPECT_EQ(reader.exit_status, std::optional<uint32_t>(0)) << reader.err;
  EXPECT_FALSE(absl::StrContains(GatewayLog(), "not keeping up"));
}

// The same with 32 channels at once and a connection budget of 1 MiB
// (limits.max_buffered_bytes_per_connection): the channels' windows share
// it, so the gateway holds about that much (plus a 32 KiB first window
// per channel), not a 2 MiB window per channel (64 MiB).
class BufferBudgetTest : public SlowReaderTest {
 protected:
  BufferBudgetTest() {
    extra_yaml_ = "limits:\n  max_buffered_bytes_per_connection: 1048576\n";
  }
};

TEST_F(BufferBudgetTest, ManyChannelsOfAUserWhoStopsReadingShareTheBudget) {
  constexpr int kChannels = 32;
  constexpr uint64_t kEach = uint64_t{4} << 20;
  // The budget and the channels' first windows, plus loopback socket
  // buffers (several MiB); far below 32 windows of 2 MiB.
  constexpr uint64_t kMaxHeld = uint64_t{20} << 20;
  PausedReader reader(big_recorder_,
                      absl::StrCat("head -c ", kEach, " /dev/zero"),
                      kChannels * kEach, kChannels);
  ExpectHeldAtMost(reader, kMaxHeld, kChannels * kEach);
}

// A host on our own library (the other way round: a host that stops
// reading): it advertises a 4 GiB window on its session channel and, once
// the command request came, stops reading its socket. It never consumes
// what arrives.
class StuckHost : public ssh::session::SessionHandler {
 public:
  void OnChannelOpen(Channel ch, std::string_view, ssh::wire::Bytes) override {
    (void)ch.Accept();
  }
  void OnChannelRequest(Channel ch, std::string_view type, bool want_reply,
                        ssh::wire::Bytes,
                        ssh::connection::RequestId request) override {
    if (want_reply) (void)ch.Reply(request, true);
    if (type == "exec" && driver != nullptr) driver->PauseInput();
  }
  void OnData(Channel, uint32_t, ssh::wire::Bytes data) override {
    received += data.size();
  }

  ssh::net::TransportDriver* driver = nullptr;
  std::atomic<uint64_t> received{0};
};

// The user's client: runs a command and sends `total` bytes as fast as the
// gateway's window allows. Once what the gateway took stopped growing for
// a second (the user is stopped) or is everything, it notes that and
// disconnects.
class Pusher : public SessionChannelClient {
 public:
  explicit Pusher(uint64_t total) : total_(total), chunk_(32 << 10, 'x') {}

  ssh::net::TransportDriver* driver = nullptr;
  uint64_t sent = 0;
  std::optional<uint64_t> sent_when_stopped;

  void OnWindowAvailable(Channel) override { Pump(); }
  // It disconnects itself once the gateway stops taking its data (Poll),
  // also when the channel closed first.
  void OnClose(Channel) override {}
  // As PausedReader's.
  void OnEnd(Session&, const absl::Status&) override { timer_.reset(); }

 private:
  void OnSessionOpen(Channel ch) override {
    channel_ = ch;
    Exec(ch, "cat");
    timer_.emplace(driver->executor());
    Pump();
    Poll();
  }
  void Pump() {
    while (sent < total_ && !sent_when_stopped.has_value()) {
      absl::StatusOr<size_t> n = channel_.Send(chunk_);
      if (!n.ok() || *n == 0) return;
      sent += *n;
    }
  }
  void Poll() {
    still_ = sent > 0 && sent == last_ ? still_ + 1 : 0;
    last_ = sent;
    if (sent >= total_ || still_ >= 10) {
      sent_when_stopped = sent;
      session().Disconnect("done");
      return;
    }
    timer_->expires_after(std::chrono::milliseconds(100));
    timer_->async_wait([this](const asio::error_code& ec) {
      if (!ec) Poll();
    });
  }

  const uint64_t total_;
  std::vector<uint8_t> chunk_;
  Channel channel_;
  std::optional<asio::steady_timer> timer_;
  uint64_t last_ = 0;
  int still_ = 0;
};

// A host that advertises a 4 GiB window and stops reading, while the user
// keeps sending: the gateway stops taking the user's data with a few MiB
// held (its transport to the host below the watermark, the user's window,
// socket buffers). Fails if the bridge reopens the user's window for
// whatever it hands to the host's transport (it took all 128 MiB).
TEST_F(SlowReaderTest, AHostWithAHugeWindowWhoStopsReadingStopsTheUser) {
  constexpr uint64_t kTotal = uint64_t{128} << 20;
  constexpr uint64_t kMaxHeld = uint64_t{32} << 20;
  // web09: our StuckHost.
  StuckHost host;
  OwnHost::Options host_options;
  host_options.connection.initial_window = 0xfff00000u;
  host_options.on_driver = [&](ssh::net::TransportDriver& d) {
    host.driver = &d;
  };
  std::unique_ptr<OwnHost> web09 =
      StartOwnHost("web09", host, std::move(host_options));
  ASSERT_NE(web09, nullptr);

  Pusher user(kTotal);
  OurClientOptions options;
  options.limit = absl::Seconds(240);
  options.on_driver = [&](ssh::net::TransportDriver& d) { user.driver = &d; };
  LoginResult run = RunOurClient(login_ + "+web09", user, options);
  web09.reset();
  ASSERT_TRUE(run.authenticated) << run.banner;
  ASSERT_TRUE(user.sent_when_stopped.has_value()) << GatewayLog();
  std::printf("stuck host: the user sent %llu MiB, the host read %llu KiB\n",
              static_cast<unsigned long long>(*user.sent_when_stopped >> 20),
              static_cast<unsigned long long>(host.received.load() >> 10));
  EXPECT_LE(*user.sent_when_stopped - host.received.load(), kMaxHeld);
}

}  // namespace
}  // namespace sallyport::gateway
