// `spctl audit ls|export|verify` and `spctl sessions ls|show|play|export|
// verify` against the real CA (issue 14): tamper tests (an event row
// deleted or edited, a recording record edited or dropped, in the real
// SQLite file with sqlite3 and in PostgreSQL with psql) are named by
// `verify`; only the auditor and admin roles read; every read, a replay
// included, is itself an audit event; the asciicast export passes
// `asciinema cat`; `sessions ls --grep` finds a typed command and a printed
// word.
//
// The recordings here are written straight to the CA's Store with the
// CA-side record writer (audit/recording_store.h + RecordChainer), as the
// shipper will; the E2E through the gateway's recorder is left for when
// the recorder is wired into the gateway.
#include <map>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "audit/recording_record.h"
#include "audit/recording_store.h"
#include "gtest/gtest.h"
#include "proto/gateway.grpc.pb.h"
#include "storage/open.h"
#include "tests/e2e/spctl_e2e_util.h"
#include "tests/harness/postgres_fixture.h"
#include "tests/harness/subprocess.h"

namespace sallyport::e2e {
namespace {

namespace av = audit::v1;
using sallyport::testing::RunResult;

RunResult RunTool(const std::vector<std::string>& args,
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

constexpr char kAuditorRole[] = R"(name: auditor
logins: [nobody]
hosts: [{name_globs: ["none-*"]}]
channels: [exec]
)";
constexpr char kDevRole[] = R"(name: dev
logins: [ubuntu]
hosts: [{name_globs: ["web*"]}]
channels: [shell, exec]
)";

av::RecordingRecord Open(uint32_t ch, int64_t at) {
  av::RecordingRecord r;
  r.set_channel_id(ch);
  r.set_offset_us(at);
  r.mutable_channel_open()->set_type("session");
  return r;
}
av::RecordingRecord Window(uint32_t ch, int64_t at, int cols, int rows) {
  av::RecordingRecord r;
  r.set_channel_id(ch);
  r.set_offset_us(at);
  r.mutable_window_change()->set_columns(cols);
  r.mutable_window_change()->set_rows(rows);
  return r;
}
av::RecordingRecord Request(uint32_t ch, int64_t at, const std::string& type,
                            const std::string& summary) {
  av::RecordingRecord r;
  r.set_channel_id(ch);
  r.set_offset_us(at);
  r.mutable_request()->set_direction(av::RECORD_DIRECTION_INPUT);
  r.mutable_request()->set_type(type);
  r.mutable_request()->set_summary(summary);
  return r;
}
av::RecordingRecord Data(uint32_t ch, int64_t at, bool input,
                         const std::string& bytes) {
  av::RecordingRecord r;
  r.set_channel_id(ch);
  r.set_offset_us(at);
  r.mutable_data()->set_direction(input ? av::RECORD_DIRECTION_INPUT
                                        : av::RECORD_DIRECTION_OUTPUT);
  r.mutable_data()->set_bytes(bytes);
  return r;
}
av::RecordingRecord Close(uint32_t ch, int64_t at) {
  av::RecordingRecord r;
  r.set_channel_id(ch);
  r.set_offset_us(at);
  r.mutable_channel_close()->set_bytes_input(10);
  r.mutable_channel_close()->set_bytes_output(40);
  return r;
}

// A pty shell where the user types `uname -a` (echoed keystroke by
// keystroke, with colour escapes in the prompt) and the host prints a word.
std::vector<av::RecordingRecord> PtySession() {
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

    // Edit event 3's payload (the triggers that refuse it are dropped first,
    // as someone with the database file could).
    Sql(DropTriggers());
    Sql("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3;");
    RunResult edited = env_->Spctl({"audit", "verify"});
    EXPECT_EQ(edited.exit_code, 1) << edited.Describe();
    EXPECT_TRUE(absl::StrContains(edited.out, "BROKEN")) << edited.out;
    EXPECT_TRUE(absl::StrContains(edited.out, "event 3 has a wrong hash"))
        << edited.out;

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

    // Edit a chunk: the word the host printed.
    Sql(absl::StrCat("UPDATE session_chunks SET data = ", Forged(),
                     " WHERE session_id = 's-tamper' AND seq = 6;"));
    RunResult edited = env_->Spctl({"sessions", "verify", "s-tamper"});
    EXPECT_EQ(edited.exit_code, 1) << edited.Describe();
    EXPECT_TRUE(absl::StrContains(edited.out, "BROKEN at record 6"))
        << edited.out;

    // Drop a chunk.
    Sql("DELETE FROM session_chunks WHERE session_id = 's-tamper' AND "
        "seq = 6;");
    RunResult dropped = env_->Spctl({"sessions", "verify", "s-tamper"});
    EXPECT_EQ(dropped.exit_code, 1) << dropped.Describe();
    EXPECT_TRUE(absl::StrContains(dropped.out, "BROKEN at record 6"))
        << dropped.out;
    EXPECT_TRUE(absl::StrContains(dropped.out, "missing")) << dropped.out;
  }
};

