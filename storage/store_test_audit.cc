// Store suite: audit chain, sessions, join tokens, schema version.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "storage/audit_hash.h"
#include "storage/migrations/migrations.h"
#include "storage/store_test_suite.h"

namespace sallyport::storage::testing {
namespace {

AuditEventInput Event(std::string type, std::string actor,
                      std::string payload) {
  return AuditEventInput{std::move(type), std::move(actor), std::move(payload)};
}

Session MakeSession(std::string id, std::string user, std::string host,
                    absl::Time start) {
  Session s;
  s.id = std::move(id);
  s.user = std::move(user);
  s.login = "ubuntu";
  s.host = std::move(host);
  s.started_at = start;
  return s;
}

base::SecretBytes Token(int i) {
  return base::SecretBytes::FromString(absl::StrCat("join-token-secret-", i));
}

TEST_P(StoreTest, AuditAppendBuildsAHashChain) {
  SP_ASSERT_OK_AND_ASSIGN(AuditHead empty, store_->GetAuditHead());
  EXPECT_EQ(empty.seq, 0u);
  EXPECT_EQ(empty.hash, kAuditGenesisHash);

  SP_ASSERT_OK_AND_ASSIGN(
      AuditEvent e1,
      store_->AppendAuditEvent(Event("login.ok", "alice", R"({"ip":"::1"})")));
  clock_.Advance(absl::Seconds(1));
  SP_ASSERT_OK_AND_ASSIGN(
      AuditEvent e2,
      store_->AppendAuditEvent(Event("cert.issued", "ca", R"({"serial":1})")));
  SP_ASSERT_OK_AND_ASSIGN(
      AuditEvent e3, store_->AppendAuditEvent(Event("logout", "alice", "")));
  EXPECT_EQ(e1.seq, 1u);
  EXPECT_EQ(e2.seq, 2u);
  EXPECT_EQ(e3.seq, 3u);
  EXPECT_EQ(e1.prev_hash, kAuditGenesisHash);
  EXPECT_EQ(e2.prev_hash, e1.hash);
  EXPECT_EQ(e3.prev_hash, e2.hash);
  EXPECT_EQ(e2.time, clock_.Now());
  EXPECT_EQ(e1.hash.size(), 64u);

  SP_ASSERT_OK_AND_ASSIGN(std::vector<AuditEvent> events,
                          store_->ListAuditEvents(0, 100));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0], e1);
  EXPECT_EQ(events[1], e2);
  EXPECT_EQ(events[2], e3);
  SP_EXPECT_OK(VerifyAuditChain(AuditHead(), events));
  SP_ASSERT_OK_AND_ASSIGN(AuditHead head, store_->GetAuditHead());
  EXPECT_EQ(head.seq, 3u);
  EXPECT_EQ(head.hash, e3.hash);

  SP_ASSERT_OK_AND_ASSIGN(events, store_->ListAuditEvents(1, 1));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], e2);

  // Any edit breaks verification.
  std::vector<AuditEvent> tampered = {e1, e2, e3};
  tampered[1].payload_json = R"({"serial":2})";
  EXPECT_EQ(VerifyAuditChain(AuditHead(), tampered).code(),
            absl::StatusCode::kDataLoss);
  tampered = {e1, e3};
  EXPECT_EQ(VerifyAuditChain(AuditHead(), tampered).code(),
            absl::StatusCode::kDataLoss);
}

