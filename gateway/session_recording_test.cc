// A session's recording as the gateway's real recorder keeps it: the
// real CA, gateway (with a SpoolTapRecorder over a SpoolRecorder, no
// shipper), sshd and OpenSSH client (gateway_test_fixture.h), and the
// spool file read back.
#include <memory>
#include <string>
#include <vector>

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

}  // namespace
}  // namespace sallyport::gateway
