// The fixture of the `spctl audit` / `spctl sessions` E2E tests
// (spctl_audit_e2e_test.cc: tamper tests, who may read, gateway events;
// spctl_sessions_e2e_test.cc and spctl_sessions_show_e2e_test.cc: listing,
// search, show, export and replay): a CA (SpctlTestBase), recordings
// written straight to its Store with the CA-side record writer
// (audit/recording_store.h + RecordChainer), as the shipper does, and the
// record builders they are made of.
#ifndef SALLYPORT_TESTS_E2E_SPCTL_AUDIT_E2E_FIXTURE_H_
#define SALLYPORT_TESTS_E2E_SPCTL_AUDIT_E2E_FIXTURE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "audit/recording_record.h"
#include "audit/recording_store.h"
#include "gtest/gtest.h"
#include "storage/open.h"
#include "tests/e2e/spctl_e2e_util.h"
#include "tests/harness/subprocess.h"

namespace sallyport::e2e {

namespace av = audit::v1;

inline RunResult RunTool(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env = {}) {
  sallyport::testing::RunOptions options;
  options.env = env;
  absl::StatusOr<RunResult> r = sallyport::testing::RunCommand(args, options);
  if (!r.ok()) {
    RunResult failed;
    failed.err = std::string(r.status().message());
    return failed;
  }
  return *r;
}

// An auditor reaches no host: their login is for spctl only.
constexpr char kAuditorRole[] = R"(name: auditor
description: reads the audit log and recordings
)";
constexpr char kDevRole[] = R"(name: dev
logins: [ubuntu]
hosts: [{name_globs: ["web*"]}]
channels: [shell, exec]
)";

inline av::RecordingRecord Open(uint32_t ch, int64_t at) {
  av::RecordingRecord r;
  r.set_channel_id(ch);
  r.set_offset_us(at);
  r.mutable_channel_open()->set_type("session");
  return r;
}
inline av::RecordingRecord Window(uint32_t ch, int64_t at, int cols, int rows) {
  av::RecordingRecord r;
  r.set_channel_id(ch);
  r.set_offset_us(at);
  r.mutable_window_change()->set_columns(cols);
  r.mutable_window_change()->set_rows(rows);
  return r;
}
inline av::RecordingRecord Request(uint32_t ch, int64_t at,
                                   const std::string& type,
                                   const std::string& summary) {
  av::RecordingRecord r;
  r.set_channel_id(ch);
  r.set_offset_us(at);
  r.mutable_request()->set_direction(av::RECORD_DIRECTION_INPUT);
  r.mutable_request()->set_type(type);
  r.mutable_request()->set_summary(summary);
  return r;
}
inline av::RecordingRecord Data(uint32_t ch, int64_t at, bool input,
                                const std::string& bytes) {
  av::RecordingRecord r;
  r.set_channel_id(ch);
  r.set_offset_us(at);
  r.mutable_data()->set_direction(input ? av::RECORD_DIRECTION_INPUT
                                        : av::RECORD_DIRECTION_OUTPUT);
  r.mutable_data()->set_bytes(bytes);
  return r;
}
inline av::RecordingRecord Close(uint32_t ch, int64_t at) {
  av::RecordingRecord r;
  r.set_channel_id(ch);
  r.set_offset_us(at);
  r.mutable_channel_close()->set_bytes_input(10);
  r.mutable_channel_close()->set_bytes_output(40);
  return r;
}

// A stream summary (a stream not kept whole) with a made-up SHA-256: 32
// bytes `sha`.
inline av::RecordingRecord Summary(uint32_t ch, int64_t at, bool input,
                                   uint64_t total, uint64_t recorded,
                                   char sha) {
  av::RecordingRecord r;
  r.set_channel_id(ch);
  r.set_offset_us(at);
  av::StreamSummaryRecord* s = r.mutable_stream_summary();
  s->set_direction(input ? av::RECORD_DIRECTION_INPUT
                         : av::RECORD_DIRECTION_OUTPUT);
  s->set_total_bytes(total);
  s->set_recorded_bytes(recorded);
  s->set_sha256(std::string(32, sha));
  return r;
}
inline av::RecordingRecord CloseWith(uint32_t ch, int64_t at, uint64_t in,
                                     uint64_t out) {
  av::RecordingRecord r = Close(ch, at);
  r.mutable_channel_close()->set_bytes_input(in);
  r.mutable_channel_close()->set_bytes_output(out);
  return r;
}