// The documented canonical encoding (audit_hash.h), built here by hand.
TEST_P(StoreTest, AuditHashIsSha256OfTheDocumentedEncoding) {
  SP_ASSERT_OK_AND_ASSIGN(AuditEvent e,
                          store_->AppendAuditEvent(Event("t", "actor", "{}")));
  auto str = [](std::string_view s) {
    std::string out;
    const uint32_t n = static_cast<uint32_t>(s.size());
    for (int shift = 24; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((n >> shift) & 0xff));
    }
    return out + std::string(s);
  };
  auto u64 = [](uint64_t v) {
    std::string out;
    for (int shift = 56; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((v >> shift) & 0xff));
    }
    return out;
  };
  const std::string encoding =
      str("sallyport.audit.v1") + u64(1) +
      u64(static_cast<uint64_t>(absl::ToUnixMicros(clock_.Now()))) + str("t") +
      str("actor") + str("{}") + str(kAuditGenesisHash);
  EXPECT_EQ(AuditCanonicalEncoding(e.seq, e.time, e.type, e.actor,
                                   e.payload_json, e.prev_hash),
            encoding);
  SP_ASSERT_OK_AND_ASSIGN(std::string expected, Sha256Hex(encoding));
  EXPECT_EQ(e.hash, expected);
}

TEST_P(StoreTest, AuditEventsCannotBeChangedInTheDatabase) {
  SP_ASSERT_OK_AND_ASSIGN(AuditEvent e,
                          store_->AppendAuditEvent(Event("x", "alice", "{}")));
  EXPECT_FALSE(
      backend_->ExecRawSql("UPDATE audit_events SET actor = 'mallory'").ok());
  EXPECT_FALSE(backend_->ExecRawSql("DELETE FROM audit_events").ok());
  SP_ASSERT_OK_AND_ASSIGN(std::vector<AuditEvent> events,
                          store_->ListAuditEvents(0, 10));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], e);
}

TEST_P(StoreTest, AuditInputIsValidated) {
  SP_EXPECT_CODE(store_->AppendAuditEvent(Event("", "a", "{}")),
                 kInvalidArgument);
  SP_EXPECT_CODE(store_->AppendAuditEvent(Event("t", "", "{}")),
                 kInvalidArgument);
  SP_EXPECT_CODE(store_->AppendAuditEvent(
                     Event("t", "a", std::string(kMaxPayloadBytes + 1, 'x'))),
                 kInvalidArgument);
  SP_EXPECT_CODE(store_->ListAuditEvents(0, 0), kInvalidArgument);
  // Nothing was appended by the refused calls.
  SP_ASSERT_OK_AND_ASSIGN(AuditHead head, store_->GetAuditHead());
  EXPECT_EQ(head.seq, 0u);
}

GatewayAuditEvents GatewayBatch(std::string gateway, std::string stream,
                                std::vector<uint64_t> numbers) {
  GatewayAuditEvents batch;
  batch.gateway_id = std::move(gateway);
  batch.stream = std::move(stream);
  for (uint64_t n : numbers) {
    batch.events.push_back(
        Event("exec.command", "alice", absl::StrCat(R"({"n":)", n, "}")));
  }
  if (!batch.stream.empty()) batch.numbers = std::move(numbers);
  return batch;
}

