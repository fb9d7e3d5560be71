// The recording reader over a real SQLite Store: records come back in
// order and per channel, and every kind of tampering with the stored rows
// is reported at the first broken seq.
#include "audit/recording_reader.h"

#include <sqlite3.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/recording_record.h"
#include "audit/recording_store.h"
#include "gtest/gtest.h"
#include "storage/open.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::audit {
namespace {

class RecordingReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<sallyport::testing::TempDir> dir =
        sallyport::testing::TempDir::Create("rec-reader");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<sallyport::testing::TempDir>(*std::move(dir));
    path_ = dir_->path() + "/store.db";
    absl::StatusOr<std::unique_ptr<storage::Store>> store =
        storage::OpenStore("sqlite://" + path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    storage::Session s;
    s.id = "sess-1";
    s.user = "alice";
    s.login = "ubuntu";
    s.host = "web01";
    s.gateway_id = "gw-1";
    s.started_at = absl::FromUnixSeconds(1700000000);
    ASSERT_TRUE(store_->CreateSession(s).ok());
  }

  // Chains and stores `records` (kinds and payloads set) for sess-1.
  void Store(std::vector<v1::RecordingRecord> records) {
    RecordChainer chain("sess-1");
    std::vector<storage::SessionRecord> rows;
    for (v1::RecordingRecord& r : records) {
      ASSERT_TRUE(chain.Append(r).ok());
      absl::StatusOr<storage::SessionRecord> row = ToStoreRecord(r);
      ASSERT_TRUE(row.ok()) << row.status();
      rows.push_back(*row);
    }
    absl::StatusOr<storage::Session> s = store_->AppendSessionRecords(rows);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->chain_head, chain.head());
  }

  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }

  // An exec channel (0) and a pty shell (1) interleaved, 10 records.
  static std::vector<v1::RecordingRecord> ASession() {
    std::vector<v1::RecordingRecord> out;
    auto add = [&](uint32_t channel) -> v1::RecordingRecord& {
      out.emplace_back();
      out.back().set_channel_id(channel);
      out.back().set_offset_us(static_cast<int64_t>(out.size()) * 1000);
      return out.back();
    };
    add(0).mutable_channel_open()->set_type("session");
    auto* exec = add(0).mutable_request();
    exec->set_direction(v1::RECORD_DIRECTION_INPUT);
    exec->set_type("exec");
    exec->set_summary("uname -a");
    add(1).mutable_channel_open()->set_type("session");
    auto* pty = add(1).mutable_request();
    pty->set_type("pty-req");
    pty->set_summary("xterm");
    auto* win = add(1).mutable_window_change();
    win->set_columns(80);
    win->set_rows(24);
    auto* out0 = add(0).mutable_data();
    out0->set_direction(v1::RECORD_DIRECTION_OUTPUT);
    out0->set_bytes("Linux web01\n");
    auto* err0 = add(0).mutable_data();
    err0->set_direction(v1::RECORD_DIRECTION_OUTPUT);
    err0->set_ssh_stream(1);
    err0->set_bytes("warning\n");
    auto* typed = add(1).mutable_data();
    typed->set_direction(v1::RECORD_DIRECTION_INPUT);
    typed->set_bytes("ls\r");
    auto* status = add(0).mutable_request();
    status->set_direction(v1::RECORD_DIRECTION_OUTPUT);
    status->set_type("exit-status");
    status->set_summary("3");
    auto* close = add(0).mutable_channel_close();
    close->set_bytes_input(0);
    close->set_bytes_output(20);
    return out;
  }

  std::unique_ptr<sallyport::testing::TempDir> dir_;
  std::string path_;
  std::unique_ptr<storage::Store> store_;
};

