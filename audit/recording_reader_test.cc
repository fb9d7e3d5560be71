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

  // A limit on the data read.
  EXPECT_EQ(ReadSessionStreams(*store_, "sess-1", 10).status().code(),
            absl::StatusCode::kResourceExhausted);
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

}  // namespace
}  // namespace sallyport::audit