TEST_P(StoreTest, GatewayEventsSentAgainAreAppendedOnce) {
  SP_ASSERT_OK_AND_ASSIGN(
      std::vector<AuditEvent> appended,
      store_->AppendGatewayAuditEvents(GatewayBatch("gw-a", "s1", {1, 2, 3})));
  ASSERT_EQ(appended.size(), 3u);
  EXPECT_EQ(appended[0].seq, 1u);
  EXPECT_EQ(appended[2].payload_json, R"({"n":3})");
  // Sent again: nothing; overlapping: its new events, in one chain.
  SP_ASSERT_OK_AND_ASSIGN(appended, store_->AppendGatewayAuditEvents(
                                        GatewayBatch("gw-a", "s1", {1, 2, 3})));
  EXPECT_TRUE(appended.empty());
  SP_ASSERT_OK_AND_ASSIGN(appended, store_->AppendGatewayAuditEvents(
                                        GatewayBatch("gw-a", "s1", {3, 4, 7})));
  ASSERT_EQ(appended.size(), 2u);
  EXPECT_EQ(appended[0].payload_json, R"({"n":4})");
  EXPECT_EQ(appended[1].seq, 5u);
  // Numbers belong to one gateway's stream; none: appended every time.
  SP_ASSERT_OK_AND_ASSIGN(appended, store_->AppendGatewayAuditEvents(
                                        GatewayBatch("gw-a", "s2", {1})));
  EXPECT_EQ(appended.size(), 1u);
  SP_ASSERT_OK_AND_ASSIGN(appended, store_->AppendGatewayAuditEvents(
                                        GatewayBatch("gw-b", "s1", {1})));
  EXPECT_EQ(appended.size(), 1u);
  for (int i = 0; i < 2; ++i) {
    SP_ASSERT_OK_AND_ASSIGN(appended, store_->AppendGatewayAuditEvents(
                                          GatewayBatch("gw-a", "", {1})));
    EXPECT_EQ(appended.size(), 1u);
  }
  // Another store on the same database knows what was stored.
  std::unique_ptr<Store> other = OpenAnother();
  ASSERT_NE(other, nullptr);
  SP_ASSERT_OK_AND_ASSIGN(appended, other->AppendGatewayAuditEvents(
                                        GatewayBatch("gw-a", "s1", {7})));
  EXPECT_TRUE(appended.empty());

  SP_ASSERT_OK_AND_ASSIGN(std::vector<AuditEvent> all,
                          store_->ListAuditEvents(0, 100));
  EXPECT_EQ(all.size(), 9u);
  SP_EXPECT_OK(VerifyAuditChain(AuditHead(), all));
}

// Every run of a gateway's sender is a new stream: a restart-looping (or
// hostile) gateway added a row per run without end. A new stream keeps
// the gateway's kGatewayEventStreamsKept most recently written ones: a
// stopped run's row goes, a live run's (written since) stays and still
// leaves out what it sends again, and other gateways' rows are theirs.
TEST_P(StoreTest, AGatewayKeepsItsNewestEventStreamsOnly) {
  const int n = kGatewayEventStreamsKept;
  auto streams_of = [&](const std::string& gateway) {
    absl::StatusOr<std::vector<std::vector<std::string>>> rows =
        backend_->QueryRawSql(absl::StrCat(
            "SELECT stream FROM gateway_event_streams WHERE gateway_id = '",
            gateway, "' ORDER BY stream"));
    EXPECT_TRUE(rows.ok()) << rows.status();
    std::vector<std::string> out;
    if (rows.ok()) {
      for (const auto& row : *rows) out.push_back(row[0]);
    }
    return out;
  };
  auto stream = [](int i) { return absl::StrCat("run-", 1000 + i); };
  SP_ASSERT_OK(
      store_->AppendGatewayAuditEvents(GatewayBatch("gw-b", "b", {1})));
  for (int i = 0; i < n; ++i) {
    clock_.Advance(absl::Seconds(1));
    SP_ASSERT_OK(
        store_->AppendGatewayAuditEvents(GatewayBatch("gw-a", stream(i), {1})));
  }
  EXPECT_EQ(streams_of("gw-a").size(), static_cast<size_t>(n));
  // The first run is still live: it sends again, after every other run.
  clock_.Advance(absl::Seconds(1));
  SP_ASSERT_OK(
      store_->AppendGatewayAuditEvents(GatewayBatch("gw-a", stream(0), {2})));
  // One run more: the least recently written (run 1) is forgotten.
  clock_.Advance(absl::Seconds(1));
  SP_ASSERT_OK(
      store_->AppendGatewayAuditEvents(GatewayBatch("gw-a", stream(n), {1})));
  std::vector<std::string> kept = streams_of("gw-a");
  EXPECT_EQ(kept.size(), static_cast<size_t>(n));
  EXPECT_EQ(std::count(kept.begin(), kept.end(), stream(1)), 0);
  EXPECT_EQ(std::count(kept.begin(), kept.end(), stream(0)), 1);
  EXPECT_EQ(streams_of("gw-b"), std::vector<std::string>{"b"});
  // The newest run and the live first one still leave out what they send
  // again.
  for (const GatewayAuditEvents& again :
       {GatewayBatch("gw-a", stream(n), {1}),
        GatewayBatch("gw-a", stream(0), {1, 2}),
        GatewayBatch("gw-b", "b", {1})}) {
    SP_ASSERT_OK_AND_ASSIGN(std::vector<AuditEvent> appended,
                            store_->AppendGatewayAuditEvents(again));
    EXPECT_TRUE(appended.empty()) << again.stream;
  }
  SP_ASSERT_OK_AND_ASSIGN(AuditHead head, store_->GetAuditHead());
  EXPECT_EQ(head.seq, static_cast<uint64_t>(n + 3));
}