TEST_F(RecordingReaderTest, ReadsChannelsInOrderWithTheirStreams) {
  Store(ASession());
  absl::StatusOr<SessionStreams> s = ReadSessionStreams(*store_, "sess-1");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->session.user(), "alice");
  EXPECT_EQ(s->session.gateway_id(), "gw-1");
  EXPECT_EQ(s->session.last_seq(), 10u);
  ASSERT_EQ(s->channels.size(), 2u);
  const ChannelStreams& exec = s->channels[0];
  EXPECT_EQ(exec.command, "uname -a");
  EXPECT_EQ(exec.output, "Linux web01\n");
  EXPECT_EQ(exec.error, "warning\n");
  EXPECT_EQ(exec.exit_status, 3);
  EXPECT_EQ(exec.bytes_output, 20u);
  EXPECT_EQ(exec.closed_at_us, 10000);
  const ChannelStreams& shell = s->channels[1];
  EXPECT_TRUE(shell.pty);
  EXPECT_EQ(shell.input, "ls\r");
  ASSERT_EQ(shell.window_changes.size(), 1u);
  EXPECT_EQ(shell.window_changes[0].window_change().columns(), 80u);
  EXPECT_FALSE(shell.closed_at_us.has_value());

  absl::StatusOr<RecordingCheck> check = VerifyRecording(*store_, "sess-1");
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->intact) << check->problem;
  EXPECT_EQ(check->records, 10u);
  EXPECT_EQ(check->computed_head, s->session.chain_head());

  // A limit on the data read, command lines included: the data alone
  // (12 + 8 + 3 bytes) fits in 23, not with "uname -a" and the rest.
  EXPECT_EQ(ReadSessionStreams(*store_, "sess-1", 10).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ReadSessionStreams(*store_, "sess-1", 23).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(ReadSessionStreams(*store_, "sess-1", 100).ok());
  EXPECT_EQ(VerifyRecording(*store_, "nope").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(RecordingReaderTest, ReusedChannelIdsAreSeparateChannels) {
  std::vector<v1::RecordingRecord> rs(4);
  rs[0].mutable_channel_open()->set_type("session");
  rs[1].mutable_channel_close();
  rs[2].mutable_channel_open()->set_type("direct-tcpip");
  rs[2].mutable_channel_open()->set_destination("db:5432");
  rs[3].mutable_data()->set_bytes("x");
  Store(rs);
  absl::StatusOr<SessionStreams> s = ReadSessionStreams(*store_, "sess-1");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->channels.size(), 2u);
  EXPECT_EQ(s->channels[0].output, "");
  EXPECT_EQ(s->channels[1].destination, "db:5432");
  EXPECT_EQ(s->channels[1].output, "x");
}

struct Tamper {
  std::string name;
  std::string sql;
  uint64_t first_broken;
};

class RecordingTamperTest : public RecordingReaderTest,
                            public ::testing::WithParamInterface<Tamper> {};

TEST_P(RecordingTamperTest, IsFoundAtTheFirstBrokenRecord) {
  Store(ASession());
  Sql(GetParam().sql);
  absl::StatusOr<RecordingCheck> check = VerifyRecording(*store_, "sess-1");
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_FALSE(check->intact);
  EXPECT_EQ(check->first_broken_seq, GetParam().first_broken) << check->problem;
  EXPECT_EQ(check->records, GetParam().first_broken - 1);
  EXPECT_NE(
      check->problem.find(absl::StrCat("record ", GetParam().first_broken)),
      std::string::npos)
      << check->problem;
  // Reading the streams fails the same way.
  EXPECT_EQ(ReadSessionStreams(*store_, "sess-1").status().code(),
            absl::StatusCode::kDataLoss);
}

INSTANTIATE_TEST_SUITE_P(
    Tampering, RecordingTamperTest,
    ::testing::Values(
        Tamper{"EditData",
               "UPDATE session_chunks SET data = CAST('Linux web02\n' AS "
               "BLOB) WHERE seq = 6",
               6},
        Tamper{"EditCommand",
               "UPDATE session_chunks SET summary = 'id' WHERE seq = 2", 2},
        Tamper{"EditOffset",
               "UPDATE session_chunks SET offset_us = 1 WHERE seq = 4", 4},
        Tamper{"DropRecord", "DELETE FROM session_chunks WHERE seq = 7", 7},
        Tamper{"DropLastRecord", "DELETE FROM session_chunks WHERE seq = 10",
               10},
        Tamper{"SwapChannels",
               "UPDATE session_chunks SET channel = 1 - channel "
               "WHERE seq = 6",
               6},
        Tamper{"HeadMoved",
               "UPDATE sessions SET chain_head = (SELECT hash FROM "
               "session_chunks WHERE seq = 9) WHERE id = 'sess-1'",
               11},
        Tamper{"UnusedFieldSet",
               "UPDATE session_chunks SET value1 = 5 WHERE seq = 1", 1}),
    [](const ::testing::TestParamInfo<Tamper>& info) {
      return info.param.name;
    });

// The session's row (user, login, host, start, status, end) is covered by
// the chain through its session_start and session_end records: an edit of
// the row is found at the record that says otherwise, naming the field.
struct MetadataTamper {
  std::string name;
  std::string sql;
  uint64_t first_broken;
  std::string problem;
};

class SessionMetadataTamperTest
    : public RecordingReaderTest,
      public ::testing::WithParamInterface<MetadataTamper> {
 protected:
  // sess-1 as the gateway records it since session_start records: its
  // metadata first, ASession(), the end at 20 ms (record 12), and the
  // session ended by the CA as the end says.
  void StoreEnded(bool with_start) {
    std::vector<v1::RecordingRecord> rs;
    if (with_start) {
      v1::RecordingRecord start;
      v1::SessionStartRecord* m = start.mutable_session_start();
      m->set_user("alice");
      m->set_login("ubuntu");
      m->set_host("web01");
      m->set_started_at_us(1700000000000000);
      rs.push_back(start);
    }
    for (v1::RecordingRecord& r : ASession()) rs.push_back(r);
    v1::RecordingRecord end;
    end.set_offset_us(20000);
    end.mutable_session_end()->set_status(v1::SESSION_STATUS_ENDED);
    rs.push_back(end);
    Store(rs);
    storage::SessionEnd e;
    e.ended_at = absl::FromUnixMicros(1700000000000000 + 20000);
    e.status = storage::SessionStatus::kEnded;
    e.expect_last_seq = rs.size();
    ASSERT_TRUE(store_->EndSession("sess-1", e).ok());
  }
};

TEST_P(SessionMetadataTamperTest, IsFoundAtTheRecordThatSaysOtherwise) {
  StoreEnded(/*with_start=*/true);
  absl::StatusOr<RecordingCheck> before = VerifyRecording(*store_, "sess-1");
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_TRUE(before->intact) << before->problem;
  EXPECT_TRUE(before->metadata_covered);
  Sql(GetParam().sql);
  absl::StatusOr<RecordingCheck> check = VerifyRecording(*store_, "sess-1");
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_FALSE(check->intact);
  EXPECT_EQ(check->first_broken_seq, GetParam().first_broken) << check->problem;
  EXPECT_EQ(check->problem, GetParam().problem);
  // Every record checks: it is the row that differs.
  EXPECT_EQ(check->records, 12u);
}

INSTANTIATE_TEST_SUITE_P(
    Tampering, SessionMetadataTamperTest,
    ::testing::Values(
        MetadataTamper{
            "User", "UPDATE sessions SET user_name = 'mallory'", 1,
            "the session's user is \"mallory\" but its recording says "
            "\"alice\""},
        MetadataTamper{"Login", "UPDATE sessions SET login = 'root'", 1,
                       "the session's login is \"root\" but its recording says "
                       "\"ubuntu\""},
        MetadataTamper{"Host", "UPDATE sessions SET host = 'db01'", 1,
                       "the session's host is \"db01\" but its recording "
                       "says \"web01\""},
        MetadataTamper{
            "Start",
            "UPDATE sessions SET started_at_us = started_at_us - 3600000000", 1,
            "the session's start is \"2023-11-14T21:13:20.000000Z\" but "
            "its recording says \"2023-11-14T22:13:20.000000Z\""},
        MetadataTamper{
            "Status", "UPDATE sessions SET status = 'failed'", 12,
            "the session's status is \"failed\" but its recording says "
            "\"ended\""},
        MetadataTamper{
            "End", "UPDATE sessions SET ended_at_us = ended_at_us + 1000000",
            12,
            "the session's end is \"2023-11-14T22:13:21.020000Z\" but its "
            "recording says \"2023-11-14T22:13:20.020000Z\""},
        MetadataTamper{
            "Reopened",
            "UPDATE sessions SET status = 'active', ended_at_us = NULL", 12,
            "the session's status is \"active\" but its recording says "
            "\"ended\""}),
    [](const ::testing::TestParamInfo<MetadataTamper>& info) {
      return info.param.name;
    });

// A recording stored before session_start records verifies as before, and
// says its metadata is not covered; its status and end still are (by its
// session_end record).
TEST_F(SessionMetadataTamperTest, ARecordingWithoutAStartVerifiesAsBefore) {
  StoreEnded(/*with_start=*/false);
  absl::StatusOr<RecordingCheck> check = VerifyRecording(*store_, "sess-1");
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->intact) << check->problem;
  EXPECT_FALSE(check->metadata_covered);
  EXPECT_EQ(check->records, 11u);
  Sql("UPDATE sessions SET user_name = 'mallory'");
  check = VerifyRecording(*store_, "sess-1");
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->intact) << "not covered: " << check->problem;
  Sql("UPDATE sessions SET status = 'interrupted'");
  check = VerifyRecording(*store_, "sess-1");
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_FALSE(check->intact);
  EXPECT_EQ(check->first_broken_seq, 11u);
  EXPECT_EQ(check->problem,
            "the session's status is \"interrupted\" but its recording says "
            "\"ended\"");
}

// A session_start is the first record, or no record at all: one stored
// later (its row edited into place) is a broken chain there.
TEST_F(RecordingReaderTest, ASessionStartIsOnlyTheFirstRecord) {
  Store(ASession());
  Sql("UPDATE session_chunks SET kind = 'session_start', direction = "
      "'none', name = 'mallory', summary = 'web01', data = CAST('root' AS "
      "BLOB), value1 = 0, value2 = 0, stream = 0, channel = 0, offset_us = 0 "
      "WHERE seq = 2");
  absl::StatusOr<RecordingCheck> check = VerifyRecording(*store_, "sess-1");
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_FALSE(check->intact);
  EXPECT_EQ(check->first_broken_seq, 2u);
  EXPECT_NE(check->problem.find("first record"), std::string::npos)
      << check->problem;
}

}  // namespace
}  // namespace sallyport::audit
