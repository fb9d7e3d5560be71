// Store suite: session recordings (schema version 5) — every record kind
// round-trips, the chain head follows the appends, an append returns the
// session as stored, re-shipping is idempotent, gaps and altered
// re-shipments are refused, sessions end as `interrupted`, sessions stored
// before version 5 survive the upgrade, a session is owned by the first
// gateway to claim it (version 6), and recordings survive the rename of
// their table (version 7).
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "storage/migrations/migrations.h"
#include "storage/store_test_records.h"
#include "storage/store_test_suite.h"

namespace sallyport::storage::testing {
namespace {

using Rows = std::vector<std::vector<std::string>>;

// One record of every kind, seq 1..7, with every field used.
std::vector<SessionRecord> EveryKind(const std::string& session) {
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte.push_back(static_cast<char>(b));
  std::vector<SessionRecord> out;
  auto add = [&](SessionRecordKind kind) -> SessionRecord& {
    SessionRecord r;
    r.session_id = session;
    r.seq = out.size() + 1;
    r.channel = static_cast<uint32_t>(out.size() % 3);
    r.offset = absl::Milliseconds(out.size() * 250) + absl::Microseconds(7);
    r.kind = kind;
    r.hash = FakeHash(r.seq);
    out.push_back(r);
    return out.back();
  };
  SessionRecord& open = add(SessionRecordKind::kChannelOpen);
  open.name = "direct-tcpip";
  open.summary = "db.internal:5432";
  SessionRecord& req = add(SessionRecordKind::kRequest);
  req.direction = RecordDirection::kInput;
  req.name = "exec";
  req.summary = "echo 'héllo' | wc -c";
  SessionRecord& win = add(SessionRecordKind::kWindowChange);
  win.value1 = 200;
  win.value2 = 50;
  SessionRecord& data = add(SessionRecordKind::kData);
  data.direction = RecordDirection::kOutput;
  data.stream = 1;
  data.data = every_byte;
  SessionRecord& sum = add(SessionRecordKind::kStreamSummary);
  sum.direction = RecordDirection::kOutput;
  sum.value1 = int64_t{20} << 30;
  sum.value2 = int64_t{16} << 20;
  sum.data = std::string(32, '\xab');
  SessionRecord& close = add(SessionRecordKind::kChannelClose);
  close.channel = 0xffffffffu;
  close.value1 = 123;
  close.value2 = 456789;
  SessionRecord& end = add(SessionRecordKind::kSessionEnd);
  end.name = "interrupted";
  end.summary = "the gateway restarted";
  end.value1 = -1;
  return out;
}

// Schema version 14: a recording's first record may be its session_start
// (the session's user, login, host and start, in the chain).
TEST_P(StoreTest, SessionStartRecordsAreStored) {
  SP_ASSERT_OK(
      store_->CreateSession(RecordedSession("r-start", "gw-a")).status());
  SessionRecord start;
  start.session_id = "r-start";
  start.seq = 1;
  start.kind = SessionRecordKind::kSessionStart;
  start.name = "alice";
  start.summary = "web01";
  start.data = "ubuntu";
  start.value1 = 1700000000123456;
  start.hash = FakeHash(1);
  SP_ASSERT_OK_AND_ASSIGN(Session head, store_->AppendSessionRecords({start}));
  EXPECT_EQ(head.last_seq, 1u);
  SP_ASSERT_OK_AND_ASSIGN(std::vector<SessionRecord> got,
                          store_->ListSessionRecords("r-start", 0, 10));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], start);
  EXPECT_EQ(SessionRecordKindName(got[0].kind), "session_start");
}

