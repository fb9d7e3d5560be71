// Store suite: a gateway's open sessions (schema version 18), which the CA
// counts before a gateway's upload opens a new one (its limit, CA config
// gateway.max_open_sessions): CountOpenSessions counts the gateway's
// active sessions only, up to its `at_most`, as every store on the
// database sees them, over an index of the open sessions that the upgrade
// builds for the sessions already stored.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "storage/migrations/migrations.h"
#include "storage/store_test_records.h"
#include "storage/store_test_suite.h"

namespace sallyport::storage::testing {
namespace {

using Rows = std::vector<std::vector<std::string>>;

SessionEnd EndAs(SessionStatus status) {
  SessionEnd end;
  end.ended_at = absl::FromUnixMicros(1700000200000000);
  end.status = status;
  return end;
}

TEST_P(StoreTest, OpenSessionsAreCountedPerGateway) {
  for (const char* id : {"a1", "a2", "a3", "a4", "a5"}) {
    SP_ASSERT_OK(store_->CreateSession(RecordedSession(id, "gw-a")));
  }
  for (const char* id : {"b1", "b2"}) {
    SP_ASSERT_OK(store_->CreateSession(RecordedSession(id, "gw-b")));
  }
  // A session stored ended (as `spctl` tests and imports may) is not open.
  Session ended = RecordedSession("a-ended", "gw-a");
  ended.status = SessionStatus::kEnded;
  ended.ended_at = absl::FromUnixMicros(1700000100000000);
  SP_ASSERT_OK(store_->CreateSession(ended));
  auto count = [&](Store& store, const char* gateway, int64_t at_most) {
    absl::StatusOr<int64_t> n = store.CountOpenSessions(gateway, at_most);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.value_or(-1);
  };
  EXPECT_EQ(count(*store_, "gw-a", 100), 5);
  EXPECT_EQ(count(*store_, "gw-b", 100), 2);
  EXPECT_EQ(count(*store_, "gw-c", 100), 0);
  // Up to at_most: the count stops there.
  EXPECT_EQ(count(*store_, "gw-a", 5), 5);
  EXPECT_EQ(count(*store_, "gw-a", 3), 3);
  EXPECT_EQ(count(*store_, "gw-a", 1), 1);

  // Each way a session ends frees its place.
  SP_ASSERT_OK(store_->EndSession("a1", EndAs(SessionStatus::kEnded)));
  SP_ASSERT_OK(store_->EndSession("a2", EndAs(SessionStatus::kFailed)));
  SP_ASSERT_OK(store_->EndSession("a3", EndAs(SessionStatus::kInterrupted)));
  EXPECT_EQ(count(*store_, "gw-a", 100), 2);
  EXPECT_EQ(count(*store_, "gw-b", 100), 2);
  // Another store on the database (another CA instance, or this one
  // after a restart) counts the same.
  std::unique_ptr<Store> other = OpenAnother();
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(count(*other, "gw-a", 100), 2);
  SP_ASSERT_OK(other->CreateSession(RecordedSession("a6", "gw-a")));
  EXPECT_EQ(count(*store_, "gw-a", 100), 3);
}

TEST_P(StoreTest, OpenSessionCountsRefuseBadArguments) {
  for (int64_t at_most :
       {int64_t{0}, int64_t{-1}, kMaxOpenSessionsCounted + 1}) {
    EXPECT_TRUE(absl::IsInvalidArgument(
        store_->CountOpenSessions("gw-a", at_most).status()))
        << at_most;
  }
  EXPECT_TRUE(
      absl::IsInvalidArgument(store_->CountOpenSessions("", 10).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      store_->CountOpenSessions(std::string(kMaxNameBytes + 1, 'g'), 10)
          .status()));
  SP_ASSERT_OK_AND_ASSIGN(
      int64_t none, store_->CountOpenSessions("gw-a", kMaxOpenSessionsCounted));
  EXPECT_EQ(none, 0);
}

// Version 18 adds the index of the open sessions, built for the sessions
// stored before it: they are counted after the upgrade as before it.
TEST_P(StoreTest, OpenSessionsFromVersion17AreCounted) {
  ASSERT_GE(backend_->Migrations().size(), 18u);
  EXPECT_STREQ(backend_->Migrations()[17].name, "open_sessions_by_gateway");
  std::string rows;
  for (const char* status : {"active", "active", "ended", "interrupted"}) {
    absl::StrAppend(
        &rows,
        "INSERT INTO sessions (id, user_name, login, host, started_at_us, "
        "bytes_in, bytes_out, status, gateway_id) VALUES ('s",
        rows.size(), "', 'alice', 'ubuntu', 'web01', 5, 0, 0, '", status,
        "', 'gw-a');\n");
  }
  std::unique_ptr<Store> upgraded = UpgradeFrom(17, rows);
  ASSERT_NE(upgraded, nullptr);
  EXPECT_EQ(upgraded->SchemaVersion(), migrations::LatestSchemaVersion());
  SP_ASSERT_OK_AND_ASSIGN(int64_t open,
                          upgraded->CountOpenSessions("gw-a", 10));
  EXPECT_EQ(open, 2);
  const std::string index_query =
      GetParam().name == "Sqlite"
          ? "SELECT name FROM sqlite_master WHERE type = 'index' AND "
            "name = 'sessions_open_by_gateway'"
          : "SELECT indexname FROM pg_indexes WHERE "
            "indexname = 'sessions_open_by_gateway'";
  SP_ASSERT_OK_AND_ASSIGN(Rows index, backend_->QueryRawSql(index_query));
  EXPECT_EQ(index, (Rows{{"sessions_open_by_gateway"}}));
}

}  // namespace
}  // namespace sallyport::storage::testing
