// GatewayEvents.RecordGatewayEvents against a real in-process CA over
// mTLS: a request's events are appended in one transaction, and a request
// sent again (after a failure, or after an answer the gateway never got)
// adds only the events of its stream not appended yet. The fields the CA
// sets itself are refused in a request.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "audit/events.h"
#include "ca/ca_test_env.h"
#include "ca/gateway_test_util.h"
#include "gtest/gtest.h"
#include "proto/gateway.grpc.pb.h"
#include "storage/forwarding_store.h"

namespace sallyport::ca {
namespace {

namespace pb = gateway::v1;

// Fails the n-th audit event appended once armed, once, as a store that
// goes away in the middle of a request (PostgreSQL restarting): an event
// appended alone before it stays appended; a transaction holding it is
// failed whole, as a real one would be.
class FailingStore : public storage::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;

  void FailAppend(int n) {
    absl::MutexLock lock(&mu_);
    appends_ = 0;
    fail_at_ = n;
  }

  absl::StatusOr<storage::AuditEvent> AppendAuditEvent(
      const storage::AuditEventInput& event) override {
    if (Fails(1)) return absl::UnavailableError("the store went away");
    return ForwardingStore::AppendAuditEvent(event);
  }
  absl::StatusOr<std::vector<storage::AuditEvent>> AppendGatewayAuditEvents(
      const storage::GatewayAuditEvents& batch) override {
    if (Fails(static_cast<int>(batch.events.size()))) {
      return absl::UnavailableError("the store went away");
    }
    return ForwardingStore::AppendGatewayAuditEvents(batch);
  }

 private:
  bool Fails(int events) {
    absl::MutexLock lock(&mu_);
    if (fail_at_ == 0) return false;
    appends_ += events;
    if (appends_ < fail_at_) return false;
    fail_at_ = 0;
    return true;
  }

  absl::Mutex mu_;
  int appends_ ABSL_GUARDED_BY(mu_) = 0;
  int fail_at_ ABSL_GUARDED_BY(mu_) = 0;
};

class GatewayEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CaTestEnv::Options options;
    options.wrap_store = [this](std::unique_ptr<storage::Store> store) {
      auto failing = std::make_unique<FailingStore>(std::move(store));
      failing_ = failing.get();
      return failing;
    };
    auto env = CaTestEnv::Create(options);
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = *std::move(env);
    gw_ = EnrollOrDie(*env_, "gw-a");
    ASSERT_TRUE(gw_.channel);
  }

  // exec.command events "cmd-<n>" of session s-1, numbered n in `stream`
  // (not numbered without one).
  static pb::RecordGatewayEventsRequest Events(const std::string& stream,
                                               std::vector<uint64_t> numbers) {
    pb::RecordGatewayEventsRequest req;
    req.set_stream(stream);
    for (uint64_t n : numbers) {
      pb::GatewayEvent* e = req.add_events();
      e->set_type("exec.command");
      e->set_session_id("s-1");
      e->set_user("alice");
      e->mutable_at()->set_seconds(1700000000);
      if (!stream.empty()) e->set_number(n);
      pb::GatewayEventField* f = e->add_fields();
      f->set_name("command");
      f->set_text(absl::StrCat("cmd-", n));
    }
    return req;
  }

  grpc::Status Send(const pb::RecordGatewayEventsRequest& req) {
    pb::RecordGatewayEventsResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(60));
    return pb::GatewayEvents::NewStub(gw_.channel)
        ->RecordGatewayEvents(&ctx, req, &resp);
  }

  int Count(std::string_view text = "s-1") {
    return CountAuditEvents(env_->store(), "exec.command", {text});
  }

  std::unique_ptr<CaTestEnv> env_;
  FailingStore* failing_ = nullptr;
  EnrolledGateway gw_;
};

TEST_F(GatewayEventsTest, AStoreFailingMidRequestLeavesNothingToDuplicate) {
  const pb::RecordGatewayEventsRequest req = Events("run-1", {1, 2, 3, 4, 5});
  failing_->FailAppend(3);
  grpc::Status st = Send(req);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE)
      << st.error_message();
  // The gateway's sender sends the whole request again.
  st = Send(req);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(Count(), 5);
  for (int n = 1; n <= 5; ++n) {
    EXPECT_EQ(Count(absl::StrCat("\"cmd-", n, "\"")), 1) << n;
  }
}