TEST_P(StoreTest, GatewayEventBatchesAreCheckedBeforeAnythingIsWritten) {
  GatewayAuditEvents bad_event = GatewayBatch("gw-a", "s1", {1, 2, 3});
  bad_event.events[2].type = "";
  GatewayAuditEvents descending = GatewayBatch("gw-a", "s1", {1, 3, 2});
  GatewayAuditEvents zero = GatewayBatch("gw-a", "s1", {0, 1});
  GatewayAuditEvents too_big = GatewayBatch("gw-a", "s1", {1});
  too_big.numbers[0] = uint64_t{1} << 63;
  GatewayAuditEvents missing = GatewayBatch("gw-a", "s1", {1, 2});
  missing.numbers.pop_back();
  GatewayAuditEvents no_gateway = GatewayBatch("", "s1", {1});
  GatewayAuditEvents long_stream =
      GatewayBatch("gw-a", std::string(65, 's'), {1});
  for (const GatewayAuditEvents* batch :
       {&bad_event, &descending, &zero, &too_big, &missing, &no_gateway,
        &long_stream}) {
    EXPECT_EQ(store_->AppendGatewayAuditEvents(*batch).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  SP_ASSERT_OK_AND_ASSIGN(AuditHead head, store_->GetAuditHead());
  EXPECT_EQ(head.seq, 0u);
  // The refused batches stored no number: number 1 is still new.
  SP_ASSERT_OK_AND_ASSIGN(
      std::vector<AuditEvent> appended,
      store_->AppendGatewayAuditEvents(GatewayBatch("gw-a", "s1", {1})));
  EXPECT_EQ(appended.size(), 1u);
}

TEST_P(StoreTest, SessionLifecycleAndSearch) {
  const absl::Time t0 = clock_.Now();
  SP_ASSERT_OK_AND_ASSIGN(Session s1, store_->CreateSession(MakeSession(
                                          "s1", "alice", "web01", t0)));
  SP_ASSERT_OK(store_->CreateSession(
      MakeSession("s2", "bob", "web01", t0 + absl::Minutes(1))));
  SP_ASSERT_OK(store_->CreateSession(
      MakeSession("s3", "alice", "db01", t0 + absl::Minutes(2))));
  SP_EXPECT_CODE(store_->CreateSession(s1), kAlreadyExists);

  SessionEnd end{t0 + absl::Minutes(10),
                 SessionStatus::kEnded,
                 1234,
                 56789,
                 std::nullopt,
                 nullptr};
  SP_ASSERT_OK_AND_ASSIGN(Session ended, store_->EndSession("s1", end));
  EXPECT_EQ(ended.status, SessionStatus::kEnded);
  EXPECT_EQ(ended.ended_at, end.ended_at);
  EXPECT_EQ(ended.bytes_in, 1234);
  EXPECT_EQ(ended.bytes_out, 56789);
  SP_ASSERT_OK_AND_ASSIGN(Session got, store_->GetSession("s1"));
  EXPECT_EQ(got, ended);
  SP_EXPECT_CODE(store_->EndSession("s1", end), kFailedPrecondition);
  SP_EXPECT_CODE(store_->EndSession("nope", end), kNotFound);
  SP_EXPECT_CODE(store_->GetSession("nope"), kNotFound);
  SessionEnd active_end = end;
  active_end.status = SessionStatus::kActive;
  SP_EXPECT_CODE(store_->EndSession("s2", active_end), kInvalidArgument);

  SessionFilter all;
  SP_ASSERT_OK_AND_ASSIGN(std::vector<Session> list, store_->ListSessions(all));
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].id, "s3");  // newest first
  EXPECT_EQ(list[2].id, "s1");
  SessionFilter alice;
  alice.user = "alice";
  SP_ASSERT_OK_AND_ASSIGN(list, store_->ListSessions(alice));
  ASSERT_EQ(list.size(), 2u);
  SessionFilter web;
  web.host = "web01";
  web.started_after = t0 + absl::Seconds(30);
  SP_ASSERT_OK_AND_ASSIGN(list, store_->ListSessions(web));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].id, "s2");
  SessionFilter window;
  window.started_before = t0 + absl::Minutes(1);
  window.limit = 1;
  SP_ASSERT_OK_AND_ASSIGN(list, store_->ListSessions(window));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].id, "s1");
}

