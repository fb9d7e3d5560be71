// Record before forward (issue 14) vs. the I/O thread's other connections
// (issue 12, gateway_load_e2e_test): once the recorder has recorded a
// whole window at once, one recorder wake hands on at most 64 KiB (plus
// the one message that crosses the mark); the rest goes on later wakes, so
// the thread runs its other connections' handlers in between. What the
// gateway holds meanwhile is bounded: the host's requests too. Real CA,
// gateway, sshd and OpenSSH client (gateway_test_fixture.h), or our own
// host and client; the recorder holds the data (or everything) until the
// test releases it.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gateway/gateway_test_fixture.h"
#include "gateway/proxy.h"
#include "gateway/recorder.h"
#include "gtest/gtest.h"
#include "ssh/connection/messages.h"
#include "ssh/session/session.h"
#include "ssh/wire/writer.h"

namespace sallyport::gateway {
namespace {

// One channel's recording is held until Release(): from the data past its
// first `hold_after` bytes on, or with `hold_requests` everything (the
// requests too). Counts the data bytes each recorder wake hands on. A wake
// asks each channel's Health() once, then Recorded() for each item it
// takes.
class HoldingRecorder : public Recorder {
 public:
  explicit HoldingRecorder(bool hold_requests = false, int64_t hold_after = 0)
      : hold_requests_(hold_requests), hold_after_(hold_after) {}

  absl::StatusOr<std::unique_ptr<ChannelTap>> Attach(
      const ChannelInfo& info) override {
    absl::MutexLock lock(&mu_);
    if (info.type == "session") wake_ = info.wake;
    return std::unique_ptr<ChannelTap>(new Tap(*this));
  }

  int64_t held_bytes() const {
    absl::MutexLock lock(&mu_);
    return held_;
  }
  // Everything recorded so far and from now on counts as recorded; the
  // gateway is told so.
  void Release() {
    std::function<void()> wake;
    {
      absl::MutexLock lock(&mu_);
      released_ = true;
      wake = wake_;
    }
    if (wake) wake();
  }
  // The host's requests recorded so far.
  int output_requests() const {
    absl::MutexLock lock(&mu_);
    return output_requests_;
  }
  // The most data one wake handed on, and how many wakes did so.
  int64_t max_per_wake() const {
    absl::MutexLock lock(&mu_);
    return std::max(max_per_wake_, this_wake_);
  }
  int wakes_with_data() const {
    absl::MutexLock lock(&mu_);
    return wakes_with_data_ + (this_wake_ > 0 ? 1 : 0);
  }

 private:
  class Tap : public ChannelTap {
   public:
    explicit Tap(HoldingRecorder& r) : r_(r) {}
    absl::Status Data(absl::Duration, Direction, uint32_t,
                      absl::Span<const uint8_t> bytes) override {
      absl::MutexLock lock(&r_.mu_);
      r_.bytes_[++last_] = static_cast<int64_t>(bytes.size());
      r_.seen_ += static_cast<int64_t>(bytes.size());
      if (first_data_ == 0 && r_.seen_ > r_.hold_after_) first_data_ = last_;
      if (!r_.released_ && first_data_ != 0)
        r_.held_ += static_cast<int64_t>(bytes.size());
      return absl::OkStatus();
    }
    absl::Status Request(absl::Duration, Direction direction, std::string_view,
                         std::string_view) override {
      absl::MutexLock lock(&r_.mu_);
      ++last_;
      if (direction == Direction::kOutput) ++r_.output_requests_;
      return absl::OkStatus();
    }
    absl::Status WindowChange(absl::Duration, uint32_t, uint32_t) override {
      absl::MutexLock lock(&r_.mu_);
      ++last_;
      return absl::OkStatus();
    }
    void Close(absl::Duration) override {}
    uint64_t LastTicket() const override {
      absl::MutexLock lock(&r_.mu_);
      return last_;
    }
    bool Recorded(uint64_t ticket) const override {
      absl::MutexLock lock(&r_.mu_);
      if (!r_.released_ &&
          (r_.hold_requests_ || (first_data_ != 0 && ticket >= first_data_))) {
        return false;
      }
      // Items are taken in ticket order: what is new was handed on now
      // (counted from the first held one on: what went through before
      // the hold was never held).
      for (; taken_ < ticket; ++taken_) {
        auto it = r_.bytes_.find(taken_ + 1);
        if (it != r_.bytes_.end() && first_data_ != 0 &&
            taken_ + 1 >= first_data_)
          r_.this_wake_ += it->second;
      }
      return true;
    }
    absl::Status Health() const override {
      absl::MutexLock lock(&r_.mu_);
      if (r_.this_wake_ > 0) ++r_.wakes_with_data_;
      r_.max_per_wake_ = std::max(r_.max_per_wake_, r_.this_wake_);
      r_.this_wake_ = 0;
      return absl::OkStatus();
    }

