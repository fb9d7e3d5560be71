// The most sessions a gateway may leave open at the CA (CA config
// gateway.max_open_sessions; ca/recording_service.h), on a real CA over
// mTLS on SQLite and on a real PostgreSQL server, with a limit of 3: an
// upload that would open a 4th session is refused RESOURCE_EXHAUSTED
// naming the limit, nothing of it stored, the refusals said at most once
// a minute; the sessions open go on uploading; a session that ends frees
// its place; another gateway keeps its own places; and the count is the
// Store's, so sessions another CA instance opened (or this one before a
// restart) count too; a session an admin marked abandoned frees its place.
#include <grpcpp/grpcpp.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "audit/events.h"
#include "ca/gateway_test_util.h"
#include "ca/recording_service.h"
#include "ca/write_budget.h"
#include "gtest/gtest.h"
#include "proto/gateway.grpc.pb.h"

namespace sallyport::ca {
namespace {

namespace pb = gateway::v1;

constexpr int64_t kLimit = 3;

class GatewayOpenSessionsTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    CaTestEnv::Options options;
    options.config_edits = {GatewayMaxOpenSessionsEdit(kLimit)};
    auto env = StartCa(GetParam(), &pg_, options);
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = *std::move(env);
    gw1_ = EnrollOrDie(*env_, "gw1");
    gw2_ = EnrollOrDie(*env_, "gw2");
    ASSERT_TRUE(gw1_.channel && gw2_.channel);
  }

  // Uploads session `id` with `records` records (and its end when `end`):
  // the CA's answer; the session's last seq in *last_seq.
  static grpc::Status Upload(const std::shared_ptr<grpc::Channel>& channel,
                             const std::string& id, int records = 1,
                             bool end = false, uint64_t* last_seq = nullptr) {
    pb::UploadRecordingResponse response;
    grpc::Status st =
        UploadRecording(channel, RecordingMeta(id),
                        {RecordingChain(id, records, end)}, &response);
    if (last_seq != nullptr) *last_seq = response.session().last_seq();
    return st;
  }

  // Expects the upload of new session `id` by `gateway` refused at the
  // limit, nothing of it stored.
  void ExpectRefused(const std::shared_ptr<grpc::Channel>& channel,
                     const std::string& gateway, const std::string& id) {
    grpc::Status st = Upload(channel, id);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << id << ": " << st.error_message();
    EXPECT_EQ(st.error_message(),
              TooManyOpenSessions(gateway, id, kLimit).message());
    EXPECT_TRUE(absl::IsNotFound(env_->store().GetSession(id).status())) << id;
  }

  // The gateway.open_sessions.exceeded events whose payload has `texts`.
  int Reports(std::initializer_list<std::string_view> texts) {
    return CountAuditEvents(env_->store(),
                            audit::kEventGatewayOpenSessionsExceeded, texts);
  }

  int64_t Open(const std::string& gateway) {
    absl::StatusOr<int64_t> n = env_->store().CountOpenSessions(gateway, 100);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.value_or(-1);
  }

  std::unique_ptr<testing::PostgresFixture> pg_;
  std::unique_ptr<CaTestEnv> env_;
  EnrolledGateway gw1_, gw2_;
};

TEST_P(GatewayOpenSessionsTest, ANewSessionAtTheLimitIsRefused) {
  for (const char* id : {"s1", "s2", "s3"}) {
    grpc::Status st = Upload(gw1_.channel, id);
    ASSERT_TRUE(st.ok()) << id << ": " << st.error_message();
  }
  ExpectRefused(gw1_.channel, "gw1", "s4");
  const absl::Status refusal = TooManyOpenSessions("gw1", "s4", kLimit);
  EXPECT_TRUE(absl::StrContains(refusal.message(), "gateway.max_open_sessions"))
      << refusal;
  EXPECT_TRUE(absl::StrContains(refusal.message(), "3 sessions open"))
      << refusal;
  EXPECT_EQ(Reports({"\"gateway\":\"gw1\"", "\"session_id\":\"s4\"",
                     "\"max_open_sessions\":3", "\"refused\":1"}),
            1);
  EXPECT_EQ(Open("gw1"), kLimit);

  // The sessions open go on: more records, and a session-only call.
  uint64_t last_seq = 0;
  grpc::Status more = Upload(gw1_.channel, "s1", 3, false, &last_seq);
  EXPECT_TRUE(more.ok()) << more.error_message();
  EXPECT_EQ(last_seq, 3u);
  pb::UploadRecordingResponse resumed;
  more = UploadRecording(gw1_.channel, RecordingMeta("s2"), {}, &resumed);
  EXPECT_TRUE(more.ok()) << more.error_message();
  EXPECT_EQ(resumed.session().last_seq(), 1u);

  // The refusals are said once a minute, counted.
  ExpectRefused(gw1_.channel, "gw1", "s5");
  EXPECT_EQ(Reports({"\"gateway\":\"gw1\""}), 1);
  env_->clock().Advance(kGatewayWriteRefusalReportInterval);
  ExpectRefused(gw1_.channel, "gw1", "s6");
  EXPECT_EQ(Reports({"\"gateway\":\"gw1\""}), 2);
  EXPECT_EQ(Reports({"\"session_id\":\"s6\"", "\"refused\":2"}), 1);
}

