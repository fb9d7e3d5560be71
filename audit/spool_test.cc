// Spool files: written frames read back with their chain, a torn tail of
// every length is found and repaired (only the tail), damage in the middle
// is refused, and write errors surface.
#include "audit/spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::audit {
namespace {

using sallyport::testing::TempDir;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Spit(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

v1::RecordingSession Meta(const std::string& id) {
  v1::RecordingSession s;
  s.set_session_id(id);
  s.set_user("alice");
  s.set_login("ubuntu");
  s.set_host("web01");
  s.set_gateway_id("gw-1");
  s.set_started_at_us(1700000000000000);
  return s;
}

std::vector<v1::RecordingRecord> Records(const std::string& id, int n) {
  RecordChainer chain(id);
  std::vector<v1::RecordingRecord> out;
  for (int i = 0; i < n; ++i) {
    v1::RecordingRecord r;
    r.set_channel_id(i % 2);
    r.set_offset_us(i * 10);
    if (i == 0) {
      r.mutable_channel_open()->set_type("session");
    } else {
      r.mutable_data()->set_direction(v1::RECORD_DIRECTION_OUTPUT);
      r.mutable_data()->set_bytes(std::string(100 + i, static_cast<char>(i)));
    }
    EXPECT_TRUE(chain.Append(r).ok());
    out.push_back(r);
  }
  return out;
}

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> dir = TempDir::Create("rec-spool");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<TempDir>(*std::move(dir));
  }
  // Writes a spool with `n` records; returns its path.
  std::string Write(const std::string& id, int n) {
    absl::StatusOr<SpoolWriter> w = SpoolWriter::Create(dir_->path(), Meta(id));
    EXPECT_TRUE(w.ok()) << w.status();
    std::string buf;
    for (const auto& r : Records(id, n)) {
      EXPECT_TRUE(SpoolWriter::EncodeFrame(r, buf).ok());
    }
    EXPECT_TRUE(w->Write(buf).ok());
    EXPECT_TRUE(w->Close().ok());
    return w->path();
  }
  // Where each record's frame stops in the spool of Write(id, n), whose
  // size is `file_size`.
  static std::vector<size_t> FrameEnds(const std::string& id, int n,
                                       size_t file_size) {
    std::vector<size_t> ends;
    std::string buf;
    std::vector<v1::RecordingRecord> rs = Records(id, n);
    for (const auto& r : rs) {
      if (!SpoolWriter::EncodeFrame(r, buf).ok()) return {};
    }
    size_t at = file_size - buf.size();
    std::string one;
    for (const auto& r : rs) {
      one.clear();
      if (!SpoolWriter::EncodeFrame(r, one).ok()) return {};
      at += one.size();
      ends.push_back(at);
    }
    return ends;
  }
  std::unique_ptr<TempDir> dir_;
};