TEST_P(StoreTest, RecordingRecordsOfEveryKindRoundTrip) {
  SP_ASSERT_OK_AND_ASSIGN(Session created,
                          store_->CreateSession(RecordedSession("r1", "gw-a")));
  EXPECT_EQ(created.gateway_id, "gw-a");
  EXPECT_EQ(created.last_seq, 0u);
  EXPECT_EQ(created.chain_head, kRecordingGenesisHash);

  const std::vector<SessionRecord> records = EveryKind("r1");
  SP_ASSERT_OK_AND_ASSIGN(
      Session head, store_->AppendSessionRecords({records[0], records[1]}));
  EXPECT_EQ(head.last_seq, 2u);
  EXPECT_EQ(head.chain_head, records[1].hash);
  // Re-shipping 2..7 skips 2 (same hash) and stores the rest.
  SP_ASSERT_OK_AND_ASSIGN(
      head, store_->AppendSessionRecords(std::vector<SessionRecord>(
                records.begin() + 1, records.end())));
  EXPECT_EQ(head.last_seq, 7u);
  EXPECT_EQ(head.chain_head, records[6].hash);
  // hyg: the channel close's byte counts went to the session, once.
  EXPECT_EQ(head.bytes_in, 123);
  EXPECT_EQ(head.bytes_out, 456789);
  SP_ASSERT_OK_AND_ASSIGN(head, store_->AppendSessionRecords(records));
  EXPECT_EQ(head.bytes_in, 123);
  EXPECT_EQ(head.bytes_out, 456789);

  SP_ASSERT_OK_AND_ASSIGN(std::vector<SessionRecord> got,
                          store_->ListSessionRecords("r1", 0, 100));
  ASSERT_EQ(got.size(), records.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], records[i]) << i;
  SP_ASSERT_OK_AND_ASSIGN(got, store_->ListSessionRecords("r1", 3, 2));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].seq, 4u);
  EXPECT_EQ(got[1].seq, 5u);
  SP_ASSERT_OK_AND_ASSIGN(Session stored, store_->GetSession("r1"));
  EXPECT_EQ(stored, head);
}

// An append returns the session as GetSession then reads it (from the
// append's own transaction): after new records, records all stored already
// (nothing written), stored and new ones with a channel's close, and
// records shipped again after the session ended.
TEST_P(StoreTest, AnAppendReturnsTheSessionAsStored) {
  SP_ASSERT_OK(store_->CreateSession(RecordedSession("r5", "gw-a")));
  const std::vector<SessionRecord> records = EveryKind("r5");
  auto append = [&](size_t from, size_t to) -> Session {
    absl::StatusOr<Session> got =
        store_->AppendSessionRecords(std::vector<SessionRecord>(
            records.begin() + from, records.begin() + to));
    EXPECT_TRUE(got.ok()) << got.status();
    absl::StatusOr<Session> stored = store_->GetSession("r5");
    EXPECT_TRUE(stored.ok()) << stored.status();
    if (!got.ok() || !stored.ok()) return Session{};
    EXPECT_EQ(*got, *stored) << from << ".." << to;
    return *got;
  };
  Session s = append(0, 4);  // up to the data record
  EXPECT_EQ(s.last_seq, 4u);
  EXPECT_EQ(s.open_bytes_out, 256);
  s = append(1, 3);  // all stored
  EXPECT_EQ(s.last_seq, 4u);
  EXPECT_EQ(s.chain_head, records[3].hash);
  s = append(2, 6);  // stored, then new ones with a close
  EXPECT_EQ(s.last_seq, 6u);
  EXPECT_EQ(s.bytes_out, 456789);
  s = append(6, 7);
  EXPECT_EQ(s.last_seq, 7u);
  EXPECT_EQ(s.status, SessionStatus::kActive);
  SessionEnd end;
  end.ended_at = absl::FromUnixMicros(1700000100000001);
  end.status = SessionStatus::kInterrupted;
  end.bytes_in = s.bytes_in;
  end.bytes_out = s.bytes_out;
  end.expect_last_seq = 7;
  SP_ASSERT_OK_AND_ASSIGN(Session ended, store_->EndSession("r5", end));
  s = append(0, 7);  // all stored, the session ended
  EXPECT_EQ(s, ended);
  EXPECT_EQ(s.status, SessionStatus::kInterrupted);
  EXPECT_EQ(s.open_bytes_out, 0);
}

