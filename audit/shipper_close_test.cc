// The recording shipper (issue 14) with sessions it closes without their
// end record: a spool left by a dead process is repaired (its torn tail
// cut) and closed as interrupted; the channels it left open are closed
// with the bytes the spool holds of them; a live session whose recording
// failed (disk full) and which the recorder closed without an end
// (Closed) is ended as failed and its spool deleted, the end sent from
// memory when the disk has no room for it. The fixture is in
// shipper_test_fixture.h.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "audit/recording_record.h"
#include "audit/recording_store.h"
#include "audit/recording_writer.h"
#include "audit/shipper.h"
#include "audit/shipper_test_fixture.h"
#include "audit/spool.h"
#include "gtest/gtest.h"

namespace sallyport::audit {
namespace {

// Appends one record (chained) to a spool.
void AppendRecord(SpoolWriter& w, RecordChainer& chain, v1::RecordingRecord r) {
  r.set_offset_us(1000 * static_cast<int64_t>(chain.last_seq() + 1));
  ASSERT_TRUE(chain.Append(r).ok());
  std::string buffer;
  ASSERT_TRUE(SpoolWriter::EncodeFrame(r, buffer).ok());
  ASSERT_TRUE(w.Write(buffer).ok());
}

// A channel's open, data and close records.
v1::RecordingRecord Open(uint32_t channel) {
  v1::RecordingRecord r;
  r.set_channel_id(channel);
  r.mutable_channel_open()->set_type("session");
  return r;
}

v1::RecordingRecord Bytes(uint32_t channel, v1::RecordDirection d, size_t n) {
  v1::RecordingRecord r;
  r.set_channel_id(channel);
  r.mutable_data()->set_direction(d);
  r.mutable_data()->set_bytes(std::string(n, 'b'));
  return r;
}

v1::RecordingRecord Close(uint32_t channel, uint64_t in, uint64_t out) {
  v1::RecordingRecord r;
  r.set_channel_id(channel);
  r.mutable_channel_close()->set_bytes_input(in);
  r.mutable_channel_close()->set_bytes_output(out);
  return r;
}

TEST_F(ShipperTest, DeadProcessSpoolIsRepairedAndClosedAsInterrupted) {
  int64_t dead_size = 0;
  {
    auto w = SpoolWriter::Create(spool_dir_, Meta("dead"));
    ASSERT_TRUE(w.ok());
    RecordChainer chain("dead");
    Append(*w, chain, 4, false);
    // A torn last frame: the header of a frame and a few bytes.
    ASSERT_TRUE(w->Write(std::string("\x00\x00\x01\x00Rtorn", 9)).ok());
    dead_size = static_cast<int64_t>(w->size());
    ASSERT_TRUE(w->Close().ok());
  }
  auto shipper = StartShipper();  // present at Start: its process is gone
  ASSERT_TRUE(shipper->RunOnce().ok());
  // What the recorder counted at Start (the whole file) is forgotten: not
  // less, not more (the appended end made the count go negative).
  EXPECT_EQ(deleted_bytes_, dead_size);
  auto s = store_->GetSession("dead");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->last_seq, 5u);
  EXPECT_EQ(s->status, storage::SessionStatus::kInterrupted);
  // Its real end: the last record's time.
  EXPECT_EQ(s->ended_at, absl::FromUnixMicros(1700000000000000 + 4000));
  EXPECT_FALSE(Exists("dead"));
  EXPECT_EQ(shipper->stats().interrupted_total, 1u);
  // The cut tail is an audit event, and so is the shipped recording.
  EXPECT_EQ(events_,
            (std::vector<std::string>{
                "recording.repaired dead alice {\"torn_bytes\":9,\"reason\":"
                "\"a torn last record after a crash was cut\"}",
                "recording.complete dead alice "
                "{\"records\":5,\"status\":\"interrupted\"}"}));
  // Its session.end, which the stopped gateway never sent: the CA's, with
  // the end it stored.
  EXPECT_EQ(StoredEvents("session.end"),
            std::vector<std::string>{
                "alice {\"gateway\":\"gw-a\",\"session_id\":\"dead\","
                "\"user\":\"alice\",\"outcome\":\"interrupted\","
                "\"duration_ms\":4,\"bytes_in\":0,\"bytes_out\":0,"
                "\"reason\":\"the gateway stopped before the session ended "
                "(recovered from the spool)\"}"});
}

// The CA until the gateway is killed: the message holding the session's
// end (the shipper appended it to the spool) never arrives.
class KilledBeforeTheEnd : public RecordingUploader {
 public:
  explicit KilledBeforeTheEnd(RecordingUploader& ca) : ca_(ca) {}
  absl::StatusOr<v1::RecordingSession> Upload(
      const v1::RecordingSession& session, const NextBatch& next) override {
    return ca_.Upload(
        session,
        [&](std::vector<v1::RecordingRecord>& out) -> absl::StatusOr<bool> {
          absl::StatusOr<bool> more = next(out);
          for (const v1::RecordingRecord& r : out) {
            if (r.has_session_end()) return absl::UnavailableError("killed");
          }
          return more;
        });
  }