// A user or host filter finds the sessions whatever the case it is typed
// in (names are stored lowercase since schema 9), and a session stored with
// capitals before then by its stored name; a login (a Unix user name)
// matches exactly.
TEST_P(StoreTest, SessionFiltersFindNamesTypedInAnyCase) {
  const absl::Time t0 = clock_.Now();
  SP_ASSERT_OK(store_->CreateSession(MakeSession("c1", "alice", "web01", t0)));
  SP_ASSERT_OK(store_->CreateSession(
      MakeSession("c2", "alice", "DB01", t0 + absl::Minutes(1))));
  SP_ASSERT_OK(store_->CreateSession(
      MakeSession("c3", "bob", "db01", t0 + absl::Minutes(2))));
  auto ids = [&](SessionFilter f) {
    std::vector<std::string> out;
    absl::StatusOr<std::vector<Session>> list = store_->ListSessions(f);
    EXPECT_TRUE(list.ok()) << list.status();
    if (list.ok()) {
      for (const Session& s : *list) out.push_back(s.id);
    }
    return out;
  };
  using V = std::vector<std::string>;
  SessionFilter f;
  f.host = "WEB01";
  EXPECT_EQ(ids(f), V({"c1"}));
  f.host = "DB01";  // as stored, and its lowercase form
  EXPECT_EQ(ids(f), V({"c3", "c2"}));
  f.host = "db01";
  EXPECT_EQ(ids(f), V({"c3"}));
  f.host.reset();
  f.user = "Alice";
  EXPECT_EQ(ids(f), V({"c2", "c1"}));
  f.user = "BOB";
  f.host = "Db01";
  EXPECT_EQ(ids(f), V({"c3"}));
  SessionFilter login;
  login.login = "Ubuntu";
  EXPECT_EQ(ids(login), V());
  login.login = "ubuntu";
  EXPECT_EQ(ids(login).size(), 3u);
}

