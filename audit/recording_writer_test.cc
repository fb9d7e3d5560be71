// The CA-side recording writer over a real SQLite Store: a gateway's
// upload is chain-checked and stored, ends the session with its real time,
// can be re-shipped, and another gateway cannot write the session.
#include "audit/recording_writer.h"

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "audit/recording_reader.h"
#include "audit/recording_record.h"
#include "audit/recording_store.h"
#include "gtest/gtest.h"
#include "storage/open.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::audit {
namespace {

using sallyport::testing::TempDir;

class RecordingWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> dir = TempDir::Create("rec-writer");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<TempDir>(*std::move(dir));
    auto store = storage::OpenStore("sqlite://" + dir_->path() + "/s.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    writer_ = std::make_unique<RecordingWriter>(*store_);
    meta_.set_session_id("gw-a-1");
    meta_.set_user("alice");
    meta_.set_login("ubuntu");
    meta_.set_host("web01");
    meta_.set_started_at_us(1700000000000000);
  }

  // n data records then (when `end`) an interrupted end, chained.
  std::vector<v1::RecordingRecord> Chain(int n, bool end) {
    RecordChainer chain("gw-a-1");
    std::vector<v1::RecordingRecord> out;
    for (int i = 0; i < n + (end ? 1 : 0); ++i) {
      v1::RecordingRecord r;
      r.set_offset_us(1000 * (i + 1));
      if (i < n) {
        r.mutable_data()->set_direction(v1::RECORD_DIRECTION_OUTPUT);
        r.mutable_data()->set_bytes(std::string(10, 'a' + i % 26));
      } else {
        r.mutable_session_end()->set_status(v1::SESSION_STATUS_INTERRUPTED);
        r.mutable_session_end()->set_message("the gateway restarted");
      }
      EXPECT_TRUE(chain.Append(r).ok());
      out.push_back(r);
    }
    return out;
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<RecordingWriter> writer_;
  v1::RecordingSession meta_;
};

// The writer hands records to the Store by moving their data: the row is
// the one a copy gives, and what stays behind is an emptied record.
TEST_F(RecordingWriterTest, ARecordMovedIntoARowKeepsEveryField) {
  std::vector<v1::RecordingRecord> rs = Chain(2, true);
  rs[0].mutable_data()->set_bytes(std::string(100000, 'x'));
  for (v1::RecordingRecord& r : rs) {
    absl::StatusOr<storage::SessionRecord> copied = ToStoreRecord(r);
    ASSERT_TRUE(copied.ok()) << copied.status();
    absl::StatusOr<storage::SessionRecord> moved = ToStoreRecord(std::move(r));
    ASSERT_TRUE(moved.ok()) << moved.status();
    EXPECT_EQ(*moved, *copied);
  }
  EXPECT_EQ(rs[0].data().bytes(), "");
  // A record that fails validation is refused, not half moved.
  v1::RecordingRecord bad = Chain(1, false)[0];
  bad.set_seq(0);
  EXPECT_FALSE(ToStoreRecord(std::move(bad)).ok());
  EXPECT_EQ(bad.data().bytes(), std::string(10, 'a'));
}

TEST_F(RecordingWriterTest, StoresAChainedUploadAndEndsTheSession) {
  ASSERT_TRUE(writer_->Begin("gw-a", meta_).ok());
  std::vector<v1::RecordingRecord> rs = Chain(600, true);
  std::vector<v1::RecordingRecord> first(rs.begin(), rs.begin() + 300);
  absl::StatusOr<v1::RecordingSession> s =
      writer_->Write("gw-a", "gw-a-1", first);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->last_seq(), 300u);
  EXPECT_EQ(s->status(), v1::SESSION_STATUS_ACTIVE);
  // After a restart the shipper sends the whole spool again.
  s = writer_->Write("gw-a", "gw-a-1", rs);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->last_seq(), 601u);
  EXPECT_EQ(s->chain_head(), rs.back().hash());
  EXPECT_EQ(s->status(), v1::SESSION_STATUS_INTERRUPTED);
  EXPECT_EQ(s->ended_at_us(), meta_.started_at_us() + 601000);
  EXPECT_EQ(s->gateway_id(), "gw-a");
  absl::StatusOr<RecordingCheck> check = VerifyRecording(*store_, "gw-a-1");
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->intact) << check->problem;
  // And again, once ended: nothing changes.
  EXPECT_TRUE(writer_->Write("gw-a", "gw-a-1", rs).ok());
}