 private:
  RecordingUploader& ca_;
};

// The CA, whose first answer to records is lost (it stored them).
class LosesAnAnswer : public RecordingUploader {
 public:
  explicit LosesAnAnswer(RecordingUploader& ca) : ca_(ca) {}
  absl::StatusOr<v1::RecordingSession> Upload(
      const v1::RecordingSession& session, const NextBatch& next) override {
    bool records = false;
    absl::StatusOr<v1::RecordingSession> stored = ca_.Upload(
        session,
        [&](std::vector<v1::RecordingRecord>& out) -> absl::StatusOr<bool> {
          absl::StatusOr<bool> more = next(out);
          if (more.ok() && *more) records = true;
          return more;
        });
    if (stored.ok() && records && !lost_) {
      lost_ = true;
      return absl::UnavailableError("the answer was lost");
    }
    return stored;
  }

 private:
  RecordingUploader& ca_;
  bool lost_ = false;
};

// The shipper appended an interrupted end to a dead process's spool and
// queued the session.end in memory: a SIGKILL right after the append lost
// the event for good (the next start finds the spool ended and makes
// none). The CA now writes it with the end it stores: the next start's
// shipper gets exactly one into the audit log, and an end sent again
// (its answer lost) adds no second.
TEST_F(ShipperTest, AnInterruptedEndSurvivesAKillAfterItsAppend) {
  {
    auto w = SpoolWriter::Create(spool_dir_, Meta("killed"));
    ASSERT_TRUE(w.ok());
    RecordChainer chain("killed");
    AppendRecord(*w, chain, Open(1));
    AppendRecord(*w, chain, Bytes(1, v1::RECORD_DIRECTION_OUTPUT, 40));
    ASSERT_TRUE(w->Close().ok());
  }
  {
    // A gateway start that closes the spool, and is killed before the
    // end reaches the CA.
    KilledBeforeTheEnd killed(*uploader_);
    ShipperOptions o;
    o.uploader = &killed;
    auto shipper = StartShipper(std::move(o));
    EXPECT_FALSE(shipper->RunOnce().ok());
    EXPECT_EQ(shipper->stats().interrupted_total, 1u);
  }
  ASSERT_TRUE(Exists("killed"));
  EXPECT_EQ(store_->GetSession("killed")->status,
            storage::SessionStatus::kActive);
  EXPECT_TRUE(StoredEvents("session.end").empty());
  // The next start ships the spool as it is, its end included.
  events_.clear();
  LosesAnAnswer lossy(*uploader_);
  ShipperOptions o;
  o.uploader = &lossy;
  auto shipper = StartShipper(std::move(o));
  EXPECT_FALSE(shipper->RunOnce().ok());  // stored; the answer was lost
  now_ += absl::Minutes(5);
  ASSERT_TRUE(shipper->RunOnce().ok());  // the end sent again
  EXPECT_FALSE(Exists("killed"));
  absl::StatusOr<storage::Session> s = store_->GetSession("killed");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->status, storage::SessionStatus::kInterrupted);
  EXPECT_EQ(s->last_seq, 4u);  // open, data, close 1, end
  EXPECT_EQ(StoredEvents("session.end"),
            std::vector<std::string>{
                "alice {\"gateway\":\"gw-a\",\"session_id\":\"killed\","
                "\"user\":\"alice\",\"outcome\":\"interrupted\","
                "\"duration_ms\":2,\"bytes_in\":0,\"bytes_out\":40,"
                "\"reason\":\"the gateway stopped before the session ended "
                "(recovered from the spool)\"}"});
  for (const std::string& e : events_) {
    EXPECT_FALSE(absl::StartsWith(e, "session.end")) << e;
  }
  // The whole end sent once more (another shipper's resend): nothing more.
  absl::StatusOr<std::vector<storage::SessionRecord>> rows =
      store_->ListSessionRecords("killed", 0, 10);
  ASSERT_TRUE(rows.ok()) << rows.status();
  std::vector<v1::RecordingRecord> again;
  for (const storage::SessionRecord& row : *rows) {
    absl::StatusOr<v1::RecordingRecord> r = FromStoreRecord(row);
    ASSERT_TRUE(r.ok()) << r.status();
    again.push_back(*r);
  }
  RecordingWriter writer(*store_);
  ASSERT_TRUE(writer.Write(kGateway, "killed", again).ok());
  EXPECT_EQ(StoredEvents("session.end").size(), 1u);
}

