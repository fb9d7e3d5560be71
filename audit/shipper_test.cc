// The recording shipper (issue 14) against the CA-side RecordingWriter over
// a real SQLite Store: a closed spool is shipped and deleted only after the
// Store has every record; a live one is tailed; a spool left by a dead
// process is repaired and closed as interrupted; uploads resume from what
// the Store has; failures back off exponentially with a cap and keep the
// file; an altered re-shipment is refused and the file kept; message
// limits hold.
#include "audit/shipper.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "audit/recording_record.h"
#include "audit/recording_store.h"
#include "audit/recording_writer.h"
#include "audit/spool.h"
#include "base/event_line.h"
#include "base/status_macros.h"
#include "gtest/gtest.h"
#include "storage/open.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::audit {
namespace {

using sallyport::testing::TempDir;

constexpr char kGateway[] = "gw-a";

// The CA's side of an upload, in process: RecordingWriter over the Store.
// `reachable = false` answers like a CA that cannot be reached.
class WriterUploader : public RecordingUploader {
 public:
  explicit WriterUploader(storage::Store& store) : writer_(store) {}
  absl::StatusOr<v1::RecordingSession> Upload(
      const v1::RecordingSession& session, const NextBatch& next) override {
    ++calls;
    if (!reachable) return absl::UnavailableError("connection refused");
    ASSIGN_OR_RETURN(v1::RecordingSession s, writer_.Begin(kGateway, session));
    while (true) {
      std::vector<v1::RecordingRecord> batch;
      ASSIGN_OR_RETURN(bool more, next(batch));
      if (!more) break;
      max_batch = std::max(max_batch, batch.size());
      size_t bytes = 0;
      for (const auto& r : batch) bytes += r.ByteSizeLong();
      max_batch_bytes = std::max(max_batch_bytes, bytes);
      records_sent += batch.size();
      ASSIGN_OR_RETURN(s, writer_.Write(kGateway, session.session_id(), batch));
    }
    return s;
  }
  bool reachable = true;
  int calls = 0;
  size_t records_sent = 0;
  size_t max_batch = 0;
  size_t max_batch_bytes = 0;

 private:
  RecordingWriter writer_;
};

class ShipperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> dir = TempDir::Create("shipper");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<TempDir>(*std::move(dir));
    spool_dir_ = dir_->File("spool");
    ASSERT_EQ(::mkdir(spool_dir_.c_str(), 0700), 0);
    auto store = storage::OpenStore("sqlite://" + dir_->path() + "/s.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    uploader_ = std::make_unique<WriterUploader>(*store_);
  }

  v1::RecordingSession Meta(const std::string& id) {
    v1::RecordingSession m;
    m.set_session_id(id);
    m.set_user("alice");
    m.set_login("ubuntu");
    m.set_host("web01");
    m.set_gateway_id(kGateway);
    m.set_started_at_us(1700000000000000);
    return m;
  }

  // Appends n data records (and an end when `end`) to a spool.
  void Append(SpoolWriter& w, RecordChainer& chain, int n, bool end,
              char fill = 'a') {
    std::string buffer;
    for (int i = 0; i < n + (end ? 1 : 0); ++i) {
      v1::RecordingRecord r;
      r.set_offset_us(1000 * static_cast<int64_t>(chain.last_seq() + 1));
      if (i < n) {
        r.mutable_data()->set_direction(v1::RECORD_DIRECTION_OUTPUT);
        r.mutable_data()->set_bytes(std::string(100, fill));
      } else {
        r.mutable_session_end()->set_status(v1::SESSION_STATUS_ENDED);
      }
      ASSERT_TRUE(chain.Append(r).ok());
      ASSERT_TRUE(SpoolWriter::EncodeFrame(r, buffer).ok());
    }
    ASSERT_TRUE(w.Write(buffer).ok());
  }

