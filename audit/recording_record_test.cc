// Recording records: canonical bytes as documented, the chain, parsing
// refusals and validation limits.
#include "audit/recording_record.h"

#include <openssl/evp.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace sallyport::audit {
namespace {

std::vector<v1::RecordingRecord> OneOfEachKind() {
  std::vector<v1::RecordingRecord> out;
  v1::RecordingRecord r;
  r.set_session_id("s-1");
  r.set_channel_id(3);
  r.set_offset_us(1500);
  r.mutable_channel_open()->set_type("direct-tcpip");
  r.mutable_channel_open()->set_destination("db:5432");
  out.push_back(r);
  r.mutable_request()->set_direction(v1::RECORD_DIRECTION_INPUT);
  r.mutable_request()->set_type("exec");
  r.mutable_request()->set_summary("ls -l /tmp");
  out.push_back(r);
  r.mutable_window_change()->set_columns(132);
  r.mutable_window_change()->set_rows(43);
  out.push_back(r);
  r.mutable_data()->set_direction(v1::RECORD_DIRECTION_OUTPUT);
  r.mutable_data()->set_ssh_stream(1);
  r.mutable_data()->set_bytes(std::string("\0\1\2\xff", 4));
  out.push_back(r);
  r.mutable_stream_summary()->set_direction(v1::RECORD_DIRECTION_OUTPUT);
  r.mutable_stream_summary()->set_total_bytes(1ull << 40);
  r.mutable_stream_summary()->set_recorded_bytes(16 << 20);
  r.mutable_stream_summary()->set_sha256(std::string(32, 'x'));
  out.push_back(r);
  r.mutable_channel_close()->set_bytes_input(7);
  r.mutable_channel_close()->set_bytes_output(9);
  out.push_back(r);
  r.mutable_session_end()->set_status(v1::SESSION_STATUS_INTERRUPTED);
  r.mutable_session_end()->set_message("gateway restarted");
  out.push_back(r);
  // A request whose summary is not its text: the text as sent beside it.
  r.mutable_request()->set_type("exec");
  r.mutable_request()->set_summary("printf \\xff");
  r.mutable_request()->set_raw("printf \xff");
  out.push_back(r);
  for (size_t i = 0; i < out.size(); ++i) out[i].set_seq(i + 1);
  return out;
}

std::string Sha256Raw(const std::string& in) {
  unsigned char d[32];
  unsigned int n = 0;
  EVP_Digest(in.data(), in.size(), d, &n, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(d), n);
}

TEST(RecordingRecordTest, EveryKindRoundTripsThroughFieldsAndCanonicalBytes) {
  for (const v1::RecordingRecord& r : OneOfEachKind()) {
    SCOPED_TRACE(r.ShortDebugString());
    ASSERT_TRUE(ValidateRecord(r).ok());
    const RecordFields f = ToFields(r);
    std::string canonical;
    AppendCanonicalBytes(f, canonical);
    absl::StatusOr<RecordFields> parsed = ParseCanonicalBytes(canonical);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, f);
    absl::StatusOr<v1::RecordingRecord> back = FromFields(*parsed);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->SerializeAsString(), r.SerializeAsString());
  }
}

// The encoding written out by hand from the header's description: a second
// implementation, so a change of the format fails here.
TEST(RecordingRecordTest, HashFollowsTheDocumentedEncoding) {
  v1::RecordingRecord r;
  r.set_session_id("ab");
  r.set_seq(1);
  r.set_channel_id(2);
  r.set_offset_us(3);
  r.mutable_data()->set_direction(v1::RECORD_DIRECTION_OUTPUT);
  r.mutable_data()->set_bytes("hi");
  auto str = [](const std::string& s) {
    std::string out = {0, 0, 0, static_cast<char>(s.size())};
    return out + s;
  };
  std::string expected = str("sallyport.recording.v1") + str("ab") +
                         std::string("\0\0\0\0\0\0\0\1", 8) +
                         std::string("\0\0\0\2", 4) +
                         std::string("\0\0\0\0\0\0\0\3", 8) + str("data") +
                         str("output") + std::string(4, '\0') + str("") +
                         str("") + std::string(16, '\0') + str("hi");
  std::string canonical;
  AppendCanonicalBytes(ToFields(r), canonical);
  EXPECT_EQ(canonical, expected);
  absl::StatusOr<std::string> hash = RecordHash(kRecordingGenesis, r);
  ASSERT_TRUE(hash.ok());
  EXPECT_EQ(*hash, absl::BytesToHexString(
                       Sha256Raw(std::string(kRecordingGenesis) + expected)));
}

