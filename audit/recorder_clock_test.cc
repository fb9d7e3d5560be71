// The recorder across a wall-clock step (NTP after a VM resume, `date -s`):
// each test runs again in a child process under a FakeWallClock
// (tests/harness/wall_clock_step.h). absl::Mutex's timed waits slept until
// a CLOCK_REALTIME deadline, so after a step they lasted an hour longer; and
// what measured an interval with absl::Now() took a step back for an hour
// without time passing. The fixture is in recorder_test_fixture.h.
#include <stdio.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "audit/recorder.h"
#include "audit/recorder_test_fixture.h"
#include "gtest/gtest.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/wall_clock_step.h"

namespace sallyport::audit {
namespace {

using sallyport::testing::InChildUnderFakeWallClock;
using sallyport::testing::SetWallClockInChild;
using sallyport::testing::WaitSteadily;

// spool_fsync_interval: after the wall clock steps forward by an hour and
// back again, an open session is still fdatasync'd every interval.
TEST_F(RecorderTest, AnOpenSessionIsSyncedEveryIntervalAcrossWallClockSteps) {
  if (!InChildUnderFakeWallClock()) return;
  options_.fsync_interval = absl::Milliseconds(200);
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> rec =
      SpoolRecorder::Start(options_);
  ASSERT_TRUE(rec.ok()) << rec.status();
  auto s = (*rec)->OpenSession(Meta("sess-step"), absl::Now());
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(
      WaitSteadily([&] { return (*s)->syncs() >= 1; }, absl::Seconds(10)));
  // +1 h, then back to the real time.
  for (const absl::Duration offset : {absl::Hours(1), absl::ZeroDuration()}) {
    SCOPED_TRACE(
        absl::StrCat("the wall clock at +", absl::FormatDuration(offset)));
    ASSERT_NO_FATAL_FAILURE(SetWallClockInChild(offset));
    for (int i = 0; i < 2; ++i) {
      const uint64_t want = (*s)->syncs() + 1;
      absl::StatusOr<uint64_t> seq = (*s)->Append(Data("output"));
      ASSERT_TRUE(seq.ok()) << seq.status();
      ASSERT_TRUE(
          WaitSteadily([&] { return (*s)->Written(*seq); }, absl::Seconds(10)));
      // 50 intervals.
      ASSERT_TRUE(WaitSteadily([&] { return (*s)->syncs() >= want; },
                               absl::Seconds(10)))
          << "the open session was not synced";
    }
  }
}

// issue 14 benchmark: a paced pass waits min_write_interval after the
// previous one, no longer, whatever the wall clock does meanwhile.
TEST_F(RecorderTest, PacedPassesEndOnTimeAcrossWallClockSteps) {
  if (!InChildUnderFakeWallClock()) return;
  options_.min_write_interval = kMaxMinWriteInterval;
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> rec =
      SpoolRecorder::Start(options_);
  ASSERT_TRUE(rec.ok()) << rec.status();
  auto s = (*rec)->OpenSession(Meta("sess-pace"), absl::Now());
  ASSERT_TRUE(s.ok()) << s.status();
  auto written_soon = [&](const std::string& bytes) {
    absl::StatusOr<uint64_t> seq = (*s)->Append(Data(bytes));
    return seq.ok() &&
           WaitSteadily([&] { return (*s)->Written(*seq); }, absl::Seconds(10));
  };
  ASSERT_TRUE(written_soon("first"));
  // +1 h, then back to the real time.
  for (const absl::Duration offset : {absl::Hours(1), absl::ZeroDuration()}) {
    SCOPED_TRACE(
        absl::StrCat("the wall clock at +", absl::FormatDuration(offset)));
    ASSERT_NO_FATAL_FAILURE(SetWallClockInChild(offset));
    // Appended right after a pass: each waits for the pacing.
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(written_soon(absl::StrCat("paced ", i)))
          << "a paced pass did not end on time";
    }
  }
}

// The spool directory is probed every probe_interval after a step too.
TEST_F(RecorderTest, TheSpoolDirIsProbedEveryIntervalAfterAWallClockStep) {
  if (!InChildUnderFakeWallClock()) return;
  options_.probe_interval = absl::Milliseconds(100);
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> rec =
      SpoolRecorder::Start(options_);
  ASSERT_TRUE(rec.ok()) << rec.status();
  ASSERT_TRUE((*rec)->SpoolWritable().ok());
  ASSERT_NO_FATAL_FAILURE(SetWallClockInChild(absl::Hours(1)));
  // Tests run as root, who writes into a chmod 0500 directory anyway: a
  // file takes the directory's place.
  const std::string away = options_.spool_dir + ".away";
  ASSERT_EQ(::rename(options_.spool_dir.c_str(), away.c_str()), 0);
  ASSERT_TRUE(testing::WriteFile(options_.spool_dir, "not a directory\n").ok());
  EXPECT_TRUE(WaitSteadily([&] { return !(*rec)->SpoolWritable().ok(); },
                           absl::Seconds(10)))
      << "no probe since the step";
  ASSERT_EQ(::unlink(options_.spool_dir.c_str()), 0);
  ASSERT_EQ(::rename(away.c_str(), options_.spool_dir.c_str()), 0);
  EXPECT_TRUE(WaitSteadily([&] { return (*rec)->SpoolWritable().ok(); },
                           absl::Seconds(10)));
}

// A wall-clock step during a write pass is no stall of the spool disk (a
// step forward made a pass an hour old: every session failed), and the
// watchdog still finds a real one after the step.
TEST_F(RecorderTest, AWallClockStepIsNoStallButAStallIsFoundAfterIt) {
  if (!InChildUnderFakeWallClock()) return;
  options_.write_stall_limit = absl::Seconds(8);
  HeldRecorder h;
  ASSERT_NO_FATAL_FAILURE(StartHeld(options_, h));
  ASSERT_NO_FATAL_FAILURE(SetWallClockInChild(absl::Hours(1)));
  // ~3 s into the 8 s limit (the watchdog looks every 250 ms).
  EXPECT_TRUE(h.held.b->status().ok()) << h.held.b->status();
  EXPECT_TRUE(h.rec->AcceptingSessions().ok()) << h.rec->AcceptingSessions();
  // The limit passes.
  ASSERT_TRUE(WaitSteadily([&] { return h.held.b_woken->HasBeenNotified(); },
                           absl::Seconds(20)))
      << "the stall was not found";
  EXPECT_NE(h.held.b->status().message().find("has not finished a write"),
            std::string::npos)
      << h.held.b->status();
}

}  // namespace
}  // namespace sallyport::audit