// The session's byte counts saturate instead of overflowing (an upload
// past INT64_MAX failed, and every later upload of the session with it).
TEST_P(StoreTest, RecordingByteCountsSaturate) {
  SP_ASSERT_OK(store_->CreateSession(RecordedSession("big", "gw-a")));
  std::vector<SessionRecord> records;
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    SessionRecord close;
    close.session_id = "big";
    close.seq = seq;
    close.kind = SessionRecordKind::kChannelClose;
    close.value1 = std::numeric_limits<int64_t>::max() - 1;
    close.value2 = 5;
    close.hash = FakeHash(seq);
    records.push_back(close);
  }
  SP_ASSERT_OK(store_->AppendSessionRecords({records[0]}));
  SP_ASSERT_OK_AND_ASSIGN(Session s,
                          store_->AppendSessionRecords({records[1]}));
  EXPECT_EQ(s.bytes_in, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(s.bytes_out, 10);
  SP_ASSERT_OK_AND_ASSIGN(s, store_->AppendSessionRecords({records[2]}));
  EXPECT_EQ(s.last_seq, 3u);
  EXPECT_EQ(s.bytes_in, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(s.bytes_out, 15);
}

TEST_P(StoreTest, RecordingAppendsAreGapFreeAndNeverRewritten) {
  SP_ASSERT_OK(store_->CreateSession(RecordedSession("r2", "gw-a")));
  std::vector<SessionRecord> records = EveryKind("r2");
  // A gap: 3 before 1..2.
  SP_EXPECT_CODE(store_->AppendSessionRecords({records[2]}),
                 kFailedPrecondition);
  SP_ASSERT_OK(store_->AppendSessionRecords({records[0], records[1]}));
  // Non-consecutive seqs within one append.
  SP_EXPECT_CODE(store_->AppendSessionRecords({records[2], records[4]}),
                 kInvalidArgument);
  // A stored record shipped again with another hash (an edit) is refused
  // and stores nothing of its batch.
  SessionRecord edited = records[1];
  edited.hash = FakeHash(2, 'b');
  SP_EXPECT_CODE(store_->AppendSessionRecords({edited, records[2]}),
                 kFailedPrecondition);
  SP_ASSERT_OK_AND_ASSIGN(Session s, store_->GetSession("r2"));
  EXPECT_EQ(s.last_seq, 2u);
  // Mixed sessions, an unknown session, bad fields.
  SP_ASSERT_OK(store_->CreateSession(RecordedSession("other", "gw-a")));
  SessionRecord foreign = records[2];
  foreign.session_id = "other";
  SP_EXPECT_CODE(store_->AppendSessionRecords({records[2], foreign}),
                 kInvalidArgument);
  SessionRecord orphan = records[0];
  orphan.session_id = "missing";
  SP_EXPECT_CODE(store_->AppendSessionRecords({orphan}), kNotFound);
  SessionRecord bad_hash = records[2];
  bad_hash.hash = "ABC";
  SP_EXPECT_CODE(store_->AppendSessionRecords({bad_hash}), kInvalidArgument);
  SessionRecord huge = records[2];
  huge.data.assign(kMaxChunkBytes + 1, 'x');
  SP_EXPECT_CODE(store_->AppendSessionRecords({huge}), kInvalidArgument);
  SP_EXPECT_CODE(store_->AppendSessionRecords({}), kInvalidArgument);
  SP_EXPECT_CODE(store_->ListSessionRecords("r2", 0, 0), kInvalidArgument);
  SP_ASSERT_OK_AND_ASSIGN(std::vector<SessionRecord> got,
                          store_->ListSessionRecords("r2", 0, 100));
  EXPECT_EQ(got.size(), 2u);
}

TEST_P(StoreTest, RecordedSessionEndsOnlyWithEveryRecordAndAsInterrupted) {
  SP_ASSERT_OK(store_->CreateSession(RecordedSession("r3", "gw-b")));
  const std::vector<SessionRecord> records = EveryKind("r3");
  SP_ASSERT_OK(store_->AppendSessionRecords({records[0], records[1]}));
  SessionEnd end;
  end.ended_at = absl::FromUnixMicros(1700000100000001);
  end.status = SessionStatus::kInterrupted;
  end.bytes_in = 10;
  end.bytes_out = 20;
  end.expect_last_seq = 3;  // one record has not arrived
  SP_EXPECT_CODE(store_->EndSession("r3", end), kFailedPrecondition);
  SP_ASSERT_OK(store_->AppendSessionRecords({records[2]}));
  SP_ASSERT_OK_AND_ASSIGN(Session ended, store_->EndSession("r3", end));
  EXPECT_EQ(ended.status, SessionStatus::kInterrupted);
  EXPECT_EQ(ended.ended_at, end.ended_at);
  EXPECT_EQ(ended.last_seq, 3u);
  EXPECT_EQ(ended.chain_head, records[2].hash);
  EXPECT_EQ(ended.gateway_id, "gw-b");
  // Ended: re-shipping stored records is fine, new ones are refused.
  SP_ASSERT_OK(store_->AppendSessionRecords({records[1], records[2]}));
  SP_EXPECT_CODE(store_->AppendSessionRecords({records[3]}),
                 kFailedPrecondition);
  SP_EXPECT_CODE(store_->EndSession("r3", end), kFailedPrecondition);

  SessionFilter f;
  SP_ASSERT_OK_AND_ASSIGN(std::vector<Session> list, store_->ListSessions(f));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0], ended);
}