// A request's raw text (the command as sent, when the summary is not it)
// is the canonical data field, which is empty without it: requests
// recorded before raw existed hash as they did, and editing raw breaks the
// chain.
TEST(RecordingRecordTest, ARequestsRawTextIsHashedAsItsData) {
  v1::RecordingRecord r;
  r.set_session_id("ab");
  r.set_seq(1);
  r.mutable_request()->set_direction(v1::RECORD_DIRECTION_INPUT);
  r.mutable_request()->set_type("exec");
  r.mutable_request()->set_summary("x\\x00");
  auto str = [](const std::string& s) {
    std::string out = {0, 0, 0, static_cast<char>(s.size())};
    return out + s;
  };
  auto expected = [&](const std::string& data) {
    return str("sallyport.recording.v1") + str("ab") +
           std::string("\0\0\0\0\0\0\0\1", 8) + std::string(12, '\0') +
           str("request") + str("input") + std::string(4, '\0') + str("exec") +
           str("x\\x00") + std::string(16, '\0') + str(data);
  };
  std::string canonical;
  AppendCanonicalBytes(ToFields(r), canonical);
  EXPECT_EQ(canonical, expected(""));
  const std::string without = *RecordHash(kRecordingGenesis, r);
  r.mutable_request()->set_raw(std::string("x\0", 2));
  EXPECT_TRUE(ValidateRecord(r).ok()) << ValidateRecord(r);
  canonical.clear();
  AppendCanonicalBytes(ToFields(r), canonical);
  EXPECT_EQ(canonical, expected(std::string("x\0", 2)));
  const std::string with = *RecordHash(kRecordingGenesis, r);
  EXPECT_NE(with, without);
  r.mutable_request()->set_raw(std::string("x\1", 2));
  EXPECT_NE(*RecordHash(kRecordingGenesis, r), with);
}

// A request's raw text is set only beside a summary that is not it, and
// the summary is what RecordText makes of it: two readers (one showing
// the summary, one the raw text) cannot be shown two different commands.
TEST(RecordingRecordTest, ARequestsRawTextMustMatchItsSummary) {
  v1::RecordingRecord r = OneOfEachKind().back();
  ASSERT_FALSE(r.request().raw().empty());
  EXPECT_TRUE(ValidateRecord(r).ok()) << ValidateRecord(r);
  EXPECT_EQ(RecordText(r.request().raw()), r.request().summary());
  // Another command than the summary says.
  r.mutable_request()->set_raw("rm -rf /srv");
  EXPECT_FALSE(ValidateRecord(r).ok());
  // The same text twice.
  r.mutable_request()->set_raw(r.request().summary());
  EXPECT_FALSE(ValidateRecord(r).ok());
  // A long command: the summary is its first kMaxRecordSummaryBytes.
  const std::string padded =
      "true" + std::string(kMaxRecordSummaryBytes, ' ') + "; rm -rf /srv";
  r.mutable_request()->set_raw(padded);
  r.mutable_request()->set_summary(padded.substr(0, kMaxRecordSummaryBytes));
  EXPECT_TRUE(ValidateRecord(r).ok()) << ValidateRecord(r);
  r.mutable_request()->set_summary(padded.substr(0, 100));
  EXPECT_FALSE(ValidateRecord(r).ok());
  r.mutable_request()->set_raw(std::string(kMaxRecordDataBytes + 1, 'x'));
  r.mutable_request()->set_summary(std::string(kMaxRecordSummaryBytes, 'x'));
  EXPECT_FALSE(ValidateRecord(r).ok());
  // NUL and bytes that are not UTF-8 as \xNN; a character is not split.
  EXPECT_EQ(RecordText(std::string("a\0\xff\xd0\xbe", 5)),
            "a\\x00\\xff\xd0\xbe");
  EXPECT_EQ(RecordText("ab\xd0\xbe", 3), "ab");
  EXPECT_EQ(RecordText("a\xff", 4), "a");
}

