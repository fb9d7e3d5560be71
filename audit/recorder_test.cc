// The recorder's writer thread over real spool files: records reach the
// file in order with their chain and wake the session, the end record
// closes the spool, and the limits and failures are reported. The queue
// and the sessions' backlogs: recorder_queue_test.cc.
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

// A spool disk that hangs (here: the writer held in a pass) fails every
// open session with the reason once write_stall_limit passed, and wakes
// it (a strict session then ends with the message instead of hanging);
// new sessions are refused until the writer moves again.
TEST_F(RecorderTest, AWriterThatMakesNoProgressFailsTheSessions) {
  options_.write_stall_limit = absl::Milliseconds(300);
  HeldRecorder h;
  ASSERT_NO_FATAL_FAILURE(StartHeld(options_, h));
  ASSERT_TRUE(
      h.held.b_woken->WaitForNotificationWithTimeout(absl::Seconds(60)));
  EXPECT_FALSE(h.held.b->status().ok());
  EXPECT_NE(h.held.b->status().message().find("has not finished a write"),
            std::string::npos)
      << h.held.b->status();
  EXPECT_FALSE(h.held.a->status().ok());
  EXPECT_FALSE(h.held.b->Written(h.held.b_queued));
  absl::StatusOr<std::shared_ptr<SessionRecording>> c =
      h.rec->OpenSession(Meta("sess-c"), absl::Now());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  // The disk moves again: new sessions open.
  h.stall.Release();
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  absl::StatusOr<std::shared_ptr<SessionRecording>> d;
  do {
    d = h.rec->OpenSession(Meta("sess-d"), absl::Now());
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