TEST_P(StoreTest, ASessionIsOwnedByTheFirstGatewayToClaimIt) {
  // An id the Store does not know: the first claim wins, for good.
  SP_ASSERT_OK_AND_ASSIGN(std::string owner, store_->ClaimSession("x", "gw-a"));
  EXPECT_EQ(owner, "gw-a");
  SP_ASSERT_OK_AND_ASSIGN(owner, store_->ClaimSession("x", "gw-b"));
  EXPECT_EQ(owner, "gw-a");
  SP_ASSERT_OK_AND_ASSIGN(owner, store_->ClaimSession("x", "gw-a"));
  EXPECT_EQ(owner, "gw-a");
  // Storing the session is the claim's too: another gateway is refused.
  SP_EXPECT_CODE(store_->CreateSession(RecordedSession("x", "gw-b")),
                 kPermissionDenied);
  SP_ASSERT_OK(store_->CreateSession(RecordedSession("x", "gw-a")));
  SP_ASSERT_OK_AND_ASSIGN(owner, store_->ClaimSession("x", "gw-b"));
  EXPECT_EQ(owner, "gw-a");
  // A session stored first is owned by its gateway.
  SP_ASSERT_OK(store_->CreateSession(RecordedSession("y", "gw-b")));
  SP_ASSERT_OK_AND_ASSIGN(owner, store_->ClaimSession("y", "gw-a"));
  EXPECT_EQ(owner, "gw-b");
  // A session stored without a gateway (before version 5) is no one's.
  SP_ASSERT_OK(store_->CreateSession(RecordedSession("z", "")));
  SP_ASSERT_OK_AND_ASSIGN(owner, store_->ClaimSession("z", "gw-a"));
  EXPECT_EQ(owner, "");
  SP_EXPECT_CODE(store_->ClaimSession("", "gw-a"), kInvalidArgument);
  SP_EXPECT_CODE(store_->ClaimSession("w", ""), kInvalidArgument);
  SP_EXPECT_CODE(store_->ClaimSession("w", std::string(kMaxNameBytes + 1, 'g')),
                 kInvalidArgument);
}

TEST_P(StoreTest, ConcurrentClaimsAgreeOnOneOwner) {
  constexpr int kGateways = 8;
  std::unique_ptr<Store> other = OpenAnother();
  ASSERT_NE(other, nullptr);
  for (int round = 0; round < 10; ++round) {
    const std::string id = absl::StrCat("race-", round);
    std::vector<std::string> owners(kGateways);
    std::vector<std::thread> threads;
    for (int g = 0; g < kGateways; ++g) {
      Store* s = g % 2 == 0 ? store_.get() : other.get();
      threads.emplace_back([s, g, &id, &owners] {
        absl::StatusOr<std::string> o =
            s->ClaimSession(id, absl::StrCat("gw-", g));
        if (o.ok()) {
          owners[g] = *o;
        } else {
          ADD_FAILURE() << o.status();
        }
      });
    }
    for (auto& t : threads) t.join();
    for (const std::string& o : owners) EXPECT_EQ(o, owners[0]) << id;
    EXPECT_TRUE(absl::StartsWith(owners[0], "gw-")) << owners[0];
  }
}

// The raw chunks of schema version 1, which the Store no longer reads, read
// with plain SQL.
constexpr char kLegacyChunks[] =
    "SELECT session_id, CAST(seq AS TEXT), CAST(offset_us AS TEXT), stream, "
    "data FROM legacy_session_chunks ORDER BY session_id, seq";