TEST(RecordingRecordTest, ChainerNumbersAndChainsAndEveryFieldCounts) {
  RecordChainer chain("sess");
  std::vector<v1::RecordingRecord> records = OneOfEachKind();
  std::string prev(kRecordingGenesis);
  for (v1::RecordingRecord& r : records) {
    ASSERT_TRUE(chain.Append(r).ok());
    EXPECT_EQ(r.session_id(), "sess");
    v1::RecordingRecord unhashed = r;
    unhashed.clear_hash();
    EXPECT_EQ(*RecordHash(prev, unhashed), r.hash());
    // The hash field is not part of what is hashed.
    EXPECT_EQ(*RecordHash(prev, r), r.hash());
    prev = r.hash();
  }
  EXPECT_EQ(chain.last_seq(), records.size());
  EXPECT_EQ(chain.head(), records.back().hash());
  // Changing any one field, or the previous hash, changes the hash.
  v1::RecordingRecord base = records[3];
  base.clear_hash();
  const std::string h = *RecordHash(records[2].hash(), base);
  std::vector<v1::RecordingRecord> variants(6, base);
  variants[0].set_session_id("other");
  variants[1].set_seq(99);
  variants[2].set_channel_id(4);
  variants[3].set_offset_us(1501);
  variants[4].mutable_data()->set_bytes("changed");
  variants[5].mutable_data()->set_ssh_stream(0);
  for (const auto& v : variants) {
    EXPECT_NE(*RecordHash(records[2].hash(), v), h) << v.ShortDebugString();
  }
  EXPECT_NE(*RecordHash(records[1].hash(), base), h);
}