// A pty shell where the user types `uname -a` (echoed keystroke by
// keystroke, with colour escapes in the prompt) and the host prints a word.
inline std::vector<av::RecordingRecord> PtySession() {
  std::vector<av::RecordingRecord> r = {
      Open(0, 0), Request(0, 1000, "pty-req", "xterm"),
      Window(0, 1000, 100, 30), Request(0, 2000, "shell", ""),
      Data(0, 100000, false, "\x1b[01;32malice@web01\x1b[0m:~$ ")};
  int64_t t = 200000;
  for (char c : std::string("uname -a")) {
    r.push_back(Data(0, t, true, std::string(1, c)));
    r.push_back(Data(0, t + 500, false, std::string(1, c)));
    t += 50000;
  }
  r.push_back(Data(0, t, true, "\r"));
  r.push_back(Data(0, t + 1000, false, "\r\nLinux web01 zanzibar-kernel\r\n"));
  r.push_back(Close(0, t + 5000));
  return r;
}

class SpctlAuditTest : public SpctlTestBase {
 protected:
  // Chains `records` and stores them as session `id` in the CA's store
  // (`store`, or one opened for the call).
  void StoreRecording(const std::string& id,
                      std::vector<av::RecordingRecord> records,
                      absl::Duration age = absl::Minutes(5),
                      storage::Store* into = nullptr) {
    absl::StatusOr<std::unique_ptr<storage::Store>> opened;
    if (into == nullptr) {
      opened = storage::OpenStore(env_->ca().store_url());
      ASSERT_TRUE(opened.ok()) << opened.status();
    }
    storage::Store* store = into != nullptr ? into : opened->get();
    storage::Session s;
    s.id = id;
    s.user = "alice";
    s.login = "ubuntu";
    s.host = "web01";
    s.gateway_id = "gw-1";
    s.started_at = absl::Now() - age;
    ASSERT_TRUE(store->CreateSession(s).ok());
    audit::RecordChainer chain(id);
    std::vector<storage::SessionRecord> rows;
    for (av::RecordingRecord& r : records) {
      ASSERT_TRUE(chain.Append(r).ok());
      absl::StatusOr<storage::SessionRecord> row = audit::ToStoreRecord(r);
      ASSERT_TRUE(row.ok()) << row.status();
      rows.push_back(*row);
    }
    ASSERT_TRUE(store->AppendSessionRecords(rows).ok());
  }

  // Stores session `id` as a gateway records it since session_start
  // records: its metadata first (record 1), PtySession(), its end at
  // 610 ms (record 26); ended as the CA's writer ends it (start + the end's
  // offset).
  void StoreStartedRecording(const std::string& id) {
    absl::StatusOr<std::unique_ptr<storage::Store>> store =
        storage::OpenStore(env_->ca().store_url());
    ASSERT_TRUE(store.ok()) << store.status();
    storage::Session s;
    s.id = id;
    s.user = "alice";
    s.login = "ubuntu";
    s.host = "web01";
    s.gateway_id = "gw-1";
    s.started_at = absl::FromUnixMicros(
        absl::ToUnixMicros(absl::Now() - absl::Minutes(5)));
    ASSERT_TRUE((*store)->CreateSession(s).ok());
    std::vector<av::RecordingRecord> records(1);
    av::SessionStartRecord* start = records[0].mutable_session_start();
    start->set_user(s.user);
    start->set_login(s.login);
    start->set_host(s.host);
    start->set_started_at_us(absl::ToUnixMicros(s.started_at));
    for (av::RecordingRecord& r : PtySession()) records.push_back(r);
    av::RecordingRecord& end = records.emplace_back();
    end.set_offset_us(610000);
    end.mutable_session_end()->set_status(av::SESSION_STATUS_ENDED);
    audit::RecordChainer chain(id);
    std::vector<storage::SessionRecord> rows;
    for (av::RecordingRecord& r : records) {
      ASSERT_TRUE(chain.Append(r).ok());
      absl::StatusOr<storage::SessionRecord> row = audit::ToStoreRecord(r);
      ASSERT_TRUE(row.ok()) << row.status();
      rows.push_back(*row);
    }
    ASSERT_TRUE((*store)->AppendSessionRecords(rows).ok());
    storage::SessionEnd e;
    e.ended_at = s.started_at + absl::Microseconds(610000);
    e.status = storage::SessionStatus::kEnded;
    e.expect_last_seq = rows.size();
    ASSERT_TRUE((*store)->EndSession(id, e).ok());
  }

  // Runs `sql` on the CA's database (the sqlite3 or psql client).
  virtual void Sql(const std::string& sql) {
    const std::string url = env_->ca().store_url();
    ASSERT_TRUE(absl::StartsWith(url, "sqlite://")) << url;
    RunResult r =
        RunTool({"sqlite3", url.substr(std::string("sqlite://").size()), sql});
    ASSERT_TRUE(r.ok()) << r.Describe();
  }

