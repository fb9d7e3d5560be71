// A gateway over its write budget at the CA (finding C) loses nothing: its
// recording shipper (GrpcRecordingUploader) and its event sender take the
// CA's RESOURCE_EXHAUSTED as "later", keep the spool and the queue, and
// ship everything once the budget refilled. A real CA with a small budget
// (1 MiB/s, a 4 MiB burst) whose FakeClock the test moves, a real spool.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "audit/events.h"
#include "audit/recording_record.h"
#include "audit/shipper.h"
#include "audit/spool.h"
#include "ca/gateway_test_util.h"
#include "gateway/event_sender.h"
#include "gateway/recording_uploader.h"
#include "gtest/gtest.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::gateway {
namespace {

namespace av1 = audit::v1;

constexpr char kOverBudget[] =
    "gateway 'gw1' is over its write budget at the CA (1048576 bytes/s); "
    "retry later";

class CaWriteBudgetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca::CaTestEnv::Options options;
    options.config_edits = {ca::GatewayWriteBudgetEdit(1 << 20, 4 << 20)};
    env_ = ca::MakeEnv(options);
    ASSERT_NE(env_, nullptr);
    gateway_ = ca::EnrollOrDie(*env_, "gw1");
    ASSERT_NE(gateway_.channel, nullptr);
    auto dir = testing::TempDir::Create("budget");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<testing::TempDir>(*std::move(dir));
  }

  int Refusals() {
    return ca::CountAuditEvents(env_->store(),
                                audit::kEventGatewayWriteBudgetExceeded,
                                {"\"gateway\":\"gw1\""});
  }

  std::unique_ptr<ca::CaTestEnv> env_;
  ca::EnrolledGateway gateway_;
  std::unique_ptr<testing::TempDir> dir_;
};

TEST_F(CaWriteBudgetTest, TheShipperShipsASpoolOverTheBudgetOnceItRefills) {
  // A closed spool of 96 records of 60000 bytes and the end: some 5.9 MB,
  // more than the burst.
  const std::string spool_dir = dir_->File("spool");
  ASSERT_EQ(::mkdir(spool_dir.c_str(), 0700), 0);
  av1::RecordingSession meta = ca::RecordingMeta("s1");
  meta.set_gateway_id("gw1");
  {
    absl::StatusOr<audit::SpoolWriter> w =
        audit::SpoolWriter::Create(spool_dir, meta);
    ASSERT_TRUE(w.ok()) << w.status();
    std::string frames;
    for (const av1::RecordingRecord& r :
         ca::RecordingChain("s1", 96, true, 's', 60000)) {
      ASSERT_TRUE(audit::SpoolWriter::EncodeFrame(r, frames).ok());
    }
    ASSERT_TRUE(w->Write(frames).ok());
    ASSERT_TRUE(w->Close().ok());
  }
  const std::string path = audit::SpoolPath(spool_dir, "s1");

  GrpcRecordingUploader uploader(gateway_.channel);
  absl::Time now = absl::FromUnixSeconds(1800000000);
  std::vector<std::string> warnings;
  audit::ShipperOptions options;
  options.spool_dir = spool_dir;
  options.uploader = &uploader;
  options.thread = false;
  options.now = [&now] { return now; };
  options.warn = [&warnings](std::string_view line) {
    warnings.emplace_back(line);
  };
  absl::StatusOr<std::unique_ptr<audit::Shipper>> shipper =
      audit::Shipper::Start(options);
  ASSERT_TRUE(shipper.ok()) << shipper.status();

  // The first pass ships what the burst takes, then is refused; the spool
  // stays.
  absl::Status pass = (*shipper)->RunOnce();
  EXPECT_EQ(pass.code(), absl::StatusCode::kResourceExhausted) << pass;
  EXPECT_EQ(pass.message(), kOverBudget);
  EXPECT_EQ(::access(path.c_str(), F_OK), 0);
  ASSERT_FALSE(warnings.empty());
  EXPECT_TRUE(absl::StrContains(warnings.back(), kOverBudget))
      << warnings.back();
  // Each later pass, after its backoff and a second of the CA's refill,
  // ships some more, until the CA has it all and the spool goes.
  int passes = 1;
  while (::access(path.c_str(), F_OK) == 0 && passes < 60) {
    env_->clock().Advance(absl::Seconds(1));
    now += absl::Minutes(1);  // past any backoff
    (void)(*shipper)->RunOnce();
    ++passes;
  }
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << "after " << passes;
  EXPECT_GT(passes, 2);
  absl::StatusOr<storage::Session> stored = env_->store().GetSession("s1");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->last_seq, 97u);
  EXPECT_EQ(stored->status, storage::SessionStatus::kEnded);
  EXPECT_GE(Refusals(), 1);
}

TEST_F(CaWriteBudgetTest, TheEventSenderSendsEverythingOnceTheBudgetRefills) {
  EventSenderOptions options;
  options.initial_backoff = absl::Milliseconds(10);
  options.max_backoff = absl::Milliseconds(50);
  options.batch_delay = absl::ZeroDuration();
  EventSender sender(options, EventSender::GrpcSend(gateway_.channel));
  // 400 events with 16000-byte command lines: some 6.4 MB, more than the
  // burst, in requests the CA takes (256 of them would not fit its 1 MiB
  // messages).
  constexpr int kEvents = 400;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(sender.Enqueue(
        "exec.command", "s-1", "alice", absl::Now(),
        {{"command", absl::StrCat("cmd", i, " ", std::string(16000, 'x'))}}));
  }
  absl::Status flushed;
  // The CA's clock moves only once it has refused the sender (its burst
  // spent, which 6.4 MB must do), so the sender meets the refusal however
  // slowly this machine sends; then a second of refill per round.
  for (int i = 0; i < 300; ++i) {
    flushed = sender.Flush(absl::Now() + absl::Milliseconds(200));
    if (flushed.ok()) break;
    if (Refusals() >= 1) env_->clock().Advance(absl::Seconds(1));
  }
  ASSERT_TRUE(flushed.ok()) << flushed;
  EXPECT_EQ(sender.sent(), static_cast<uint64_t>(kEvents));
  EXPECT_EQ(sender.rejected(), 0u);
  EXPECT_EQ(sender.dropped(), 0u);
  auto events = env_->store().ListAuditEvents(0, 10000);
  ASSERT_TRUE(events.ok()) << events.status();
  int next = 0;
  for (const storage::AuditEvent& e : *events) {
    if (e.type != "exec.command") continue;
    EXPECT_TRUE(absl::StrContains(e.payload_json,
                                  absl::StrCat("\"command\":\"cmd", next, " ")))
        << next;
    ++next;
  }
  EXPECT_EQ(next, kEvents);
  EXPECT_GE(Refusals(), 1);
}

}  // namespace
}  // namespace sallyport::gateway