// Paging by cursor walks every session once, in the list's order, also
// across sessions that started at the same time (ties ordered by id).
TEST_P(StoreTest, SessionPagesByCursorVisitEachSessionOnce) {
  const absl::Time t0 = clock_.Now();
  std::vector<std::string> want;
  for (int i = 0; i < 7; ++i) {
    // Three start times, several sessions each.
    const absl::Time at = t0 + absl::Minutes(i / 3);
    const std::string id = absl::StrCat("p", i);
    SP_ASSERT_OK(store_->CreateSession(MakeSession(id, "alice", "web01", at)));
  }
  SessionFilter all;
  SP_ASSERT_OK_AND_ASSIGN(std::vector<Session> list, store_->ListSessions(all));
  for (const Session& s : list) want.push_back(s.id);
  ASSERT_EQ(want, (std::vector<std::string>{"p6", "p5", "p4", "p3", "p2", "p1",
                                            "p0"}));
  for (int page = 1; page <= 3; ++page) {
    SessionFilter f;
    f.limit = page;
    std::vector<std::string> got;
    for (;;) {
      SP_ASSERT_OK_AND_ASSIGN(list, store_->ListSessions(f));
      for (const Session& s : list) got.push_back(s.id);
      if (static_cast<int>(list.size()) < f.limit) break;
      f.after = SessionFilter::Cursor{list.back().started_at, list.back().id};
    }
    EXPECT_EQ(got, want) << "page " << page;
  }
  SessionFilter bad;
  bad.after = SessionFilter::Cursor{t0, ""};
  SP_EXPECT_CODE(store_->ListSessions(bad), kInvalidArgument);
}

TEST_P(StoreTest, JoinTokensAreHashedAndSingleUse) {
  NewJoinToken nt;
  nt.token = Token(1);
  nt.purpose = "gateway";
  nt.created_by = "admin";
  nt.expires_at = clock_.Now() + absl::Hours(1);
  SP_ASSERT_OK_AND_ASSIGN(JoinToken created, store_->CreateJoinToken(nt));
  SP_ASSERT_OK_AND_ASSIGN(std::string hash, Sha256Hex(Token(1).view()));
  EXPECT_EQ(created.token_hash, hash);
  EXPECT_FALSE(created.used_at.has_value());
  SP_EXPECT_CODE(store_->CreateJoinToken(nt), kAlreadyExists);

  clock_.Advance(absl::Minutes(5));
  SP_ASSERT_OK_AND_ASSIGN(JoinToken used, store_->ConsumeJoinToken(Token(1)));
  EXPECT_EQ(used.purpose, "gateway");
  EXPECT_EQ(used.used_at, clock_.Now());
  SP_EXPECT_CODE(store_->ConsumeJoinToken(Token(1)), kFailedPrecondition);
  SP_EXPECT_CODE(store_->ConsumeJoinToken(Token(2)), kNotFound);

  nt.token = Token(3);
  nt.expires_at = clock_.Now() + absl::Minutes(1);
  SP_ASSERT_OK(store_->CreateJoinToken(nt));
  clock_.Advance(absl::Minutes(1));  // expires_at is exclusive
  const absl::Status expired = store_->ConsumeJoinToken(Token(3)).status();
  EXPECT_EQ(expired.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(expired.message().find("expired"), absl::string_view::npos);

  nt.token = base::SecretBytes::FromString("short");
  SP_EXPECT_CODE(store_->CreateJoinToken(nt), kInvalidArgument);
}

TEST_P(StoreTest, ReopeningKeepsDataAndSchema) {
  SP_ASSERT_OK(store_->CreateUser(NamedUser("alice")));
  SP_ASSERT_OK(store_->AppendAuditEvent(Event("t", "a", "{}")));
  const int version = store_->SchemaVersion();
  EXPECT_GE(version, 1);
  store_.reset();
  std::unique_ptr<Store> again = OpenAnother();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->SchemaVersion(), version);
  SP_EXPECT_OK(again->GetUser("alice"));
  SP_ASSERT_OK_AND_ASSIGN(AuditEvent e,
                          again->AppendAuditEvent(Event("t", "a", "{}")));
  EXPECT_EQ(e.seq, 2u);
}

TEST_P(StoreTest, NewerSchemaVersionIsRefusedNamingBothVersions) {
  const int known = store_->SchemaVersion();
  SP_ASSERT_OK(backend_->ExecRawSql(
      "INSERT INTO schema_migrations (version, name, applied_at_us) "
      "VALUES (999, 'from_the_future', 0)"));
  store_.reset();
  auto reopened = backend_->Open(&clock_);
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string message(reopened.status().message());
  EXPECT_NE(message.find("999"), std::string::npos) << message;
  EXPECT_NE(message.find(absl::StrCat("version ", known)), std::string::npos)
      << message;
}

