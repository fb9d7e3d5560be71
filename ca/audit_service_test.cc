// Audit.ListSessions with grep at its named limit, against a real
// in-process CA over mTLS: one call searches at most
// AuditService::kMaxGrepSessions sessions, newest first, and says so
// (grep_incomplete) only when older sessions were left unsearched.
#include "ca/audit_service.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "audit/recording_record.h"
#include "audit/recording_store.h"
#include "ca/ca_test_env.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"

namespace sallyport::ca {
namespace {

namespace pb = admin::v1;
namespace av1 = ::sallyport::audit::v1;

storage::Session At(const std::string& id, absl::Time started_at) {
  storage::Session s;
  s.id = id;
  s.user = "alice";
  s.login = "ubuntu";
  s.host = "web01";
  s.gateway_id = "gw-1";
  s.started_at = started_at;
  return s;
}

TEST(AuditServiceTest, GrepSearchesAtMostItsLimitOfSessionsAndSaysSo) {
  auto env = CaTestEnv::Create();
  ASSERT_TRUE(env.ok()) << env.status();
  storage::Store& store = (*env)->store();
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  // Exactly the limit of sessions, none with the word.
  for (int i = 0; i < AuditService::kMaxGrepSessions; ++i) {
    ASSERT_TRUE(
        store.CreateSession(At(absl::StrCat("s", i), t0 + absl::Seconds(i + 1)))
            .ok())
        << i;
  }
  auto login = (*env)->Login("admin", (*env)->admin_password());
  ASSERT_TRUE(login.status.ok()) << login.status.error_message();
  auto stub = pb::Audit::NewStub(login.channel);
  auto grep = [&](absl::Time until) {
    pb::ListSessionsRequest req;
    req.set_grep("needle");
    req.set_limit(1);
    if (until != absl::InfiniteFuture()) {
      req.mutable_until()->set_seconds(absl::ToUnixSeconds(until));
    }
    pb::ListSessionsResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(120));
    grpc::Status st = stub->ListSessions(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  };
  // At the limit: every session searched, nothing left over.
  pb::ListSessionsResponse all = grep(absl::InfiniteFuture());
  EXPECT_EQ(all.sessions_size(), 0);
  EXPECT_FALSE(all.grep_incomplete());

  // One older session, with the word: beyond the limit, so not searched,
  // and the response says the search stopped.
  ASSERT_TRUE(store.CreateSession(At("older", t0)).ok());
  audit::RecordChainer chain("older");
  av1::RecordingRecord r;
  r.set_offset_us(10);
  r.mutable_data()->set_direction(av1::RECORD_DIRECTION_OUTPUT);
  r.mutable_data()->set_bytes("a needle in a haystack\r\n");
  ASSERT_TRUE(chain.Append(r).ok());
  absl::StatusOr<storage::SessionRecord> row = audit::ToStoreRecord(r);
  ASSERT_TRUE(row.ok()) << row.status();
  ASSERT_TRUE(store.AppendSessionRecords({*row}).ok());
  pb::ListSessionsResponse over = grep(absl::InfiniteFuture());
  EXPECT_EQ(over.sessions_size(), 0);
  EXPECT_TRUE(over.grep_incomplete());
  // Narrowed by time, the search reaches it.
  pb::ListSessionsResponse narrowed = grep(t0 + absl::Seconds(1));
  ASSERT_EQ(narrowed.sessions_size(), 1);
  EXPECT_EQ(narrowed.sessions(0).id(), "older");
  EXPECT_FALSE(narrowed.grep_incomplete());
}

}  // namespace
}  // namespace sallyport::ca