TEST_P(StoreTest, SessionsFromVersion4SurviveTheRecordingUpgrade) {
  const absl::Span<const migrations::Migration> all = backend_->Migrations();
  ASSERT_GE(all.size(), 5u);
  std::string rows;
  absl::StrAppend(
      &rows,
      "INSERT INTO sessions (id, user_name, login, host, started_at_us, "
      "ended_at_us, bytes_in, bytes_out, status) VALUES ('old', 'alice', "
      "'root', 'web01', 5, 9, 1, 2, 'failed');\n"
      "INSERT INTO session_chunks (session_id, seq, channel, offset_us, "
      "stream, data) VALUES ('old', 1, 0, 3, 'output', ",
      backend_->BlobLiteral("out"), ");\n");
  std::unique_ptr<Store> upgraded = UpgradeFrom(4, rows);
  ASSERT_NE(upgraded, nullptr);
  SP_ASSERT_OK_AND_ASSIGN(Session old, upgraded->GetSession("old"));
  EXPECT_EQ(old.status, SessionStatus::kFailed);
  EXPECT_EQ(old.login, "root");
  EXPECT_EQ(old.ended_at, absl::FromUnixMicros(9));
  EXPECT_EQ(old.gateway_id, "");
  EXPECT_EQ(old.last_seq, 0u);
  EXPECT_EQ(old.chain_head, kRecordingGenesisHash);
  // The version 1 chunk is kept (in legacy_session_chunks since version 7).
  SP_ASSERT_OK_AND_ASSIGN(Rows legacy, backend_->QueryRawSql(kLegacyChunks));
  EXPECT_EQ(legacy, (Rows{{"old", "1", "3", "output", "out"}}));
  // The new status and table work on the upgraded schema.
  SP_ASSERT_OK(upgraded->CreateSession(RecordedSession("new", "gw")));
  SP_ASSERT_OK(upgraded->AppendSessionRecords(EveryKind("new")));
  SessionEnd end;
  end.ended_at = absl::FromUnixMicros(1700000200000000);
  end.status = SessionStatus::kInterrupted;
  SP_ASSERT_OK(upgraded->EndSession("new", end));
}

// Version 7 renames session_records to session_chunks (and the version 1
// chunks table to legacy_session_chunks): a database at version 6 with a
// recording, a legacy chunk and claims upgrades with every row readable,
// and the recording goes on where it stopped.
TEST_P(StoreTest, RecordingsFromVersion6SurviveTheTableRename) {
  const absl::Span<const migrations::Migration> all = backend_->Migrations();
  ASSERT_GE(all.size(), 7u);
  EXPECT_STREQ(all[6].name, "session_chunks");
  std::string rows;
  absl::StrAppend(
      &rows,
      "INSERT INTO sessions (id, user_name, login, host, started_at_us, "
      "ended_at_us, bytes_in, bytes_out, status, gateway_id, last_seq, "
      "chain_head) VALUES ('v6', 'alice', 'root', 'web01', 5, NULL, 0, 0, "
      "'active', 'gw-a', 2, '",
      FakeHash(2), "');\n");
  for (int seq : {1, 2}) {
    absl::StrAppend(
        &rows,
        "INSERT INTO session_records (session_id, seq, channel, offset_us, "
        "kind, direction, stream, name, summary, value1, value2, data, hash) "
        "VALUES ('v6', ",
        seq, ", 0, ", seq * 10, ", 'data', 'output', 0, '', '', 0, 0, ",
        backend_->BlobLiteral(absl::StrCat("bytes-", seq)), ", '",
        FakeHash(seq), "');\n");
  }
  absl::StrAppend(
      &rows,
      "INSERT INTO session_chunks (session_id, seq, channel, offset_us, "
      "stream, data) VALUES ('v6', 1, 0, 3, 'output', ",
      backend_->BlobLiteral("raw"),
      ");\n"
      "INSERT INTO session_owners (session_id, gateway_id, claimed_at_us) "
      "VALUES ('v6', 'gw-a', 5), ('pending', 'gw-b', 7);\n");
  std::unique_ptr<Store> upgraded = UpgradeFrom(6, rows);
  ASSERT_NE(upgraded, nullptr);
  SP_ASSERT_OK_AND_ASSIGN(std::vector<SessionRecord> records,
                          upgraded->ListSessionRecords("v6", 0, 10));
  ASSERT_EQ(records.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(records[i].seq, static_cast<uint64_t>(i + 1));
    EXPECT_EQ(records[i].offset, absl::Microseconds((i + 1) * 10));
    EXPECT_EQ(records[i].kind, SessionRecordKind::kData);
    EXPECT_EQ(records[i].direction, RecordDirection::kOutput);
    EXPECT_EQ(records[i].data, absl::StrCat("bytes-", i + 1));
    EXPECT_EQ(records[i].hash, FakeHash(i + 1));
  }
  SP_ASSERT_OK_AND_ASSIGN(Rows legacy, backend_->QueryRawSql(kLegacyChunks));
  EXPECT_EQ(legacy, (Rows{{"v6", "1", "3", "output", "raw"}}));
  SP_ASSERT_OK_AND_ASSIGN(std::string owner,
                          upgraded->ClaimSession("pending", "gw-a"));
  EXPECT_EQ(owner, "gw-b");
  // The recording continues after its stored head, in the renamed table.
  SessionRecord next = records[1];
  next.seq = 3;
  next.data = "bytes-3";
  next.hash = FakeHash(3);
  SP_ASSERT_OK_AND_ASSIGN(Session s, upgraded->AppendSessionRecords({next}));
  EXPECT_EQ(s.last_seq, 3u);
  EXPECT_EQ(s.chain_head, FakeHash(3));
  SP_ASSERT_OK(upgraded->AppendSessionRecords({records[1]}));  // re-sent
  SP_ASSERT_OK_AND_ASSIGN(records, upgraded->ListSessionRecords("v6", 0, 10));
  EXPECT_EQ(records.size(), 3u);
  // The old name is gone.
  EXPECT_FALSE(backend_->ExecRawSql("SELECT 1 FROM session_records;").ok());
}