TEST_F(GatewayEventsTest, AResentRequestAddsOnlyWhatWasNotAppended) {
  // The answer was lost (the deadline expired after the CA committed):
  // the same request again adds nothing.
  const pb::RecordGatewayEventsRequest req = Events("run-1", {1, 2, 3, 4, 5});
  ASSERT_TRUE(Send(req).ok());
  grpc::Status st = Send(req);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(Count(), 5);
  // A request overlapping the last adds its new events (gaps are fine).
  ASSERT_TRUE(Send(Events("run-1", {4, 5, 6, 8})).ok());
  EXPECT_EQ(Count(), 7);
  EXPECT_EQ(Count("\"cmd-8\""), 1);
  // Another run of the gateway's sender numbers from 1 again.
  ASSERT_TRUE(Send(Events("run-2", {1, 2})).ok());
  EXPECT_EQ(Count(), 9);
  // A gateway that does not number its events: appended as sent.
  ASSERT_TRUE(Send(Events("", {1})).ok());
  ASSERT_TRUE(Send(Events("", {1})).ok());
  EXPECT_EQ(Count(), 11);
}

TEST_F(GatewayEventsTest, NumbersMustAscendWithAStreamOnly) {
  for (const pb::RecordGatewayEventsRequest& req :
       {Events("run-1", {2, 1}), Events("run-1", {1, 1}),
        Events("run-1", {0, 1}), Events(std::string(65, 'r'), {1})}) {
    EXPECT_EQ(Send(req).error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << req.ShortDebugString();
  }
  pb::RecordGatewayEventsRequest unnumbered_with_number = Events("", {1});
  unnumbered_with_number.mutable_events(0)->set_number(1);
  EXPECT_EQ(Send(unnumbered_with_number).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Count(), 0);
}

// The fields the CA sets from the caller and the event are refused as a
// request's fields, so no payload holds one twice: found in review, a
// "user" field beside the event's user gave a payload naming two users,
// the actor and another.
TEST_F(GatewayEventsTest, FieldsTheCaSetsAreRefused) {
  for (const char* name : {"gateway", "session_id", "at", "user"}) {
    pb::RecordGatewayEventsRequest req = Events("", {0});
    pb::GatewayEventField* f = req.mutable_events(0)->add_fields();
    f->set_name(name);
    f->set_text("mallory");
    grpc::Status st = Send(req);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << name;
    EXPECT_TRUE(absl::StrContains(st.error_message(), "is reserved"))
        << st.error_message();
  }
  EXPECT_EQ(Count("mallory"), 0);
  EXPECT_EQ(Count(), 0);
}

// An event's field names and texts hold at most kMaxEventBytes, the
// gateway's limit too (audit/events.h): at the limit, of control
// characters that JSON holds in 6 bytes each, it is stored; one byte more
// is refused for good (the gateway drops it alone), never taken and then
// refused by the Store, which the gateway would retry for good.
TEST_F(GatewayEventsTest, AnEventOverItsSizeIsRefused) {
  // "f0".."f9" and texts of kMaxEventBytes - 20 bytes in all.
  pb::RecordGatewayEventsRequest req = Events("", {0});
  pb::GatewayEvent* e = req.mutable_events(0);
  e->clear_fields();
  size_t left = GatewayEventsService::kMaxEventBytes;
  for (int i = 0; i < 10; ++i) {
    pb::GatewayEventField* f = e->add_fields();
    f->set_name(absl::StrCat("f", i));
    left -= f->name().size();
  }
  for (pb::GatewayEventField& f : *e->mutable_fields()) {
    const size_t text = std::min(left, GatewayEventsService::kMaxTextBytes);
    f.set_text(std::string(text, '\x01'));
    left -= text;
  }
  ASSERT_EQ(left, 0u);
  grpc::Status st = Send(req);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(Count(), 1);

  e->mutable_fields(9)->mutable_text()->push_back('\x01');
  st = Send(req);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(
      st.error_message(),
      absl::StrCat("hold ", GatewayEventsService::kMaxEventBytes + 1,
                   " bytes, more than ")))
      << st.error_message();
  EXPECT_EQ(Count(), 1);
}

}  // namespace
}  // namespace sallyport::ca