  // Appends one record (chained) to a spool.
  void AppendRecord(SpoolWriter& w, RecordChainer& chain,
                    v1::RecordingRecord r) {
    r.set_offset_us(1000 * static_cast<int64_t>(chain.last_seq() + 1));
    ASSERT_TRUE(chain.Append(r).ok());
    std::string buffer;
    ASSERT_TRUE(SpoolWriter::EncodeFrame(r, buffer).ok());
    ASSERT_TRUE(w.Write(buffer).ok());
  }
  static v1::RecordingRecord Open(uint32_t channel) {
    v1::RecordingRecord r;
    r.set_channel_id(channel);
    r.mutable_channel_open()->set_type("session");
    return r;
  }
  static v1::RecordingRecord Bytes(uint32_t channel, v1::RecordDirection d,
                                   size_t n) {
    v1::RecordingRecord r;
    r.set_channel_id(channel);
    r.mutable_data()->set_direction(d);
    r.mutable_data()->set_bytes(std::string(n, 'b'));
    return r;
  }
  static v1::RecordingRecord Close(uint32_t channel, uint64_t in,
                                   uint64_t out) {
    v1::RecordingRecord r;
    r.set_channel_id(channel);
    r.mutable_channel_close()->set_bytes_input(in);
    r.mutable_channel_close()->set_bytes_output(out);
    return r;
  }

  std::unique_ptr<Shipper> StartShipper(ShipperOptions o = {}) {
    o.on_event = [this](std::string_view code,
                        const v1::RecordingSession& session,
                        const std::vector<base::LogField>& fields) {
      events_.push_back(absl::StrCat(std::string(code), " ",
                                     session.session_id(), " ", session.user(),
                                     " ", base::JsonObject(fields)));
    };
    o.spool_dir = spool_dir_;
    o.uploader = uploader_.get();
    o.thread = false;
    o.now = [this] { return now_; };
    o.on_deleted = [this](int64_t n) { deleted_bytes_ += n; };
    absl::StatusOr<std::unique_ptr<Shipper>> s = Shipper::Start(std::move(o));
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  bool Exists(const std::string& id) {
    return ::access(SpoolPath(spool_dir_, id).c_str(), F_OK) == 0;
  }

  std::unique_ptr<TempDir> dir_;
  std::string spool_dir_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<WriterUploader> uploader_;
  absl::Time now_ = absl::FromUnixSeconds(1800000000);
  int64_t deleted_bytes_ = 0;
  // The shipper's audit events: "CODE SESSION USER {fields}".
  std::vector<std::string> events_;
};

TEST_F(ShipperTest, ClosedSpoolIsShippedAndDeletedAfterConfirm) {
  auto w = SpoolWriter::Create(spool_dir_, Meta("s1"));
  ASSERT_TRUE(w.ok());
  RecordChainer chain("s1");
  Append(*w, chain, 5, true);
  const int64_t size = static_cast<int64_t>(w->size());
  ASSERT_TRUE(w->Close().ok());
  auto shipper = StartShipper();
  ASSERT_TRUE(shipper->RunOnce().ok());
  auto s = store_->GetSession("s1");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->last_seq, 6u);
  EXPECT_EQ(s->status, storage::SessionStatus::kEnded);
  EXPECT_EQ(s->chain_head, chain.head());
  EXPECT_EQ(s->gateway_id, kGateway);
  EXPECT_FALSE(Exists("s1"));
  EXPECT_EQ(deleted_bytes_, size);
  EXPECT_EQ(shipper->stats().shipped_sessions_total, 1u);
  EXPECT_EQ(shipper->stats().spool_bytes, 0);
  // recording.complete goes out once the spool is gone.
  EXPECT_EQ(events_,
            std::vector<std::string>{"recording.complete s1 alice "
                                     "{\"records\":6,\"status\":\"ended\"}"});
}