TEST_F(SpctlAuditTest, SqliteEditedAndDeletedEventsAreNamed) {
  TamperWithEvents();
}

TEST_F(SpctlAuditTest, SqliteEditedAndDroppedRecordsAreNamed) {
  TamperWithRecording();
}

TEST_F(SpctlAuditTest, OnlyAuditorsAndAdminsReadAndEveryReadIsAnEvent) {
  AddRoles();
  AddUser("dave", "dev");
  AddUser("erin", "auditor");
  for (const char* who : {"dave", "erin"}) {
    auto r = env_->Login(who, kPassword);
    ASSERT_TRUE(r.ok()) << r.Describe();
  }
  StoreRecording("s-auth", PtySession());
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"audit", "ls"},
           {"audit", "verify"},
           {"sessions", "ls"},
           {"sessions", "play", "s-auth"},
           {"sessions", "export", "s-auth"}}) {
    RunResult denied = env_->Spctl(args, "dave");
    EXPECT_EQ(denied.exit_code, 4) << denied.Describe();
    EXPECT_FALSE(absl::StrContains(denied.out, "uname")) << denied.out;
  }
  RunResult play = env_->Spctl(
      {"sessions", "play", "s-auth", "--speed", "50", "--max-idle", "10ms"},
      "erin");
  ASSERT_TRUE(play.ok()) << play.Describe();
  EXPECT_TRUE(absl::StrContains(play.out, "zanzibar-kernel")) << play.out;

  RunResult log = env_->Spctl({"audit", "export", "--json"}, "erin");
  ASSERT_TRUE(log.ok()) << log.Describe();
  int replays = 0, denials = 0;
  for (absl::string_view line : absl::StrSplit(log.out, '\n')) {
    if (line.empty()) continue;
    EXPECT_TRUE(IsJson(std::string(line))) << line;
    if (absl::StrContains(line, "\"type\":\"session.replay\"") &&
        absl::StrContains(line, "\"actor\":\"erin\"") &&
        absl::StrContains(line, "s-auth")) {
      ++replays;
    }
    if (absl::StrContains(line, "\"type\":\"audit.denied\"") &&
        absl::StrContains(line, "\"actor\":\"dave\"")) {
      ++denials;
    }
  }
  EXPECT_EQ(replays, 1) << log.out;
  EXPECT_EQ(denials, 5) << log.out;
  // The auditor cannot administer.
  RunResult admin = env_->Spctl({"users", "ls"}, "erin");
  EXPECT_EQ(admin.exit_code, 4) << admin.Describe();
}