  virtual std::string DropTriggers() {
    return "DROP TRIGGER IF EXISTS audit_events_no_update;"
           "DROP TRIGGER IF EXISTS audit_events_no_delete;";
  }
  virtual std::string Forged() { return "CAST('forged' AS BLOB)"; }

  void AddRoles() {
    for (const auto& [name, text] :
         std::vector<std::pair<std::string, std::string>>{
             {"auditor", kAuditorRole}, {"dev", kDevRole}}) {
      auto r = env_->Spctl(
          {"roles", "create", "-f", env_->WriteFile(name + ".yaml", text)});
      ASSERT_TRUE(r.ok()) << r.Describe();
    }
  }

  void TamperWithEvents() {
    // Some events: users added (admin.CreateUser ...).
    AddRoles();
    AddUser("carol", "dev");
    RunResult ok = env_->Spctl({"audit", "verify"});
    ASSERT_TRUE(ok.ok()) << ok.Describe();
    EXPECT_TRUE(absl::StrContains(ok.out, "audit log: OK")) << ok.out;
    // --output json|yaml is honoured (it printed the text line).
    RunResult ok_json = env_->Spctl({"audit", "verify", "--output", "json"});
    ASSERT_TRUE(ok_json.ok()) << ok_json.Describe();
    EXPECT_TRUE(IsJson(ok_json.out)) << ok_json.out;
    EXPECT_TRUE(absl::StrContains(ok_json.out, "\"intact\": true"))
        << ok_json.out;

    // Edit event 3's payload (the triggers that refuse it are dropped first,
    // as someone with the database file could).
    Sql(DropTriggers());
    Sql("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3;");
    RunResult edited = env_->Spctl({"audit", "verify"});
    EXPECT_EQ(edited.exit_code, 1) << edited.Describe();
    EXPECT_TRUE(absl::StrContains(edited.out, "BROKEN")) << edited.out;
    EXPECT_TRUE(absl::StrContains(edited.out, "event 3 has a wrong hash"))
        << edited.out;
    RunResult edited_yaml =
        env_->Spctl({"audit", "verify", "--output", "yaml"});
    EXPECT_EQ(edited_yaml.exit_code, 1) << edited_yaml.Describe();
    EXPECT_TRUE(absl::StartsWith(edited_yaml.out, "intact: false\n"))
        << edited_yaml.out;
    EXPECT_TRUE(absl::StrContains(edited_yaml.out, "\nintact_up_to_seq: 2\n"))
        << edited_yaml.out;
    EXPECT_TRUE(std::regex_search(
        edited_yaml.out,
        std::regex(R"(\nproblem: ".*event 3 has a wrong hash.*"\n)")))
        << edited_yaml.out;

    // Delete event 3 instead (the edit is now gone with it).
    Sql("DELETE FROM audit_events WHERE seq = 3;");
    RunResult deleted = env_->Spctl({"audit", "verify"});
    EXPECT_EQ(deleted.exit_code, 1) << deleted.Describe();
    EXPECT_TRUE(absl::StrContains(deleted.out, "event 3 is missing"))
        << deleted.out;
  }

  void TamperWithRecording() {
    StoreRecording("s-tamper", PtySession());
    RunResult ok = env_->Spctl({"sessions", "verify", "s-tamper"});
    ASSERT_TRUE(ok.ok()) << ok.Describe();
    EXPECT_TRUE(absl::StrContains(ok.out, "hash chain intact")) << ok.out;
    // It has no session end: not taken for a complete recording.
    EXPECT_TRUE(absl::StrContains(ok.out, "still active")) << ok.out;

    // Edit a chunk: the word the host printed.
    Sql(absl::StrCat("UPDATE session_chunks SET data = ", Forged(),
                     " WHERE session_id = 's-tamper' AND seq = 6;"));
    RunResult edited = env_->Spctl({"sessions", "verify", "s-tamper"});
    EXPECT_EQ(edited.exit_code, 1) << edited.Describe();
    EXPECT_TRUE(absl::StrContains(edited.out, "BROKEN at record 6"))
        << edited.out;
    // Play and export still show it, but warn and exit 1: what they show
    // may have been altered (they said nothing and exited 0 before).
    for (std::vector<std::string> verb :
         {std::vector<std::string>{"sessions", "play", "s-tamper", "--speed",
                                   "50"},
          std::vector<std::string>{"sessions", "export", "s-tamper"}}) {
      RunResult shown = env_->Spctl(verb);
      EXPECT_EQ(shown.exit_code, 1) << shown.Describe();
      EXPECT_TRUE(absl::StrContains(shown.err,
                                    "WARNING: the recording of "
                                    "session s-tamper does not "
                                    "verify (BROKEN at record 6"))
          << shown.Describe();
    }

    // Drop a chunk.
    Sql("DELETE FROM session_chunks WHERE session_id = 's-tamper' AND "
        "seq = 6;");
    RunResult dropped = env_->Spctl({"sessions", "verify", "s-tamper"});
    EXPECT_EQ(dropped.exit_code, 1) << dropped.Describe();
    EXPECT_TRUE(absl::StrContains(dropped.out, "BROKEN at record 6"))
        << dropped.out;
    EXPECT_TRUE(absl::StrContains(dropped.out, "missing")) << dropped.out;
  }

