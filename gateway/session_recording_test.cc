// A session's recording as the gateway's real recorder keeps it: the
// real CA, gateway (with a SpoolTapRecorder over a SpoolRecorder, no
// shipper), sshd and OpenSSH client (gateway_test_fixture.h), and the
// spool file read back.
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "audit/recorder.h"
#include "audit/spool.h"
#include "gateway/gateway_test_fixture.h"
#include "gateway/spool_tap.h"
#include "gtest/gtest.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/wall_clock_step.h"

namespace sallyport::gateway {
namespace {

using testing::RunResult;

// The gateway's real recorder (a spool; nothing ships it here).
class SpoolRecordedTest : public GatewayTest {
 protected:
  void SetUp() override {
    absl::StatusOr<testing::TempDir> dir = testing::TempDir::Create("gwspool");
    ASSERT_TRUE(dir.ok()) << dir.status();
    spool_dir_ = std::make_unique<testing::TempDir>(*std::move(dir));
    audit::RecorderOptions o;
    o.spool_dir = spool_dir_->path();
    o.gateway_id = "gw1";
    absl::StatusOr<std::unique_ptr<audit::SpoolRecorder>> spool =
        audit::SpoolRecorder::Start(o);
    ASSERT_TRUE(spool.ok()) << spool.status();
    spool_ = *std::move(spool);
    taps_ = std::make_unique<SpoolTapRecorder>(*spool_, SpoolTapOptions());
    recorder_override_ = taps_.get();
    GatewayTest::SetUp();
  }
  void TearDown() override {
    GatewayTest::TearDown();  // the gateway goes before its recorder
    taps_.reset();
    spool_.reset();
  }

  // The session's spool once its session_end record is in it (30 s at
  // most).
  audit::SpoolContents EndedSpool(const std::string& session) {
    const absl::Time limit = absl::Now() + absl::Seconds(30);
    absl::StatusOr<audit::SpoolContents> c;
    do {
      c = audit::ReadSpool(audit::SpoolPath(spool_dir_->path(), session));
      if (c.ok() && !c->records.empty() &&
          c->records.back().has_session_end()) {
        return *c;
      }
      absl::SleepFor(absl::Milliseconds(100));
    } while (absl::Now() < limit);
    ADD_FAILURE() << "no ended spool for " << session << ": "
                  << (c.ok() ? "no session_end" : c.status().ToString());
    return audit::SpoolContents();
  }

  // Whether the session's spool holds `text` in its output (on the steady
  // clock, which no wall-clock step moves: 30 s at most).
  bool SpoolShows(const std::string& session, const std::string& text) {
    return testing::WaitSteadily(
        [&] {
          absl::StatusOr<audit::SpoolContents> c =
              audit::ReadSpool(audit::SpoolPath(spool_dir_->path(), session));
          if (!c.ok()) return false;
          for (const audit::v1::RecordingRecord& r : c->records) {
            if (r.has_data() && absl::StrContains(r.data().bytes(), text)) {
              return true;
            }
          }
          return false;
        },
        absl::Seconds(30));
  }