TEST_F(SpctlAuditTest, AsciicastExportPassesAsciinemaCatAndGrepFinds) {
  StoreRecording("s-pty", PtySession());
  const std::string cast = env_->Path("s-pty.cast");
  RunResult exp = env_->Spctl({"sessions", "export", "s-pty", "--format",
                               "asciicast", "--channel", "0", "--out", cast});
  ASSERT_TRUE(exp.ok()) << exp.Describe();
  const std::string text = sallyport::testing::ReadFileOrEmpty(cast);
  EXPECT_TRUE(
      absl::StartsWith(text, "{\"version\":2,\"width\":100,\"height\":30,"))
      << text;
  // asciinema wants a config directory (Bazel's test environment has no
  // $HOME).
  // `asciinema cat` opens /dev/tty: run it on a pty made by script(1).
  RunResult cat =
      RunTool({"script", "-qec", "asciinema cat " + cast, "/dev/null"},
              {{"ASCIINEMA_CONFIG_HOME", env_->Path("asciinema")}});
  ASSERT_TRUE(cat.ok()) << cat.Describe();
  EXPECT_TRUE(absl::StrContains(cat.out, "uname -a")) << cat.out;
  EXPECT_TRUE(absl::StrContains(cat.out, "zanzibar-kernel")) << cat.out;

  // A second session without the word.
  StoreRecording("s-other",
                 {Open(0, 0), Data(0, 10, false, "hello\r\n"), Close(0, 20)});
  RunResult typed = env_->Spctl({"sessions", "ls", "--grep", "uname -a"});
  ASSERT_TRUE(typed.ok()) << typed.Describe();
  EXPECT_TRUE(absl::StrContains(typed.out, "s-pty")) << typed.out;
  EXPECT_TRUE(absl::StrContains(typed.out, "input channel 0")) << typed.out;
  EXPECT_FALSE(absl::StrContains(typed.out, "s-other")) << typed.out;
  RunResult printed =
      env_->Spctl({"sessions", "ls", "--grep", "zanzibar-kernel"});
  ASSERT_TRUE(printed.ok()) << printed.Describe();
  EXPECT_TRUE(absl::StrContains(printed.out, "s-pty")) << printed.out;
  EXPECT_FALSE(absl::StrContains(printed.out, "s-other")) << printed.out;
  RunResult all = env_->Spctl({"sessions", "ls", "--user", "alice"});
  EXPECT_TRUE(absl::StrContains(all.out, "s-other")) << all.out;

  RunResult show = env_->Spctl({"sessions", "show", "s-pty"});
  ASSERT_TRUE(show.ok()) << show.Describe();
  EXPECT_TRUE(absl::StrContains(show.out, "intact")) << show.out;
}

// `sessions ls --grep W --limit N` lists the N newest sessions that match,
// however many newer sessions do not (the CA searches page after page:
// here the older match is behind more than a page of sessions without W).
TEST_F(SpctlAuditTest, GrepLimitCountsMatchingSessions) {
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::OpenStore(env_->ca().store_url());
  ASSERT_TRUE(store.ok()) << store.status();
  auto session = [](std::string_view text) {
    return std::vector<av::RecordingRecord>{
        Open(0, 0), Data(0, 10, false, std::string(text)), Close(0, 20)};
  };
  StoreRecording("g-old", session("seen kestrel-42\r\n"), absl::Hours(3),
                 store->get());
  // More than a page of the CA's search (AuditService::kGrepPageSessions,
  // 100).
  constexpr int kBetween = 110;
  for (int i = 0; i < kBetween; ++i) {
    StoreRecording(absl::StrCat("g-fill-", i), session("nothing here\r\n"),
                   absl::Hours(2) - absl::Seconds(i), store->get());
  }
  StoreRecording("g-mid", session("kestrel-42 again\r\n"), absl::Hours(1),
                 store->get());
  for (int i = 0; i < 5; ++i) {
    StoreRecording(absl::StrCat("g-new-", i), session("nothing\r\n"),
                   absl::Minutes(10) - absl::Seconds(i), store->get());
  }
  auto ids = [](const std::string& out) {
    std::vector<std::string> found;
    for (absl::string_view line : absl::StrSplit(out, '\n')) {
      if (absl::StartsWith(line, "g-")) {
        found.emplace_back(line.substr(0, line.find('\t')));
      }
    }
    return found;
  };
  RunResult one =
      env_->Spctl({"sessions", "ls", "--grep", "kestrel-42", "--limit", "1"});
  ASSERT_TRUE(one.ok()) << one.Describe();
  EXPECT_EQ(ids(one.out), std::vector<std::string>{"g-mid"}) << one.out;
  RunResult two =
      env_->Spctl({"sessions", "ls", "--grep", "kestrel-42", "--limit", "2"});
  ASSERT_TRUE(two.ok()) << two.Describe();
  EXPECT_EQ(ids(two.out), (std::vector<std::string>{"g-mid", "g-old"}))
      << two.out;
  RunResult all = env_->Spctl({"sessions", "ls", "--grep", "kestrel-42"});
  ASSERT_TRUE(all.ok()) << all.Describe();
  EXPECT_EQ(ids(all.out), (std::vector<std::string>{"g-mid", "g-old"}))
      << all.out;
  EXPECT_FALSE(absl::StrContains(all.err, "stopped searching")) << all.err;
  // Without --grep the limit still counts sessions.
  RunResult plain = env_->Spctl({"sessions", "ls", "--limit", "3"});
  ASSERT_TRUE(plain.ok()) << plain.Describe();
  EXPECT_EQ(ids(plain.out),
            (std::vector<std::string>{"g-new-4", "g-new-3", "g-new-2"}))
      << plain.out;
}