TEST(RecordingRecordTest, MalformedCanonicalBytesAreRefused) {
  v1::RecordingRecord r = OneOfEachKind()[3];
  std::string good;
  AppendCanonicalBytes(ToFields(r), good);
  for (size_t cut = 0; cut < good.size(); ++cut) {
    EXPECT_FALSE(ParseCanonicalBytes(good.substr(0, cut)).ok()) << cut;
  }
  EXPECT_FALSE(ParseCanonicalBytes(good + "x").ok());
  std::string bad_domain = good;
  bad_domain[4] = 'X';
  EXPECT_FALSE(ParseCanonicalBytes(bad_domain).ok());
  // A data length claiming 4 GiB.
  std::string huge = good.substr(0, good.size() - 4 - 4);
  huge += std::string("\xff\xff\xff\xff", 4);
  EXPECT_EQ(ParseCanonicalBytes(huge).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_FALSE(
      ParseCanonicalBytes(std::string(kMaxCanonicalRecordBytes + 1, '\0'))
          .ok());
}

TEST(RecordingRecordTest, ValidationRefusesWhatTheStoreCannotHold) {
  const v1::RecordingRecord good = OneOfEachKind()[1];
  ASSERT_TRUE(ValidateRecord(good).ok());
  v1::RecordingRecord r = good;
  r.clear_request();
  EXPECT_FALSE(ValidateRecord(r).ok());  // no kind
  r = good;
  r.set_seq(0);
  EXPECT_FALSE(ValidateRecord(r).ok());
  r = good;
  r.set_offset_us(-1);
  EXPECT_FALSE(ValidateRecord(r).ok());
  r = good;
  r.mutable_request()->set_summary(std::string("a\0b", 3));
  EXPECT_FALSE(ValidateRecord(r).ok());
  r = good;
  r.mutable_request()->set_summary("\xc3\x28");
  EXPECT_FALSE(ValidateRecord(r).ok());
  r = good;
  r.mutable_request()->set_summary(
      std::string(kMaxRecordSummaryBytes + 1, 'a'));
  EXPECT_FALSE(ValidateRecord(r).ok());
  r = good;
  r.mutable_data()->set_bytes(std::string(kMaxRecordDataBytes + 1, 'a'));
  EXPECT_FALSE(ValidateRecord(r).ok());
  r.mutable_data()->set_bytes(std::string(kMaxRecordDataBytes, 'a'));
  EXPECT_TRUE(ValidateRecord(r).ok());
  r = OneOfEachKind()[4];
  r.mutable_stream_summary()->set_sha256("short");
  EXPECT_FALSE(ValidateRecord(r).ok());
  r = good;
  r.set_session_id("");
  EXPECT_FALSE(ValidateRecord(r).ok());
  // Enum numbers this build does not know (they would be written as
  // "none" / "unspecified", so two records would share one hash).
  const std::vector<v1::RecordingRecord> kinds = OneOfEachKind();
  r = kinds[1];
  r.mutable_request()->set_direction(static_cast<v1::RecordDirection>(7));
  EXPECT_FALSE(ValidateRecord(r).ok());
  r = kinds[3];
  r.mutable_data()->set_direction(static_cast<v1::RecordDirection>(3));
  EXPECT_FALSE(ValidateRecord(r).ok());
  r.mutable_data()->set_direction(static_cast<v1::RecordDirection>(-1));
  EXPECT_FALSE(ValidateRecord(r).ok());
  r = kinds[4];
  r.mutable_stream_summary()->set_direction(
      static_cast<v1::RecordDirection>(99));
  EXPECT_FALSE(ValidateRecord(r).ok());
  r = kinds[6];
  r.mutable_session_end()->set_status(static_cast<v1::SessionStatus>(5));
  EXPECT_FALSE(ValidateRecord(r).ok());
  r.mutable_session_end()->set_status(v1::SESSION_STATUS_FAILED);
  EXPECT_TRUE(ValidateRecord(r).ok());
  r = kinds[3];
  r.mutable_data()->set_direction(v1::RECORD_DIRECTION_INPUT);
  EXPECT_TRUE(ValidateRecord(r).ok());
  // Fields a kind does not use are refused when read back.
  RecordFields f = ToFields(good);
  f.value1 = 1;
  EXPECT_FALSE(FromFields(f).ok());
  f = ToFields(kinds[0]);  // a channel open: no data
  f.data = "x";
  EXPECT_FALSE(FromFields(f).ok());
  f = ToFields(good);
  f.kind = "bogus";
  EXPECT_FALSE(FromFields(f).ok());
}

// session_start: the session's metadata as record 1 (name=user,
// summary=host, data=login, value1=started_at_us), and only there.
TEST(RecordingRecordTest, SessionStartIsTheFirstRecordAndRoundTrips) {
  v1::RecordingRecord r;
  r.set_session_id("s-1");
  r.set_seq(1);
  v1::SessionStartRecord* m = r.mutable_session_start();
  m->set_user("alice");
  m->set_login("ubuntu");
  m->set_host("web01");
  m->set_started_at_us(1700000000123456);
  ASSERT_TRUE(ValidateRecord(r).ok());
  const RecordFields f = ToFields(r);
  EXPECT_EQ(f.kind, "session_start");
  EXPECT_EQ(f.name, "alice");
  EXPECT_EQ(f.summary, "web01");
  EXPECT_EQ(f.data, "ubuntu");
  EXPECT_EQ(f.value1, 1700000000123456);
  std::string canonical;
  AppendCanonicalBytes(f, canonical);
  absl::StatusOr<RecordFields> parsed = ParseCanonicalBytes(canonical);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  absl::StatusOr<v1::RecordingRecord> back = FromFields(*parsed);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->SerializeAsString(), r.SerializeAsString());
  // Not after record 1, not on a channel, not later than the start.
  v1::RecordingRecord bad = r;
  bad.set_seq(2);
  EXPECT_FALSE(ValidateRecord(bad).ok());
  bad = r;
  bad.set_channel_id(1);
  EXPECT_FALSE(ValidateRecord(bad).ok());
  bad = r;
  bad.set_offset_us(1);
  EXPECT_FALSE(ValidateRecord(bad).ok());
  bad = r;
  bad.mutable_session_start()->set_login(std::string("a\0b", 3));
  EXPECT_FALSE(ValidateRecord(bad).ok());
  RecordFields unused = f;
  unused.value2 = 1;
  EXPECT_FALSE(FromFields(unused).ok());
  unused = f;
  unused.direction = "input";
  EXPECT_FALSE(FromFields(unused).ok());
}

