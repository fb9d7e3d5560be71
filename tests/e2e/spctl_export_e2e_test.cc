// `spctl sessions export` and `play` against the real CA (issue 14): a
// file per channel with --out PREFIX, owner-only, written whole or not at
// all, a channel with nothing to show left out; play keeps the recorded
// time and the recorded terminal size, and leaves the terminal's modes as
// it found them; both refuse a session with no terminal output alike.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/e2e/spctl_audit_e2e_fixture.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/tmux_session.h"

namespace sallyport::e2e {
namespace {

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
  // Stdout has the first session channel, whole, and says so.
  EXPECT_TRUE(absl::StrContains(both.err, "stdout has only channel 0"))
      << both.err;
  EXPECT_TRUE(absl::StrContains(both.out, "later")) << both.out;
  EXPECT_FALSE(absl::StrContains(both.out, "second-chan")) << both.out;
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
  // Owner only: a recording may hold passwords typed at a prompt (they
  // were 0644 under the usual umask before).
  for (const std::string& f : {prefix + ".0.cast", prefix + ".1.cast"}) {
    struct stat st {};
    ASSERT_EQ(stat(f.c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }

  // A directory as the prefix: the files go in it, named after the
  // session (it wrote DIR.0.cast beside it, or DIR/.0.cast with a '/').
  const std::string casts = env_->Path("casts");
  ASSERT_EQ(mkdir(casts.c_str(), 0755), 0);
  for (const std::string& out : {casts, casts + "/"}) {
    RunResult r = env_->Spctl({"sessions", "export", "s-two", "--out", out});
    ASSERT_TRUE(r.ok()) << r.Describe();
    EXPECT_TRUE(absl::StrContains(
        sallyport::testing::ReadFileOrEmpty(casts + "/s-two.0.cast"), "later"))
        << r.Describe();
    EXPECT_TRUE(absl::StrContains(
        sallyport::testing::ReadFileOrEmpty(casts + "/s-two.1.cast"),
        "second-chan"))
        << r.Describe();
    EXPECT_TRUE(absl::StrContains(r.err, "wrote " + casts + "/s-two.1.cast"))
        << r.err;
    EXPECT_NE(access((casts + ".0.cast").c_str(), F_OK), 0);
    EXPECT_NE(access((casts + "/.0.cast").c_str(), F_OK), 0);
    ASSERT_EQ(unlink((casts + "/s-two.0.cast").c_str()), 0);
    ASSERT_EQ(unlink((casts + "/s-two.1.cast").c_str()), 0);
  }

  // An export that fails half-way (channel 1's file cannot be written: a
  // directory is in the way of its PATH.partial) leaves no cut-off file,
  // and the files of an earlier export stay as they were.
  const std::string again = env_->Path("again");
  ASSERT_TRUE(
      sallyport::testing::WriteFile(again + ".0.cast", "older export\n", 0644)
          .ok());
  ASSERT_EQ(mkdir((again + ".1.cast.partial").c_str(), 0755), 0);
  RunResult failed =
      env_->Spctl({"sessions", "export", "s-two", "--out", again, "--force"});
  EXPECT_NE(failed.exit_code, 0) << failed.Describe();
  // The error names the file the user asked for and why (it named our
  // again.1.cast.partial, with no reason).
  EXPECT_EQ(failed.err,
            "spctl: cannot write " + again + ".1.cast: Is a directory\n");
  EXPECT_EQ(sallyport::testing::ReadFileOrEmpty(again + ".0.cast"),
            "older export\n");
  EXPECT_NE(access((again + ".0.cast.partial").c_str(), F_OK), 0);
  // So do the others: a directory that does not exist, and a file that is
  // a directory (the last step, moving the written file into place,
  // said "cannot rename FILE.partial to FILE: Is a directory").
  const std::string missing = env_->Path("no-such-dir") + "/s.cast";
  const std::string dir = env_->Path("a-dir");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  for (const auto& [out, why] :
       std::vector<std::pair<std::string, std::string>>{
           {missing, "No such file or directory"}, {dir, "Is a directory"}}) {
    RunResult r = env_->Spctl(
        {"sessions", "export", "s-two", "--channel", "0", "--out", out});
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_EQ(r.err, "spctl: cannot write " + out + ": " + why + "\n");
    EXPECT_NE(access((out + ".partial").c_str(), F_OK), 0) << out;
  }

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

// Found by hand (an Ansible session over one ControlMaster connection,
// 75 channels): every channel's file had the session's start in its
// header while its event times counted from the channel's own first
// record, so a channel opened minutes later read as if it ran at the
// start. The header now has the time of the channel's first record.
// And `play` names the channels it did not play.
TEST_F(SpctlAuditTest, EachChannelsCastStartsWhenTheChannelDid) {
  constexpr int64_t kLaterUs = 150'000'000;  // 2.5 minutes in
  StoreRecording(
      "s-late",
      {Open(0, 0), Data(0, 10, false, "first\r\n"), Open(1, kLaterUs),
       Data(1, kLaterUs + 2'000'000, false, "late-chan\r\n"),
       Close(1, kLaterUs + 3'000'000), Close(0, kLaterUs + 4'000'000)});
  const std::string prefix = env_->Path("late");
  RunResult files =
      env_->Spctl({"sessions", "export", "s-late", "--out", prefix});
  ASSERT_TRUE(files.ok()) << files.Describe();
  auto header_time = [](const std::string& cast) {
    const std::string key = "\"timestamp\":";
    const size_t at = cast.find(key);
    int64_t t = -1;
    if (at != std::string::npos) {
      const size_t end = cast.find_first_of(",}", at);
      (void)absl::SimpleAtoi(
          cast.substr(at + key.size(), end - at - key.size()), &t);
    }
    return t;
  };
  const std::string zero =
      sallyport::testing::ReadFileOrEmpty(prefix + ".0.cast");
  const std::string one =
      sallyport::testing::ReadFileOrEmpty(prefix + ".1.cast");
  const int64_t t0 = header_time(zero), t1 = header_time(one);
  ASSERT_GT(t0, 0) << zero;
  // Whole seconds: the channel's first record it exports, its output
  // 152 s after the session's start, is the header's time and time 0.
  EXPECT_GE(t1 - t0, 151) << zero << one;
  EXPECT_LE(t1 - t0, 153) << zero << one;
  EXPECT_TRUE(absl::StrContains(one, "[0.000000, \"o\", \"late-chan")) << one;

  // `play` without --channel plays the first channel that printed and
  // says which others did (it said nothing of them).
  RunResult played = env_->Spctl({"sessions", "play", "s-late"});
  ASSERT_TRUE(played.ok()) << played.Describe();
  EXPECT_TRUE(absl::StrContains(played.out, "first")) << played.out;
  EXPECT_FALSE(absl::StrContains(played.out, "late-chan")) << played.out;
  EXPECT_TRUE(absl::StrContains(
      played.err,
      "spctl: note: 1 other channel(s) printed output too (1); play one "
      "with --channel N (`spctl sessions show s-late` lists them)\n"))
      << played.err;
}

// A session that ended inside a full-screen program (vim, htop: the
// alternate screen, mouse reporting, a hidden cursor) leaves none of that
// on the auditor's terminal after `sessions play`, whether it plays to the
// end or Ctrl-C stops it: the shell's next output was on the alternate
// screen, beside the recording's last screen.
TEST_F(SpctlAuditTest, PlayTurnsOffTheModesTheRecordingTurnedOn) {
  constexpr int64_t kGapUs = 60'000'000;
  StoreRecording(
      "s-alt",
      {Open(0, 0), Window(0, 10, 80, 20), Data(0, 20, false, "main-screen\r\n"),
       Data(0, 30, false, "\x1b[?1049h\x1b[?1000h\x1b[?25lINSIDE-VIM"),
       Data(0, 40 + kGapUs, false, "later"), Close(0, 50 + kGapUs)});
  for (const bool interrupt : {false, true}) {
    const std::string script = absl::StrCat(
        "trap : INT; '", sallyport::testing::RunfilePath("cli/spctl"),
        "' sessions play s-alt", interrupt ? "" : " --max-idle 10ms",
        "; echo \"play-exit=$?\"; sleep 60");
    sallyport::testing::TmuxSession::Options options;
    options.width = 80;
    options.height = 20;
    options.env = {{"SALLYPORT_HOME", env_->Home("admin")}};
    auto tmux = sallyport::testing::TmuxSession::Start(
        {"/bin/sh", "-c", script}, options);
    ASSERT_TRUE(tmux.ok()) << tmux.status();
    sallyport::testing::TmuxSession& t = **tmux;
    std::string want = "play-exit=0";
    if (interrupt) {
      ASSERT_TRUE(t.WaitForText("INSIDE-VIM").ok());
      ASSERT_TRUE(t.Press("C-c").ok());
      want = "play-exit=130";
    }
    auto screen = t.WaitForText(want);
    ASSERT_TRUE(screen.ok()) << screen.status();
    // Back on the main screen: the alternate screen's text is gone.
    EXPECT_FALSE(absl::StrContains(*screen, "INSIDE-VIM")) << *screen;
    EXPECT_TRUE(absl::StrContains(*screen, "main-screen")) << *screen;
  }
}

// A channel without a pty (exec, sftp) has no window size: its output is
// played as it was, with no terminal resize before it (the player used to
// ask for 80x24, a size nobody had), and the header says so. A pty
// channel's recorded size is asked for (gateway_replay_e2e_test).
TEST_F(SpctlAuditTest, AChannelWithoutAPtyIsPlayedWithoutATerminalSize) {
  StoreRecording("s-exec", {Open(0, 0), Data(0, 10, false, "plain-output\n"),
                            Close(0, 20)});
  RunResult play = env_->Spctl({"sessions", "play", "s-exec"});
  ASSERT_TRUE(play.ok()) << play.Describe();
  EXPECT_EQ(play.out, "plain-output\n");
  EXPECT_TRUE(absl::StrContains(play.err, "channel 0 (no pty)")) << play.err;
  StoreRecording("s-pty", PtySession());
  RunResult pty = env_->Spctl({"sessions", "play", "s-pty", "--speed", "50"});
  ASSERT_TRUE(pty.ok()) << pty.Describe();
  EXPECT_TRUE(absl::StartsWith(pty.out, "\x1b[8;30;100t")) << pty.out;
  EXPECT_TRUE(absl::StrContains(pty.err, "channel 0 (100x30)")) << pty.err;
  // `ssh -tt` from no terminal asks for a pty of 0x0: a pty all the same
  // (it said "no pty"), played without a size.
  StoreRecording("s-pty0",
                 {Open(0, 0), Request(0, 1000, "pty-req", "xterm"),
                  Window(0, 1000, 0, 0), Request(0, 2000, "shell", ""),
                  Data(0, 3000, false, "$ "), Close(0, 4000)});
  RunResult pty0 = env_->Spctl({"sessions", "play", "s-pty0"});
  ASSERT_TRUE(pty0.ok()) << pty0.Describe();
  EXPECT_EQ(pty0.out, "$ ");
  EXPECT_TRUE(absl::StrContains(pty0.err, "channel 0 (pty of no size)"))
      << pty0.err;
}

// A session with no terminal output (an exec whose output was not kept,
// only a port forward) is refused by `sessions export` as `sessions play`
// refuses it: exit 1 and the same message, nothing on stdout, no file. It
// wrote an asciicast that was only a header and exited 0.
TEST_F(SpctlAuditTest, ExportRefusesWhatPlayRefusesAsNoTerminalOutput) {
  av::RecordingRecord tunnel = Open(0, 0);
  tunnel.mutable_channel_open()->set_type("direct-tcpip");
  tunnel.mutable_channel_open()->set_destination("db:5432");
  StoreRecording("s-quiet", {Open(0, 0), Request(0, 10, "exec", "make"),
                             Summary(0, 20, false, 5000, 0, 'a'),
                             Request(0, 30, "exit-status", "0"),
                             CloseWith(0, 40, 0, 5000)});
  StoreRecording("s-tunnel", {tunnel, Summary(0, 20, false, 900, 0, 'b'),
                              CloseWith(0, 30, 100, 900)});
  for (const std::string id : {"s-quiet", "s-tunnel"}) {
    const std::string file = env_->Path(id + ".cast");
    const std::string prefix = env_->Path(id);
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{
             {"sessions", "play", id},
             {"sessions", "export", id},
             {"sessions", "export", id, "--out", prefix},
             {"sessions", "play", id, "--channel", "0"},
             {"sessions", "export", id, "--channel", "0"},
             {"sessions", "export", id, "--channel", "0", "--out", file}}) {
      const std::string line = absl::StrJoin(args, " ");
      const bool channel = args.size() > 3 && args[3] == "--channel";
      RunResult r = env_->Spctl(args);
      EXPECT_EQ(r.exit_code, 1) << line << ": " << r.Describe();
      EXPECT_EQ(r.out, "") << line;
      EXPECT_EQ(r.err, absl::StrCat("spctl: ", channel ? "channel 0 of " : "",
                                    "session ", id,
                                    " has no recorded terminal output to ",
                                    args[1], " (`spctl sessions show ", id,
                                    "` lists its channels and what was "
                                    "recorded of each)\n"))
          << line;
    }
    for (const std::string& f : {file, file + ".partial", prefix + ".0.cast",
                                 prefix + ".0.cast.partial"}) {
      EXPECT_NE(access(f.c_str(), F_OK), 0) << f;
    }
    // A channel the session never had: not found, and which it had (it
    // said the channel had no terminal output, as if it existed).
    for (const char* verb : {"play", "export"}) {
      RunResult r = env_->Spctl({"sessions", verb, id, "--channel", "5"});
      EXPECT_EQ(r.exit_code, 3) << r.Describe();
      EXPECT_EQ(r.out, "");
      EXPECT_EQ(r.err, absl::StrCat("spctl: session ", id,
                                    " has no channel 5 (its channels: 0)\n"));
    }
  }
}

// With --out PREFIX, a session channel that printed nothing (a shell
// opened and closed at once) is left out, and stderr says so: it was
// written as an asciicast that was only a header, which plays nothing.
TEST_F(SpctlAuditTest, ExportToFilesLeavesOutAChannelWithNothingToShow) {
  StoreRecording("s-one-quiet",
                 {Open(0, 0), Open(1, 10), Data(0, 20, false, "printed\r\n"),
                  Close(1, 30), Close(0, 40)});
  const std::string prefix = env_->Path("one-quiet");
  RunResult r =
      env_->Spctl({"sessions", "export", "s-one-quiet", "--out", prefix});
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_TRUE(absl::StrContains(
      sallyport::testing::ReadFileOrEmpty(prefix + ".0.cast"), "printed"));
  for (const std::string& f :
       {prefix + ".1.cast", prefix + ".1.cast.partial"}) {
    EXPECT_NE(access(f.c_str(), F_OK), 0) << f;
  }
  EXPECT_EQ(r.err, absl::StrCat("wrote ", prefix,
                                ".0.cast\nchannel 1 has no recorded terminal "
                                "output: no file written\n"));

  // Many such channels (Ansible over one ControlMaster connection): one
  // line names them (it was a line each).
  std::vector<av::RecordingRecord> many = {Open(0, 0)};
  for (uint32_t c = 1; c <= 12; ++c) many.push_back(Open(c, 10 * c));
  many.push_back(Data(0, 200, false, "printed\r\n"));
  for (uint32_t c = 12; c >= 1; --c) many.push_back(Close(c, 300 + c));
  many.push_back(Close(0, 400));
  StoreRecording("s-many-quiet", many);
  const std::string many_prefix = env_->Path("many-quiet");
  r = env_->Spctl({"sessions", "export", "s-many-quiet", "--out", many_prefix});
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(r.err, absl::StrCat("wrote ", many_prefix,
                                ".0.cast\n12 channels have no recorded "
                                "terminal output (1, 2, 3, 4, 5, 6, 7, 8, 9, "
                                "10, ...): no file written for them\n"));
}

// Found in review: the export opened PATH.partial as any file, so a
// symbolic link planted there (in /tmp, by another user) had the file it
// points to overwritten with the recording, which then took its place as
// PATH; and an existing PATH was silently replaced. PATH.partial is now
// made new, owner-only from the start; a file or link already there, or
// an existing PATH, is an error that changes nothing unless --force. The
// bytes of a character the recording ended inside are written too (as
// U+FFFD): they were lost.
TEST_F(SpctlAuditTest, ExportNeverWritesThroughALinkNorOverAFile) {
  StoreRecording("s-safe", {Open(0, 0), Data(0, 10, false, "hello\r\n"),
                            Data(0, 20, false, "end\xe2\x82"), Close(0, 30)});
  const std::string out = env_->Path("safe.cast");
  const std::string partial = out + ".partial";
  const std::string victim = env_->Path("victim");
  ASSERT_TRUE(sallyport::testing::WriteFile(victim, "precious\n", 0644).ok());
  const auto exists = [](const std::string& f) {
    struct stat st {};
    return ::lstat(f.c_str(), &st) == 0;
  };
  const auto run = [&](bool force) {
    std::vector<std::string> args = {
        "sessions", "export", "s-safe", "--channel", "0", "--out", out};
    if (force) args.push_back("--force");
    return env_->Spctl(args);
  };

  ASSERT_EQ(symlink(victim.c_str(), partial.c_str()), 0);
  RunResult r = run(false);
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_EQ(r.err, "spctl: cannot write " + out + ": " + partial +
                       " exists (left by an export that was killed, or made "
                       "by someone else) (pass --force to replace it)\n");
  EXPECT_EQ(sallyport::testing::ReadFileOrEmpty(victim), "precious\n");
  EXPECT_FALSE(exists(out));
  // --force removes the link (not what it points to) and writes.
  r = run(true);
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(sallyport::testing::ReadFileOrEmpty(victim), "precious\n");
  EXPECT_FALSE(exists(partial));
  struct stat st {};
  ASSERT_EQ(::lstat(out.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string cast = sallyport::testing::ReadFileOrEmpty(out);
  EXPECT_TRUE(absl::StrContains(cast, "hello")) << cast;
  // The last two bytes, "\xe2\x82" (a "€" cut short), each as U+FFFD.
  EXPECT_TRUE(absl::StrContains(cast, "\"end\"]\n")) << cast;
  EXPECT_TRUE(absl::StrContains(cast, "\"\xef\xbf\xbd\xef\xbf\xbd\"]\n"))
      << cast;

  // An existing file stays as it was without --force.
  ASSERT_TRUE(sallyport::testing::WriteFile(out, "older export\n", 0644).ok());
  r = run(false);
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_EQ(r.err, "spctl: cannot write " + out +
                       ": it exists (pass --force to replace it)\n");
  EXPECT_EQ(sallyport::testing::ReadFileOrEmpty(out), "older export\n");
  EXPECT_FALSE(exists(partial));
  // So does a link there, and what it points to.
  ASSERT_EQ(unlink(out.c_str()), 0);
  ASSERT_EQ(symlink(victim.c_str(), out.c_str()), 0);
  r = run(false);
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_EQ(sallyport::testing::ReadFileOrEmpty(victim), "precious\n");
  // With --force the file replaces the link, not the file it points to.
  r = run(true);
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(sallyport::testing::ReadFileOrEmpty(victim), "precious\n");
  ASSERT_EQ(::lstat(out.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_TRUE(
      absl::StrContains(sallyport::testing::ReadFileOrEmpty(out), "hello"));
}

// Found in review: Ctrl-C (or kill) during an export left PATH.partial
// behind, a copy of the recording (typed secrets and all) no one knew of:
// it was removed only by a destructor. Each signal that ends spctl now
// removes it first. spctl is stopped (SIGSTOP) mid-export, once its
// PATH.partial exists, and the signal is delivered when it continues.
TEST_F(SpctlAuditTest, ASignalDuringAnExportLeavesNoPartialFile) {
  // 30 MiB: 15 pages of 2 MiB, read one at a time.
  const std::string block(48 << 10, 'x');
  std::vector<av::RecordingRecord> records = {Open(0, 0)};
  for (int i = 0; i < 640; ++i) records.push_back(Data(0, 10, false, block));
  records.push_back(Close(0, 20));
  StoreRecording("s-slow", std::move(records));
  for (const int sig : {SIGINT, SIGTERM}) {
    const std::string out = env_->Path(absl::StrCat("slow-", sig, ".cast"));
    const std::string partial = out + ".partial";
    sallyport::testing::BackgroundProcess::Options options;
    options.log_path = env_->Path(absl::StrCat("slow-", sig, ".log"));
    options.env["SALLYPORT_HOME"] = env_->Home("admin");
    options.stop_signal = sig;
    auto spctl = sallyport::testing::BackgroundProcess::Start(
        {sallyport::testing::RunfilePath("cli/spctl"), "sessions", "export",
         "s-slow", "--channel", "0", "--out", out},
        options);
    ASSERT_TRUE(spctl.ok()) << spctl.status();
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (access(partial.c_str(), F_OK) != 0 && (*spctl)->Running() &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    (*spctl)->Signal(SIGSTOP);
    // Still writing: the file is there, owner-only, and not yet renamed.
    struct stat st {};
    ASSERT_EQ(::lstat(partial.c_str(), &st), 0)
        << sig << ": " << sallyport::testing::ReadFileOrEmpty(options.log_path);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_NE(access(out.c_str(), F_OK), 0) << sig;
    (*spctl)->Signal(sig);
    (*spctl)->Signal(SIGCONT);
    const int status = (*spctl)->Stop();
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig)
        << sig << ": wait status " << status;
    EXPECT_NE(access(partial.c_str(), F_OK), 0) << sig;
    EXPECT_NE(access(out.c_str(), F_OK), 0) << sig;
  }
}

// Found in review: `play` slept for every recorded pause, so a session
// left idle for days (or offsets a CA forged days apart) kept the auditor
// waiting days unless --max-idle was given. Without --max-idle a pause
// longer than a minute is played as 5 s, and a note says so.
TEST_F(SpctlAuditTest, PlayShortensAPauseOfDaysAndSaysSo) {
  constexpr int64_t kThreeDaysUs = int64_t{3} * 24 * 3600 * 1'000'000;
  StoreRecording("s-idle", {Open(0, 0), Data(0, 10, false, "before\r\n"),
                            Data(0, 10 + kThreeDaysUs, false, "after\r\n"),
                            Close(0, 20 + kThreeDaysUs)});
  RunResult r = env_->Spctl({"sessions", "play", "s-idle"});
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.out, "after")) << r.out;
  EXPECT_TRUE(absl::StrContains(
      r.err,
      "spctl: note: 1 pause longer than 1m played as 5s (the longest: 72h); "
      "--max-idle sets the longest pause played\n"))
      << r.err;
  // Asked for: as asked, and no note.
  r = env_->Spctl({"sessions", "play", "s-idle", "--max-idle", "10ms"});
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.err, "note")) << r.err;
}

}  // namespace
}  // namespace sallyport::e2e