// `sessions ls` and `audit ls` filter by time (--since/--until, a
// duration before now or a time), `--grep` finds an exec's command line,
// and every list, show and export is an audit event of the caller.
TEST_F(SpctlAuditTest, ListsFilterByTimeAndEveryReadIsAnEvent) {
  AddRoles();
  AddUser("erin", "auditor");
  ASSERT_TRUE(env_->Login("erin", kPassword).ok());
  StoreRecording("s-old3h", PtySession(), absl::Hours(3));
  StoreRecording(
      "s-new1m",
      {Open(0, 0), Request(0, 10, "exec", "tar czf /tmp/qx7.tgz /etc"),
       Data(0, 20, false, "done\n"), Close(0, 30)},
      absl::Minutes(1));
  RunResult recent = env_->Spctl({"sessions", "ls", "--since", "1h"}, "erin");
  ASSERT_TRUE(recent.ok()) << recent.Describe();
  EXPECT_TRUE(absl::StrContains(recent.out, "s-new1m")) << recent.out;
  EXPECT_FALSE(absl::StrContains(recent.out, "s-old3h")) << recent.out;
  RunResult older = env_->Spctl({"sessions", "ls", "--until", "2h"}, "erin");
  ASSERT_TRUE(older.ok()) << older.Describe();
  EXPECT_TRUE(absl::StrContains(older.out, "s-old3h")) << older.out;
  EXPECT_FALSE(absl::StrContains(older.out, "s-new1m")) << older.out;
  RunResult command =
      env_->Spctl({"sessions", "ls", "--grep", "/tmp/qx7.tgz"}, "erin");
  ASSERT_TRUE(command.ok()) << command.Describe();
  EXPECT_TRUE(absl::StrContains(command.out, "s-new1m")) << command.out;
  EXPECT_TRUE(absl::StrContains(command.out, "command channel 0"))
      << command.out;
  EXPECT_FALSE(absl::StrContains(command.out, "s-old3h")) << command.out;
  RunResult show = env_->Spctl({"sessions", "show", "s-new1m"}, "erin");
  ASSERT_TRUE(show.ok()) << show.Describe();
  EXPECT_TRUE(absl::StrContains(show.out, "tar czf /tmp/qx7.tgz")) << show.out;
  RunResult exp =
      env_->Spctl({"sessions", "export", "s-new1m", "--format", "asciicast",
                   "--out", env_->Path("s-new1m.cast")},
                  "erin");
  ASSERT_TRUE(exp.ok()) << exp.Describe();

  // Events: none in the future, none older than the suite.
  const std::string in_an_hour = absl::FormatTime(
      absl::RFC3339_sec, absl::Now() + absl::Hours(1), absl::UTCTimeZone());
  RunResult future =
      env_->Spctl({"audit", "ls", "--json", "--since", in_an_hour}, "erin");
  ASSERT_TRUE(future.ok()) << future.Describe();
  EXPECT_EQ(future.out, "");
  RunResult past =
      env_->Spctl({"audit", "ls", "--json", "--until", "2h"}, "erin");
  ASSERT_TRUE(past.ok()) << past.Describe();
  EXPECT_EQ(past.out, "");
  RunResult log =
      env_->Spctl({"audit", "ls", "--json", "--since", "10m"}, "erin");
  ASSERT_TRUE(log.ok()) << log.Describe();
  int lists = 0, shows = 0, exports = 0, audit_reads = 0;
  for (absl::string_view line : absl::StrSplit(log.out, '\n')) {
    if (!absl::StrContains(line, "\"actor\":\"erin\"")) continue;
    if (absl::StrContains(line, "\"type\":\"session.read\"")) {
      lists += absl::StrContains(line, "sessions ls") ? 1 : 0;
      shows += absl::StrContains(line, "sessions show") &&
                       absl::StrContains(line, "s-new1m")
                   ? 1
                   : 0;
    }
    if (absl::StrContains(line, "\"type\":\"session.export\"") &&
        absl::StrContains(line, "s-new1m")) {
      ++exports;
    }
    if (absl::StrContains(line, "\"type\":\"audit.read\"")) ++audit_reads;
  }
  EXPECT_EQ(lists, 3) << log.out;
  EXPECT_EQ(shows, 1) << log.out;
  EXPECT_EQ(exports, 1) << log.out;
  // The two above and this one.
  EXPECT_EQ(audit_reads, 3) << log.out;
}