TEST_P(StoreTest, UpgradesADatabaseFromEveryOlderSchemaVersion) {
  const absl::Span<const migrations::Migration> all = backend_->Migrations();
  ASSERT_FALSE(all.empty());
  const int latest = all.back().version;
  EXPECT_EQ(store_->SchemaVersion(), latest);
  const std::string secret = "12345678901234567890";
  for (int version = 1; version < latest; ++version) {
    SCOPED_TRACE(absl::StrCat("from version ", version));
    // The database as a Sallyport at `version` left it. The version table
    // has columns both dialects take; Migrate creates it only when missing.
    // A user enrolled in TOTP, written with the version 1 columns only.
    std::string rows;
    absl::StrAppend(
        &rows,
        "INSERT INTO users (name, display_name, disabled, created_at_us, "
        "updated_at_us) VALUES ('alice', 'Alice', FALSE, 0, 0);\n"
        "INSERT INTO credentials (user_name, password_hash, totp_secret, "
        "failed_attempts, updated_at_us) VALUES ('alice', 'hash', ",
        backend_->BlobLiteral(secret), ", 0, 0);\n");
    // A join token from before tokens had ids (version 4).
    if (version < 4) {
      absl::StrAppend(&rows,
                      "INSERT INTO join_tokens (token_hash, purpose, "
                      "created_by, created_at_us, expires_at_us) VALUES "
                      "('old-hash', 'gateway', 'admin', 0, 0);\n");
    }
    std::unique_ptr<Store> upgraded = UpgradeFrom(version, rows);
    ASSERT_NE(upgraded, nullptr);
    EXPECT_EQ(upgraded->SchemaVersion(), latest);
    SP_ASSERT_OK_AND_ASSIGN(User alice, upgraded->GetUser("alice"));
    EXPECT_EQ(alice.display_name, "Alice");
    SP_ASSERT_OK_AND_ASSIGN(Credentials c, upgraded->GetCredentials("alice"));
    EXPECT_EQ(c.password_hash, "hash");
    EXPECT_EQ(c.totp_secret.view(), secret);
    // No TOTP step was recorded before the upgrade: the first is claimed.
    SP_ASSERT_OK_AND_ASSIGN(bool claimed, upgraded->ClaimTotpStep("alice", 7));
    EXPECT_TRUE(claimed);
    SP_ASSERT_OK_AND_ASSIGN(claimed, upgraded->ClaimTotpStep("alice", 7));
    EXPECT_FALSE(claimed);
    if (version < 4) {
      // The old token got id 1; the next one id 2.
      SP_ASSERT_OK_AND_ASSIGN(std::vector<JoinToken> tokens,
                              upgraded->ListJoinTokens(JoinTokenFilter()));
      ASSERT_EQ(tokens.size(), 1u);
      EXPECT_EQ(tokens[0].id, 1);
      EXPECT_EQ(tokens[0].token_hash, "old-hash");
      NewJoinToken next;
      next.token = Token(9);
      next.purpose = "host";
      next.expires_at = clock_.Now() + absl::Hours(1);
      SP_ASSERT_OK_AND_ASSIGN(JoinToken created,
                              upgraded->CreateJoinToken(next));
      EXPECT_EQ(created.id, 2);
    }
    upgraded.reset();
    // Opened again, there is nothing left to apply and the data stays.
    std::unique_ptr<Store> again = OpenAnother();
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(again->SchemaVersion(), latest);
    SP_ASSERT_OK_AND_ASSIGN(claimed, again->ClaimTotpStep("alice", 7));
    EXPECT_FALSE(claimed);
  }
}

}  // namespace
}  // namespace sallyport::storage::testing
