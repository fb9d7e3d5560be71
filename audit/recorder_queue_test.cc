// The recorder's queue over real spool files: the backlog it reports, a
// record that does not fit the queue waiting in its session's backlog (in
// order, up to max_session_backlog_bytes), and data coalesced while it
// waits or while the writer is busy. The writer's side: recorder_test.cc.
#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "audit/recorder.h"
#include "audit/recorder_test_fixture.h"
#include "gtest/gtest.h"

namespace sallyport::audit {
namespace {

TEST_F(RecorderTest, TheBacklogIsReportedAndDrains) {
  auto backlog = std::make_shared<std::atomic<int64_t>>(0);
  auto highest = std::make_shared<std::atomic<int64_t>>(0);
  options_.backlog_changed = [backlog, highest](int64_t bytes) {
    backlog->store(bytes);
    int64_t h = highest->load();
    while (bytes > h && !highest->compare_exchange_weak(h, bytes)) {
    }
  };
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> rec =
      SpoolRecorder::Start(options_);
  ASSERT_TRUE(rec.ok());
  auto s = (*rec)->OpenSession(Meta("sess-b"), absl::Now());
  ASSERT_TRUE(s.ok());
  absl::StatusOr<uint64_t> seq = (*s)->Append(Data(std::string(10000, 'x')));
  ASSERT_TRUE(seq.ok());
  EXPECT_GE(highest->load(), 10000);
  ASSERT_TRUE(WaitWritten(**s, *seq));
  EXPECT_EQ(backlog->load(), 0);
  EXPECT_EQ((*rec)->queued_bytes(), 0u);
}

// A disk slower than the sessions (200 bulk sessions in the load test
// under CI load, whose windows add up to more than the queue's limit)
// pauses them: a record that does not fit the queue waits in its
// session's backlog, in order, and the writer takes it once a pass freed
// room. It ended the sessions before ("the recorder's queue is full").
TEST_F(RecorderTest, ARecordThatDoesNotFitTheQueueWaitsForRoom) {
  options_.max_queue_bytes = 4096;
  options_.write_stall_limit = absl::Hours(1);  // the writer is held
  options_.coalesce_data_bytes = 0;             // a record per Append
  std::vector<int64_t> backlog;
  absl::Mutex backlog_mu;
  options_.backlog_changed = [&](int64_t bytes) {
    absl::MutexLock lock(&backlog_mu);
    backlog.push_back(bytes);
  };
  HeldRecorder h;
  ASSERT_NO_FATAL_FAILURE(
      StartHeld(options_, h));  // b's "b" is queued (257 bytes)
  auto c = h.rec->OpenSession(Meta("sess-c"), absl::Now());
  ASSERT_TRUE(c.ok());
  // 1,256 bytes each in the queue: b0, c0 and b1 fit beside "b"; c1 does
  // not and waits, and so does everything after it, of c and of b (whose
  // b2 finds the queue full, and whose later records follow it in order).
  std::vector<std::string> b_sent = {"b"}, c_sent;
  uint64_t b_last = 0, c_last = 0;
  for (int i = 0; i < 5; ++i) {
    b_sent.push_back(std::string(1000, static_cast<char>('0' + i)));
    absl::StatusOr<uint64_t> t = h.held.b->Append(Data(b_sent.back()));
    ASSERT_TRUE(t.ok()) << t.status();
    b_last = *t;
    c_sent.push_back(std::string(1000, static_cast<char>('A' + i)));
    t = (*c)->Append(Data(c_sent.back()));
    ASSERT_TRUE(t.ok()) << t.status();
    c_last = *t;
  }
  EXPECT_EQ(b_last, h.held.b_queued + 5);
  EXPECT_EQ(h.rec->parked_bytes(), 7u * 1256);  // b's last 3, all of c's
  EXPECT_EQ(h.rec->queued_bytes(), 257u + 3 * 1256 + 7 * 1256);
  {
    absl::MutexLock lock(&backlog_mu);
    EXPECT_EQ(backlog.back(), 257 + 10 * 1256);  // the gauge counts both
  }
  // An end waits behind its session's parked records too.
  h.held.b->End(v1::SESSION_STATUS_ENDED, "done");
  (*c)->End(v1::SESSION_STATUS_ENDED, "done");
  EXPECT_FALSE(h.held.b->Written(h.held.b_queued));
  EXPECT_TRUE(h.held.b->status().ok());
  EXPECT_TRUE((*c)->status().ok());
  h.stall.Release();
  ASSERT_TRUE(WaitWritten(*h.held.b, b_last + 1));
  ASSERT_TRUE(WaitWritten(**c, c_last + 1));
  ASSERT_TRUE(WaitClosed(*h.held.b));
  ASSERT_TRUE(WaitClosed(**c));
  EXPECT_EQ(h.rec->parked_bytes(), 0u);
  EXPECT_EQ(h.rec->queued_bytes(), 0u);
  {
    absl::MutexLock lock(&backlog_mu);
    EXPECT_EQ(backlog.back(), 0);
  }
  for (const auto& [id, sent] :
       {std::pair{"sess-b", b_sent}, std::pair{"sess-c", c_sent}}) {
    absl::StatusOr<SpoolContents> got =
        ReadSpool(SpoolPath(options_.spool_dir, id));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(DataBytes(*got), sent) << id;
    ASSERT_FALSE(got->records.empty());
    EXPECT_TRUE(got->records.back().has_session_end()) << id;
    for (size_t i = 0; i < got->records.size(); ++i) {
      EXPECT_EQ(got->records[i].seq(), i + 1) << id;
    }
  }
}

// What bounds a session's backlog is its caller, which waits for its
// records before it takes more from the peer. One that does not (or a
// limit set below what it has in flight) fails its recording at
// max_session_backlog_bytes, and the channel ends (fail closed); the
// records it queued before are written, and so is its end, which the
// limit lets in. A record larger than the limit on its own is refused at
// once. The limit only rises (the gateway's reload).
TEST_F(RecorderTest, ASessionBacklogOverItsLimitFailsTheRecord) {
  options_.max_queue_bytes = 4096;
  options_.coalesce_data_bytes = 0;
  options_.max_session_backlog_bytes = 3000;
  options_.write_stall_limit = absl::Hours(1);
  HeldRecorder h;
  ASSERT_NO_FATAL_FAILURE(StartHeld(options_, h));
  std::vector<std::string> sent = {"b"};
  uint64_t last = 0;
  auto append = [&](const std::string& bytes) {
    absl::StatusOr<uint64_t> t = h.held.b->Append(Data(bytes));
    if (t.ok()) {
      sent.push_back(bytes);
      last = *t;
    }
    return t.status();
  };
  for (int i = 0; i < 5; ++i) {  // 3 in the queue, 2 parked: 2,512 bytes
    absl::Status st = append(std::string(1000, static_cast<char>('0' + i)));
    ASSERT_TRUE(st.ok()) << i << ": " << st;
  }
  absl::Status over = append(std::string(1000, 'y'));
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(over.message().find("max_session_backlog_bytes 3000"),
            std::string::npos)
      << over;
  EXPECT_EQ(append(std::string(3000, 'z')).code(),
            absl::StatusCode::kResourceExhausted);
  // A raised limit lets the session park more; a lower one changes
  // nothing.
  h.rec->RaiseMaxSessionBacklogBytes(4000);
  h.rec->RaiseMaxSessionBacklogBytes(1000);
  ASSERT_TRUE(append(std::string(1000, 'y')).ok());
  EXPECT_EQ(append(std::string(1000, 'w')).code(),
            absl::StatusCode::kResourceExhausted);
  // At its limit, the session ends (failed): the end is let in.
  h.held.b->End(v1::SESSION_STATUS_FAILED, "the recording failed");
  EXPECT_TRUE(h.held.b->status().ok()) << h.held.b->status();
  h.stall.Release();
  EXPECT_TRUE(WaitWritten(*h.held.b, last + 1));
  ASSERT_TRUE(WaitClosed(*h.held.b));
  EXPECT_EQ(h.rec->queued_bytes(), 0u);
  absl::StatusOr<SpoolContents> got =
      ReadSpool(SpoolPath(options_.spool_dir, "sess-b"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(DataBytes(*got), sent);
  ASSERT_FALSE(got->records.empty());
  EXPECT_TRUE(got->records.back().has_session_end());
}

// Data appended while its session's records are parked joins the last
// parked record (same channel, direction and stream, within
// coalesce_data_bytes), with its ticket, as it does in the queue; data
// that finds the queue's last record of its session without room in the
// queue parks as a new record.
TEST_F(RecorderTest, DataParkedBehindAFullQueueIsCoalesced) {
  options_.max_queue_bytes = 1024;
  options_.coalesce_data_bytes = 600;
  options_.write_stall_limit = absl::Hours(1);
  HeldRecorder h;
  ASSERT_NO_FATAL_FAILURE(StartHeld(options_, h));  // "b" queued: 257 bytes
  const std::string p(300, 'p'), q(300, 'q'), r(200, 'r'), t(200, 't');
  std::vector<uint64_t> tickets;
  for (const std::string& bytes : {p, q, r, t}) {
    absl::StatusOr<uint64_t> ticket = h.held.b->Append(Data(bytes));
    ASSERT_TRUE(ticket.ok()) << ticket.status();
    tickets.push_back(*ticket);
  }
  // p joins "b" in the queue (557 bytes counted); q would make that
  // record 601 bytes (> 600): a new record, counted 556, which does not
  // fit the queue (557 + 556 > 1024) and parks; r joins it (500 bytes),
  // t would make it 700 and starts another parked record.
  const uint64_t b = h.held.b_queued;
  EXPECT_EQ(tickets, (std::vector<uint64_t>{b, b + 1, b + 1, b + 2}));
  EXPECT_EQ(h.rec->parked_bytes(), (256u + 500) + (256 + 200));
  h.stall.Release();
  ASSERT_TRUE(WaitWritten(*h.held.b, b + 2));
  h.held.b->End(v1::SESSION_STATUS_ENDED, "");
  ASSERT_TRUE(WaitClosed(*h.held.b));
  absl::StatusOr<SpoolContents> got =
      ReadSpool(SpoolPath(options_.spool_dir, "sess-b"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(DataBytes(*got), (std::vector<std::string>{"b" + p, q + r, t}));
}

v1::RecordingRecord DataOf(uint32_t channel, v1::RecordDirection direction,
                           uint32_t stream, const std::string& bytes) {
  v1::RecordingRecord r;
  r.set_channel_id(channel);
  r.mutable_data()->set_direction(direction);
  r.mutable_data()->set_ssh_stream(stream);
  r.mutable_data()->set_bytes(bytes);
  return r;
}

// issue 14 benchmark: data that arrives while the writer is busy joins the
// session's previous data record when channel, direction and stream are
// the same and the sum stays within coalesce_data_bytes; anything else
// starts a new record. Coalesced appends share a ticket.
TEST_F(RecorderTest, DataQueuedWhileTheWriterIsBusyIsCoalesced) {
  options_.coalesce_data_bytes = 10;
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> rec =
      SpoolRecorder::Start(options_);
  ASSERT_TRUE(rec.ok());
  auto s = (*rec)->OpenSession(Meta("sess-c"), absl::Now());
  ASSERT_TRUE(s.ok());
  WriterStall stall;
  (*s)->SetWaker(stall.Waker());
  const auto out = v1::RECORD_DIRECTION_OUTPUT;
  const auto in = v1::RECORD_DIRECTION_INPUT;
  absl::StatusOr<uint64_t> t0 = (*s)->Append(DataOf(1, out, 0, "a"));
  ASSERT_TRUE(t0.ok());
  stall.WaitStalled();  // "a" is written; the writer is held
  std::vector<uint64_t> t;
  for (const v1::RecordingRecord& r :
       {DataOf(1, out, 0, "bb"), DataOf(1, out, 0, "cc"),    // one record
        DataOf(1, out, 1, "dd"),                             // stderr
        DataOf(1, in, 1, "ee"),                              // input
        DataOf(2, in, 1, "ff"),                              // channel 2
        DataOf(2, in, 1, "gggg"), DataOf(2, in, 1, "hhhh"),  // 10 bytes
        DataOf(2, in, 1, "i")}) {                            // 11: new
    absl::StatusOr<uint64_t> ticket = (*s)->Append(r);
    ASSERT_TRUE(ticket.ok()) << ticket.status();
    t.push_back(*ticket);
  }
  EXPECT_EQ(t, (std::vector<uint64_t>{2, 2, 3, 4, 5, 5, 5, 6}));
  EXPECT_EQ((*s)->last_queued(), 6u);
  EXPECT_FALSE((*s)->Written(2));
  stall.Release();
  ASSERT_TRUE(WaitWritten(**s, 6));
  (*s)->End(v1::SESSION_STATUS_ENDED, "");
  ASSERT_TRUE(WaitClosed(**s));
  absl::StatusOr<SpoolContents> c =
      ReadSpool(SpoolPath(options_.spool_dir, "sess-c"));
  ASSERT_TRUE(c.ok()) << c.status();
  const std::vector<std::string> data = DataBytes(*c);
  EXPECT_EQ(data, (std::vector<std::string>{"a", "bbcc", "dd", "ee",
                                            "ffgggghhhh", "i"}));
  ASSERT_EQ(c->records.size(), 8u);  // the start, 6 data records, the end
  for (size_t i = 0; i < c->records.size(); ++i) {
    EXPECT_EQ(c->records[i].seq(), i + 1);
  }
  EXPECT_EQ((*rec)->queued_bytes(), 0u);
}

// issue 14 benchmark: passes are paced. After a pass, what a busy stream
// appends within min_write_interval waits for the next pass and is
// coalesced into few records, instead of the writer taking each append as
// it comes (one record per SSH packet). Without pacing the appends below,
// 1 ms apart, are ~20 records: the writer wakes within microseconds.
TEST_F(RecorderTest, PacedPassesGatherABusyStreamIntoFewRecords) {
  options_.coalesce_data_bytes = kDefaultCoalesceDataBytes;
  options_.min_write_interval = kMaxMinWriteInterval;
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> rec =
      SpoolRecorder::Start(options_);
  ASSERT_TRUE(rec.ok());
  auto s = (*rec)->OpenSession(Meta("sess-p"), absl::Now());
  ASSERT_TRUE(s.ok());
  absl::StatusOr<uint64_t> first = (*s)->Append(Data("first"));
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(WaitWritten(**s, *first));
  std::string busy;
  uint64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    const std::string piece(100, static_cast<char>('a' + i));
    busy += piece;
    absl::StatusOr<uint64_t> t = (*s)->Append(Data(piece));
    ASSERT_TRUE(t.ok()) << t.status();
    last = *t;
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_TRUE(WaitWritten(**s, last));
  (*s)->End(v1::SESSION_STATUS_ENDED, "");
  ASSERT_TRUE(WaitClosed(**s));
  absl::StatusOr<SpoolContents> c =
      ReadSpool(SpoolPath(options_.spool_dir, "sess-p"));
  ASSERT_TRUE(c.ok()) << c.status();
  const std::vector<std::string> data = DataBytes(*c);
  ASSERT_GE(data.size(), 2u);
  EXPECT_EQ(data[0], "first");
  // Nothing lost or reordered; a loaded machine may split the 20+ ms of
  // appends over a pass or two more, never one record each.
  EXPECT_EQ(absl::StrJoin(data.begin() + 1, data.end(), ""), busy);
  EXPECT_LE(data.size() - 1, 4u) << "records: " << data.size() - 1;
}

}  // namespace
}  // namespace sallyport::audit