// A session with two channels exports one asciicast file per channel
// with --out PREFIX (PREFIX.N.cast), and not to stdout without --channel;
// `play` keeps the recorded time (4 s between two outputs), divided by
// --speed and cut to --max-idle.
TEST_F(SpctlAuditTest, ExportWritesAFilePerChannelAndPlayKeepsTime) {
  constexpr int64_t kGapUs = 4'000'000;
  StoreRecording(
      "s-two", {Open(0, 0), Open(1, 10), Data(0, 20, false, "first-chan\r\n"),
                Data(1, 30, false, "second-chan\r\n"),
                Data(0, 40 + kGapUs, false, "later\r\n"), Close(0, 50 + kGapUs),
                Close(1, 60 + kGapUs)});
  RunResult both = env_->Spctl({"sessions", "export", "s-two"});
  EXPECT_EQ(both.exit_code, 2) << both.Describe();
  EXPECT_TRUE(absl::StrContains(both.err, "several channels")) << both.err;
  const std::string prefix = env_->Path("two");
  RunResult files =
      env_->Spctl({"sessions", "export", "s-two", "--out", prefix});
  ASSERT_TRUE(files.ok()) << files.Describe();
  const std::string zero =
      sallyport::testing::ReadFileOrEmpty(prefix + ".0.cast");
  const std::string one =
      sallyport::testing::ReadFileOrEmpty(prefix + ".1.cast");
  EXPECT_TRUE(absl::StrContains(zero, "later")) << zero;
  EXPECT_FALSE(absl::StrContains(zero, "second-chan")) << zero;
  EXPECT_TRUE(absl::StrContains(one, "second-chan")) << one;
  EXPECT_FALSE(absl::StrContains(one, "later")) << one;

  const auto play = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"sessions", "play", "s-two", "--channel",
                                     "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    const absl::Time start = absl::Now();
    RunResult r = env_->Spctl(args);
    EXPECT_TRUE(r.ok()) << r.Describe();
    EXPECT_TRUE(absl::StrContains(r.out, "later")) << r.out;
    return absl::Now() - start;
  };
  // Sleeping cannot make it faster than the recording: lower bounds hold on
  // any machine; the upper ones leave seconds of room.
  EXPECT_GE(play({}), absl::Microseconds(kGapUs) - absl::Milliseconds(100));
  const absl::Duration fast = play({"--speed", "4"});
  EXPECT_GE(fast, absl::Microseconds(kGapUs / 4) - absl::Milliseconds(100));
  EXPECT_LT(fast, absl::Microseconds(kGapUs) - absl::Milliseconds(500));
  EXPECT_LT(play({"--max-idle", "10ms"}),
            absl::Microseconds(kGapUs) - absl::Milliseconds(500));
}