// The session_start record is the chain's copy of the session's metadata:
// one that differs from the session the upload began with is refused
// (else `sessions verify` would call an honest session row edited), and
// one that agrees is stored and verifies, covering the row.
TEST_F(RecordingWriterTest, ASessionStartThatDiffersFromTheSessionIsRefused) {
  ASSERT_TRUE(writer_->Begin("gw-a", meta_).ok());
  auto started = [&](const std::function<void(v1::SessionStartRecord&)>& f) {
    v1::RecordingRecord start;
    v1::SessionStartRecord* m = start.mutable_session_start();
    m->set_user(meta_.user());
    m->set_login(meta_.login());
    m->set_host(meta_.host());
    m->set_started_at_us(meta_.started_at_us());
    f(*m);
    RecordChainer chain("gw-a-1");
    std::vector<v1::RecordingRecord> out = {start};
    for (v1::RecordingRecord& r : Chain(2, true)) {
      r.clear_seq();
      r.clear_hash();
      out.push_back(r);
    }
    for (v1::RecordingRecord& r : out) EXPECT_TRUE(chain.Append(r).ok());
    return out;
  };
  const std::vector<
      std::pair<std::function<void(v1::SessionStartRecord&)>, std::string>>
      differs = {
          {[](auto& m) { m.set_user("mallory"); },
           "the session's user is \"alice\" but its recording says "
           "\"mallory\""},
          {[](auto& m) { m.set_login("root"); }, "the session's login is"},
          {[](auto& m) { m.set_host("db01"); }, "the session's host is"},
          {[](auto& m) { m.set_started_at_us(m.started_at_us() + 1); },
           "the session's start is"},
      };
  for (const auto& [edit, want] : differs) {
    absl::StatusOr<v1::RecordingSession> s =
        writer_->Write("gw-a", "gw-a-1", started(edit));
    EXPECT_EQ(s.status().code(), absl::StatusCode::kDataLoss) << s.status();
    EXPECT_TRUE(absl::StrContains(s.status().message(), want)) << s.status();
    EXPECT_EQ(store_->GetSession("gw-a-1")->last_seq, 0u);
  }
  absl::StatusOr<v1::RecordingSession> s =
      writer_->Write("gw-a", "gw-a-1", started([](auto&) {}));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->last_seq(), 4u);
  EXPECT_EQ(s->status(), v1::SESSION_STATUS_INTERRUPTED);
  absl::StatusOr<RecordingCheck> check = VerifyRecording(*store_, "gw-a-1");
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->intact) << check->problem;
  EXPECT_TRUE(check->metadata_covered);
  // A start anywhere but first is refused whatever it says.
  std::vector<v1::RecordingRecord> late = started([](auto&) {});
  v1::RecordingRecord second = late[0];
  second.set_seq(5);
  EXPECT_EQ(writer_->Write("gw-a", "gw-a-1", {second}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RecordingWriterTest, AGatewayCannotWriteAnotherGatewaysSession) {
  ASSERT_TRUE(writer_->Begin("gw-a", meta_).ok());
  std::vector<v1::RecordingRecord> rs = Chain(3, false);
  EXPECT_EQ(writer_->Begin("gw-b", meta_).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(writer_->Write("gw-b", "gw-a-1", rs).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(writer_->Begin("", meta_).status().code(),
            absl::StatusCode::kPermissionDenied);
  absl::StatusOr<storage::Session> s = store_->GetSession("gw-a-1");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->last_seq, 0u);
  EXPECT_TRUE(writer_->Write("gw-a", "gw-a-1", rs).ok());
}

TEST_F(RecordingWriterTest, BrokenChainsAndGapsAreRefused) {
  ASSERT_TRUE(writer_->Begin("gw-a", meta_).ok());
  std::vector<v1::RecordingRecord> rs = Chain(5, false);
  std::vector<v1::RecordingRecord> edited = rs;
  edited[2].mutable_data()->set_bytes("changed!!!");
  EXPECT_EQ(writer_->Write("gw-a", "gw-a-1", edited).status().code(),
            absl::StatusCode::kDataLoss);
  std::vector<v1::RecordingRecord> gap = {rs[0], rs[2]};
  EXPECT_EQ(writer_->Write("gw-a", "gw-a-1", gap).status().code(),
            absl::StatusCode::kFailedPrecondition);
  std::vector<v1::RecordingRecord> foreign = rs;
  foreign[0].set_session_id("other");
  EXPECT_EQ(writer_->Write("gw-a", "gw-a-1", foreign).status().code(),
            absl::StatusCode::kInvalidArgument);
  // The refused uploads stored nothing; the good chain goes in whole.
  absl::StatusOr<storage::Session> before = store_->GetSession("gw-a-1");
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->last_seq, 0u);
  absl::StatusOr<v1::RecordingSession> s = writer_->Write("gw-a", "gw-a-1", rs);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->last_seq(), 5u);
  EXPECT_EQ(writer_->Write("gw-a", "missing", rs).status().code(),
            absl::StatusCode::kNotFound);
}