// The channels a dead process left open are closed before the end, with
// the bytes the spool holds of them: the session's byte counts are theirs
// plus the closed channels' own counts (they were 0 for every interrupted
// session).
TEST_F(ShipperTest, InterruptedSessionsOpenChannelsAreClosedWithTheirBytes) {
  {
    auto w = SpoolWriter::Create(spool_dir_, Meta("open"));
    ASSERT_TRUE(w.ok());
    RecordChainer chain("open");
    AppendRecord(*w, chain, Open(1));
    AppendRecord(*w, chain, Open(2));
    AppendRecord(*w, chain, Bytes(1, v1::RECORD_DIRECTION_INPUT, 7));
    AppendRecord(*w, chain, Bytes(1, v1::RECORD_DIRECTION_OUTPUT, 300));
    AppendRecord(*w, chain, Bytes(2, v1::RECORD_DIRECTION_OUTPUT, 50));
    AppendRecord(*w, chain, Close(2, 11, 5000));  // counted by the gateway
    AppendRecord(*w, chain, Open(3));
    AppendRecord(*w, chain, Bytes(3, v1::RECORD_DIRECTION_OUTPUT, 20));
    ASSERT_TRUE(w->Close().ok());
  }
  auto shipper = StartShipper();
  ASSERT_TRUE(shipper->RunOnce().ok());
  absl::StatusOr<storage::Session> s = store_->GetSession("open");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->status, storage::SessionStatus::kInterrupted);
  EXPECT_EQ(s->last_seq, 11u);  // 8 + close 1, close 3, end
  EXPECT_EQ(s->bytes_in, 7 + 11);
  EXPECT_EQ(s->bytes_out, 300 + 5000 + 20);
  EXPECT_FALSE(Exists("open"));
  // The session.end event carries the same totals.
  std::vector<std::string> ended = StoredEvents("session.end");
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_TRUE(absl::StrContains(
      ended[0], absl::StrCat("\"bytes_in\":", 7 + 11,
                             ",\"bytes_out\":", 300 + 5000 + 20)))
      << ended[0];
}

// A live session whose recording failed (its disk full: a torn last
// frame) and which the recorder closed without an end (Closed): once its
// records are at the CA the shipper cuts the torn tail, ends the session as
// failed with the reason at the time it ended, and deletes the spool (it
// stayed active at the CA, and its spool counted against spool_max_bytes,
// for ever).
TEST_F(ShipperTest, FailedRecordingIsEndedAsFailedAndDeleted) {
  auto shipper = StartShipper();  // the spool is made after Start: live
  auto w = SpoolWriter::Create(spool_dir_, Meta("full"));
  ASSERT_TRUE(w.ok());
  RecordChainer chain("full");
  Append(*w, chain, 3, false);
  const int64_t written = static_cast<int64_t>(w->size());
  (void)w->Write(std::string("\x00\x00\x01\x00Rtor", 8));
  ASSERT_TRUE(w->Close().ok());
  ASSERT_TRUE(shipper->RunOnce().ok());
  EXPECT_EQ(store_->GetSession("full")->status,
            storage::SessionStatus::kActive);
  EXPECT_TRUE(Exists("full"));
  ClosedWithoutEnd closed;
  closed.session_id = "full";
  closed.message =
      "the recording could not be written: No space left on device";
  closed.offset_us = 9000;
  shipper->Closed(closed);
  ASSERT_TRUE(shipper->RunOnce().ok());
  absl::StatusOr<storage::Session> s = store_->GetSession("full");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->status, storage::SessionStatus::kFailed);
  EXPECT_EQ(s->last_seq, 4u);
  EXPECT_EQ(s->ended_at, absl::FromUnixMicros(1700000000000000 + 9000));
  EXPECT_FALSE(Exists("full"));
  // The recorder counted the written bytes (not the torn write).
  EXPECT_EQ(deleted_bytes_, written);
  EXPECT_EQ(shipper->stats().interrupted_total, 0u);
  EXPECT_EQ(events_,
            (std::vector<std::string>{
                "recording.repaired full alice {\"torn_bytes\":8,\"reason\":"
                "\"a torn last record of a failed write was cut\"}",
                "recording.complete full alice "
                "{\"records\":4,\"status\":\"failed\"}"}));
  // A Closed() for a spool that is gone is dropped by the next pass.
  closed.session_id = "gone";
  shipper->Closed(closed);
  ASSERT_TRUE(shipper->RunOnce().ok());
  EXPECT_FALSE(store_->GetSession("gone").ok());
}