// `last` (any case) in place of a session id is the newest session the
// caller may see (the first of `sessions ls`), for play, show, export and
// verify; with no session it is "not found", and it is refused like an id
// to a caller who may not read sessions.
TEST_F(SpctlAuditTest, LastIsTheNewestSession) {
  RunResult none = env_->Spctl({"sessions", "play", "LAST"});
  EXPECT_EQ(none.exit_code, 3) << none.Describe();
  EXPECT_TRUE(absl::StrContains(none.err, "no recorded sessions")) << none.err;

  // Ids chosen so that the id tie-break alone would pick the older one.
  StoreRecording("s-1-newest", PtySession(), absl::Minutes(1));
  StoreRecording(
      "s-2-older",
      {Open(0, 0), Data(0, 10, false, "older-session\r\n"), Close(0, 20)},
      absl::Minutes(30));
  for (const char* last : {"LAST", "last"}) {
    RunResult play = env_->Spctl({"sessions", "play", last, "--speed", "50"});
    ASSERT_TRUE(play.ok()) << play.Describe();
    EXPECT_TRUE(absl::StrContains(play.out, "zanzibar-kernel")) << play.out;
    EXPECT_FALSE(absl::StrContains(play.out, "older-session")) << play.out;
    EXPECT_TRUE(absl::StrContains(play.err, "playing s-1-newest")) << play.err;
  }
  RunResult show = env_->Spctl({"sessions", "show", "last"});
  ASSERT_TRUE(show.ok()) << show.Describe();
  EXPECT_TRUE(absl::StrContains(show.out, "session:   s-1-newest")) << show.out;
  RunResult verify = env_->Spctl({"sessions", "verify", "Last"});
  ASSERT_TRUE(verify.ok()) << verify.Describe();
  EXPECT_TRUE(absl::StrContains(verify.out, "session s-1-newest: OK"))
      << verify.out;
  RunResult exp = env_->Spctl({"sessions", "export", "last", "--channel", "0"});
  ASSERT_TRUE(exp.ok()) << exp.Describe();
  EXPECT_TRUE(absl::StrContains(exp.out, "zanzibar-kernel")) << exp.out;

  // A newer session becomes `last`.
  StoreRecording(
      "s-0-newer",
      {Open(0, 0), Data(0, 10, false, "newer-session\r\n"), Close(0, 20)},
      absl::Seconds(1));
  RunResult play = env_->Spctl({"sessions", "play", "last"});
  ASSERT_TRUE(play.ok()) << play.Describe();
  EXPECT_TRUE(absl::StrContains(play.out, "newer-session")) << play.out;

  AddRoles();
  AddUser("dave", "dev");
  ASSERT_TRUE(env_->Login("dave", kPassword).ok());
  RunResult denied = env_->Spctl({"sessions", "play", "last"}, "dave");
  EXPECT_EQ(denied.exit_code, 4) << denied.Describe();
  EXPECT_FALSE(absl::StrContains(denied.out, "newer-session")) << denied.out;
}

