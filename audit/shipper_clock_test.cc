// The recording shipper's own thread across a wall-clock step (NTP after a
// VM resume, `date -s`): each test runs again in a child process under a
// FakeWallClock (tests/harness/fake_wall_clock.h). The wait between passes
// (absl::Mutex slept until a CLOCK_REALTIME deadline) lasted an hour longer
// after a step forward, and a backoff measured with absl::Now() an hour
// longer after a step back. The fixture is in shipper_test_fixture.h.
#include <atomic>
#include <memory>
#include <string>

#include "audit/recording_record.h"
#include "audit/shipper.h"
#include "audit/shipper_test_fixture.h"
#include "audit/spool.h"
#include "gtest/gtest.h"
#include "tests/harness/wall_clock_step.h"

namespace sallyport::audit {
namespace {

using sallyport::testing::InChildUnderFakeWallClock;
using sallyport::testing::SetWallClockInChild;
using sallyport::testing::WaitSteadily;

// The fixture's uploader as the shipper's thread calls it: fails the
// first `failures` uploads like a CA that cannot be reached, and counts.
class FailingFirstUploader : public RecordingUploader {
 public:
  FailingFirstUploader(RecordingUploader& next, int failures)
      : next_(next), failures_(failures) {}
  absl::StatusOr<v1::RecordingSession> Upload(
      const v1::RecordingSession& session, const NextBatch& next) override {
    if (calls_.fetch_add(1) < failures_) {
      return absl::UnavailableError("connection refused");
    }
    return next_.Upload(session, next);
  }
  int calls() const { return calls_.load(); }

 private:
  RecordingUploader& next_;
  const int failures_;
  std::atomic<int> calls_{0};
};

class ShipperClockTest : public ShipperTest {
 protected:
  // A shipper with its thread (a pass every 100 ms), on the real clock of
  // the backoff.
  std::unique_ptr<Shipper> StartThread(RecordingUploader& uploader,
                                       ShipperOptions o = {}) {
    o.spool_dir = spool_dir_;
    o.uploader = &uploader;
    o.scan_interval = absl::Milliseconds(100);
    absl::StatusOr<std::unique_ptr<Shipper>> s = Shipper::Start(std::move(o));
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }
  // A closed spool of `id`: 3 records and the end.
  void WriteClosedSpool(const std::string& id) {
    auto w = SpoolWriter::Create(spool_dir_, Meta(id));
    ASSERT_TRUE(w.ok()) << w.status();
    RecordChainer chain(id);
    Append(*w, chain, 3, true);
    ASSERT_TRUE(w->Close().ok());
  }
};

// scan_interval: a spool made after a step forward of an hour is shipped
// and deleted within a few intervals, without a Wake.
TEST_F(ShipperClockTest, ASpoolIsShippedWithinTheScanIntervalAfterAStep) {
  if (!InChildUnderFakeWallClock()) return;
  FailingFirstUploader uploader(*uploader_, 0);
  auto shipper = StartThread(uploader);
  ASSERT_NE(shipper, nullptr);
  ASSERT_NO_FATAL_FAILURE(SetWallClockInChild(absl::Hours(1)));
  // The thread now waits for its next pass from after the step.
  WriteClosedSpool("s1");
  if (HasFatalFailure()) return;
  EXPECT_TRUE(WaitSteadily([&] { return !Exists("s1"); }, absl::Seconds(10)))
      << "no pass since the step";
  shipper.reset();
  EXPECT_EQ(store_->GetSession("s1")->last_seq, 4u);
}

// min_backoff: an upload that failed before the wall clock stepped back by
// an hour is tried again after its backoff, not an hour later.
TEST_F(ShipperClockTest, ABackoffEndsOnTimeAfterTheWallClockStepsBack) {
  if (!InChildUnderFakeWallClock()) return;
  FailingFirstUploader uploader(*uploader_, 1);
  ShipperOptions o;
  // Longer than the step takes to be seen (kFakeWallClockLag).
  o.min_backoff = o.max_backoff = absl::Seconds(4);
  auto shipper = StartThread(uploader, o);
  ASSERT_NE(shipper, nullptr);
  WriteClosedSpool("s1");
  if (HasFatalFailure()) return;
  ASSERT_TRUE(
      WaitSteadily([&] { return uploader.calls() >= 1; }, absl::Seconds(10)));
  ASSERT_NO_FATAL_FAILURE(SetWallClockInChild(-absl::Hours(1)));
  EXPECT_TRUE(Exists("s1")) << "shipped before its backoff ended";
  EXPECT_TRUE(WaitSteadily([&] { return !Exists("s1"); }, absl::Seconds(15)))
      << "the backoff did not end";
  shipper.reset();
  EXPECT_EQ(store_->GetSession("s1")->last_seq, 4u);
}

}  // namespace
}  // namespace sallyport::audit