TEST_F(ShipperTest, LiveSpoolIsTailedAndKeptUntilItsEndIsConfirmed) {
  auto shipper = StartShipper();  // the spool is made after Start: live
  auto w = SpoolWriter::Create(spool_dir_, Meta("live"));
  ASSERT_TRUE(w.ok());
  RecordChainer chain("live");
  Append(*w, chain, 3, false);
  ASSERT_TRUE(shipper->RunOnce().ok());
  EXPECT_EQ(store_->GetSession("live")->last_seq, 3u);
  EXPECT_EQ(store_->GetSession("live")->status,
            storage::SessionStatus::kActive);
  EXPECT_TRUE(Exists("live"));
  EXPECT_EQ(shipper->stats().backlog_bytes, 0);
  // Nothing new: no upload at all.
  const int calls = uploader_->calls;
  ASSERT_TRUE(shipper->RunOnce().ok());
  EXPECT_EQ(uploader_->calls, calls);
  Append(*w, chain, 2, false);
  ASSERT_TRUE(shipper->RunOnce().ok());
  EXPECT_EQ(store_->GetSession("live")->last_seq, 5u);
  EXPECT_TRUE(Exists("live"));
  Append(*w, chain, 1, true);
  ASSERT_TRUE(w->Close().ok());
  ASSERT_TRUE(shipper->RunOnce().ok());
  EXPECT_EQ(store_->GetSession("live")->last_seq, 7u);
  EXPECT_EQ(store_->GetSession("live")->status, storage::SessionStatus::kEnded);
  EXPECT_FALSE(Exists("live"));
  EXPECT_EQ(uploader_->records_sent, 7u);  // each record once
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
}

// A spool left by a dead process whose second frame has a damaged length
// (it now runs past the end of the file, records 3 and 4 after it) is not a
// torn tail: the shipper cuts nothing, keeps the file, does not close the
// session, and says so once with recording.damaged naming the byte.
TEST_F(ShipperTest, MidFileDamageIsNotRepairedAndIsReportedOnce) {
  std::string path;
  size_t second = 0;
  {
    auto w = SpoolWriter::Create(spool_dir_, Meta("hurt"));
    ASSERT_TRUE(w.ok());
    RecordChainer chain("hurt");
    Append(*w, chain, 1, false);
    second = static_cast<size_t>(w->size());
    Append(*w, chain, 3, false);
    path = w->path();
    ASSERT_TRUE(w->Close().ok());
  }
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes[second + 2] = '\x7f';  // length 0x7f00+: past the end
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  // Failures are logged through `warn`, the rest through `log`.
  std::vector<std::string> warned, logged;
  ShipperOptions o;
  o.warn = [&](std::string_view l) { warned.emplace_back(l); };
  o.log = [&](std::string_view l) { logged.emplace_back(l); };
  auto shipper = StartShipper(o);  // present at Start: its process is gone
  EXPECT_EQ(shipper->RunOnce().code(), absl::StatusCode::kDataLoss);
  now_ += absl::Hours(1);
  (void)shipper->RunOnce();
  EXPECT_TRUE(Exists("hurt"));
  std::string after;
  {
    std::ifstream in(path, std::ios::binary);
    after.assign(std::istreambuf_iterator<char>(in), {});
  }
  EXPECT_EQ(after, bytes);  // nothing cut
  absl::StatusOr<storage::Session> s = store_->GetSession("hurt");
  if (s.ok()) {
    EXPECT_EQ(s->status, storage::SessionStatus::kActive);
  }
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].rfind("recording.damaged hurt alice ", 0), 0u)
      << events_[0];
  EXPECT_NE(events_[0].find(absl::StrCat("at byte ", second, ":")),
            std::string::npos)
      << events_[0];
  int damaged = 0, cannot_ship = 0;
  for (const std::string& l : warned) {
    if (absl::StartsWith(l, "event=recording.damaged session=hurt")) ++damaged;
    if (absl::StartsWith(l, "cannot ship session hurt")) ++cannot_ship;
  }
  EXPECT_EQ(damaged, 1) << absl::StrJoin(warned, "\n");
  EXPECT_GE(cannot_ship, 1) << absl::StrJoin(warned, "\n");
  EXPECT_EQ(logged, std::vector<std::string>{
                        "1 spool file(s) from before this start to ship"});
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

