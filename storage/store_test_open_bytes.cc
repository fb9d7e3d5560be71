// Store suite: the bytes of an active session's open channels (schema
// version 10) — counted as their data records are stored, once however
// often they are shipped, gone from the count when their channel closes
// and when the session ends; open_bytes_in/open_bytes_out stay the sum over
// session_open_channels; sessions active at the upgrade are counted from
// their stored records.
#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "storage/migrations/migrations.h"
#include "storage/store_test_records.h"
#include "storage/store_test_suite.h"

namespace sallyport::storage::testing {
namespace {

using Rows = std::vector<std::vector<std::string>>;

// An active session's bytes so far (schema version 10): `spctl sessions ls`
// showed 0 until a channel closed, because bytes_in/bytes_out add up only
// the channel_close records. The data records of the channels still open
// are counted as they are stored (open_bytes_in/open_bytes_out), leave the
// count when their channel closes (its totals then reach bytes_in and
// bytes_out), are counted once when shipped again, and are 0 once the
// session ended.
TEST_P(StoreTest, ActiveSessionsCountTheBytesOfTheirOpenChannels) {
  SP_ASSERT_OK(store_->CreateSession(RecordedSession("live", "gw-a")));
  constexpr auto kIn = RecordDirection::kInput;
  constexpr auto kOut = RecordDirection::kOutput;
  const std::vector<SessionRecord> r = {
      Rec("live", 1, 0, SessionRecordKind::kChannelOpen),
      DataRec("live", 2, 0, kIn, 5),
      DataRec("live", 3, 0, kOut, 700),
      Rec("live", 4, 1, SessionRecordKind::kChannelOpen),
      DataRec("live", 5, 1, kOut, 30),
      DataRec("live", 6, 0, kOut, 1000),
      // Channel 0 closes with its totals (more than recorded: an exec's
      // output past its limit is only counted).
      CloseRec("live", 7, 0, 5, 9000),
      // Its id is used again.
      Rec("live", 8, 0, SessionRecordKind::kChannelOpen),
      DataRec("live", 9, 0, kIn, 2),
  };
  SP_ASSERT_OK_AND_ASSIGN(Session s,
                          store_->AppendSessionRecords({r[0], r[1], r[2]}));
  EXPECT_EQ(s.bytes_in, 0);
  EXPECT_EQ(s.bytes_out, 0);
  EXPECT_EQ(s.open_bytes_in, 5);
  EXPECT_EQ(s.open_bytes_out, 700);
  EXPECT_EQ(s.BytesInSoFar(), 5);
  EXPECT_EQ(s.BytesOutSoFar(), 700);
  // Shipped again with the next ones: counted once.
  SP_ASSERT_OK_AND_ASSIGN(
      s, store_->AppendSessionRecords({r[1], r[2], r[3], r[4], r[5]}));
  EXPECT_EQ(s.open_bytes_in, 5);
  EXPECT_EQ(s.open_bytes_out, 1730);
  SP_ASSERT_OK_AND_ASSIGN(s, store_->AppendSessionRecords({r[6], r[7], r[8]}));
  EXPECT_EQ(s.bytes_in, 5);
  EXPECT_EQ(s.bytes_out, 9000);
  EXPECT_EQ(s.open_bytes_in, 2);
  EXPECT_EQ(s.open_bytes_out, 30);
  EXPECT_EQ(s.BytesInSoFar(), 7);
  EXPECT_EQ(s.BytesOutSoFar(), 9030);
  // What a listing reads.
  SP_ASSERT_OK_AND_ASSIGN(std::vector<Session> list,
                          store_->ListSessions(SessionFilter{}));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0], s);
  SP_ASSERT_OK_AND_ASSIGN(Session got, store_->GetSession("live"));
  EXPECT_EQ(got, s);

  SessionEnd end;
  end.ended_at = absl::FromUnixMicros(1700000100000001);
  end.bytes_in = s.bytes_in;
  end.bytes_out = s.bytes_out;
  SP_ASSERT_OK_AND_ASSIGN(Session ended, store_->EndSession("live", end));
  EXPECT_EQ(ended.open_bytes_in, 0);
  EXPECT_EQ(ended.open_bytes_out, 0);
  EXPECT_EQ(ended.BytesInSoFar(), 5);
  EXPECT_EQ(ended.BytesOutSoFar(), 9000);
  SP_ASSERT_OK_AND_ASSIGN(Rows left,
                          backend_->QueryRawSql("SELECT session_id FROM "
                                                "session_open_channels"));
  EXPECT_TRUE(left.empty());
}