// The session's stored metadata is compared with the chain's start and
// end, the first field that differs named.
TEST(RecordingRecordTest, SessionMetadataCheckNamesTheFirstFieldThatDiffers) {
  v1::RecordingRecord start;
  start.set_seq(1);
  v1::SessionStartRecord* m = start.mutable_session_start();
  m->set_user("alice");
  m->set_login("ubuntu");
  m->set_host("web01");
  m->set_started_at_us(1700000000000000);
  v1::RecordingRecord data;
  data.set_seq(2);
  data.mutable_data()->set_bytes("x");
  v1::RecordingRecord end;
  end.set_seq(3);
  end.set_offset_us(5000000);
  end.mutable_session_end()->set_status(v1::SESSION_STATUS_ENDED);
  v1::RecordingSession s;
  s.set_user("alice");
  s.set_login("ubuntu");
  s.set_host("web01");
  s.set_started_at_us(1700000000000000);
  s.set_status(v1::SESSION_STATUS_ENDED);
  s.set_ended_at_us(1700000005000000);

  SessionMetadataCheck check;
  for (const auto& r : {start, data, end}) check.Add(r);
  EXPECT_TRUE(check.covered());
  EXPECT_EQ(check.Finish(s), std::nullopt);
  v1::RecordingSession edited = s;
  edited.set_user("mallory");
  edited.set_host("db01");
  EXPECT_EQ(check.Finish(edited),
            std::make_optional(std::make_pair(
                uint64_t{1}, std::string("the session's user is \"mallory\" "
                                         "but its recording says \"alice\""))));
  edited = s;
  edited.set_ended_at_us(0);
  edited.set_status(v1::SESSION_STATUS_ACTIVE);
  EXPECT_EQ(check.Finish(edited)->first, 3u);

  // Still recording: active, no end.
  SessionMetadataCheck live;
  live.Add(start);
  live.Add(data);
  v1::RecordingSession active = s;
  active.set_status(v1::SESSION_STATUS_ACTIVE);
  active.set_ended_at_us(0);
  EXPECT_EQ(live.Finish(active), std::nullopt);
  EXPECT_EQ(live.Finish(s),
            std::make_optional(std::make_pair(
                uint64_t{3}, std::string("the session's status is \"ended\" "
                                         "but its recording has no end"))));

  // Made before session_start records: only the end is compared.
  SessionMetadataCheck old;
  data.set_seq(1);
  end.set_seq(2);
  old.Add(data);
  old.Add(end);
  EXPECT_FALSE(old.covered());
  v1::RecordingSession framed = s;
  framed.set_user("mallory");
  EXPECT_EQ(old.Finish(framed), std::nullopt);
  framed.set_status(v1::SESSION_STATUS_FAILED);
  EXPECT_EQ(old.Finish(framed)->first, 2u);
}

TEST(RecordingRecordTest, StreamHasherMatchesSha256) {
  StreamHasher h;
  h.Update("a");
  h.Update("bc");
  absl::StatusOr<std::string> d = h.Finish();
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(absl::BytesToHexString(*d),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  h.Update("abc");  // starts over after Finish
  EXPECT_EQ(*h.Finish(), *d);
}

}  // namespace
}  // namespace sallyport::audit
