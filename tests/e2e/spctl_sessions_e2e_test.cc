// `spctl sessions ls|show|play|export` against the real CA (issue 14):
// the asciicast export passes `asciinema cat`; `sessions ls --grep` finds
// a typed command, a printed word and an exec's command line, and its
// --limit counts matching sessions; lists filter by time; `last` is the
// newest session; every read is an audit event; an active session lists
// its bytes so far; large recordings are read in bounded memory; a session
// searched only in part is named. What
// `show` says and the escaping of what users chose:
// spctl_sessions_show_e2e_test.cc. Export to files and play's timing:
// spctl_export_e2e_test.cc. Tamper tests and who may read:
// spctl_audit_e2e_test.cc.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "storage/open.h"
#include "tests/e2e/spctl_audit_e2e_fixture.h"
#include "tests/harness/subprocess.h"

namespace sallyport::e2e {
namespace {

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

// A session the CA searched only in part (here: more streams open at once
// than one search follows, AuditService::kMaxGrepStreams = 65536) without
// a match is not passed off as one without the text: `sessions ls --grep`
// names it on stderr, in the table and JSON forms, and JSON carries it.
TEST_F(SpctlAuditTest, GrepNamesSessionsItSearchedOnlyInPart) {
  std::vector<av::RecordingRecord> records;
  for (uint32_t c = 1; c <= 65536; ++c) {
    records.push_back(Data(c, 10, false, "y"));
  }
  records.push_back(Data(0, 20, false, "late osprey-7\r\n"));
  StoreRecording("p-partial", std::move(records));
  StoreRecording("p-whole", {Open(0, 0), Data(0, 10, false, "osprey-7\r\n"),
                             Close(0, 20)});
  RunResult table = env_->Spctl({"sessions", "ls", "--grep", "osprey-7"});
  ASSERT_TRUE(table.ok()) << table.Describe();
  EXPECT_TRUE(absl::StrContains(table.out, "p-whole")) << table.out;
  EXPECT_FALSE(absl::StrContains(table.out, "p-partial")) << table.out;
  EXPECT_TRUE(absl::StrContains(
      table.err,
      "1 session(s) were searched only in their first 256 MiB of recording, "
      "with no match there (read them whole with `spctl sessions export`): "
      "p-partial\n"))
      << table.err;
  RunResult json =
      env_->Spctl({"sessions", "ls", "--grep", "osprey-7", "--output", "json"});
  ASSERT_TRUE(json.ok()) << json.Describe();
  EXPECT_TRUE(absl::StrContains(json.out, "\"p-partial\"")) << json.out;
  EXPECT_TRUE(absl::StrContains(json.err, "p-partial")) << json.err;
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

// An active session lists the bytes recorded so far, marked so (it listed
// 0 and 0 until its channels closed): the closed channels' totals plus
// what the open ones recorded; `show` says the same.
TEST_F(SpctlAuditTest, ActiveSessionsListTheBytesSoFar) {
  StoreRecording("s-live", {Open(0, 0), Data(0, 10, true, "ls\r"),
                            Data(0, 20, false, "file-a  file-b\r\n"),
                            Open(1, 30), Close(1, 40)});
  RunResult ls = env_->Spctl({"sessions", "ls"});
  ASSERT_TRUE(ls.ok()) << ls.Describe();
  // Channel 1 closed with 10 in, 40 out; channel 0 recorded 3 and 16.
  EXPECT_TRUE(absl::StrContains(ls.out, "\tactive\t13 so far\t56 so far\n"))
      << ls.out;
  RunResult json = env_->Spctl({"sessions", "ls", "--output", "json"});
  ASSERT_TRUE(json.ok()) << json.Describe();
  EXPECT_TRUE(IsJson(json.out)) << json.out;
  EXPECT_TRUE(absl::StrContains(json.out, "\"bytes_in\": \"13\"")) << json.out;
  EXPECT_TRUE(absl::StrContains(json.out, "\"bytes_out\": \"56\"")) << json.out;
  RunResult show = env_->Spctl({"sessions", "show", "s-live"});
  ASSERT_TRUE(show.ok()) << show.Describe();
  EXPECT_TRUE(absl::StrContains(show.out, "bytes:     13 in, 56 out so far"))
      << show.out;
}

// A session whose gateway is gone for good listed as active forever. An
// admin marks it abandoned (`spctl sessions abandon ID --reason TEXT`):
// `ls` shows it so, `show` says by whom, when and why; an auditor may not
// mark one; a reason is required; a session is marked once.
TEST_F(SpctlAuditTest, AnAdminMarksASessionWhoseGatewayIsGoneAbandoned) {
  StoreRecording("s-lost", {Open(0, 0), Data(0, 10, true, "ls\r")});
  StoreRecording("s-live", {Open(0, 0)}, absl::Minutes(1));
  RunResult no_reason = env_->Spctl({"sessions", "abandon", "s-lost"});
  EXPECT_EQ(no_reason.exit_code, 2) << no_reason.Describe();
  AddRoles();
  AddUser("erin", "auditor");
  ASSERT_TRUE(env_->Login("erin", kPassword).ok());
  RunResult auditor = env_->Spctl(
      {"sessions", "abandon", "s-lost", "--reason", "gw-1 is gone"}, "erin");
  EXPECT_EQ(auditor.exit_code, 4) << auditor.Describe();

  RunResult marked = env_->Spctl({"sessions", "abandon", "s-lost", "--reason",
                                  "gw-1 was destroyed with its disk"});
  ASSERT_TRUE(marked.ok()) << marked.Describe();
  EXPECT_TRUE(absl::StrContains(
      marked.out, "Session s-lost (alice, ubuntu@web01, started "))
      << marked.out;
  EXPECT_TRUE(
      absl::StrContains(marked.out, ") is marked abandoned by root at "))
      << marked.out;
  EXPECT_TRUE(
      absl::StrContains(marked.out, ": gw-1 was destroyed with its disk"))
      << marked.out;
  RunResult again =
      env_->Spctl({"sessions", "abandon", "s-lost", "--reason", "twice"});
  EXPECT_EQ(again.exit_code, 1) << again.Describe();
  EXPECT_TRUE(absl::StrContains(again.err, "was marked abandoned by root"))
      << again.err;

  // Listed as abandoned (by the auditor too); the other stays active.
  RunResult ls = env_->Spctl({"sessions", "ls"}, "erin");
  ASSERT_TRUE(ls.ok()) << ls.Describe();
  std::vector<std::string> rows = absl::StrSplit(ls.out, '\n');
  ASSERT_GE(rows.size(), 3u) << ls.out;
  EXPECT_TRUE(absl::StartsWith(rows[1], "s-live\t")) << ls.out;
  EXPECT_TRUE(absl::StrContains(rows[1], "\tactive\t")) << ls.out;
  EXPECT_TRUE(absl::StartsWith(rows[2], "s-lost\t")) << ls.out;
  EXPECT_TRUE(absl::StrContains(rows[2], "\tabandoned\t")) << ls.out;
  RunResult show = env_->Spctl({"sessions", "show", "s-lost"});
  ASSERT_TRUE(show.ok()) << show.Describe();
  EXPECT_TRUE(absl::StrContains(
      show.out,
      "status:    active (marked abandoned: its gateway is not expected to "
      "ship the rest)\n"))
      << show.out;
  EXPECT_TRUE(absl::StrContains(show.out,
                                "\nabandoned: marked abandoned by "
                                "root at "))
      << show.out;
  RunResult json =
      env_->Spctl({"sessions", "show", "s-lost", "--output", "json"});
  ASSERT_TRUE(json.ok()) << json.Describe();
  EXPECT_TRUE(IsJson(json.out)) << json.out;
  EXPECT_TRUE(absl::StrContains(json.out, "gw-1 was destroyed with its disk"))
      << json.out;
  RunResult events = env_->Spctl({"audit", "export", "--json"});
  ASSERT_TRUE(events.ok()) << events.Describe();
  EXPECT_TRUE(absl::StrContains(events.out, "admin.AbandonSession"))
      << events.out;

  // Its gateway came back and ended it after all: its real end is listed,
  // `show` keeps the mark.
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::OpenStore(env_->ca().store_url());
  ASSERT_TRUE(store.ok()) << store.status();
  storage::SessionEnd end;
  end.ended_at = absl::Now();
  ASSERT_TRUE((*store)->EndSession("s-lost", end).ok());
  ls = env_->Spctl({"sessions", "ls"});
  ASSERT_TRUE(ls.ok()) << ls.Describe();
  rows = absl::StrSplit(ls.out, '\n');
  ASSERT_GE(rows.size(), 3u) << ls.out;
  EXPECT_TRUE(absl::StartsWith(rows[2], "s-lost\t")) << ls.out;
  EXPECT_TRUE(absl::StrContains(rows[2], "\tended\t")) << ls.out;
  show = env_->Spctl({"sessions", "show", "s-lost"});
  ASSERT_TRUE(show.ok()) << show.Describe();
  EXPECT_TRUE(absl::StrContains(show.out, "status:    ended\n")) << show.out;
  EXPECT_TRUE(absl::StrContains(show.out,
                                "\nabandoned: marked abandoned by "
                                "root at "))
      << show.out;
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

// Replay, export, show and verify read a recording page by page and hold
// one page at a time: their memory does not grow with the recording (nor
// does export's to stdout: it streams one channel). A
// 96 MiB pty recording (2,000 records of 48 KiB) is handled by each in
// well under 64 MiB of peak resident memory (before: all of it, 100+ MiB).
TEST_F(SpctlAuditTest, LargeRecordingsAreReadInBoundedMemory) {
  constexpr int kRecords = 2000;
  const std::string block(48 << 10, 'x');
  std::vector<av::RecordingRecord> records = {
      Open(0, 0), Request(0, 1, "pty-req", "xterm"), Window(0, 2, 100, 30)};
  for (int i = 0; i < kRecords; ++i) {
    records.push_back(Data(0, 10, false, block));
  }
  records.push_back(Data(0, 10, false, "the-last-block\r\n"));
  records.push_back(Close(0, 20));
  StoreRecording("s-big", std::move(records));

  // spctl ARGS as the admin, output to /dev/null: its peak resident memory
  // (KiB). A python3 parent reports it (RUSAGE_CHILDREN): a child forked
  // from this test process would inherit its high-water mark.
  const auto run = [&](const std::vector<std::string>& args) -> long {
    std::vector<std::string> argv = {
        "python3", "-c",
        "import resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.exit(r.returncode)\n",
        sallyport::testing::RunfilePath("cli/spctl")};
    argv.insert(argv.end(), args.begin(), args.end());
    sallyport::testing::RunOptions options;
    options.env["SALLYPORT_HOME"] = env_->Home("admin");
    auto r = sallyport::testing::RunCommand(argv, options);
    EXPECT_TRUE(r.ok() && r->exit_code == 0)
        << absl::StrJoin(args, " ") << ": "
        << (r.ok() ? r->Describe() : r.status().ToString());
    long kib = 0;
    if (!r.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(r->out), &kib))
      return -1;
    return kib;
  };
  const std::string cast = env_->Path("big.cast");
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"sessions", "verify", "s-big"},
           {"sessions", "show", "s-big"},
           {"sessions", "play", "s-big"},
           {"sessions", "export", "s-big"},
           {"sessions", "export", "s-big", "--channel", "0"},
           {"sessions", "export", "s-big", "--out", cast, "--channel", "0"}}) {
    const absl::Time start = absl::Now();
    const long kib = run(args);
    std::fprintf(stderr, "%s: %ld KiB peak, %s\n",
                 absl::StrJoin(args, " ").c_str(), kib,
                 absl::FormatDuration(absl::Now() - start).c_str());
    EXPECT_GT(kib, 0);
#if !defined(__SANITIZE_ADDRESS__)  // ASan keeps freed memory in quarantine
    EXPECT_LT(kib, 64 << 10)
        << absl::StrJoin(args, " ") << ": " << kib << " KiB";
#endif
  }
  // The file export holds every block.
  const std::string exported = sallyport::testing::ReadFileOrEmpty(cast);
  EXPECT_GT(exported.size(), size_t{kRecords} * block.size());
  EXPECT_TRUE(absl::StrContains(exported, "the-last-block")) << exported.size();
  // Its header has the recorded size.
  const std::string header = exported.substr(0, exported.find('\n'));
  EXPECT_TRUE(absl::StrContains(header, "\"width\":100,\"height\":30,"))
      << header;
}

}  // namespace
}  // namespace sallyport::e2e