TEST_P(GatewayOpenSessionsTest, AnEndedSessionFreesItsPlace) {
  for (const char* id : {"s1", "s2", "s3"}) {
    ASSERT_TRUE(Upload(gw1_.channel, id).ok()) << id;
  }
  ExpectRefused(gw1_.channel, "gw1", "s4");
  // s1's end (its record 1 again, then the end).
  grpc::Status ended = Upload(gw1_.channel, "s1", 1, true);
  ASSERT_TRUE(ended.ok()) << ended.error_message();
  EXPECT_EQ(Open("gw1"), kLimit - 1);
  grpc::Status st = Upload(gw1_.channel, "s4");
  EXPECT_TRUE(st.ok()) << st.error_message();
  ExpectRefused(gw1_.channel, "gw1", "s5");
}

// An admin marks a session whose gateway is gone for good abandoned
// (spctl sessions abandon): it frees its place for a new upload, and a
// gateway that comes back after all still ships the rest of it.
TEST_P(GatewayOpenSessionsTest, AnAbandonedSessionFreesItsPlace) {
  for (const char* id : {"s1", "s2", "s3"}) {
    ASSERT_TRUE(Upload(gw1_.channel, id).ok()) << id;
  }
  ExpectRefused(gw1_.channel, "gw1", "s4");
  absl::StatusOr<storage::Session> marked = env_->store().AbandonSession(
      "s2", storage::SessionAbandonment{.at = env_->clock().Now(),
                                        .by = "root",
                                        .reason = "gw1's disk was lost"});
  ASSERT_TRUE(marked.ok()) << marked.status();
  EXPECT_EQ(Open("gw1"), kLimit - 1);
  grpc::Status st = Upload(gw1_.channel, "s4");
  EXPECT_TRUE(st.ok()) << st.error_message();
  ExpectRefused(gw1_.channel, "gw1", "s5");
  uint64_t last_seq = 0;
  st = Upload(gw1_.channel, "s2", 2, true, &last_seq);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(last_seq, 3u);  // its 2 records and the end
  absl::StatusOr<storage::Session> s2 = env_->store().GetSession("s2");
  ASSERT_TRUE(s2.ok()) << s2.status();
  EXPECT_EQ(s2->status, storage::SessionStatus::kEnded);
  EXPECT_EQ(s2->abandoned_by, "root");  // the mark stays as history
}

TEST_P(GatewayOpenSessionsTest, AnotherGatewayKeepsItsPlaces) {
  for (const char* id : {"s1", "s2", "s3"}) {
    ASSERT_TRUE(Upload(gw1_.channel, id).ok()) << id;
  }
  ExpectRefused(gw1_.channel, "gw1", "s4");
  for (const char* id : {"g1", "g2", "g3"}) {
    grpc::Status st = Upload(gw2_.channel, id);
    EXPECT_TRUE(st.ok()) << id << ": " << st.error_message();
  }
  ExpectRefused(gw2_.channel, "gw2", "g4");
  EXPECT_EQ(Reports({"\"gateway\":\"gw2\"", "\"session_id\":\"g4\""}), 1);
  EXPECT_EQ(Open("gw1"), kLimit);
  EXPECT_EQ(Open("gw2"), kLimit);
}

// The places are counted in the Store: sessions only the Store holds, as
// another CA instance on the database (or this one before a restart)
// opened them, take theirs.
TEST_P(GatewayOpenSessionsTest, SessionsOpenedElsewhereCount) {
  for (const char* id : {"o1", "o2"}) {
    storage::Session s;
    s.id = id;
    s.user = "alice";
    s.login = "ubuntu";
    s.host = "web01";
    s.started_at = absl::FromUnixMicros(1700000000000000);
    s.gateway_id = "gw1";
    ASSERT_TRUE(env_->store().CreateSession(s).ok()) << id;
  }
  ASSERT_TRUE(Upload(gw1_.channel, "s1").ok());
  ExpectRefused(gw1_.channel, "gw1", "s2");
  ASSERT_TRUE(Upload(gw2_.channel, "g1").ok());
}

SP_INSTANTIATE_ON_BOTH_BACKENDS(GatewayOpenSessionsTest);

}  // namespace
}  // namespace sallyport::ca
