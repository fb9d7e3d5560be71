// Finding C: each gateway's write budget at the CA (ca/write_budget.h),
// on a real CA whose config gives gateways a small budget (1 MiB/s, a
// 4 MiB burst) and whose FakeClock refills it when the test says.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/events.h"
#include "ca/gateway_test_util.h"
#include "ca/write_budget.h"
#include "gtest/gtest.h"
#include "proto/gateway.grpc.pb.h"

namespace sallyport::ca {
namespace {

namespace pb = gateway::v1;
namespace av1 = audit::v1;

constexpr uint64_t kRate = uint64_t{1} << 20;
constexpr uint64_t kBurst = kMinGatewayWriteBurstBytes;  // 4 MiB
constexpr char kOverBudget[] =
    "gateway 'gw1' is over its write budget at the CA (1048576 bytes/s); "
    "retry later";

class GatewayWriteBudgetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CaTestEnv::Options options;
    options.config_edits = {GatewayWriteBudgetEdit(kRate, kBurst)};
    env_ = MakeEnv(options);
    ASSERT_NE(env_, nullptr);
    gw1_ = EnrollOrDie(*env_, "gw1");
    gw2_ = EnrollOrDie(*env_, "gw2");
    ASSERT_TRUE(gw1_.channel && gw2_.channel);
  }

  // 16 exec.command events of `session`, each with a 16000-byte command
  // naming `mark` (some 270 KB of the budget).
  static grpc::Status SendEvents(const std::shared_ptr<grpc::Channel>& channel,
                                 const std::string& session,
                                 const std::string& mark) {
    pb::RecordGatewayEventsRequest request;
    for (int i = 0; i < 16; ++i) {
      pb::GatewayEvent* e = request.add_events();
      e->set_type("exec.command");
      e->set_session_id(session);
      e->set_user("alice");
      e->mutable_at()->set_seconds(1700000000);
      pb::GatewayEventField* f = e->add_fields();
      f->set_name("command");
      f->set_text(absl::StrCat(mark, std::string(16000, 'x')));
    }
    pb::RecordGatewayEventsResponse response;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(60));
    return pb::GatewayEvents::NewStub(channel)->RecordGatewayEvents(
        &ctx, request, &response);
  }

  // AuthorizeChannel of nothing in particular: its status.
  static grpc::Status Authorize(const std::shared_ptr<grpc::Channel>& channel) {
    pb::AuthorizeChannelRequest request;
    request.set_kind("shell");
    request.set_login("ubuntu");
    request.set_host("web01");
    pb::AuthorizeChannelResponse response;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(60));
    return pb::Gateway::NewStub(channel)->AuthorizeChannel(&ctx, request,
                                                           &response);
  }

  int Reports(std::initializer_list<std::string_view> texts) {
    return CountAuditEvents(env_->store(),
                            audit::kEventGatewayWriteBudgetExceeded, texts);
  }

  std::unique_ptr<CaTestEnv> env_;
  EnrolledGateway gw1_, gw2_;
};

void ExpectOverBudget(const grpc::Status& st) {
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << st.error_message();
  EXPECT_EQ(st.error_message(), kOverBudget);
}