  std::unique_ptr<testing::TempDir> spool_dir_;
  std::unique_ptr<audit::SpoolRecorder> spool_;
  std::unique_ptr<SpoolTapRecorder> taps_;
};

// A session whose first channel opens well after the user authenticated
// (`ssh -N -M`, then a command through that master connection, as with
// `ssh -N -L` and a forward used later) is recorded as started when the
// session did: the instant of its session.start event. The recording
// started at its first channel, so `sessions show` and `sessions ls
// --since/--until` had a later start than the audit log.
TEST_F(SpoolRecordedTest,
       TheRecordingStartsAtTheSessionStartNotItsFirstChannel) {
  const std::string control = dir_->File("control");
  testing::BackgroundProcess::Options po;
  po.log_path = dir_->File("master.log");
  absl::StatusOr<std::unique_ptr<testing::BackgroundProcess>> master =
      testing::BackgroundProcess::Start(
          SshArgs(login_ + "+web01", "", {"-N", "-M", "-S", control}), po);
  ASSERT_TRUE(master.ok()) << master.status();
  const std::vector<std::string> starts = AuditPayloads("session.start");
  ASSERT_EQ(starts.size(), 1u) << GatewayLog();
  absl::SleepFor(absl::Seconds(2));
  RunResult r = Ssh(login_ + "+web01", "echo late", {"-S", control});
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << GatewayLog();
  EXPECT_EQ(r.out, "late\n");
  r = Ssh(login_ + "+web01", "", {"-S", control, "-O", "exit"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();

  absl::Time at;
  std::string err;
  ASSERT_TRUE(absl::ParseTime("%Y-%m-%dT%H:%M:%E6SZ",
                              PayloadText(starts[0], "at"), &at, &err))
      << starts[0] << " " << err;
  const audit::SpoolContents c =
      EndedSpool(PayloadText(starts[0], "session_id"));
  EXPECT_EQ(c.session.started_at_us(), absl::ToUnixMicros(at)) << starts[0];
  ASSERT_GE(c.records.size(), 2u);
  ASSERT_TRUE(c.records[0].has_session_start());
  EXPECT_EQ(c.records[0].session_start().started_at_us(),
            absl::ToUnixMicros(at));
  ASSERT_TRUE(c.records[1].has_channel_open());
  EXPECT_GE(c.records[1].offset_us(), 2'000'000);
}

// A record's offset is measured on the monotonic clock: the wall clock
// stepped forward an hour during a session (NTP after a VM resume, `date
// -s`) gave the records after it offsets an hour later (`sessions play`
// paused for an hour), and stepped back again, offsets going back (an
// asciicast v2 export needs times that never decrease). The session runs
// in a child process whose wall clock the test steps
// (tests/harness/wall_clock_step.h).
TEST_F(SpoolRecordedTest, OffsetsHoldWhenTheWallClockStepsDuringTheSession) {
  if (!testing::InChildUnderFakeWallClock(absl::Seconds(150))) return;
  const std::string go_two = dir_->File("go-two");
  const std::string go_three = dir_->File("go-three");
  const auto wait_for = [](const std::string& file) {
    return absl::StrCat("while [ ! -e ", file, " ]; do sleep 0.1; done; ");
  };
  const auto start = std::chrono::steady_clock::now();
  RunResult r;
  std::thread client([&] {
    r = Ssh(login_ + "+web01",
            absl::StrCat("echo one; ", wait_for(go_two), "echo two; ",
                         wait_for(go_three), "echo three"));
  });
  const std::vector<std::string> starts = AuditPayloads("session.start");
  const std::string session =
      starts.empty() ? "" : PayloadText(starts[0], "session_id");
  const bool one = SpoolShows(session, "one");
  // +1 h, then back to the real time (a step back of an hour).
  ASSERT_NO_FATAL_FAILURE(testing::SetWallClockInChild(absl::Hours(1)));
  ASSERT_TRUE(testing::WriteFile(go_two, "").ok());
  const bool two = SpoolShows(session, "two");
  ASSERT_NO_FATAL_FAILURE(testing::SetWallClockInChild(absl::ZeroDuration()));
  ASSERT_TRUE(testing::WriteFile(go_three, "").ok());
  client.join();
  ASSERT_TRUE(one && two) << "session " << session << "; " << r.Describe();
  EXPECT_EQ(r.out, "one\ntwo\nthree\n") << r.Describe();
  const audit::SpoolContents c = EndedSpool(session);
  const int64_t most_us =
      static_cast<int64_t>((testing::SecondsSince(start) + 1) * 1'000'000);

  std::map<std::string, int64_t> output_at;
  int64_t last = 0;
  for (const audit::v1::RecordingRecord& rec : c.records) {
    EXPECT_GE(rec.offset_us(), last) << "record " << rec.seq();
    last = rec.offset_us();
    if (rec.has_data()) output_at[rec.data().bytes()] = rec.offset_us();
  }
  ASSERT_EQ(output_at.size(), 3u);
  // Each gap is a step's few seconds, not an hour.
  EXPECT_GT(output_at["two\n"], output_at["one\n"]);
  EXPECT_LT(output_at["two\n"] - output_at["one\n"], 60'000'000);
  EXPECT_GT(output_at["three\n"], output_at["two\n"]);
  EXPECT_LT(output_at["three\n"] - output_at["two\n"], 60'000'000);
  // The session's end (its stored ended_at is started_at plus this).
  ASSERT_FALSE(c.records.empty());
  EXPECT_LT(c.records.back().offset_us(), most_us);
}

}  // namespace
}  // namespace sallyport::gateway