   private:
    HoldingRecorder& r_;
    uint64_t last_ = 0;           // guarded by r_.mu_
    uint64_t first_data_ = 0;     // guarded by r_.mu_
    mutable uint64_t taken_ = 0;  // guarded by r_.mu_
  };

  const bool hold_requests_;
  const int64_t hold_after_;
  mutable absl::Mutex mu_;
  int64_t seen_ ABSL_GUARDED_BY(mu_) = 0;  // data bytes recorded
  std::function<void()> wake_ ABSL_GUARDED_BY(mu_);
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  int64_t held_ ABSL_GUARDED_BY(mu_) = 0;
  int output_requests_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, int64_t> bytes_ ABSL_GUARDED_BY(mu_);  // ticket -> size
  mutable int64_t this_wake_ ABSL_GUARDED_BY(mu_) = 0;
  mutable int64_t max_per_wake_ ABSL_GUARDED_BY(mu_) = 0;
  mutable int wakes_with_data_ ABSL_GUARDED_BY(mu_) = 0;
};

// A channel's window starts small (ssh::connection::WindowBudget) and
// doubles each time the gateway has consumed half of it, up to 2 MiB
// after about 1 MiB: the first kWarmUp bytes go through, from then on
// the recorder holds (and the gateway consumes nothing more).
constexpr int64_t kWarmUp = 4 << 20;

class RecordingReleaseTest : public GatewayTest {
 protected:
  RecordingReleaseTest() { recorder_override_ = &holding_; }
  HoldingRecorder holding_{/*hold_requests=*/false, kWarmUp};
};

TEST_F(RecordingReleaseTest, OneWakeHandsOnAtMostOneSliceOfAWindow) {
  constexpr int64_t kBytes = 1 << 20;  // fits the 2 MiB channel window
  testing::RunResult r;
  std::thread ssh([&] {
    r = Ssh(login_ + "+web01",
            absl::StrCat("head -c ", kWarmUp, " /dev/zero; sleep 1; head -c ",
                         kBytes, " /dev/zero"));
  });
  // sshd sends it all (the window, grown, allows it); the gateway holds
  // it.
  const absl::Time limit = absl::Now() + absl::Seconds(60);
  while (holding_.held_bytes() < kBytes && absl::Now() < limit)
    absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(holding_.held_bytes(), kBytes);
  holding_.Release();
  ssh.join();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(static_cast<int64_t>(r.out.size()), kWarmUp + kBytes);
  // 64 KiB per wake, plus the data message that crosses the mark (at most
  // 32 KiB from sshd); without the limit one wake sends all 1 MiB.
  std::printf("largest release in one wake: %lld bytes; wakes with data: %d\n",
              static_cast<long long>(holding_.max_per_wake()),
              holding_.wakes_with_data());
  EXPECT_GT(holding_.max_per_wake(), 0);
  EXPECT_LE(holding_.max_per_wake(), (64 + 32) << 10);
  EXPECT_GE(holding_.wakes_with_data(), kBytes / ((64 + 32) << 10));
}

class RequestReleaseTest : public GatewayTest {
 protected:
  RequestReleaseTest() { recorder_override_ = &holding_; }
  HoldingRecorder holding_{/*hold_requests=*/true};
};

// Record before forward holds for the user's requests too: while the
// recorder has not recorded the exec, the host does not run it (it ran at
// once, and a stalled spool or a crash then lost the command's record).
TEST_F(RequestReleaseTest, TheCommandRunsOnlyOnceItIsRecorded) {
  const std::string marker = dir_->File("ran");
  testing::RunResult r;
  std::thread ssh([&] { r = Ssh(login_ + "+web01", "touch " + marker); });
  // The gateway has the exec (it logs it before recording it): give it
  // time to reach the host if it were going to.
  const absl::Time limit = absl::Now() + absl::Seconds(60);
  while (!absl::StrContains(GatewayLog(), "event=channel.start") &&
         absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(absl::StrContains(GatewayLog(), "event=channel.start"));
  absl::SleepFor(absl::Seconds(2));
  EXPECT_NE(access(marker.c_str(), F_OK), 0)
      << "the host ran the command before it was recorded";
  holding_.Release();
  ssh.join();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(access(marker.c_str(), F_OK), 0) << r.Describe();
}

// A host on our own library: to the exec it answers with one byte of
// output (from which on the recorder holds everything), then `requests`
// (eow@openssh.com, each with its data), exit-status 0, EOF and CLOSE.
class RequestingHost : public ssh::session::SessionHandler {
 public:
  explicit RequestingHost(std::vector<std::vector<uint8_t>> requests)
      : requests_(std::move(requests)) {}

  std::atomic<bool> sent_all{false};

  void OnChannelOpen(ssh::session::Channel ch, std::string_view,
                     ssh::wire::Bytes) override {
    (void)ch.Accept();
  }
  void OnChannelRequest(ssh::session::Channel ch, std::string_view type,
                        bool want_reply, ssh::wire::Bytes,
                        ssh::connection::RequestId request) override {
    if (want_reply) (void)ch.Reply(request, type == "exec");
    if (type != "exec") return;
    const uint8_t x = 'x';
    (void)ch.Queue(ssh::wire::Bytes(&x, 1));
    for (const std::vector<uint8_t>& data : requests_) {
      absl::Status st = ch.SendRequest("eow@openssh.com", false, data);
      EXPECT_TRUE(st.ok()) << st;
    }
    ssh::wire::Writer status;
    status.Uint32(0);
    (void)ch.SendRequest("exit-status", false, status.data());
    (void)ch.SendEof();
    (void)ch.Close();
    sent_all = true;
  }
  void OnData(ssh::session::Channel ch, uint32_t,
              ssh::wire::Bytes data) override {
    ch.Consume(data.size());
  }

 private:
  std::vector<std::vector<uint8_t>> requests_;
};

// Our client: runs `exec x` on one session channel and notes what comes
// back; disconnects once the channel closed.
class RequestsSeen : public SessionChannelClient {
 public:
  size_t eows = 0;

  void OnChannelRequest(ssh::session::Channel ch, std::string_view type,
                        bool want_reply, ssh::wire::Bytes data,
                        ssh::connection::RequestId request) override {
    if (type == "eow@openssh.com") ++eows;
    SessionChannelClient::OnChannelRequest(ch, type, want_reply, data, request);
  }

 private:
  void OnSessionOpen(ssh::session::Channel ch) override {
    Exec(ch, "x", /*want_reply=*/true);
  }
};

class HostRequestLimitTest : public GatewayTest {
 protected:
  HostRequestLimitTest() { recorder_override_ = &holding_; }

  // Runs RequestingHost with `requests` as web08 and our client on it;
  // once the recorder has all of the host's requests (`requests` and the
  // exit-status) or the gateway cut the channel off, the recorder records
  // everything.
  RequestsSeen Run(std::vector<std::vector<uint8_t>> requests) {
    const int expected = static_cast<int>(requests.size()) + 1;
    RequestingHost host(std::move(requests));
    std::unique_ptr<OwnHost> web08 = StartOwnHost("web08", host);
    RequestsSeen client;
    if (web08 == nullptr) return client;
    std::thread release([&] {
      const absl::Time limit = absl::Now() + absl::Seconds(30);
      while (absl::Now() < limit &&
             !(host.sent_all && holding_.output_requests() == expected) &&
             !absl::StrContains(GatewayLog(), "event=channel.abort")) {
        absl::SleepFor(absl::Milliseconds(50));
      }
      holding_.Release();
    });
    LoginResult run = RunOurClient(login_ + "+web08", client);
    release.join();
    EXPECT_TRUE(run.authenticated) << run.banner;
    return client;
  }
  static constexpr char kCutOff[] =
      "web08 sent more channel requests than the gateway holds while it "
      "records them";
  // Holds from the host's first byte on.
  HoldingRecorder holding_;
};

// The count: the host's kMaxHeldHostRequests requests (the eows and the
// exit-status) wait for the recorder and then reach the user; one more
// and the channel is closed, saying why.
TEST_F(HostRequestLimitTest, HeldHostRequestsStopAtTheCount) {
  RequestsSeen at = Run(std::vector<std::vector<uint8_t>>(
      kMaxHeldHostRequests - 1, std::vector<uint8_t>()));
  EXPECT_EQ(at.out, "x") << at.err << GatewayLog();
  EXPECT_EQ(at.eows, kMaxHeldHostRequests - 1);
  EXPECT_EQ(at.exit_status, std::optional<uint32_t>(0)) << at.err;
  EXPECT_FALSE(absl::StrContains(GatewayLog(), "event=channel.abort"));
}

TEST_F(HostRequestLimitTest, OneMoreHeldHostRequestClosesTheChannel) {
  RequestsSeen over = Run(std::vector<std::vector<uint8_t>>(
      kMaxHeldHostRequests, std::vector<uint8_t>()));
  EXPECT_FALSE(over.exit_status.has_value()) << GatewayLog();
  EXPECT_TRUE(absl::StrContains(over.err, kCutOff)) << over.err << GatewayLog();
  EXPECT_TRUE(absl::StrContains(GatewayLog(), "event=channel.abort"));
}

// The bytes: four big eows and the exit-status, kMaxHeldHostRequestBytes
// (types and data) together, wait and then reach the user; one byte more
// and the channel is closed.
std::vector<std::vector<uint8_t>> EowsOfBytes(size_t extra) {
  const size_t exit_status = std::string("exit-status").size() + 4;
  const size_t each = std::string("eow@openssh.com").size();
  const size_t data = kMaxHeldHostRequestBytes - exit_status - 4 * each;
  std::vector<std::vector<uint8_t>> out(3, std::vector<uint8_t>(data / 4, 'e'));
  out.emplace_back(data - 3 * (data / 4) + extra, 'e');
  return out;
}

TEST_F(HostRequestLimitTest, HeldHostRequestsStopAtTheBytes) {
  RequestsSeen at = Run(EowsOfBytes(0));
  EXPECT_EQ(at.out, "x") << at.err << GatewayLog();
  EXPECT_EQ(at.eows, 4u);
  EXPECT_EQ(at.exit_status, std::optional<uint32_t>(0)) << at.err;
}

TEST_F(HostRequestLimitTest, OneMoreHeldHostRequestByteClosesTheChannel) {
  RequestsSeen over = Run(EowsOfBytes(1));
  EXPECT_FALSE(over.exit_status.has_value()) << GatewayLog();
  EXPECT_TRUE(absl::StrContains(over.err, kCutOff)) << over.err << GatewayLog();
}

}  // namespace
}  // namespace sallyport::gateway