TEST_F(GatewayWriteBudgetTest, EventsOverTheBudgetAreRefusedUntilItRefills) {
  // Its burst takes some 15 such requests; then it is refused, with
  // nothing of the refused request written.
  int taken = 0;
  grpc::Status st;
  while (taken < 32 && (st = SendEvents(gw1_.channel, "s1", "burst")).ok()) {
    ++taken;
  }
  ExpectOverBudget(st);
  EXPECT_GE(taken, 12);
  EXPECT_LE(taken, 16);
  EXPECT_EQ(CountAuditEvents(env_->store(), "exec.command", {"burst"}),
            16 * taken);
  // Its other calls too, once what is left of it (less than one such
  // request) is spent; the other gateway writes as before.
  int authorized = 0;
  while (authorized < 100 && (st = Authorize(gw1_.channel)).error_code() !=
                                 grpc::StatusCode::RESOURCE_EXHAUSTED) {
    ++authorized;
  }
  ExpectOverBudget(st);
  EXPECT_LE(authorized, 70);  // 4 KiB each
  int unreported = 1;         // the refusals since the report
  EXPECT_NE(Authorize(gw2_.channel).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(SendEvents(gw2_.channel, "s2", "other").ok());
  for (int i = 0; i < 5; ++i, ++unreported) {
    ExpectOverBudget(SendEvents(gw1_.channel, "s1", "refused"));
  }
  EXPECT_EQ(CountAuditEvents(env_->store(), "exec.command", {"refused"}), 0);
  // One event says so, however many refusals: the refusals write little.
  EXPECT_EQ(Reports({"\"gateway\":\"gw1\"", "\"refused\":1,"}), 1);
  EXPECT_EQ(Reports({}), 1);

  // A second refills 1 MiB: three or four requests, then refused again.
  env_->clock().Advance(absl::Seconds(1));
  int refilled = 0;
  while (refilled < 8 && SendEvents(gw1_.channel, "s1", "refill").ok()) {
    ++refilled;
  }
  EXPECT_GE(refilled, 3);
  EXPECT_LE(refilled, 4);
  ++unreported;
  EXPECT_EQ(Reports({}), 1);

  // A minute later (the bucket full again): the next refusal is said,
  // counting those not said since.
  env_->clock().Advance(kGatewayWriteRefusalReportInterval);
  taken = 0;
  while (taken < 32 && (st = SendEvents(gw1_.channel, "s1", "again")).ok()) {
    ++taken;
  }
  ExpectOverBudget(st);
  EXPECT_GE(taken, 12);
  EXPECT_EQ(Reports({"\"gateway\":\"gw1\""}), 2);
  const std::string count = absl::StrCat("\"refused\":", unreported + 1, ",");
  EXPECT_EQ(Reports({"\"gateway\":\"gw1\"", count}), 1) << count;
  EXPECT_EQ(Reports({"\"gateway\":\"gw2\""}), 0);
}

TEST_F(GatewayWriteBudgetTest, AnUploadOverTheBudgetKeepsWhatItStored) {
  // 96 records of 60000 bytes and the end, 16 to a message: some 5.9 MB,
  // of which the 4 MiB burst takes four messages.
  const std::vector<av1::RecordingRecord> records =
      RecordingChain("s1", 96, true, 'r', 60000);
  auto messages_from = [&](size_t first) {
    std::vector<std::vector<av1::RecordingRecord>> messages;
    for (size_t i = first; i < records.size(); i += 16) {
      messages.emplace_back(records.begin() + i,
                            records.begin() + std::min(records.size(), i + 16));
    }
    return messages;
  };
  pb::UploadRecordingResponse response;
  ExpectOverBudget(UploadRecording(gw1_.channel, RecordingMeta("s1"),
                                   messages_from(0), &response));
  absl::StatusOr<storage::Session> stored = env_->store().GetSession("s1");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->last_seq, 64u);
  EXPECT_EQ(stored->status, storage::SessionStatus::kActive);
  EXPECT_EQ(Reports({"\"gateway\":\"gw1\"", "UploadRecording"}), 1);
  // What is left of it takes less than another message: the rest is
  // refused, nothing of it stored, until it refills; the other gateway
  // uploads.
  ExpectOverBudget(UploadRecording(gw1_.channel, RecordingMeta("s1"),
                                   messages_from(64), &response));
  stored = env_->store().GetSession("s1");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->last_seq, 64u);
  EXPECT_TRUE(UploadRecording(gw2_.channel, RecordingMeta("s2"),
                              {RecordingChain("s2", 3, true)}, &response)
                  .ok());

  // Three seconds refill 3 MiB: the rest goes, from where it stopped.
  env_->clock().Advance(absl::Seconds(3));
  grpc::Status st = UploadRecording(gw1_.channel, RecordingMeta("s1"),
                                    messages_from(64), &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(response.session().last_seq(), 97u);
  EXPECT_EQ(response.session().status(), av1::SESSION_STATUS_ENDED);
  EXPECT_EQ(Reports({}), 1);
}

}  // namespace
}  // namespace sallyport::ca