// A record the CA holds, sent again with other content under its old
// hash, is refused (not skipped): at the start of an upload, in the
// middle of one, and alone (its predecessor's hash comes from the Store).
TEST_F(RecordingWriterTest, ARecordSentAgainWithOtherContentIsRefused) {
  ASSERT_TRUE(writer_->Begin("gw-a", meta_).ok());
  std::vector<v1::RecordingRecord> rs = Chain(5, false);
  ASSERT_TRUE(writer_->Write("gw-a", "gw-a-1", rs).ok());
  for (size_t at : {0, 2, 4}) {
    std::vector<v1::RecordingRecord> again = rs;
    again[at].mutable_data()->set_bytes("changed!!!");  // hash kept
    absl::StatusOr<v1::RecordingSession> s =
        writer_->Write("gw-a", "gw-a-1", again);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kDataLoss) << at;
    EXPECT_TRUE(absl::StrContains(s.status().message(),
                                  absl::StrCat("record ", at + 1, " ")))
        << s.status();
    s = writer_->Write("gw-a", "gw-a-1", {again[at]});
    EXPECT_EQ(s.status().code(), absl::StatusCode::kDataLoss) << at;
  }
  // The same records sent again pass, also one alone.
  EXPECT_TRUE(writer_->Write("gw-a", "gw-a-1", rs).ok());
  EXPECT_TRUE(writer_->Write("gw-a", "gw-a-1", {rs[3]}).ok());
  absl::StatusOr<RecordingCheck> check = VerifyRecording(*store_, "gw-a-1");
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->intact) << check->problem;
}

// The session's bytes_in/bytes_out (what `spctl sessions ls` shows) are
// the sum of its channels' close records, also over several uploads and
// when an upload is sent again.
TEST_F(RecordingWriterTest, TheSessionEndsWithItsChannelsByteCounts) {
  ASSERT_TRUE(writer_->Begin("gw-a", meta_).ok());
  RecordChainer chain("gw-a-1");
  std::vector<v1::RecordingRecord> rs;
  auto add = [&](uint32_t channel, auto set) {
    v1::RecordingRecord r;
    r.set_channel_id(channel);
    r.set_offset_us(1000 * static_cast<int64_t>(rs.size() + 1));
    set(r);
    ASSERT_TRUE(chain.Append(r).ok());
    rs.push_back(r);
  };
  for (uint32_t ch : {1u, 2u}) {
    add(ch, [](v1::RecordingRecord& r) {
      r.mutable_channel_open()->set_type("session");
    });
  }
  add(1, [](v1::RecordingRecord& r) {
    r.mutable_channel_close()->set_bytes_input(7);
    r.mutable_channel_close()->set_bytes_output(100);
  });
  add(2, [](v1::RecordingRecord& r) {
    r.mutable_channel_close()->set_bytes_input(3);
    r.mutable_channel_close()->set_bytes_output(5000000000);
  });
  add(0, [](v1::RecordingRecord& r) {
    r.mutable_session_end()->set_status(v1::SESSION_STATUS_ENDED);
  });
  std::vector<v1::RecordingRecord> first(rs.begin(), rs.begin() + 3);
  ASSERT_TRUE(writer_->Write("gw-a", "gw-a-1", first).ok());
  // The whole spool again (the first part is stored already).
  absl::StatusOr<v1::RecordingSession> s = writer_->Write("gw-a", "gw-a-1", rs);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->status(), v1::SESSION_STATUS_ENDED);
  EXPECT_EQ(s->bytes_input(), 10);
  EXPECT_EQ(s->bytes_output(), 5000000100);
  absl::StatusOr<storage::Session> stored = store_->GetSession("gw-a-1");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->bytes_in, 10);
  EXPECT_EQ(stored->bytes_out, 5000000100);
  // Sent once more after the end: the counts stay.
  ASSERT_TRUE(writer_->Write("gw-a", "gw-a-1", rs).ok());
  stored = store_->GetSession("gw-a-1");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->bytes_in, 10);
  EXPECT_EQ(stored->bytes_out, 5000000100);
}

}  // namespace
}  // namespace sallyport::audit