// Gateway.RecordGatewayEvents: a gateway writes events of its own sessions
// (the session's recording names it), never another gateway's.
TEST_F(SpctlAuditTest, AGatewayCannotWriteAnotherGatewaysSessionEvents) {
  auto enrol = [&](const std::string& name)
      -> std::unique_ptr<gateway::v1::GatewayEvents::Stub> {
    RunResult tok = env_->Spctl(
        {"tokens", "create", "--kind", "gateway", "--output", "json"});
    EXPECT_TRUE(tok.ok()) << tok.Describe();
    std::smatch m;
    const std::regex kToken("\"token\":\\s*\"([^\"]+)\"");
    EXPECT_TRUE(std::regex_search(tok.out, m, kToken)) << tok.out;
    absl::StatusOr<std::shared_ptr<grpc::Channel>> ch =
        env_->EnrollGateway(m[1].str(), name);
    EXPECT_TRUE(ch.ok()) << ch.status();
    return ch.ok() ? gateway::v1::GatewayEvents::NewStub(*ch) : nullptr;
  };
  auto gw1 = enrol("gw-1");
  auto gw2 = enrol("gw-2");
  ASSERT_NE(gw1, nullptr);
  ASSERT_NE(gw2, nullptr);
  StoreRecording("s-gw1", {Open(0, 0), Close(0, 10)});  // gateway_id gw-1
  auto send = [](gateway::v1::GatewayEvents::Stub& stub,
                 const std::string& session, const std::string& type) {
    gateway::v1::RecordGatewayEventsRequest req;
    gateway::v1::GatewayEvent* e = req.add_events();
    e->set_type(type);
    e->set_session_id(session);
    e->set_user("alice");
    e->mutable_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    gateway::v1::GatewayEventField* f = e->add_fields();
    f->set_name("command");
    f->set_text("cat /etc/shadow");
    gateway::v1::RecordGatewayEventsResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(60));
    return stub.RecordGatewayEvents(&ctx, req, &resp);
  };
  grpc::Status own = send(*gw1, "s-gw1", "exec.command");
  EXPECT_TRUE(own.ok()) << own.error_message();
  grpc::Status other = send(*gw2, "s-gw1", "exec.command");
  EXPECT_EQ(other.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << other.error_message();
  // A CA event code is refused from a gateway.
  grpc::Status forged = send(*gw2, "s-gw2", "cert.issued");
  EXPECT_EQ(forged.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  RunResult log = env_->Spctl({"audit", "export"});
  ASSERT_TRUE(log.ok()) << log.Describe();
  int gw1_events = 0, gw2_events = 0, refusals = 0;
  for (absl::string_view line : absl::StrSplit(log.out, '\n')) {
    if (absl::StrContains(line, "\"type\":\"exec.command\"")) {
      if (absl::StrContains(line, "\"gateway\":\"gw-1\"")) ++gw1_events;
      if (absl::StrContains(line, "\"gateway\":\"gw-2\"")) ++gw2_events;
    }
    if (absl::StrContains(line, "\"type\":\"gateway.events.refused\"") &&
        absl::StrContains(line, "\"owner\":\"gw-1\"")) {
      ++refusals;
    }
  }
  EXPECT_EQ(gw1_events, 1) << log.out;
  EXPECT_EQ(gw2_events, 0) << log.out;
  EXPECT_EQ(refusals, 1) << log.out;
  RunResult verify = env_->Spctl({"audit", "verify"});
  EXPECT_TRUE(verify.ok()) << verify.Describe();
}

// The same tamper tests with the CA on PostgreSQL (edited with psql).
class SpctlAuditPostgresTest : public SpctlAuditTest {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<sallyport::testing::PostgresFixture>> pg =
        sallyport::testing::PostgresFixture::Start();
    ASSERT_TRUE(pg.ok()) << pg.status();
    pg_ = *std::move(pg);
    store_url_ = pg_->ConnectionUri();
    SpctlTestBase::SetUp();
  }
  void Sql(const std::string& sql) override {
    RunResult r = RunTool(
        {"psql", "-v", "ON_ERROR_STOP=1", pg_->ConnectionString(), "-c", sql});
    ASSERT_TRUE(r.ok()) << r.Describe();
  }
  std::string DropTriggers() override {
    return "DROP TRIGGER IF EXISTS audit_events_no_update ON audit_events;"
           "DROP TRIGGER IF EXISTS audit_events_no_delete ON audit_events;";
  }
  std::string Forged() override { return "'forged'::bytea"; }
  std::unique_ptr<sallyport::testing::PostgresFixture> pg_;
};

TEST_F(SpctlAuditPostgresTest, EditedAndDeletedEventsAreNamed) {
  TamperWithEvents();
}

TEST_F(SpctlAuditPostgresTest, EditedAndDroppedRecordsAreNamed) {
  TamperWithRecording();
}

}  // namespace
}  // namespace sallyport::e2e