// The end record and the session's end were two transactions: between
// them (or for good, when the CA stopped in between) `spctl sessions
// verify` saw an end record of a session whose row was still active.
// A close the database refuses (a trigger here) now leaves the end record
// unstored too; once the close can be written, record, end and the end's
// audit event are stored at once, and the same records sent again end
// nothing and add no second event.
TEST_P(StoreTest, AnEndRecordIsStoredWithTheSessionsEndOrNotAtAll) {
  const std::string id = "sess-end";
  SP_ASSERT_OK(store_->CreateSession(RecordedSession(id, "gw-a")));
  SP_ASSERT_OK(store_->AppendSessionRecords(
      {DataRec(id, 1, 0, RecordDirection::kOutput, 5),
       Rec(id, 2, 0, SessionRecordKind::kChannelOpen)}));
  const std::vector<SessionRecord> ending = {
      CloseRec(id, 3, 0, 7, 900),
      Rec(id, 4, 0, SessionRecordKind::kSessionEnd)};
  SessionEnd end;
  end.ended_at = absl::FromUnixMicros(1700000000123456 + 4000);
  end.status = SessionStatus::kInterrupted;
  int built = 0;
  end.event = [&](const Session& ended) {
    ++built;
    return AuditEventInput{
        "session.end", ended.user,
        absl::StrCat(R"({"bytes_out":)", ended.bytes_out, R"(,"status":")",
                     std::string(SessionStatusName(ended.status)), R"("})")};
  };
  const bool sqlite = GetParam().name == "Sqlite";
  SP_ASSERT_OK(backend_->ExecRawSql(
      sqlite ? "CREATE TRIGGER refuse_close BEFORE UPDATE OF status ON "
               "sessions WHEN NEW.status <> 'active' BEGIN "
               "SELECT RAISE(ABORT, 'the close fails'); END"
             : "CREATE FUNCTION refuse_close() RETURNS trigger LANGUAGE "
               "plpgsql AS $$ BEGIN RAISE EXCEPTION 'the close fails'; END $$; "
               "CREATE TRIGGER refuse_close BEFORE UPDATE ON sessions FOR "
               "EACH ROW WHEN (NEW.status <> 'active') EXECUTE FUNCTION "
               "refuse_close()"));
  EXPECT_FALSE(store_->AppendSessionRecordsAndEnd(ending, end).ok());
  SP_ASSERT_OK_AND_ASSIGN(Session s, store_->GetSession(id));
  EXPECT_EQ(s.status, SessionStatus::kActive);
  EXPECT_EQ(s.last_seq, 2u) << "the end record was stored without the end";
  SP_ASSERT_OK_AND_ASSIGN(std::vector<SessionRecord> stored,
                          store_->ListSessionRecords(id, 0, 10));
  EXPECT_EQ(stored.size(), 2u);
  SP_ASSERT_OK_AND_ASSIGN(AuditHead head, store_->GetAuditHead());
  EXPECT_EQ(head.seq, 0u);

  SP_ASSERT_OK(
      backend_->ExecRawSql(sqlite ? "DROP TRIGGER refuse_close"
                                  : "DROP TRIGGER refuse_close ON sessions; "
                                    "DROP FUNCTION refuse_close()"));
  SP_ASSERT_OK_AND_ASSIGN(EndedSession done,
                          store_->AppendSessionRecordsAndEnd(ending, end));
  EXPECT_TRUE(done.ended);
  EXPECT_EQ(done.session.status, SessionStatus::kInterrupted);
  EXPECT_EQ(done.session.last_seq, 4u);
  EXPECT_EQ(done.session.ended_at, end.ended_at);
  // The counts its close records summed (end.bytes_* are not used).
  EXPECT_EQ(done.session.bytes_in, 7);
  EXPECT_EQ(done.session.bytes_out, 900);
  EXPECT_EQ(done.session.open_bytes_out, 0);
  SP_ASSERT_OK_AND_ASSIGN(s, store_->GetSession(id));
  EXPECT_EQ(s, done.session);
  // Sent again (a lost answer): nothing more.
  SP_ASSERT_OK_AND_ASSIGN(done,
                          store_->AppendSessionRecordsAndEnd(ending, end));
  EXPECT_FALSE(done.ended);
  EXPECT_EQ(done.session, s);
  SP_ASSERT_OK_AND_ASSIGN(std::vector<AuditEvent> events,
                          store_->ListAuditEvents(0, 10));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "session.end");
  EXPECT_EQ(events[0].actor, "alice");
  EXPECT_EQ(events[0].payload_json,
            R"({"bytes_out":900,"status":"interrupted"})");
  EXPECT_GE(built, 1);
}