TEST_F(SpoolTest, RecordsComeBackWithTheirChain) {
  const std::string path = Write("s1", 20);
  EXPECT_EQ(path, dir_->path() + "/s1.spool");
  absl::StatusOr<SpoolContents> c = ReadSpool(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->session.user(), "alice");
  EXPECT_EQ(c->session.gateway_id(), "gw-1");
  const std::vector<v1::RecordingRecord> want = Records("s1", 20);
  ASSERT_EQ(c->records.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(c->records[i].SerializeAsString(), want[i].SerializeAsString());
  }
  EXPECT_EQ(c->torn_bytes, 0u);
  EXPECT_EQ(c->head, want.back().hash());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(c->good_bytes, static_cast<uint64_t>(st.st_size));
  // A second spool for the same session is refused.
  EXPECT_EQ(SpoolWriter::Create(dir_->path(), Meta("s1")).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(SpoolTest, EveryTornTailIsRepairedToTheLastWholeRecord) {
  const std::string path = Write("s2", 5);
  const std::string full = Slurp(path);
  absl::StatusOr<SpoolContents> whole = ReadSpool(path);
  ASSERT_TRUE(whole.ok());
  const std::vector<size_t> ends = FrameEnds("s2", 5, full.size());
  ASSERT_EQ(ends.size(), 5u);
  // Cut the last record at every length.
  for (size_t cut = ends[3] + 1; cut < ends[4]; ++cut) {
    SCOPED_TRACE(cut);
    Spit(path, full.substr(0, cut));
    absl::StatusOr<SpoolContents> c = ReadSpool(path);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->records.size(), 4u);
    EXPECT_EQ(c->torn_bytes, cut - ends[3]);
    absl::StatusOr<uint64_t> removed = RepairSpool(path);
    ASSERT_TRUE(removed.ok()) << removed.status();
    EXPECT_EQ(*removed, cut - ends[3]);
    EXPECT_EQ(Slurp(path), full.substr(0, ends[3]));
    EXPECT_EQ(*RepairSpool(path), 0u);  // clean now
  }
  // A complete last frame with a wrong hash (a torn page) and zeros after
  // the last good frame are torn tails too.
  std::string bad_last = full;
  bad_last[bad_last.size() - 1] ^= 1;
  Spit(path, bad_last);
  EXPECT_EQ(*RepairSpool(path), full.size() - ends[3]);
  Spit(path, full + std::string(4096, '\0'));
  EXPECT_EQ(*RepairSpool(path), 4096u);
  EXPECT_EQ(Slurp(path), full);
}

TEST_F(SpoolTest, DamageFollowedByRecordsIsNotRepaired) {
  const std::string path = Write("s3", 5);
  std::string damaged = Slurp(path);
  damaged[damaged.size() / 2] ^= 0x40;  // inside a middle record
  Spit(path, damaged);
  EXPECT_EQ(ReadSpool(path).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(RepairSpool(path).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Slurp(path), damaged);  // nothing truncated
  // A huge length field in the middle is damage too, not a tail.
  std::string huge = Slurp(path);
  Spit(path, huge.substr(0, 8) + std::string("\xff\xff\xff\xff", 4) +
                 huge.substr(12));
  EXPECT_EQ(RepairSpool(path).status().code(), absl::StatusCode::kDataLoss);
  // Not a spool at all.
  Spit(path, "hello");
  EXPECT_EQ(ReadSpool(path).status().code(), absl::StatusCode::kDataLoss);
}

// Without chain verification (the shipper, for spools its own recorder
// wrote) a frame's check is taken as its record's hash: a check altered
// on disk passes the reader, and the CA's recomputation is what catches it
// (RecordingWriter); with it (the default, and orphaned spools) the same
// frame is damage. Framing and canonical bytes are checked either way.
TEST_F(SpoolTest, TheChainCheckCanBeLeftToTheCa) {
  const std::string path = Write("s5", 3);
  std::string altered = Slurp(path);
  // The last byte of the file is the last frame's check.
  altered.back() ^= 0x01;
  Spit(path, altered);
  auto read_all =
      [&](bool verify) -> absl::StatusOr<std::vector<v1::RecordingRecord>> {
    absl::StatusOr<SpoolReader> r = SpoolReader::Open(path);
    if (!r.ok()) return r.status();
    r->set_verify_chain(verify);
    std::vector<v1::RecordingRecord> out;
    while (true) {
      absl::StatusOr<std::optional<v1::RecordingRecord>> next = r->Next();
      if (!next.ok()) return next.status();
      if (!next->has_value()) return out;
      out.push_back(**next);
    }
  };
  const std::vector<v1::RecordingRecord> want = Records("s5", 3);
  absl::StatusOr<std::vector<v1::RecordingRecord>> trusted = read_all(false);
  ASSERT_TRUE(trusted.ok()) << trusted.status();
  ASSERT_EQ(trusted->size(), 3u);
  EXPECT_EQ((*trusted)[1].SerializeAsString(), want[1].SerializeAsString());
  EXPECT_NE((*trusted)[2].hash(), want[2].hash());
  absl::StatusOr<std::string> real = RecordHash(want[1].hash(), (*trusted)[2]);
  ASSERT_TRUE(real.ok());
  EXPECT_EQ(*real, want[2].hash());  // what the CA recomputes and compares
  // Verified, the altered last frame is a torn tail: two records.
  absl::StatusOr<std::vector<v1::RecordingRecord>> verified = read_all(true);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->size(), 2u);
  // Damage to a record's bytes is refused without verification too.
  std::string broken = Slurp(path);
  broken[std::string_view(broken).find("sallyport.recording.v1") + 2] ^= 0x20;
  Spit(path, broken);
  absl::StatusOr<std::vector<v1::RecordingRecord>> refused = read_all(false);
  EXPECT_TRUE(!refused.ok() || refused->empty()) << refused->size();
}

// A frame length damaged in the middle of the file so that it runs past
// the end (but is not absurd) looks like a torn tail; the record's own
// lengths show it is not: reading names the byte and repair cuts nothing.
// The same for a length that now ends exactly at the end of the file, and
// for the last frame (a tear never leaves a whole frame with another
// length). A real tear (every cut) is still repaired (test above).
TEST_F(SpoolTest, AFrameLengthThatDisagreesWithItsRecordIsNotATornTail) {
  const std::string path = Write("s4", 5);
  const std::string full = Slurp(path);
  const std::vector<size_t> ends = FrameEnds("s4", 5, full.size());
  ASSERT_EQ(ends.size(), 5u);
  auto with_length = [&](size_t frame, uint32_t len) {
    std::string d = full;
    d[frame] = static_cast<char>(len >> 24);
    d[frame + 1] = static_cast<char>(len >> 16);
    d[frame + 2] = static_cast<char>(len >> 8);
    d[frame + 3] = static_cast<char>(len);
    return d;
  };
  ASSERT_LT(full.size(), kMaxSpoolPayloadBytes);
  const uint32_t past_end = static_cast<uint32_t>(full.size());
  // Record 2's frame starts at ends[0], record 5's at ends[3].
  const uint32_t to_end = static_cast<uint32_t>(full.size() - ends[0] - 5 - 32);
  for (const auto& [frame, len] : std::vector<std::pair<size_t, uint32_t>>{
           {ends[0], past_end}, {ends[0], to_end}, {ends[3], past_end}}) {
    SCOPED_TRACE(absl::StrCat(frame, " ", len));
    const std::string damaged = with_length(frame, len);
    Spit(path, damaged);
    absl::StatusOr<SpoolContents> c = ReadSpool(path);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kDataLoss) << c.status();
    EXPECT_TRUE(absl::StrContains(c.status().message(),
                                  absl::StrCat("at byte ", frame, ":")))
        << c.status();
    absl::StatusOr<uint64_t> repaired = RepairSpool(path);
    EXPECT_EQ(repaired.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(Slurp(path), damaged);  // nothing truncated
  }
  // The records before the damage still read (the shipper ships them).
  Spit(path, with_length(ends[0], past_end));
  absl::StatusOr<SpoolReader> reader = SpoolReader::Open(path);
  ASSERT_TRUE(reader.ok());
  absl::StatusOr<std::optional<v1::RecordingRecord>> first = reader->Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->seq(), 1u);
  EXPECT_EQ(reader->Next().status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(SpoolTest, SessionIdsMustBeFileNames) {
  for (const char* bad : {"", ".hidden", "a/b", "..", "a b", "x\n"}) {
    EXPECT_FALSE(ValidateSpoolSessionId(bad).ok()) << bad;
    EXPECT_FALSE(SpoolWriter::Create(dir_->path(), Meta(bad)).ok()) << bad;
  }
  EXPECT_TRUE(ValidateSpoolSessionId("gw1-20261130-abc_9.x").ok());
  EXPECT_FALSE(ValidateSpoolSessionId(std::string(129, 'a')).ok());
}

// The recorder's spools: created on a gateway I/O thread without any
// fsync; the first Sync (the syncer thread) fsyncs the file and the
// directory entry. Seen through the directory: once it is gone, that Sync
// fails (and the writer refuses more), a later one would not have tried.
TEST_F(SpoolTest, ANonDurableCreateLeavesTheDirectorySyncToTheFirstSync) {
  const std::string sub = dir_->path() + "/sub";
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  absl::StatusOr<SpoolWriter> w =
      SpoolWriter::Create(sub, Meta("s5"), /*durable=*/false);
  ASSERT_TRUE(w.ok()) << w.status();
  const std::string moved = dir_->path() + "/moved";
  ASSERT_EQ(::rename(sub.c_str(), moved.c_str()), 0);
  absl::Status st = w->Sync();
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(absl::StrContains(st.message(), sub)) << st;
  EXPECT_FALSE(w->Write("x").ok());

  // Durable (the default) or synced once: Sync no longer looks at it.
  const std::string sub2 = dir_->path() + "/sub2";
  ASSERT_EQ(::mkdir(sub2.c_str(), 0700), 0);
  absl::StatusOr<SpoolWriter> d =
      SpoolWriter::Create(sub2, Meta("s6"), /*durable=*/false);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_TRUE(d->Sync().ok());
  ASSERT_EQ(::rename(sub2.c_str(), (dir_->path() + "/moved2").c_str()), 0);
  EXPECT_TRUE(d->Sync().ok());
  absl::StatusOr<SpoolContents> c =
      ReadSpool(dir_->path() + "/moved2/s6.spool");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->session.session_id(), "s6");
}

TEST_F(SpoolTest, AnUnusableDirectoryIsReported) {
  // Tests run as root, which ignores mode bits: use a path under a file.
  Spit(dir_->path() + "/file", "x");
  EXPECT_FALSE(SpoolWriter::Create(dir_->path() + "/file", Meta("s4")).ok());
  EXPECT_FALSE(SpoolWriter::Create(dir_->path() + "/missing", Meta("s4")).ok());
}

}  // namespace
}  // namespace sallyport::audit
