// The recorder's writer thread over real spool files: records reach the
// file in order with their chain and wake the session, the end record
// closes the spool, and the limits and failures are reported.
#include "audit/recorder.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "audit/recorder_test_fixture.h"
#include "gtest/gtest.h"

namespace sallyport::audit {
namespace {

// Waits (up to 60 s) until `s` has written `seq` or failed.
bool WaitWritten(SessionRecording& s, uint64_t seq) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    if (s.Written(seq) || !s.status().ok()) return s.Written(seq);
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

// Waits (up to 60 s) until `s`, ended, has closed its spool.
bool WaitClosed(SessionRecording& s) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!s.closed() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  return s.closed();
}

// The data records' bytes, in order.
std::vector<std::string> DataBytes(const SpoolContents& c) {
  std::vector<std::string> data;
  for (const v1::RecordingRecord& r : c.records) {
    if (r.has_data()) data.push_back(r.data().bytes());
  }
  return data;
}

TEST_F(RecorderTest, RecordsReachTheSpoolInOrderAndWakeTheSession) {
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> rec =
      SpoolRecorder::Start(options_);
  ASSERT_TRUE(rec.ok()) << rec.status();
  const absl::Time start = absl::FromUnixSeconds(1700000000);
  absl::StatusOr<std::shared_ptr<SessionRecording>> s =
      (*rec)->OpenSession(Meta("sess-a"), start);
  ASSERT_TRUE(s.ok()) << s.status();
  std::atomic<int> wakes{0};
  (*s)->SetWaker([&] { wakes.fetch_add(1); });
  std::string all;
  uint64_t last = 0;
  for (int i = 0; i < 300; ++i) {
    const std::string piece(1000 + i, static_cast<char>('a' + i % 26));
    all += piece;
    absl::StatusOr<uint64_t> seq = (*s)->Append(Data(piece));
    ASSERT_TRUE(seq.ok()) << seq.status();
    EXPECT_EQ(*seq, last + 1);
    last = *seq;
  }
  ASSERT_TRUE(WaitWritten(**s, last));
  EXPECT_GT(wakes.load(), 0);
  (*s)->End(v1::SESSION_STATUS_ENDED, "bye");
  EXPECT_EQ((*s)->Append(Data("late")).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(WaitClosed(**s));

  absl::StatusOr<SpoolContents> c =
      ReadSpool(SpoolPath(options_.spool_dir, "sess-a"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->session.gateway_id(), "gw-1");
  EXPECT_EQ(c->session.started_at_us(), absl::ToUnixMicros(start));
  // Record 1: the session's metadata, so that the chain covers it.
  ASSERT_EQ(c->records.size(), 302u);
  ASSERT_TRUE(c->records[0].has_session_start());
  EXPECT_EQ(c->records[0].seq(), 1u);
  EXPECT_EQ(c->records[0].session_start().user(), c->session.user());
  EXPECT_EQ(c->records[0].session_start().login(), c->session.login());
  EXPECT_EQ(c->records[0].session_start().host(), c->session.host());
  EXPECT_EQ(c->records[0].session_start().started_at_us(),
            absl::ToUnixMicros(start));
  std::string got;
  for (size_t i = 1; i <= 300; ++i) got += c->records[i].data().bytes();
  EXPECT_EQ(got, all);
  EXPECT_EQ(c->records.back().session_end().message(), "bye");
  EXPECT_EQ(c->torn_bytes, 0u);
  EXPECT_EQ((*rec)->spool_bytes(), static_cast<int64_t>(c->good_bytes));
  EXPECT_EQ((*rec)->queued_bytes(), 0u);
}

// recpol: the recorder_backlog_bytes gauge sees a queued record's bytes and
// sees them go once the writer took them.
// spool_fsync_interval: a session whose records keep coming is fdatasync'd
// every interval while it is open (not only at its end): one fsync per
// interval in which something was written, none while nothing was.
TEST_F(RecorderTest, AnOpenSessionIsSyncedEveryInterval) {
  options_.fsync_interval = absl::Milliseconds(50);
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> rec =
      SpoolRecorder::Start(options_);
  ASSERT_TRUE(rec.ok()) << rec.status();
  auto s = (*rec)->OpenSession(Meta("sess-sync"), absl::Now());
  ASSERT_TRUE(s.ok()) << s.status();
  // The first sync makes the new file and its directory entry durable.
  for (uint64_t want = 1; want <= 4; ++want) {
    if (want > 1) {
      absl::StatusOr<uint64_t> seq = (*s)->Append(Data("some output"));
      ASSERT_TRUE(seq.ok()) << seq.status();
      ASSERT_TRUE(WaitWritten(**s, *seq));
    }
    // Far longer than the 50 ms interval, well inside the test's timeout.
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while ((*s)->syncs() < want && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    ASSERT_EQ((*s)->syncs(), want) << "the open session was not synced";
  }
  EXPECT_FALSE((*s)->closed());
  // The end record is synced once more, at the close.
  (*s)->End(v1::SESSION_STATUS_ENDED, "");
  ASSERT_TRUE(WaitClosed(**s));
  EXPECT_EQ((*s)->syncs(), 5u);
}

// With an interval longer than the session, nothing is synced while it
// runs, and everything is synced once at its end.
TEST_F(RecorderTest, ASessionIsSyncedAtItsEndWhateverTheInterval) {
  options_.fsync_interval = absl::Hours(1);
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> rec =
      SpoolRecorder::Start(options_);
  ASSERT_TRUE(rec.ok()) << rec.status();
  auto s = (*rec)->OpenSession(Meta("sess-end"), absl::Now());
  ASSERT_TRUE(s.ok()) << s.status();
  uint64_t last = 0;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<uint64_t> seq = (*s)->Append(Data("more output"));
    ASSERT_TRUE(seq.ok()) << seq.status();
    last = *seq;
  }
  ASSERT_TRUE(WaitWritten(**s, last));
  EXPECT_EQ((*s)->syncs(), 0u);
  (*s)->End(v1::SESSION_STATUS_ENDED, "");
  ASSERT_TRUE(WaitClosed(**s));
  EXPECT_EQ((*s)->syncs(), 1u);
  absl::StatusOr<SpoolContents> c =
      ReadSpool(SpoolPath(options_.spool_dir, "sess-end"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->records.size(), 5u);  // the start, 3 data records, the end
}

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
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> rec =
      SpoolRecorder::Start(options_);
  ASSERT_TRUE(rec.ok());
  WriterStall stall;
  HeldWriter held;
  HoldTheWriter(**rec, stall, held);  // b's "b" is queued (257 bytes)
  if (HasFatalFailure()) return;
  auto c = (*rec)->OpenSession(Meta("sess-c"), absl::Now());
  ASSERT_TRUE(c.ok());
  // 1,256 bytes each in the queue: b0, c0 and b1 fit beside "b"; c1 does
  // not and waits, and so does everything after it, of c and of b (whose
  // b2 finds the queue full, and whose later records follow it in order).
  std::vector<std::string> b_sent = {"b"}, c_sent;
  uint64_t b_last = 0, c_last = 0;
  for (int i = 0; i < 5; ++i) {
    b_sent.push_back(std::string(1000, static_cast<char>('0' + i)));
    absl::StatusOr<uint64_t> t = held.b->Append(Data(b_sent.back()));
    ASSERT_TRUE(t.ok()) << t.status();
    b_last = *t;
    c_sent.push_back(std::string(1000, static_cast<char>('A' + i)));
    t = (*c)->Append(Data(c_sent.back()));
    ASSERT_TRUE(t.ok()) << t.status();
    c_last = *t;
  }
  EXPECT_EQ(b_last, held.b_queued + 5);
  EXPECT_EQ((*rec)->parked_bytes(), 7u * 1256);  // b's last 3, all of c's
  EXPECT_EQ((*rec)->queued_bytes(), 257u + 3 * 1256 + 7 * 1256);
  {
    absl::MutexLock lock(&backlog_mu);
    EXPECT_EQ(backlog.back(), 257 + 10 * 1256);  // the gauge counts both
  }
  // An end waits behind its session's parked records too.
  held.b->End(v1::SESSION_STATUS_ENDED, "done");
  (*c)->End(v1::SESSION_STATUS_ENDED, "done");
  EXPECT_FALSE(held.b->Written(held.b_queued));
  EXPECT_TRUE(held.b->status().ok());
  EXPECT_TRUE((*c)->status().ok());
  stall.Release();
  ASSERT_TRUE(WaitWritten(*held.b, b_last + 1));
  ASSERT_TRUE(WaitWritten(**c, c_last + 1));
  ASSERT_TRUE(WaitClosed(*held.b));
  ASSERT_TRUE(WaitClosed(**c));
  EXPECT_EQ((*rec)->parked_bytes(), 0u);
  EXPECT_EQ((*rec)->queued_bytes(), 0u);
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
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> rec =
      SpoolRecorder::Start(options_);
  ASSERT_TRUE(rec.ok());
  WriterStall stall;
  HeldWriter held;
  HoldTheWriter(**rec, stall, held);
  if (HasFatalFailure()) return;
  std::vector<std::string> sent = {"b"};
  uint64_t last = 0;
  auto append = [&](const std::string& bytes) {
    absl::StatusOr<uint64_t> t = held.b->Append(Data(bytes));
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
  (*rec)->RaiseMaxSessionBacklogBytes(4000);
  (*rec)->RaiseMaxSessionBacklogBytes(1000);
  ASSERT_TRUE(append(std::string(1000, 'y')).ok());
  EXPECT_EQ(append(std::string(1000, 'w')).code(),
            absl::StatusCode::kResourceExhausted);
  // At its limit, the session ends (failed): the end is let in.
  held.b->End(v1::SESSION_STATUS_FAILED, "the recording failed");
  EXPECT_TRUE(held.b->status().ok()) << held.b->status();
  stall.Release();
  EXPECT_TRUE(WaitWritten(*held.b, last + 1));
  ASSERT_TRUE(WaitClosed(*held.b));
  EXPECT_EQ((*rec)->queued_bytes(), 0u);
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
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> rec =
      SpoolRecorder::Start(options_);
  ASSERT_TRUE(rec.ok());
  WriterStall stall;
  HeldWriter held;
  HoldTheWriter(**rec, stall, held);  // "b" queued: 257 bytes
  if (HasFatalFailure()) return;
  const std::string p(300, 'p'), q(300, 'q'), r(200, 'r'), t(200, 't');
  std::vector<uint64_t> tickets;
  for (const std::string& bytes : {p, q, r, t}) {
    absl::StatusOr<uint64_t> ticket = held.b->Append(Data(bytes));
    ASSERT_TRUE(ticket.ok()) << ticket.status();
    tickets.push_back(*ticket);
  }
  // p joins "b" in the queue (557 bytes counted); q would make that
  // record 601 bytes (> 600): a new record, counted 556, which does not
  // fit the queue (557 + 556 > 1024) and parks; r joins it (500 bytes),
  // t would make it 700 and starts another parked record.
  const uint64_t b = held.b_queued;
  EXPECT_EQ(tickets, (std::vector<uint64_t>{b, b + 1, b + 1, b + 2}));
  EXPECT_EQ((*rec)->parked_bytes(), (256u + 500) + (256 + 200));
  stall.Release();
  ASSERT_TRUE(WaitWritten(*held.b, b + 2));
  held.b->End(v1::SESSION_STATUS_ENDED, "");
  ASSERT_TRUE(WaitClosed(*held.b));
  absl::StatusOr<SpoolContents> got =
      ReadSpool(SpoolPath(options_.spool_dir, "sess-b"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(DataBytes(*got), (std::vector<std::string>{"b" + p, q + r, t}));
}

// spool_max_bytes: a session opens while the spool holds up to that much
// (at the limit included); above it new sessions are refused with the
// reason, and the sessions already recording go on.
TEST_F(RecorderTest, NewSessionsAreRefusedAboveSpoolMaxBytes) {
  options_.spool_max_bytes = 4096;
  ASSERT_EQ(::mkdir(options_.spool_dir.c_str(), 0700), 0);
  {
    // A spool left from before (not yet shipped): exactly the limit.
    std::ofstream f(SpoolPath(options_.spool_dir, "old"), std::ios::binary);
    f << std::string(4096, 'x');
  }
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> rec =
      SpoolRecorder::Start(options_);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ((*rec)->spool_bytes(), 4096);
  absl::StatusOr<std::shared_ptr<SessionRecording>> a =
      (*rec)->OpenSession(Meta("sess-a"), absl::Now());
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE((*a)->Append(Data(std::string(10000, 'a'))).ok());
  ASSERT_TRUE(WaitWritten(**a, 1));
  EXPECT_GT((*rec)->spool_bytes(), 4096 + 10000);
  absl::StatusOr<std::shared_ptr<SessionRecording>> b =
      (*rec)->OpenSession(Meta("sess-b"), absl::Now());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(b.status().message().find("spool_max_bytes"), std::string::npos);
  // The session already recording goes on.
  absl::StatusOr<uint64_t> more = (*a)->Append(Data(std::string(10000, 'b')));
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_TRUE(WaitWritten(**a, *more));
  (*rec)->ForgetSpoolBytes((*rec)->spool_bytes());  // shipped and deleted
  EXPECT_TRUE((*rec)->OpenSession(Meta("sess-b"), absl::Now()).ok());
}

TEST_F(RecorderTest, AnUnusableSpoolDirectoryRefusesSessions) {
  {
    std::ofstream f(dir_->path() + "/file");
    f << "x";
  }
  RecorderOptions bad = options_;
  bad.spool_dir = dir_->path() + "/file/spool";
  EXPECT_FALSE(SpoolRecorder::Start(bad).ok());
  // The directory vanishes after the start.
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> rec =
      SpoolRecorder::Start(options_);
  ASSERT_TRUE(rec.ok());
  ASSERT_EQ(::unlink((options_.spool_dir + "/.lock").c_str()), 0);
  ASSERT_EQ(::rmdir(options_.spool_dir.c_str()), 0);
  EXPECT_FALSE((*rec)->OpenSession(Meta("sess-x"), absl::Now()).ok());
}

// Two gateways on one spool_dir: the second one's recorder (and so its
// shipper, which would take the first one's live spools for a dead
// process's, cut them and end them as interrupted) does not start, naming
// the directory. Once the first one is gone, a new one starts.
TEST_F(RecorderTest, ASecondRecorderOnTheSameSpoolDirIsRefused) {
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> first =
      SpoolRecorder::Start(options_);
  ASSERT_TRUE(first.ok()) << first.status();
  auto live = (*first)->OpenSession(Meta("sess-live"), absl::Now());
  ASSERT_TRUE(live.ok());
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> second =
      SpoolRecorder::Start(options_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(second.status().message(),
            absl::StrCat("spool_dir ", options_.spool_dir,
                         " is in use by another sallyport-gateway process"));
  (*live)->End(v1::SESSION_STATUS_ENDED, "");
  first->reset();
  struct stat st;
  ASSERT_EQ(::stat(SpoolPath(options_.spool_dir, "sess-live").c_str(), &st), 0);
  const int64_t spooled = st.st_size;
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> third =
      SpoolRecorder::Start(options_);
  ASSERT_TRUE(third.ok()) << third.status();
  // The lock file is not a spool: only the session's file counts.
  EXPECT_EQ((*third)->spool_bytes(), spooled);
}

// A burst (here one 512 KiB record, like a channel window's worth of
// output) grows the session's write buffer; after the write it is let go,
// not kept for the rest of the session (1000 idle sessions after a burst
// each held their largest write, outside max_queue_bytes). A small write's
// buffer is kept.
TEST_F(RecorderTest, ABurstsWriteBufferIsNotKeptForTheSession) {
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> rec =
      SpoolRecorder::Start(options_);
  ASSERT_TRUE(rec.ok()) << rec.status();
  auto s = (*rec)->OpenSession(Meta("sess-burst"), absl::Now());
  ASSERT_TRUE(s.ok());
  absl::StatusOr<uint64_t> small = (*s)->Append(Data(std::string(1000, 's')));
  ASSERT_TRUE(small.ok());
  ASSERT_TRUE(WaitWritten(**s, *small));
  EXPECT_GT((*s)->buffer_capacity(), 1000u);
  absl::StatusOr<uint64_t> burst =
      (*s)->Append(Data(std::string(512 << 10, 'b')));
  ASSERT_TRUE(burst.ok()) << burst.status();
  ASSERT_TRUE(WaitWritten(**s, *burst));
  EXPECT_LE((*s)->buffer_capacity(), kMaxIdleWriteBufferBytes);
  (*s)->End(v1::SESSION_STATUS_ENDED, "");
  ASSERT_TRUE(WaitClosed(**s));
  absl::StatusOr<SpoolContents> c =
      ReadSpool(SpoolPath(options_.spool_dir, "sess-burst"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(DataBytes(*c),
            (std::vector<std::string>{std::string(1000, 's'),
                                      std::string(512 << 10, 'b')}));
}

// What the shipper may upload of a live spool: the bytes the last
// fdatasync covered, the whole file once the syncer has caught up; nothing
// for a spool that is closed.
TEST_F(RecorderTest, SyncedBytesFollowTheFdatasyncs) {
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> rec =
      SpoolRecorder::Start(options_);
  ASSERT_TRUE(rec.ok()) << rec.status();
  auto s = (*rec)->OpenSession(Meta("sess-sync"), absl::Now());
  ASSERT_TRUE(s.ok());
  absl::StatusOr<uint64_t> t = (*s)->Append(Data(std::string(5000, 'x')));
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(WaitWritten(**s, *t));
  const std::string path = SpoolPath(options_.spool_dir, "sess-sync");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while ((*rec)->SyncedBytes("sess-sync") != size && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ((*rec)->SyncedBytes("sess-sync"), size);
  EXPECT_EQ((*s)->synced_bytes(), size);
  EXPECT_GE((*s)->syncs(), 1u);
  EXPECT_EQ((*rec)->SyncedBytes("nobody"), std::nullopt);
  (*s)->End(v1::SESSION_STATUS_ENDED, "");
  ASSERT_TRUE(WaitClosed(**s));
  EXPECT_EQ((*rec)->SyncedBytes("sess-sync"), std::nullopt);
}

TEST_F(RecorderTest, AWriteErrorFailsTheSessionAndWakesIt) {
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> rec =
      SpoolRecorder::Start(options_);
  ASSERT_TRUE(rec.ok());
  // Spools closed without their end are reported (to the shipper).
  absl::Mutex closed_mu;
  std::vector<ClosedWithoutEnd> closed;
  (*rec)->SetClosedWithoutEnd([&](const ClosedWithoutEnd& c) {
    absl::MutexLock lock(&closed_mu);
    closed.push_back(c);
  });
  // A session that ends well is not.
  auto fine = (*rec)->OpenSession(Meta("sess-fine"), absl::Now());
  ASSERT_TRUE(fine.ok());
  ASSERT_TRUE((*fine)->Append(Data("ok")).ok());
  (*fine)->End(v1::SESSION_STATUS_ENDED, "");
  for (int i = 0; i < 600 && !(*fine)->closed(); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE((*fine)->closed());
  auto s = (*rec)->OpenSession(Meta("sess-w"), absl::Now());
  ASSERT_TRUE(s.ok());
  absl::Notification woke;
  (*s)->SetWaker([&] {
    if (!(*s)->status().ok() && !woke.HasBeenNotified()) woke.Notify();
  });
  // Files of this process may not grow past 64 KiB: write(2) fails with
  // EFBIG (SIGXFSZ ignored), like a full disk would fail it.
  struct rlimit old;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = 64 * 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  for (int i = 0; i < 20 && (*s)->status().ok(); ++i) {
    (void)(*s)->Append(Data(std::string(16 * 1024, 'y')));
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(woke.WaitForNotificationWithTimeout(absl::Seconds(60)));
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
  EXPECT_FALSE((*s)->status().ok());
  EXPECT_NE((*s)->status().message().find("could not be written"),
            std::string::npos)
      << (*s)->status();
  EXPECT_FALSE((*s)->Append(Data("more")).ok());
  // The session ends: its spool is closed without an end record, and
  // reported with the reason.
  (*s)->End(v1::SESSION_STATUS_FAILED, "the session recording failed");
  for (int i = 0; i < 600 && !(*s)->closed(); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE((*s)->closed());
  (*rec)->SetClosedWithoutEnd(nullptr);
  {
    absl::MutexLock lock(&closed_mu);
    ASSERT_EQ(closed.size(), 1u);
    EXPECT_EQ(closed[0].session_id, "sess-w");
    EXPECT_EQ(closed[0].status, v1::SESSION_STATUS_FAILED);
    EXPECT_NE(closed[0].message.find("could not be written"), std::string::npos)
        << closed[0].message;
    EXPECT_GT(closed[0].offset_us, 0);
  }
  // What was written before the failure reads back (the torn tail aside),
  // without an end.
  absl::StatusOr<SpoolContents> c =
      ReadSpool(SpoolPath(options_.spool_dir, "sess-w"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_GE(c->records.size(), 3u);
  EXPECT_FALSE(c->records.back().has_session_end());
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

// A spool disk that hangs (here: the writer held in a pass) fails every
// open session with the reason once write_stall_limit passed, and wakes
// it (a strict session then ends with the message instead of hanging);
// new sessions are refused until the writer moves again.
TEST_F(RecorderTest, AWriterThatMakesNoProgressFailsTheSessions) {
  options_.write_stall_limit = absl::Milliseconds(300);
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> rec =
      SpoolRecorder::Start(options_);
  ASSERT_TRUE(rec.ok());
  WriterStall stall;
  HeldWriter held;
  HoldTheWriter(**rec, stall, held);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(held.b_woken->WaitForNotificationWithTimeout(absl::Seconds(60)));
  EXPECT_FALSE(held.b->status().ok());
  EXPECT_NE(held.b->status().message().find("has not finished a write"),
            std::string::npos)
      << held.b->status();
  EXPECT_FALSE(held.a->status().ok());
  EXPECT_FALSE(held.b->Written(held.b_queued));
  absl::StatusOr<std::shared_ptr<SessionRecording>> c =
      (*rec)->OpenSession(Meta("sess-c"), absl::Now());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  // The disk moves again: new sessions open.
  stall.Release();
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  absl::StatusOr<std::shared_ptr<SessionRecording>> d;
  do {
    d = (*rec)->OpenSession(Meta("sess-d"), absl::Now());
    if (!d.ok()) absl::SleepFor(absl::Milliseconds(20));
  } while (!d.ok() && absl::Now() < deadline);
  EXPECT_TRUE(d.ok()) << d.status();
}

// A slow disk that keeps writing is no hung one: a pass over many
// sessions may take longer than write_stall_limit as long as each
// session's write returns within it (here the wakers, run on the writer
// after each write, take 150 ms each: 750 ms for the pass, limit 400 ms).
// Timed from the pass's start, the watchdog failed every session.
TEST_F(RecorderTest, ALongPassThatKeepsWritingIsNoStall) {
  options_.write_stall_limit = absl::Milliseconds(400);
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> rec =
      SpoolRecorder::Start(options_);
  ASSERT_TRUE(rec.ok());
  std::vector<std::shared_ptr<SessionRecording>> slow;
  for (int i = 0; i < 5; ++i) {
    auto s = (*rec)->OpenSession(Meta(absl::StrCat("sess-s", i)), absl::Now());
    ASSERT_TRUE(s.ok()) << s.status();
    (*s)->SetWaker([] { absl::SleepFor(absl::Milliseconds(150)); });
    slow.push_back(*s);
  }
  auto a = (*rec)->OpenSession(Meta("sess-a"), absl::Now());
  ASSERT_TRUE(a.ok());
  WriterStall stall;
  (*a)->SetWaker(stall.Waker());
  ASSERT_TRUE((*a)->Append(Data("a")).ok());
  stall.WaitStalled();  // the next pass takes all five
  std::vector<uint64_t> tickets;
  for (auto& s : slow) {
    absl::StatusOr<uint64_t> t = s->Append(Data("x"));
    ASSERT_TRUE(t.ok()) << t.status();
    tickets.push_back(*t);
  }
  stall.Release();
  for (size_t i = 0; i < slow.size(); ++i) {
    EXPECT_TRUE(WaitWritten(*slow[i], tickets[i])) << slow[i]->status();
    EXPECT_TRUE(slow[i]->status().ok()) << slow[i]->status();
  }
  EXPECT_TRUE((*a)->status().ok()) << (*a)->status();
  EXPECT_TRUE((*rec)->AcceptingSessions().ok());
}

}  // namespace
}  // namespace sallyport::audit