// An end that does not come last (records after it already stored) or an
// event the store refuses ends nothing and stores nothing.
TEST_P(StoreTest, AnEndThatCannotBeWrittenLeavesItsRecordsUnstored) {
  const std::string id = "sess-bad-end";
  SP_ASSERT_OK(store_->CreateSession(RecordedSession(id, "gw-a")));
  SP_ASSERT_OK(store_->AppendSessionRecords(
      {Rec(id, 1, 0, SessionRecordKind::kChannelOpen)}));
  SessionEnd end;
  end.ended_at = absl::FromUnixMicros(1700000000123456 + 4000);
  end.status = SessionStatus::kInterrupted;
  end.event = [](const Session&) { return AuditEventInput{"", "alice", "{}"}; };
  const std::vector<SessionRecord> ending = {
      Rec(id, 2, 0, SessionRecordKind::kSessionEnd)};
  SP_EXPECT_CODE(store_->AppendSessionRecordsAndEnd(ending, end),
                 kInvalidArgument);
  SP_ASSERT_OK_AND_ASSIGN(Session s, store_->GetSession(id));
  EXPECT_EQ(s.status, SessionStatus::kActive);
  EXPECT_EQ(s.last_seq, 1u);
  SP_ASSERT_OK_AND_ASSIGN(AuditHead head, store_->GetAuditHead());
  EXPECT_EQ(head.seq, 0u);
  // Records already stored beyond the end: the end is not the last one.
  end.event = nullptr;
  SP_ASSERT_OK(store_->AppendSessionRecords(
      {Rec(id, 2, 0, SessionRecordKind::kSessionEnd),
       Rec(id, 3, 0, SessionRecordKind::kChannelOpen)}));
  SP_EXPECT_CODE(store_->AppendSessionRecordsAndEnd(ending, end),
                 kFailedPrecondition);
  SP_ASSERT_OK_AND_ASSIGN(s, store_->GetSession(id));
  EXPECT_EQ(s.status, SessionStatus::kActive);
}

}  // namespace
}  // namespace sallyport::storage::testing
