// The Audit service against a real in-process CA over mTLS (SQLite store):
// ListSessions with grep at its named limits (one call searches at most
// AuditService::kMaxGrepSessions sessions, newest first, and says so,
// grep_incomplete, only when older sessions were left unsearched; a
// session is searched whole up to kMaxGrepBytesPerSession and, when cut
// short there without a match, named in grep_partial); an
// active session's bytes so far in ListSessions and ReadSession.
#include "ca/audit_service.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "audit/recording_record.h"
#include "audit/recording_store.h"
#include "base/clock.h"
#include "ca/ca_test_env.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"

namespace sallyport::ca {
namespace {

namespace pb = admin::v1;
namespace av1 = ::sallyport::audit::v1;

storage::Session At(const std::string& id, absl::Time started_at) {
  storage::Session s;
  s.id = id;
  s.user = "alice";
  s.login = "ubuntu";
  s.host = "web01";
  s.gateway_id = "gw-1";
  s.started_at = started_at;
  return s;
}

// Chains `records` and stores them, as the CA's recording writer does.
void Append(storage::Store& store, audit::RecordChainer& chain,
            std::vector<av1::RecordingRecord> records) {
  std::vector<storage::SessionRecord> rows;
  for (av1::RecordingRecord& r : records) {
    ASSERT_TRUE(chain.Append(r).ok());
    absl::StatusOr<storage::SessionRecord> row = audit::ToStoreRecord(r);
    ASSERT_TRUE(row.ok()) << row.status();
    rows.push_back(*row);
  }
  ASSERT_TRUE(store.AppendSessionRecords(rows).ok());
}

TEST(AuditServiceTest, GrepSearchesAtMostItsLimitOfSessionsAndSaysSo) {
  auto env = CaTestEnv::Create();
  ASSERT_TRUE(env.ok()) << env.status();
  storage::Store& store = (*env)->store();
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  // Exactly the limit of sessions, none with the word.
  for (int i = 0; i < AuditService::kMaxGrepSessions; ++i) {
    ASSERT_TRUE(
        store.CreateSession(At(absl::StrCat("s", i), t0 + absl::Seconds(i + 1)))
            .ok())
        << i;
  }
  auto login = (*env)->Login("admin", (*env)->admin_password());
  ASSERT_TRUE(login.status.ok()) << login.status.error_message();
  auto stub = pb::Audit::NewStub(login.channel);
  auto grep = [&](absl::Time until) {
    pb::ListSessionsRequest req;
    req.set_grep("needle");
    req.set_limit(1);
    if (until != absl::InfiniteFuture()) {
      req.mutable_until()->set_seconds(absl::ToUnixSeconds(until));
    }
    pb::ListSessionsResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(120));
    grpc::Status st = stub->ListSessions(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  };
  // At the limit: every session searched, nothing left over.
  pb::ListSessionsResponse all = grep(absl::InfiniteFuture());
  EXPECT_EQ(all.sessions_size(), 0);
  EXPECT_FALSE(all.grep_incomplete());

  // One older session, with the word: beyond the limit, so not searched,
  // and the response says the search stopped.
  ASSERT_TRUE(store.CreateSession(At("older", t0)).ok());
  audit::RecordChainer chain("older");
  av1::RecordingRecord r;
  r.set_offset_us(10);
  r.mutable_data()->set_direction(av1::RECORD_DIRECTION_OUTPUT);
  r.mutable_data()->set_bytes("a needle in a haystack\r\n");
  Append(store, chain, {r});
  pb::ListSessionsResponse over = grep(absl::InfiniteFuture());
  EXPECT_EQ(over.sessions_size(), 0);
  EXPECT_TRUE(over.grep_incomplete());
  // Narrowed by time, the search reaches it.
  pb::ListSessionsResponse narrowed = grep(t0 + absl::Seconds(1));
  ASSERT_EQ(narrowed.sessions_size(), 1);
  EXPECT_EQ(narrowed.sessions(0).id(), "older");
  EXPECT_FALSE(narrowed.grep_incomplete());
}

// A session's recording is searched whole up to
// kMaxGrepBytesPerSession, in memory that does not grow with it: text past
// the old 64 MiB cut is found. A session searched only in part (its
// budget spent, or kMaxGrepStreams streams open at once) without a match
// is named in grep_partial instead of passing for one without the text;
// one that matched before its budget ran out is listed as a match. A grep
// text longer than kMaxGrepTextBytes is refused.
TEST(AuditServiceTest, GrepSearchesWholeSessionsAndNamesThoseItCutShort) {
  auto env = CaTestEnv::Create();
  ASSERT_TRUE(env.ok()) << env.status();
  storage::Store& store = (*env)->store();
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  // 1 MiB of terminal output, in lines.
  std::string mib;
  while (mib.size() + 100 <= (size_t{1} << 20)) {
    mib += std::string(98, 'x') + "\r\n";
  }
  auto output = [](uint32_t channel, std::string bytes) {
    av1::RecordingRecord r;
    r.set_channel_id(channel);
    r.set_offset_us(10);
    r.mutable_data()->set_direction(av1::RECORD_DIRECTION_OUTPUT);
    r.mutable_data()->set_bytes(std::move(bytes));
    return r;
  };
  // `mebibytes` of output, then the needle (its first half in one record,
  // the rest in the next).
  auto session = [&](const std::string& id, int seconds, size_t mebibytes) {
    ASSERT_TRUE(store.CreateSession(At(id, t0 + absl::Seconds(seconds))).ok());
    audit::RecordChainer chain(id);
    for (size_t i = 0; i < mebibytes; ++i) {
      Append(store, chain, {output(0, mib)});
    }
    Append(store, chain, {output(0, "the nee"), output(0, "dle\r\n")});
  };
  constexpr size_t kBudgetMib = AuditService::kMaxGrepBytesPerSession >> 20;
  session("past-old-cut", 1, 65);
  session("cut-short", 2, kBudgetMib + 1);
  // More streams open at once than one search follows, the needle after
  // them or before.
  auto streams = [&](const std::string& id, int seconds, bool needle_first) {
    ASSERT_TRUE(store.CreateSession(At(id, t0 + absl::Seconds(seconds))).ok());
    audit::RecordChainer chain(id);
    std::vector<av1::RecordingRecord> records;
    if (needle_first) records.push_back(output(0, "the needle\r\n"));
    for (uint32_t c = 1; c <= AuditService::kMaxGrepStreams; ++c) {
      records.push_back(output(c, "y"));
    }
    if (!needle_first) records.push_back(output(0, "the needle\r\n"));
    Append(store, chain, std::move(records));
  };
  streams("streams", 3, false);
  streams("matched-early", 4, true);

  auto login = (*env)->Login("admin", (*env)->admin_password());
  ASSERT_TRUE(login.status.ok()) << login.status.error_message();
  auto stub = pb::Audit::NewStub(login.channel);
  auto grep = [&](const std::string& text, pb::ListSessionsResponse* resp) {
    pb::ListSessionsRequest req;
    req.set_grep(text);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(240));
    return stub->ListSessions(&ctx, req, resp);
  };
  pb::ListSessionsResponse resp;
  grpc::Status st = grep("the needle", &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  std::vector<std::string> matched;
  for (const pb::SessionSummary& s : resp.sessions()) {
    matched.push_back(s.id());
    EXPECT_EQ(std::vector<std::string>(s.matches().begin(), s.matches().end()),
              std::vector<std::string>{"output channel 0"})
        << s.id();
  }
  EXPECT_EQ(matched,
            (std::vector<std::string>{"matched-early", "past-old-cut"}));
  EXPECT_EQ(std::vector<std::string>(resp.grep_partial().begin(),
                                     resp.grep_partial().end()),
            (std::vector<std::string>{"streams", "cut-short"}));
  EXPECT_FALSE(resp.grep_incomplete());

  pb::ListSessionsResponse longest;
  st = grep(std::string(AuditService::kMaxGrepTextBytes, 'q'), &longest);
  EXPECT_TRUE(st.ok()) << st.error_message();
  pb::ListSessionsResponse over;
  st = grep(std::string(AuditService::kMaxGrepTextBytes + 1, 'q'), &over);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("longer than 1024 bytes"),
            std::string::npos)
      << st.error_message();
}

// `spctl sessions ls` showed 0 bytes for an active session: the listing's
// counts were the channel_close records' only. ListSessions and ReadSession
// now give the bytes so far: the closed channels' totals plus the recorded
// bytes of the channels still open; once the session ends, its totals.
TEST(AuditServiceTest, ActiveSessionsListTheirBytesSoFar) {
  auto env = CaTestEnv::Create();
  ASSERT_TRUE(env.ok()) << env.status();
  storage::Store& store = (*env)->store();
  ASSERT_TRUE(
      store.CreateSession(At("live", absl::FromUnixSeconds(1700000000))).ok());
  audit::RecordChainer chain("live");
  auto append = [&](std::vector<av1::RecordingRecord> records) {
    Append(store, chain, std::move(records));
  };
  auto record = [](uint32_t channel) {
    av1::RecordingRecord r;
    r.set_channel_id(channel);
    r.set_offset_us(10);
    return r;
  };
  auto data = [&](uint32_t channel, av1::RecordDirection d, size_t n) {
    av1::RecordingRecord r = record(channel);
    r.mutable_data()->set_direction(d);
    r.mutable_data()->set_bytes(std::string(n, 'x'));
    return r;
  };
  av1::RecordingRecord open0 = record(0), open1 = record(1), close1 = record(1);
  open0.mutable_channel_open()->set_type("session");
  open1.mutable_channel_open()->set_type("direct-tcpip");
  close1.mutable_channel_close()->set_bytes_input(4000);
  close1.mutable_channel_close()->set_bytes_output(5000);
  // A shell still running (3 bytes typed, 1200 printed so far) and a
  // tunnel that closed (counted only).
  append({open0, data(0, av1::RECORD_DIRECTION_INPUT, 3),
          data(0, av1::RECORD_DIRECTION_OUTPUT, 1200), open1, close1});

  auto login = (*env)->Login("admin", (*env)->admin_password());
  ASSERT_TRUE(login.status.ok()) << login.status.error_message();
  auto stub = pb::Audit::NewStub(login.channel);
  auto list = [&] {
    pb::ListSessionsResponse resp;
    grpc::ClientContext ctx;
    grpc::Status st =
        stub->ListSessions(&ctx, pb::ListSessionsRequest(), &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  };
  auto read = [&] {
    pb::ReadSessionRequest req;
    req.set_id("live");
    req.set_purpose("show");
    pb::ReadSessionResponse resp;
    grpc::ClientContext ctx;
    grpc::Status st = stub->ReadSession(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.session();
  };
  pb::ListSessionsResponse active = list();
  ASSERT_EQ(active.sessions_size(), 1);
  EXPECT_EQ(active.sessions(0).status(), "active");
  EXPECT_EQ(active.sessions(0).bytes_in(), 4003);
  EXPECT_EQ(active.sessions(0).bytes_out(), 6200);
  av1::RecordingSession shown = read();
  EXPECT_EQ(shown.bytes_input(), 4003);
  EXPECT_EQ(shown.bytes_output(), 6200);

  // More output, then the shell closes with its totals and the session
  // ends: the totals, nothing counted twice.
  av1::RecordingRecord close0 = record(0), end = record(0);
  close0.mutable_channel_close()->set_bytes_input(3);
  close0.mutable_channel_close()->set_bytes_output(1500);
  end.mutable_session_end()->set_status(av1::SESSION_STATUS_ENDED);
  append({data(0, av1::RECORD_DIRECTION_OUTPUT, 300)});
  EXPECT_EQ(list().sessions(0).bytes_out(), 6500);
  append({close0, end});
  storage::SessionEnd e;
  e.ended_at = absl::FromUnixSeconds(1700000100);
  absl::StatusOr<storage::Session> s = store.GetSession("live");
  ASSERT_TRUE(s.ok()) << s.status();
  e.bytes_in = s->bytes_in;
  e.bytes_out = s->bytes_out;
  ASSERT_TRUE(store.EndSession("live", e).ok());
  pb::ListSessionsResponse ended = list();
  ASSERT_EQ(ended.sessions_size(), 1);
  EXPECT_EQ(ended.sessions(0).status(), "ended");
  EXPECT_EQ(ended.sessions(0).bytes_in(), 4003);
  EXPECT_EQ(ended.sessions(0).bytes_out(), 6500);
  EXPECT_EQ(read().bytes_output(), 6500);
}

// The reads an auditor is paging through are remembered up to
// kMaxTrackedReads, the least recently served forgotten first, and for
// kReadContinuationWindow; a forgotten read's next page is audited again.
TEST(ReadContinuationsTest, AtTheLimitTheLeastRecentlyServedReadIsForgotten) {
  base::FakeClock clock;
  ReadContinuations reads(&clock);
  constexpr size_t kMax = ReadContinuations::kMaxTrackedReads;
  for (size_t i = 0; i < kMax; ++i) {
    reads.Served("alice", absl::StrCat("s", i), 10);
    clock.Advance(absl::Milliseconds(1));
  }
  EXPECT_EQ(reads.size(), kMax);
  EXPECT_TRUE(reads.Continues("alice", "s0", 10));
  EXPECT_FALSE(reads.Continues("alice", "s0", 11));  // not the cursor given
  EXPECT_FALSE(reads.Continues("bob", "s0", 10));    // another caller
  EXPECT_FALSE(reads.Continues("alice", "s0", 0));   // a read's start
  // A read already remembered moves on without forgetting another.
  reads.Served("alice", "s0", 20);
  EXPECT_EQ(reads.size(), kMax);
  EXPECT_TRUE(reads.Continues("alice", "s0", 20));
  // One more: s1 (now the least recently served) is forgotten.
  reads.Served("alice", "new", 10);
  EXPECT_EQ(reads.size(), kMax);
  EXPECT_FALSE(reads.Continues("alice", "s1", 10));
  EXPECT_TRUE(reads.Continues("alice", "s2", 10));
  EXPECT_TRUE(reads.Continues("alice", "new", 10));
  // A finished read is forgotten.
  reads.Served("alice", "new", 0);
  EXPECT_FALSE(reads.Continues("alice", "new", 10));
  EXPECT_EQ(reads.size(), kMax - 1);
  // Past the window nothing continues; the expired ones make room first.
  clock.Advance(ReadContinuations::kReadContinuationWindow);
  EXPECT_FALSE(reads.Continues("alice", "s2", 10));
  reads.Served("alice", "a", 5);
  reads.Served("alice", "b", 5);
  EXPECT_LE(reads.size(), kMax);
  EXPECT_TRUE(reads.Continues("alice", "a", 5));
}

// The window is measured on the monotonic clock: after the wall clock was
// set back an hour (NTP after a VM resume, `date -s`) a read went on
// continuing, its next pages unaudited, for that hour past the window.
TEST(ReadContinuationsTest, TheWindowEndsOnTimeAfterTheWallClockStepsBack) {
  base::FakeClock clock;
  ReadContinuations reads(&clock);
  reads.Served("alice", "s1", 10);
  clock.Set(clock.Now() - absl::Hours(1));
  clock.Advance(ReadContinuations::kReadContinuationWindow);
  EXPECT_TRUE(reads.Continues("alice", "s1", 10));
  clock.Advance(absl::Seconds(1));
  EXPECT_FALSE(reads.Continues("alice", "s1", 10));
}

// A read of a recording or of the audit log that starts after the first
// record (after_seq 1) was served without an audit event: only a request
// with after_seq 0 wrote one. It now writes one (saying after_seq); a
// normal paged read, as spctl's, still writes exactly one.
TEST(AuditServiceTest, EveryReadIsAuditedOnceHoweverItIsPaged) {
  auto env = CaTestEnv::Create();
  ASSERT_TRUE(env.ok()) << env.status();
  storage::Store& store = (*env)->store();
  ASSERT_TRUE(
      store.CreateSession(At("s1", absl::FromUnixSeconds(1700000000))).ok());
  audit::RecordChainer chain("s1");
  std::vector<av1::RecordingRecord> records;
  for (int i = 0; i < 5; ++i) {
    av1::RecordingRecord r;
    r.set_offset_us(10 + i);
    r.mutable_data()->set_direction(av1::RECORD_DIRECTION_OUTPUT);
    r.mutable_data()->set_bytes(absl::StrCat("line ", i, "\r\n"));
    records.push_back(r);
  }
  Append(store, chain, records);
  auto login = (*env)->Login("admin", (*env)->admin_password());
  ASSERT_TRUE(login.status.ok()) << login.status.error_message();
  auto stub = pb::Audit::NewStub(login.channel);
  auto events = [&](std::string_view type) {
    std::vector<std::string> out;
    absl::StatusOr<std::vector<storage::AuditEvent>> all =
        store.ListAuditEvents(0, 10000);
    EXPECT_TRUE(all.ok()) << all.status();
    if (!all.ok()) return out;
    for (const storage::AuditEvent& e : *all) {
      if (e.type == type) out.push_back(e.payload_json);
    }
    return out;
  };
  auto read = [&](uint64_t after, int limit) {
    pb::ReadSessionRequest req;
    req.set_id("s1");
    req.set_purpose("show");
    req.set_after_seq(after);
    req.set_limit(limit);
    pb::ReadSessionResponse resp;
    grpc::ClientContext ctx;
    grpc::Status st = stub->ReadSession(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  };
  // From the second record on, as a first call: one event.
  pb::ReadSessionResponse midway = read(1, 0);
  EXPECT_EQ(midway.records_size(), 4);
  std::vector<std::string> reads = events("session.read");
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_NE(reads[0].find("\"after_seq\":1"), std::string::npos) << reads[0];
  // A paged read as spctl's (2 records a page): one event.
  uint64_t after = 0;
  int pages = 0, got = 0;
  do {
    pb::ReadSessionResponse page = read(after, 2);
    got += page.records_size();
    after = page.next_after_seq();
    ++pages;
  } while (after != 0 && pages < 10);
  EXPECT_EQ(got, 5);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(events("session.read").size(), 2u);
  // Continuing a finished read, or from a cursor this caller was not
  // given: audited.
  read(4, 2);
  EXPECT_EQ(events("session.read").size(), 3u);

  // The audit log the same way.
  auto list = [&](uint64_t after, int limit) {
    pb::ListAuditEventsRequest req;
    req.set_purpose("ls");
    req.set_after_seq(after);
    req.set_limit(limit);
    pb::ListAuditEventsResponse resp;
    grpc::ClientContext ctx;
    grpc::Status st = stub->ListAuditEvents(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  };
  const size_t before = events("audit.read").size();
  list(1, 0);
  std::vector<std::string> lists = events("audit.read");
  ASSERT_EQ(lists.size(), before + 1);
  EXPECT_NE(lists.back().find("\"after_seq\":1"), std::string::npos)
      << lists.back();
  after = 0;
  pages = 0;
  do {
    after = list(after, 2).next_after_seq();
    ++pages;
  } while (after != 0 && pages < 100);
  EXPECT_GT(pages, 2);
  EXPECT_EQ(events("audit.read").size(), before + 2);
}

}  // namespace
}  // namespace sallyport::ca

namespace sallyport::ca {
namespace {

// A session whose gateway is gone for good stayed "active" in every
// listing forever. An admin marks it abandoned (Admin.AbandonSession):
// ListSessions and ReadSession say so, with who, when and why; the mark is
// an admin.AbandonSession audit event; an auditor may not mark; a reason
// is required and printable; an ended session, or one marked before, is
// not marked again.
TEST(AuditServiceTest, AnAdminMarksASessionAbandoned) {
  auto env = CaTestEnv::Create();
  ASSERT_TRUE(env.ok()) << env.status();
  storage::Store& store = (*env)->store();
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  ASSERT_TRUE(store.CreateSession(At("lost", t0)).ok());
  ASSERT_TRUE(store.CreateSession(At("done", t0 + absl::Seconds(1))).ok());
  storage::SessionEnd end;
  end.ended_at = t0 + absl::Seconds(2);
  ASSERT_TRUE(store.EndSession("done", end).ok());
  ASSERT_TRUE((*env)->AddRole(std::string(kAuditorRole), {"ubuntu"}).ok());
  ASSERT_TRUE(
      (*env)
          ->AddUser("eve", "eve-password-123", {std::string(kAuditorRole)})
          .ok());
  auto admin = (*env)->Login("admin", (*env)->admin_password());
  ASSERT_TRUE(admin.status.ok()) << admin.status.error_message();
  auto auditor = (*env)->Login("eve", "eve-password-123");
  ASSERT_TRUE(auditor.status.ok()) << auditor.status.error_message();
  auto abandon = [&](const std::shared_ptr<grpc::Channel>& channel,
                     const std::string& id, const std::string& reason,
                     pb::SessionSummary* out = nullptr) {
    pb::AbandonSessionRequest req;
    req.set_id(id);
    req.set_reason(reason);
    pb::SessionSummary resp;
    grpc::ClientContext ctx;
    grpc::Status st =
        pb::Admin::NewStub(channel)->AbandonSession(&ctx, req, &resp);
    if (out != nullptr) *out = resp;
    return st;
  };
  auto audit = pb::Audit::NewStub(admin.channel);

  // Refused: an auditor; no reason, a control character, too long; an
  // ended session; an unknown one. Nothing marked.
  EXPECT_EQ(abandon(auditor.channel, "lost", "gw-2 is gone").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(abandon(admin.channel, "lost", "").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // ESC, a right-to-left override (U+202E), a zero-width space (U+200B).
  for (const char* bad : {"ok\x1b[8m", "ok \xe2\x80\xae", "ok\xe2\x80\x8b"}) {
    EXPECT_EQ(abandon(admin.channel, "lost", bad).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << bad;
  }
  EXPECT_EQ(abandon(admin.channel, "lost",
                    std::string(storage::kMaxAbandonReasonBytes + 1, 'r'))
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  grpc::Status ended = abandon(admin.channel, "done", "why");
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(ended.error_message().find("has already ended"), std::string::npos)
      << ended.error_message();
  EXPECT_EQ(abandon(admin.channel, "nope", "why").error_code(),
            grpc::StatusCode::NOT_FOUND);
  absl::StatusOr<storage::Session> before = store.GetSession("lost");
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_FALSE(before->abandoned_at.has_value());

  (*env)->clock().Advance(absl::Minutes(5));
  pb::SessionSummary marked;
  grpc::Status st =
      abandon(admin.channel, "lost", "gateway gw-2 was destroyed with its disk",
              &marked);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(marked.status(), "active");
  EXPECT_EQ(marked.abandoned().by(), "admin");
  EXPECT_EQ(marked.abandoned().reason(),
            "gateway gw-2 was destroyed with its disk");
  EXPECT_EQ(marked.abandoned().at().seconds(),
            absl::ToUnixSeconds((*env)->clock().Now()));
  grpc::Status again = abandon(admin.channel, "lost", "twice");
  EXPECT_EQ(again.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(again.error_message().find("abandoned by admin"), std::string::npos)
      << again.error_message();

  // Listed and read with the mark; the ended session without one.
  pb::ListSessionsResponse listed;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(
        audit->ListSessions(&ctx, pb::ListSessionsRequest(), &listed).ok());
  }
  ASSERT_EQ(listed.sessions_size(), 2);
  for (const pb::SessionSummary& s : listed.sessions()) {
    EXPECT_EQ(s.has_abandoned(), s.id() == "lost") << s.id();
  }
  pb::ReadSessionRequest read;
  read.set_id("lost");
  read.set_purpose("show");
  pb::ReadSessionResponse shown;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(audit->ReadSession(&ctx, read, &shown).ok());
  }
  EXPECT_EQ(shown.abandoned().reason(),
            "gateway gw-2 was destroyed with its disk");

  // The admin event of the mark (and of each refusal).
  absl::StatusOr<std::vector<storage::AuditEvent>> events =
      store.ListAuditEvents(0, 10000);
  ASSERT_TRUE(events.ok()) << events.status();
  int ok = 0, refused = 0;
  for (const storage::AuditEvent& e : *events) {
    if (e.type != "admin.AbandonSession") continue;
    if (e.payload_json.find("\"code\":\"OK\"") != std::string::npos) {
      ++ok;
      EXPECT_NE(e.payload_json.find("destroyed with its disk"),
                std::string::npos)
          << e.payload_json;
      EXPECT_NE(e.payload_json.find("\"gateway\":\"gw-1\""), std::string::npos)
          << e.payload_json;
      EXPECT_EQ(e.actor, "admin");
    } else {
      ++refused;
    }
  }
  EXPECT_EQ(ok, 1);
  EXPECT_GE(refused, 8);
}

}  // namespace
}  // namespace sallyport::ca
