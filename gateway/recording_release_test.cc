// Record before forward (issue 14) vs. the I/O thread's other connections
// (issue 12, gateway_load_e2e_test): once the recorder has recorded a
// whole window at once, one recorder wake hands on at most 64 KiB (plus
// the one message that crosses the mark); the rest goes on later wakes, so
// the thread runs its other connections' handlers in between. Real CA,
// gateway, sshd and OpenSSH client (gateway_test_fixture.h); the recorder
// holds the data (or everything) until the test releases it.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gateway/gateway_test_fixture.h"
#include "gateway/recorder.h"
#include "gtest/gtest.h"

namespace sallyport::gateway {
namespace {

// One channel's recording is held until Release(): from its first data
// on, or with `hold_requests` everything (the requests too). Counts the
// data bytes each recorder wake hands on. A wake asks each channel's
// Health() once, then Recorded() for each item it takes.
class HoldingRecorder : public Recorder {
 public:
  explicit HoldingRecorder(bool hold_requests = false)
      : hold_requests_(hold_requests) {}

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
    absl::Status Data(absl::Time, Direction, uint32_t,
                      absl::Span<const uint8_t> bytes) override {
      absl::MutexLock lock(&r_.mu_);
      r_.bytes_[++last_] = static_cast<int64_t>(bytes.size());
      if (first_data_ == 0) first_data_ = last_;
      if (!r_.released_) r_.held_ += static_cast<int64_t>(bytes.size());
      return absl::OkStatus();
    }
    absl::Status Request(absl::Time, Direction, std::string_view,
                         std::string_view) override {
      absl::MutexLock lock(&r_.mu_);
      ++last_;
      return absl::OkStatus();
    }
    absl::Status WindowChange(absl::Time, uint32_t, uint32_t) override {
      absl::MutexLock lock(&r_.mu_);
      ++last_;
      return absl::OkStatus();
    }
    void Close(absl::Time) override {}
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
      // Items are taken in ticket order: what is new was handed on now.
      for (; taken_ < ticket; ++taken_) {
        auto it = r_.bytes_.find(taken_ + 1);
        if (it != r_.bytes_.end()) r_.this_wake_ += it->second;
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
  mutable absl::Mutex mu_;
  std::function<void()> wake_ ABSL_GUARDED_BY(mu_);
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  int64_t held_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, int64_t> bytes_ ABSL_GUARDED_BY(mu_);  // ticket -> size
  mutable int64_t this_wake_ ABSL_GUARDED_BY(mu_) = 0;
  mutable int64_t max_per_wake_ ABSL_GUARDED_BY(mu_) = 0;
  mutable int wakes_with_data_ ABSL_GUARDED_BY(mu_) = 0;
};

class RecordingReleaseTest : public GatewayTest {
 protected:
  RecordingReleaseTest() { recorder_override_ = &holding_; }
  HoldingRecorder holding_;
};

TEST_F(RecordingReleaseTest, OneWakeHandsOnAtMostOneSliceOfAWindow) {
  constexpr int64_t kBytes = 1 << 20;  // fits the 2 MiB channel window
  testing::RunResult r;
  std::thread ssh([&] {
    r = Ssh(login_ + "+web01", absl::StrCat("head -c ", kBytes, " /dev/zero"));
  });
  // sshd sends it all (the window allows it); the gateway holds it.
  const absl::Time limit = absl::Now() + absl::Seconds(60);
  while (holding_.held_bytes() < kBytes && absl::Now() < limit)
    absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(holding_.held_bytes(), kBytes);
  holding_.Release();
  ssh.join();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(static_cast<int64_t>(r.out.size()), kBytes);
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

}  // namespace
}  // namespace sallyport::gateway