// What the Store should count of one session's records: the bytes each
// way of every channel with data records since its last close (the rows of
// session_open_channels) and the totals of the closes.
struct OpenBytesModel {
  std::string id;
  std::vector<SessionRecord> stored;  // seq i + 1 at i
  std::map<uint32_t, std::pair<int64_t, int64_t>> open;
  std::set<uint32_t> live;    // opened and not closed
  std::set<uint32_t> closed;  // closed at least once
  int64_t closed_in = 0, closed_out = 0;
  // Counted data of a channel id closed before (the sequence covered it).
  int counted_after_a_close = 0;

  // Returns whether `r` has bytes to count.
  bool Add(const SessionRecord& r) {
    stored.push_back(r);
    if (r.kind == SessionRecordKind::kChannelOpen) live.insert(r.channel);
    const int64_t n = static_cast<int64_t>(r.data.size());
    if (r.kind == SessionRecordKind::kData && n > 0 &&
        r.direction != RecordDirection::kNone) {
      auto& [in, out] = open[r.channel];
      (r.direction == RecordDirection::kInput ? in : out) += n;
      counted_after_a_close += closed.count(r.channel);
      return true;
    }
    if (r.kind == SessionRecordKind::kChannelClose) {
      live.erase(r.channel);
      closed.insert(r.channel);
      open.erase(r.channel);
      closed_in += r.value1;
      closed_out += r.value2;
    }
    return false;
  }
  int64_t OpenIn() const {
    int64_t sum = 0;
    for (const auto& [channel, bytes] : open) sum += bytes.first;
    return sum;
  }
  int64_t OpenOut() const {
    int64_t sum = 0;
    for (const auto& [channel, bytes] : open) sum += bytes.second;
    return sum;
  }
  // session_open_channels as QueryRawSql returns it, by channel.
  Rows Table() const {
    Rows rows;
    for (const auto& [channel, bytes] : open) {
      rows.push_back({absl::StrCat(channel), absl::StrCat(bytes.first),
                      absl::StrCat(bytes.second)});
    }
    return rows;
  }
};

