// The recording shipper (issue 14) against the CA-side RecordingWriter over
// a real SQLite Store: a closed spool is shipped and deleted only after the
// Store has every record; a live one is tailed; a spool damaged mid-file is
// not repaired and is reported once; uploads resume from what the Store
// has; failures back off exponentially with a cap and keep the file; an
// altered re-shipment is refused and the file kept; message limits hold.
// Sessions the shipper closes without their end (interrupted, failed) are
// in shipper_close_test.cc; the fixture is in shipper_test_fixture.h.
#include "audit/shipper.h"

#include <unistd.h>

#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "audit/recording_record.h"
#include "audit/recording_store.h"
#include "audit/recording_writer.h"
#include "audit/shipper_test_fixture.h"
#include "audit/spool.h"
#include "gtest/gtest.h"

namespace sallyport::audit {
namespace {

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
                        "1 spool file from before this start to ship"});
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

// A spool file that cannot be opened (ELOOP here, standing in for EIO:
// the spool's errors come back UNAVAILABLE like an unreachable CA's) is
// that spool's problem: it backs off alone, and the complete spool after
// it is shipped in the same pass, as is one that comes later. It stopped
// every pass and held up every other spool as if the CA were down.
TEST_F(ShipperTest, ASpoolFileThatCannotBeOpenedHoldsUpNoOther) {
  ASSERT_EQ(::symlink("a.spool", SpoolPath(spool_dir_, "a").c_str()), 0);
  auto b = SpoolWriter::Create(spool_dir_, Meta("b"));
  ASSERT_TRUE(b.ok());
  RecordChainer chain("b");
  Append(*b, chain, 2, true);
  ASSERT_TRUE(b->Close().ok());
  std::vector<std::string> warned;
  ShipperOptions o;
  o.min_backoff = absl::Seconds(2);
  o.warn = [&](std::string_view l) { warned.emplace_back(l); };
  auto shipper = StartShipper(o);
  const absl::Status pass = shipper->RunOnce();
  EXPECT_TRUE(absl::IsUnavailable(pass)) << pass;  // a's error
  EXPECT_FALSE(Exists("b"));
  ASSERT_TRUE(store_->GetSession("b").ok());
  EXPECT_EQ(store_->GetSession("b")->status, storage::SessionStatus::kEnded);
  ASSERT_TRUE(shipper->NextAttempt("a").has_value());
  EXPECT_EQ(*shipper->NextAttempt("a"), now_ + absl::Seconds(2));
  ASSERT_EQ(warned.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(warned[0], "cannot ship session a (attempt 1"))
      << warned[0];
  EXPECT_TRUE(
      absl::StrContains(warned[0], "(its spool file; the others go on)"))
      << warned[0];
  // The CA is not taken for down: a spool made now is shipped at once.
  auto c = SpoolWriter::Create(spool_dir_, Meta("c"));
  ASSERT_TRUE(c.ok());
  RecordChainer chain_c("c");
  Append(*c, chain_c, 1, true);
  ASSERT_TRUE(c->Close().ok());
  ASSERT_TRUE(shipper->RunOnce().ok());
  EXPECT_FALSE(Exists("c"));
  EXPECT_EQ(store_->GetSession("c")->status, storage::SessionStatus::kEnded);
}

// A live spool is shipped only as far as the recorder fsync'd it. A power
// loss then takes from the file only records the CA does not have: the
// restarted shipper closes the spool as interrupted after them. It shipped
// what write(2) had put in the page cache, so after the power loss the
// file held 3 records, the CA 5, and every pass failed with "holds 3
// records but the CA already stored 5": the session stayed active and the
// spool was never deleted.
TEST_F(ShipperTest, ALiveSpoolIsShippedOnlyAsFarAsItIsSynced) {
  std::optional<uint64_t> synced = 0;
  ShipperOptions o;
  o.synced_bytes = [&](const std::string&) { return synced; };
  auto shipper = StartShipper(o);  // the spool is made after Start: live
  std::string path;
  uint64_t three = 0;
  {
    auto w = SpoolWriter::Create(spool_dir_, Meta("pl"));
    ASSERT_TRUE(w.ok());
    path = w->path();
    RecordChainer chain("pl");
    Append(*w, chain, 3, false);
    three = w->size();
    synced = three;  // fdatasync'd
    Append(*w, chain, 2, false);
    ASSERT_TRUE(shipper->RunOnce().ok());
    EXPECT_EQ(store_->GetSession("pl")->last_seq, 3u);
    ASSERT_TRUE(w->Close().ok());
  }
  // The power fails: the 2 records that were never fdatasync'd are gone.
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(three)), 0);
  shipper.reset();
  auto restarted = StartShipper();
  ASSERT_TRUE(restarted->RunOnce().ok());
  absl::StatusOr<storage::Session> s = store_->GetSession("pl");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->status, storage::SessionStatus::kInterrupted);
  EXPECT_EQ(s->last_seq, 4u);
  EXPECT_FALSE(Exists("pl"));

  // What is synced later ships later; a spool the recorder closed
  // (nullopt) ships to its end.
  synced = 0;
  auto again = StartShipper(o);
  auto w = SpoolWriter::Create(spool_dir_, Meta("pl2"));
  ASSERT_TRUE(w.ok());
  RecordChainer chain("pl2");
  Append(*w, chain, 2, false);
  synced = w->size();
  Append(*w, chain, 2, true);
  ASSERT_TRUE(w->Close().ok());
  ASSERT_TRUE(again->RunOnce().ok());
  EXPECT_EQ(store_->GetSession("pl2")->last_seq, 2u);
  synced = std::nullopt;
  ASSERT_TRUE(again->RunOnce().ok());
  EXPECT_EQ(store_->GetSession("pl2")->last_seq, 5u);
  EXPECT_EQ(store_->GetSession("pl2")->status, storage::SessionStatus::kEnded);
  EXPECT_FALSE(Exists("pl2"));
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