  // The session's row is covered by its recording's chain (session_start,
  // session_end): an edit of it is named by `sessions verify` and `show`.
  void TamperWithSessionMetadata() {
    StoreStartedRecording("s-meta");
    RunResult ok = env_->Spctl({"sessions", "verify", "s-meta"});
    ASSERT_TRUE(ok.ok()) << ok.Describe();
    EXPECT_TRUE(absl::StrContains(ok.out, "hash chain intact")) << ok.out;
    EXPECT_FALSE(absl::StrContains(ok.out, "not covered")) << ok.out;

    // Frame another user.
    Sql("UPDATE sessions SET user_name = 'mallory' WHERE id = 's-meta';");
    RunResult framed = env_->Spctl({"sessions", "verify", "s-meta"});
    EXPECT_EQ(framed.exit_code, 1) << framed.Describe();
    EXPECT_TRUE(absl::StrContains(
        framed.out,
        "BROKEN at record 1: the session's user is \"mallory\" but its "
        "recording says \"alice\""))
        << framed.out;
    RunResult shown = env_->Spctl({"sessions", "show", "s-meta"});
    ASSERT_TRUE(shown.ok()) << shown.Describe();
    EXPECT_TRUE(absl::StrContains(
        shown.out,
        "\nintegrity: BROKEN: the session's user is \"mallory\" but its "
        "recording says \"alice\"\n"))
        << shown.out;

    // Another host, another start, another status.
    const std::vector<std::pair<std::string, std::string>> edits = {
        {"user_name = 'alice', host = 'db01'",
         "BROKEN at record 1: the session's host is \"db01\" but its "
         "recording says \"web01\""},
        {"host = 'web01', started_at_us = started_at_us - 3600000000",
         "BROKEN at record 1: the session's start is "},
        {"started_at_us = started_at_us + 3600000000, status = 'failed'",
         "BROKEN at record 26: the session's status is \"failed\" but its "
         "recording says \"ended\""},
    };
    for (const auto& [set, want] : edits) {
      Sql(absl::StrCat("UPDATE sessions SET ", set, " WHERE id = 's-meta';"));
      RunResult edited = env_->Spctl({"sessions", "verify", "s-meta"});
      EXPECT_EQ(edited.exit_code, 1) << set << ": " << edited.Describe();
      EXPECT_TRUE(absl::StrContains(edited.out, want))
          << set << ": " << edited.out;
    }
    Sql("UPDATE sessions SET status = 'ended' WHERE id = 's-meta';");
    RunResult again = env_->Spctl({"sessions", "verify", "s-meta"});
    EXPECT_TRUE(again.ok()) << again.Describe();

    // A recording stored before session_start records: intact, but its
    // user, login, host and start are not covered, and it says so.
    StoreRecording("s-old", PtySession());
    RunResult old = env_->Spctl({"sessions", "verify", "s-old"});
    ASSERT_TRUE(old.ok()) << old.Describe();
    EXPECT_TRUE(absl::StrContains(old.out, "hash chain intact")) << old.out;
    EXPECT_TRUE(absl::StrContains(
        old.out,
        "; its user, login, host and start time are not covered by "
        "the hash chain (recorded before session_start records)\n"))
        << old.out;
    RunResult old_shown = env_->Spctl({"sessions", "show", "s-old"});
    ASSERT_TRUE(old_shown.ok()) << old_shown.Describe();
    EXPECT_TRUE(
        absl::StrContains(old_shown.out,
                          "\nintegrity: intact (hash chain checks; its user, "
                          "login, host and start time are not covered"))
        << old_shown.out;
  }
};

}  // namespace sallyport::e2e

#endif  // SALLYPORT_TESTS_E2E_SPCTL_AUDIT_E2E_FIXTURE_H_