// open_bytes_in/open_bytes_out are kept by arithmetic (an append adds its
// data bytes, a close takes away what its channel had), not added up again
// from session_open_channels: after every append of a long mix of two
// sessions' records — channels opened, closed (some without data, some
// with data in the same append, some whose id is used again), data each
// way and of no direction, records without bytes, batches that ship stored
// records again and whole batches shipped twice — each session's
// open_bytes_in/open_bytes_out equal the sum over its rows of
// session_open_channels, the rows hold what its records say, and a listing
// shows the same; an interrupted end empties one session's rows and leaves
// the other's.
TEST_P(StoreTest, OpenChannelBytesStayTheSumOverTheOpenChannels) {
  std::vector<OpenBytesModel> models(2);
  models[0].id = "mix-a";
  models[1].id = "mix-b";
  for (const OpenBytesModel& m : models) {
    SP_ASSERT_OK(store_->CreateSession(RecordedSession(m.id, "gw-a")));
  }
  constexpr uint32_t kChannels[] = {0, 1, 2, 7, 0xffffffffu};
  std::mt19937 rng(20261203);
  auto pick = [&rng](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
  // Record `seq` of `m`, of a random kind.
  auto random_record = [&](const OpenBytesModel& m, uint64_t seq) {
    const uint32_t any = kChannels[pick(5)];
    const uint32_t live =
        m.live.empty() ? any : *std::next(m.live.begin(), pick(m.live.size()));
    switch (pick(10)) {
      case 0:
      case 1:
        return Rec(m.id, seq, any, SessionRecordKind::kChannelOpen);
      case 2:
        // Totals bigger than what was recorded, as an exec's past its
        // output limit.
        return CloseRec(m.id, seq, pick(4) == 0 ? any : live, pick(100),
                        pick(100000));
      case 3:
        return Rec(m.id, seq, live, SessionRecordKind::kWindowChange);
      default:
        constexpr RecordDirection kDirections[] = {
            RecordDirection::kInput, RecordDirection::kOutput,
            RecordDirection::kOutput, RecordDirection::kNone};
        return DataRec(m.id, seq, pick(6) == 0 ? any : live,
                       kDirections[pick(4)], pick(4) == 0 ? 0 : pick(3000));
    }
  };
  auto check = [&](const OpenBytesModel& m, const Session& got) {
    EXPECT_EQ(got.open_bytes_in, m.OpenIn());
    EXPECT_EQ(got.open_bytes_out, m.OpenOut());
    EXPECT_EQ(got.bytes_in, m.closed_in);
    EXPECT_EQ(got.bytes_out, m.closed_out);
    SP_ASSERT_OK_AND_ASSIGN(
        Rows sums, backend_->QueryRawSql(absl::StrCat(
                       "SELECT CAST(COALESCE(SUM(bytes_in), 0) AS TEXT), "
                       "CAST(COALESCE(SUM(bytes_out), 0) AS TEXT) FROM "
                       "session_open_channels WHERE session_id = '",
                       m.id, "'")));
    EXPECT_EQ(sums, (Rows{{absl::StrCat(got.open_bytes_in),
                           absl::StrCat(got.open_bytes_out)}}));
    SP_ASSERT_OK_AND_ASSIGN(
        Rows table, backend_->QueryRawSql(absl::StrCat(
                        "SELECT CAST(channel AS TEXT) AS c, CAST(bytes_in AS "
                        "TEXT), CAST(bytes_out AS TEXT) FROM "
                        "session_open_channels "
                        "WHERE session_id = '",
                        m.id, "' ORDER BY channel")));
    EXPECT_EQ(table, m.Table());
  };

  std::vector<SessionRecord> last_batch;
  size_t last = 0;
  // What the mix covered: closes of a channel with a stored row, and of
  // one whose data came earlier in the same append.
  int closes_of_stored_rows = 0, closes_after_data_of_their_append = 0;
  for (int step = 0; step < 150; ++step) {
    const bool twice = step % 10 == 9;
    if (!twice) last = pick(2);
    OpenBytesModel& m = models[last];
    std::vector<SessionRecord> batch;
    if (twice) {
      batch = last_batch;  // shipped again whole: nothing new
    } else {
      // Up to 3 stored records first (a spool shipped again from an
      // earlier point), then 0 to 5 new ones.
      const uint64_t again =
          m.stored.empty() || pick(3) != 0
              ? 0
              : 1 + pick(std::min<uint32_t>(3, m.stored.size()));
      for (uint64_t seq = m.stored.size() - again + 1; seq <= m.stored.size();
           ++seq) {
        batch.push_back(m.stored[seq - 1]);
      }
      const uint32_t fresh = pick(6) + (again == 0 ? 1 : 0);
      OpenBytesModel next = m;
      std::set<uint32_t> with_data;
      for (uint32_t i = 0; i < fresh; ++i) {
        const SessionRecord r = random_record(next, next.stored.size() + 1);
        if (next.Add(r)) with_data.insert(r.channel);
        if (r.kind == SessionRecordKind::kChannelClose) {
          closes_of_stored_rows += m.open.count(r.channel);
          closes_after_data_of_their_append += with_data.erase(r.channel);
        }
        batch.push_back(r);
      }
      m = std::move(next);
    }
    SCOPED_TRACE(
        absl::StrCat("step ", step, ": ", m.id, " up to ", m.stored.size()));
    SP_ASSERT_OK_AND_ASSIGN(Session got, store_->AppendSessionRecords(batch));
    EXPECT_EQ(got.last_seq, m.stored.size());
    check(m, got);
    // What the append returns is what is stored.
    SP_ASSERT_OK_AND_ASSIGN(Session stored, store_->GetSession(m.id));
    EXPECT_EQ(got, stored);
    last_batch = batch;
  }
  // A listing (`spctl sessions ls`) shows the same rows.
  SP_ASSERT_OK_AND_ASSIGN(std::vector<Session> list,
                          store_->ListSessions(SessionFilter{}));
  ASSERT_EQ(list.size(), 2u);
  for (const Session& listed : list) {
    const OpenBytesModel& m = listed.id == models[0].id ? models[0] : models[1];
    EXPECT_EQ(listed.id, m.id);
    check(m, listed);
    EXPECT_EQ(listed.BytesInSoFar(), m.closed_in + m.OpenIn());
    EXPECT_EQ(listed.BytesOutSoFar(), m.closed_out + m.OpenOut());
  }
  // The mix had each case (else the seed or the kinds need a change).
  EXPECT_GT(closes_of_stored_rows, 0);
  EXPECT_GT(closes_after_data_of_their_append, 0);
  for (const OpenBytesModel& m : models) {
    EXPECT_GT(m.counted_after_a_close, 0) << m.id;
    EXPECT_GT(m.OpenIn(), 0) << m.id;
    EXPECT_GT(m.OpenOut(), 0) << m.id;
  }

  // The first session ends as interrupted: its rows go, the other's stay;
  // its records shipped again after the end change nothing.
  SessionEnd end;
  end.ended_at = absl::FromUnixMicros(1700000100000001);
  end.status = SessionStatus::kInterrupted;
  end.bytes_in = models[0].closed_in;
  end.bytes_out = models[0].closed_out;
  end.expect_last_seq = models[0].stored.size();
  SP_ASSERT_OK_AND_ASSIGN(Session ended, store_->EndSession(models[0].id, end));
  models[0].open.clear();
  check(models[0], ended);
  SP_ASSERT_OK_AND_ASSIGN(ended,
                          store_->AppendSessionRecords(models[0].stored));
  check(models[0], ended);
  SP_ASSERT_OK_AND_ASSIGN(Session other, store_->GetSession(models[1].id));
  check(models[1], other);
}

// Version 10 counts the bytes of the open channels of sessions that are
// active at the upgrade from their stored data records: those after each
// channel's last close (an ended session and a closed channel count none).
TEST_P(StoreTest, OpenChannelBytesOfActiveSessionsAreCountedAtTheUpgrade) {
  const absl::Span<const migrations::Migration> all = backend_->Migrations();
  ASSERT_GE(all.size(), 10u);
  EXPECT_STREQ(all[9].name, "session_open_bytes");
  std::string rows;
  for (const char* id : {"v9-live", "v9-ended"}) {
    const bool live = absl::StrContains(id, "live");
    absl::StrAppend(
        &rows,
        "INSERT INTO sessions (id, user_name, login, host, started_at_us, "
        "ended_at_us, bytes_in, bytes_out, status, gateway_id, last_seq, "
        "chain_head) VALUES ('",
        id, "', 'alice', 'root', 'web01', 5, ", live ? "NULL" : "9",
        ", 3, 4, '", live ? "active" : "ended", "', 'gw-a', 5, '", FakeHash(5),
        "');\n");
    // seq: channel, kind, direction, data
    struct R {
      int seq, channel;
      const char* kind;
      const char* direction;
      const char* data;
    };
    for (const R& r :
         {R{1, 0, "data", "output", "closed-out"},
          R{2, 0, "channel_close", "none", ""},
          R{3, 0, "data", "input", "in-2"}, R{4, 1, "data", "output", "out-5"},
          R{5, 0, "data", "output", "out"}}) {
      absl::StrAppend(
          &rows,
          "INSERT INTO session_chunks (session_id, seq, channel, offset_us, "
          "kind, direction, stream, name, summary, value1, value2, data, "
          "hash) VALUES ('",
          id, "', ", r.seq, ", ", r.channel, ", ", r.seq * 10, ", '", r.kind,
          "', '", r.direction, "', 0, '', '', 0, 0, ",
          backend_->BlobLiteral(r.data), ", '", FakeHash(r.seq), "');\n");
    }
  }
  std::unique_ptr<Store> upgraded = UpgradeFrom(9, rows);
  ASSERT_NE(upgraded, nullptr);
  SP_ASSERT_OK_AND_ASSIGN(Session live, upgraded->GetSession("v9-live"));
  EXPECT_EQ(live.open_bytes_in, 4);   // in-2
  EXPECT_EQ(live.open_bytes_out, 8);  // out-5, out
  EXPECT_EQ(live.BytesInSoFar(), 7);
  EXPECT_EQ(live.BytesOutSoFar(), 12);
  SP_ASSERT_OK_AND_ASSIGN(Session ended, upgraded->GetSession("v9-ended"));
  EXPECT_EQ(ended.open_bytes_in, 0);
  EXPECT_EQ(ended.open_bytes_out, 0);
  // The count goes on: channel 1 closes.
  SP_ASSERT_OK_AND_ASSIGN(
      live, upgraded->AppendSessionRecords({CloseRec("v9-live", 6, 1, 0, 5)}));
  EXPECT_EQ(live.open_bytes_in, 4);
  EXPECT_EQ(live.open_bytes_out, 3);
  EXPECT_EQ(live.bytes_out, 9);
}

}  // namespace
}  // namespace sallyport::storage::testing