TEST_F(ShipperTest, ResumesFromWhatTheCaAlreadyHas) {
  auto w = SpoolWriter::Create(spool_dir_, Meta("res"));
  ASSERT_TRUE(w.ok());
  RecordChainer chain("res");
  Append(*w, chain, 10, true);
  ASSERT_TRUE(w->Close().ok());
  // A previous shipper stored the first 6 records before it died.
  auto contents = ReadSpool(SpoolPath(spool_dir_, "res"));
  ASSERT_TRUE(contents.ok());
  RecordingWriter writer(*store_);
  ASSERT_TRUE(writer.Begin(kGateway, contents->session).ok());
  std::vector<v1::RecordingRecord> first(contents->records.begin(),
                                         contents->records.begin() + 6);
  ASSERT_TRUE(writer.Write(kGateway, "res", first).ok());
  auto shipper = StartShipper();
  ASSERT_TRUE(shipper->RunOnce().ok());
  // 7..11, and 6 once more (the CA's last one, accepted as identical).
  EXPECT_EQ(uploader_->records_sent, 6u);
  EXPECT_EQ(store_->GetSession("res")->last_seq, 11u);
  EXPECT_FALSE(Exists("res"));
}

// The CA stored the end record but stopped before it ended the session:
// the spool stays until the CA says the session ended, which it does when
// the end is sent again.
TEST_F(ShipperTest, SpoolStaysUntilTheCaHasEndedTheSession) {
  auto w = SpoolWriter::Create(spool_dir_, Meta("half"));
  ASSERT_TRUE(w.ok());
  RecordChainer chain("half");
  Append(*w, chain, 3, true);
  ASSERT_TRUE(w->Close().ok());
  auto contents = ReadSpool(SpoolPath(spool_dir_, "half"));
  ASSERT_TRUE(contents.ok());
  RecordingWriter writer(*store_);
  ASSERT_TRUE(writer.Begin(kGateway, contents->session).ok());
  std::vector<storage::SessionRecord> rows;
  for (const auto& r : contents->records) {
    auto row = ToStoreRecord(r);
    ASSERT_TRUE(row.ok());
    rows.push_back(*row);
  }
  ASSERT_TRUE(store_->AppendSessionRecords(rows).ok());
  ASSERT_EQ(store_->GetSession("half")->status,
            storage::SessionStatus::kActive);
  auto shipper = StartShipper();
  ASSERT_TRUE(shipper->RunOnce().ok());
  EXPECT_EQ(store_->GetSession("half")->status, storage::SessionStatus::kEnded);
  EXPECT_FALSE(Exists("half"));
}

TEST_F(ShipperTest, UnreachableCaBacksOffWithACapAndKeepsTheSpool) {
  auto w = SpoolWriter::Create(spool_dir_, Meta("off"));
  ASSERT_TRUE(w.ok());
  RecordChainer chain("off");
  Append(*w, chain, 3, true);
  ASSERT_TRUE(w->Close().ok());
  ShipperOptions o;
  o.min_backoff = absl::Seconds(1);
  o.max_backoff = absl::Seconds(8);
  auto shipper = StartShipper(o);
  uploader_->reachable = false;
  const std::vector<absl::Duration> waits = {
      absl::Seconds(1), absl::Seconds(2), absl::Seconds(4),
      absl::Seconds(8), absl::Seconds(8), absl::Seconds(8)};
  for (absl::Duration want : waits) {
    EXPECT_FALSE(shipper->RunOnce().ok());
    ASSERT_TRUE(shipper->NextAttempt("off").has_value());
    EXPECT_EQ(*shipper->NextAttempt("off") - now_, want);
    // Not due yet: no call.
    const int calls = uploader_->calls;
    now_ += want - absl::Milliseconds(1);
    (void)shipper->RunOnce();
    EXPECT_EQ(uploader_->calls, calls);
    now_ += absl::Milliseconds(1);
    EXPECT_TRUE(Exists("off"));
  }
  EXPECT_EQ(shipper->stats().errors_total, waits.size());
  uploader_->reachable = true;
  ASSERT_TRUE(shipper->RunOnce().ok());
  EXPECT_EQ(store_->GetSession("off")->last_seq, 4u);
  EXPECT_FALSE(Exists("off"));
}

