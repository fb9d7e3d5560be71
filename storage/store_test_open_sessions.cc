// Store suite: a gateway's open sessions (schema version 18), which the CA
// counts before a gateway's upload opens a new one (its limit, CA config
// gateway.max_open_sessions): CountOpenSessions counts the gateway's
// active sessions only, up to its `at_most`, as every store on the
// database sees them, over an index of the open sessions that the upgrade
// builds for the sessions already stored.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
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

SessionAbandonment Mark(std::string reason) {
  SessionAbandonment m;
  m.at = absl::FromUnixMicros(1700000300000000);
  m.by = "admin";
  m.reason = std::move(reason);
  return m;
}

// An admin marks an active session abandoned (schema version 19): the mark
// is kept, the session stays active, so what its gateway still ships is
// stored and its real end stands; it leaves its gateway's open count.
TEST_P(StoreTest, AnAbandonedSessionStaysActiveAndLeavesTheOpenCount) {
  for (const char* id : {"a1", "a2"}) {
    SP_ASSERT_OK(store_->CreateSession(RecordedSession(id, "gw-a")));
  }
  SP_ASSERT_OK(store_->AppendSessionRecords(
      {DataRec("a1", 1, 0, RecordDirection::kOutput, 10)}));
  SP_ASSERT_OK_AND_ASSIGN(Session marked,
                          store_->AbandonSession("a1", Mark("gw-a is gone")));
  EXPECT_EQ(marked.status, SessionStatus::kActive);
  EXPECT_TRUE(marked.Abandoned());
  EXPECT_EQ(marked.abandoned_at, absl::FromUnixMicros(1700000300000000));
  EXPECT_EQ(marked.abandoned_by, "admin");
  EXPECT_EQ(marked.abandon_reason, "gw-a is gone");
  EXPECT_EQ(marked.BytesOutSoFar(), 10);
  SP_ASSERT_OK_AND_ASSIGN(Session read, store_->GetSession("a1"));
  EXPECT_EQ(read, marked);
  SP_ASSERT_OK_AND_ASSIGN(std::vector<Session> listed,
                          store_->ListSessions(SessionFilter{}));
  ASSERT_EQ(listed.size(), 2u);
  for (const Session& l : listed) EXPECT_EQ(l.Abandoned(), l.id == "a1");
  SP_ASSERT_OK_AND_ASSIGN(int64_t open, store_->CountOpenSessions("gw-a", 10));
  EXPECT_EQ(open, 1);

  // Marked once: again names who did it.
  absl::Status again = store_->AbandonSession("a1", Mark("twice")).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(again)) << again;
  EXPECT_TRUE(absl::StrContains(again.message(), "abandoned by admin"))
      << again;

  // The gateway came back after all: its records and its end are stored,
  // the mark stays as history.
  SP_ASSERT_OK(store_->AppendSessionRecords({CloseRec("a1", 2, 0, 0, 10)}));
  SP_ASSERT_OK_AND_ASSIGN(
      Session ended, store_->EndSession("a1", EndAs(SessionStatus::kEnded)));
  EXPECT_EQ(ended.status, SessionStatus::kEnded);
  EXPECT_FALSE(ended.Abandoned());
  EXPECT_EQ(ended.abandoned_by, "admin");
  EXPECT_EQ(ended.last_seq, 2u);

  // An ended session is not marked; nor an unknown one.
  absl::Status done = store_->AbandonSession("a1", Mark("late")).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(done)) << done;
  EXPECT_TRUE(absl::StrContains(done.message(), "has already ended")) << done;
  EXPECT_TRUE(
      absl::IsNotFound(store_->AbandonSession("nope", Mark("x")).status()));
  // Bad marks write nothing.
  EXPECT_TRUE(
      absl::IsInvalidArgument(store_->AbandonSession("a2", Mark("")).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      store_
          ->AbandonSession("a2",
                           Mark(std::string(kMaxAbandonReasonBytes + 1, 'r')))
          .status()));
  SessionAbandonment nobody = Mark("why");
  nobody.by.clear();
  EXPECT_TRUE(
      absl::IsInvalidArgument(store_->AbandonSession("a2", nobody).status()));
  SP_ASSERT_OK_AND_ASSIGN(Session a2, store_->GetSession("a2"));
  EXPECT_FALSE(a2.abandoned_at.has_value());
  SP_ASSERT_OK(store_->AbandonSession(
      "a2", Mark(std::string(kMaxAbandonReasonBytes, 'r'))));
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