// The disk is still full: the end record does not fit the spool (files of
// this process may not grow: EFBIG, like ENOSPC). It goes to the CA from
// memory, and the spool is deleted once the CA has it. After a restart
// that came before the delete (the CA has the end, the file lacks it), the
// spool is deleted too, not closed a second time.
TEST_F(ShipperTest, FailedRecordingsEndIsSentFromMemoryWhenTheDiskIsFull) {
  auto shipper = StartShipper();
  auto w = SpoolWriter::Create(spool_dir_, Meta("nospace"));
  ASSERT_TRUE(w.ok());
  RecordChainer chain("nospace");
  AppendRecord(*w, chain, Open(4));
  AppendRecord(*w, chain, Bytes(4, v1::RECORD_DIRECTION_OUTPUT, 64));
  AppendRecord(*w, chain, Bytes(4, v1::RECORD_DIRECTION_OUTPUT, 36));
  const uint64_t size = w->size();
  ASSERT_TRUE(w->Close().ok());
  ASSERT_TRUE(shipper->RunOnce().ok());  // its 3 records are at the CA
  ClosedWithoutEnd closed;
  closed.session_id = "nospace";
  closed.message =
      "the recording could not be written: No space left on device";
  shipper->Closed(closed);
  // The rlimit holds for the Store's files too: the CA is unreachable
  // meanwhile (the end waits in memory through the retry).
  uploader_->reachable = false;
  struct rlimit old;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = size;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const absl::Status first = shipper->RunOnce();
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
  EXPECT_TRUE(absl::IsUnavailable(first)) << first;
  EXPECT_TRUE(Exists("nospace"));
  struct stat st;
  ASSERT_EQ(::stat(SpoolPath(spool_dir_, "nospace").c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), size);  // no end in the file
  EXPECT_EQ(store_->GetSession("nospace")->status,
            storage::SessionStatus::kActive);
  uploader_->reachable = true;
  now_ += absl::Hours(1);
  ASSERT_TRUE(shipper->RunOnce().ok());
  absl::StatusOr<storage::Session> s = store_->GetSession("nospace");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->status, storage::SessionStatus::kFailed);
  EXPECT_EQ(s->last_seq, 5u);  // channel 4's close and the end, from memory
  EXPECT_EQ(s->bytes_out, 100);
  EXPECT_FALSE(Exists("nospace"));

  // The restart case: the CA ended "again" with 4 records, the file holds 3.
  auto w2 = SpoolWriter::Create(spool_dir_, Meta("again"));
  ASSERT_TRUE(w2.ok());
  RecordChainer chain2("again");
  Append(*w2, chain2, 3, false);
  ASSERT_TRUE(w2->Close().ok());
  std::vector<v1::RecordingRecord> records;
  {
    absl::StatusOr<SpoolContents> c = ReadSpool(SpoolPath(spool_dir_, "again"));
    ASSERT_TRUE(c.ok()) << c.status();
    records = c->records;
    v1::RecordingRecord end;
    end.set_session_id("again");
    end.set_seq(4);
    end.set_offset_us(5000);
    end.mutable_session_end()->set_status(v1::SESSION_STATUS_FAILED);
    ASSERT_TRUE(chain2.Append(end).ok());
    records.push_back(end);
  }
  bool sent = false;
  ASSERT_TRUE(uploader_
                  ->Upload(Meta("again"),
                           [&](std::vector<v1::RecordingRecord>& out)
                               -> absl::StatusOr<bool> {
                             if (sent) return false;
                             sent = true;
                             out = records;
                             return true;
                           })
                  .ok());
  ASSERT_EQ(store_->GetSession("again")->status,
            storage::SessionStatus::kFailed);
  auto restarted = StartShipper();  // "again" is an orphan now
  ASSERT_TRUE(restarted->RunOnce().ok());
  EXPECT_FALSE(Exists("again"));
  EXPECT_EQ(store_->GetSession("again")->status,
            storage::SessionStatus::kFailed);
  EXPECT_EQ(store_->GetSession("again")->last_seq, 4u);
  EXPECT_EQ(restarted->stats().interrupted_total, 0u);
}