TEST_F(ShipperTest, AlteredReshipmentIsRefusedAndTheSpoolKept) {
  // The CA has records 1..3 of a session ...
  {
    RecordingWriter writer(*store_);
    ASSERT_TRUE(writer.Begin(kGateway, Meta("alt")).ok());
    RecordChainer chain("alt");
    std::vector<v1::RecordingRecord> stored;
    for (int i = 0; i < 3; ++i) {
      v1::RecordingRecord r;
      r.set_offset_us(1000 * (i + 1));
      r.mutable_data()->set_bytes(std::string(100, 'a'));
      ASSERT_TRUE(chain.Append(r).ok());
      stored.push_back(r);
    }
    ASSERT_TRUE(writer.Write(kGateway, "alt", stored).ok());
  }
  // ... and the spool says something else for them (its own valid chain).
  auto w = SpoolWriter::Create(spool_dir_, Meta("alt"));
  ASSERT_TRUE(w.ok());
  RecordChainer chain("alt");
  Append(*w, chain, 5, true, 'x');
  ASSERT_TRUE(w->Close().ok());
  // Another session behind it (in name order) is not held up by it.
  auto good = SpoolWriter::Create(spool_dir_, Meta("zz-good"));
  ASSERT_TRUE(good.ok());
  RecordChainer good_chain("zz-good");
  Append(*good, good_chain, 2, true);
  ASSERT_TRUE(good->Close().ok());
  auto shipper = StartShipper();
  EXPECT_FALSE(shipper->RunOnce().ok());
  EXPECT_TRUE(Exists("alt"));
  EXPECT_FALSE(Exists("zz-good"));
  EXPECT_EQ(store_->GetSession("zz-good")->last_seq, 3u);
  auto s = store_->GetSession("alt");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->last_seq, 3u);  // nothing of the altered spool was stored
  EXPECT_EQ(s->status, storage::SessionStatus::kActive);
}

TEST_F(ShipperTest, MessagesStayWithinTheLimits) {
  auto w = SpoolWriter::Create(spool_dir_, Meta("lim"));
  ASSERT_TRUE(w.ok());
  RecordChainer chain("lim");
  Append(*w, chain, 600, true);
  ASSERT_TRUE(w->Close().ok());
  auto shipper = StartShipper();
  ASSERT_TRUE(shipper->RunOnce().ok());
  EXPECT_EQ(uploader_->max_batch, kShipMaxRecordsPerMessage);
  EXPECT_EQ(store_->GetSession("lim")->last_seq, 601u);
  EXPECT_FALSE(Exists("lim"));

  // Bytes: 100-byte records, a 1 KiB message limit.
  auto w2 = SpoolWriter::Create(spool_dir_, Meta("lim2"));
  ASSERT_TRUE(w2.ok());
  RecordChainer chain2("lim2");
  Append(*w2, chain2, 50, true);
  ASSERT_TRUE(w2->Close().ok());
  uploader_->max_batch = uploader_->max_batch_bytes = 0;
  const int calls = uploader_->calls;
  ShipperOptions small;
  small.max_message_bytes = 1024;
  small.max_bytes_per_call = 2048;  // then the call ends: several calls
  auto shipper2 = StartShipper(small);
  ASSERT_TRUE(shipper2->RunOnce().ok());
  EXPECT_LE(uploader_->max_batch_bytes, 1024u);
  EXPECT_GT(uploader_->max_batch, 1u);
  EXPECT_GT(uploader_->calls - calls, 3);
  EXPECT_EQ(store_->GetSession("lim2")->last_seq, 51u);
}

}  // namespace
}  // namespace sallyport::audit
