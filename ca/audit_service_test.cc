// The Audit service against a real in-process CA over mTLS (SQLite store):
// ListSessions with grep at its named limit (one call searches at most
// AuditService::kMaxGrepSessions sessions, newest first, and says so,
// grep_incomplete, only when older sessions were left unsearched); an
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

}  // namespace
}  // namespace sallyport::ca