// The CA's disk is not the spool's: RLIMIT_FSIZE (the spool "full") is
// lifted while an upload runs, so the Store's files may grow.
class RoomyCaUploader : public RecordingUploader {
 public:
  RoomyCaUploader(RecordingUploader& ca, const struct rlimit& roomy,
                  const struct rlimit& full)
      : ca_(ca), roomy_(roomy), full_(full) {}
  absl::StatusOr<v1::RecordingSession> Upload(
      const v1::RecordingSession& session, const NextBatch& next) override {
    ::setrlimit(RLIMIT_FSIZE, &roomy_);
    absl::StatusOr<v1::RecordingSession> s = ca_.Upload(session, next);
    ::setrlimit(RLIMIT_FSIZE, &full_);
    return s;
  }

 private:
  RecordingUploader& ca_;
  const struct rlimit roomy_, full_;
};

// A dead process's spool whose disk is full: its interrupted end cannot
// be appended (EFBIG here, like ENOSPC). It goes to the CA from memory, as
// a failed recording's does, and the spool is deleted; the complete spool
// after it is shipped in the same pass. The append's error stopped every
// pass at "a" (taken for the CA being down), so "b" never shipped and the
// spool stayed over spool_max_bytes.
TEST_F(ShipperTest, LeftOverSpoolsEndIsSentFromMemoryWhenTheDiskIsFull) {
  uint64_t size_a = 0, size_b = 0;
  {
    auto w = SpoolWriter::Create(spool_dir_, Meta("a"));
    ASSERT_TRUE(w.ok());
    RecordChainer chain("a");
    AppendRecord(*w, chain, Open(1));
    AppendRecord(*w, chain, Bytes(1, v1::RECORD_DIRECTION_OUTPUT, 40));
    size_a = w->size();
    ASSERT_TRUE(w->Close().ok());
  }
  {
    auto w = SpoolWriter::Create(spool_dir_, Meta("b"));
    ASSERT_TRUE(w.ok());
    RecordChainer chain("b");
    Append(*w, chain, 2, true);
    size_b = w->size();
    ASSERT_TRUE(w->Close().ok());
  }
  struct rlimit old;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit full = old;
  full.rlim_cur = size_a;
  RoomyCaUploader ca(*uploader_, old, full);
  ShipperOptions o;
  o.uploader = &ca;
  auto shipper = StartShipper(o);  // both present at Start: left over
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &full), 0);
  std::vector<absl::Status> passes;
  for (int i = 0; i < 3; ++i) {
    passes.push_back(shipper->RunOnce());
    now_ += absl::Hours(1);
  }
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
  EXPECT_TRUE(passes[0].ok()) << passes[0];
  EXPECT_FALSE(Exists("b"));
  absl::StatusOr<storage::Session> b = store_->GetSession("b");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->status, storage::SessionStatus::kEnded);
  EXPECT_EQ(b->last_seq, 3u);
  EXPECT_FALSE(Exists("a"));
  absl::StatusOr<storage::Session> a = store_->GetSession("a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->status, storage::SessionStatus::kInterrupted);
  EXPECT_EQ(a->last_seq, 4u);  // channel 1's close and the end, from memory
  EXPECT_EQ(a->bytes_out, 40);
  EXPECT_EQ(shipper->stats().interrupted_total, 1u);
  // Nothing was appended: the recorder forgets both files as they were.
  EXPECT_EQ(deleted_bytes_, static_cast<int64_t>(size_a + size_b));
}

}  // namespace
}  // namespace sallyport::audit
