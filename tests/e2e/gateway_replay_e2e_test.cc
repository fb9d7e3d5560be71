// Replay of a recorded pty session end to end (issue 14 "Done when", first
// row), through the real binaries: sallyport-ca (SQLite), sallyport-gateway
// (spool recorder + shipper), a real sshd target, stock OpenSSH as alice
// (logged in with `sp login`), tmux as the terminal.
//
// alice types commands in a 100x30 terminal, the window is resized to 90x24,
// the screen is cleared and text is printed (a line longer than the new
// width wraps); the live screen is captured, then alice types `exit`. Once
// the gateway has shipped the recording (the CA ended the session, the spool
// file is gone):
//  - `spctl sessions play ID` runs in a tmux pane of the final size
//    (90x24) and its final screen is compared with the live one;
//  - `spctl sessions export ID --format asciicast` passes `asciinema cat`,
//    which prints the typed commands;
//  - `spctl sessions ls --grep` finds the session by a typed command (input
//    and output) and by a printed word (output only), and not by a word
//    that never appeared;
//  - the replay is an audit event (`spctl audit ls`).
//
// The screen comparison: both screens as tmux shows them (capture-pane -p,
// trailing blanks of each line and trailing empty lines trimmed). tmux does
// not resize a pane on the player's xterm window-size request, so the
// replay pane has the live pane's final size from the start; what the live
// pane showed before the resize (which tmux reflowed) is wiped by the
// `clear` typed after it, so the final screen depends only on bytes written
// at the final size. The replay also holds what came after the live capture:
// `exit` typed at the prompt and the login shell's `logout`; these are the
// only differences allowed (the last prompt line gains " exit", one line
// "logout" or "exit" may follow).
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "storage/open.h"
#include "storage/store.h"
#include "tests/e2e/gateway_e2e_env.h"
#include "tests/e2e/gateway_ship_util.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/tmux_session.h"

namespace sallyport::testing {
namespace {

// On a loaded machine a login shell on the target can take many seconds.
constexpr absl::Duration kScreenWait = absl::Seconds(120);
constexpr char kPrompt[] = "replay-prompt>";

class GatewayReplayE2eTest : public ShippingGatewayTest {
 protected:
  // The one session in the Store once the CA has ended it and the gateway
  // deleted its spool file; nullopt at the deadline.
  std::optional<storage::Session> WaitShipped(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      absl::StatusOr<std::unique_ptr<storage::Store>> store =
          storage::OpenStore(store_url_);
      if (store.ok()) {
        storage::SessionFilter filter;
        filter.limit = 10;
        absl::StatusOr<std::vector<storage::Session>> sessions =
            (*store)->ListSessions(filter);
        if (sessions.ok() && sessions->size() == 1 &&
            sessions->front().status != storage::SessionStatus::kActive &&
            SpoolFiles(spool_dir_).empty()) {
          return sessions->front();
        }
      }
      absl::SleepFor(absl::Milliseconds(250));
    }
    return std::nullopt;
  }
};

// Polls until the screen holds `text` and its last line is the prompt (the
// shell is idle again); the last screen at the deadline.
absl::StatusOr<std::string> WaitForPrompt(TmuxSession& t,
                                          const std::string& text) {
  const absl::Time deadline = absl::Now() + kScreenWait;
  std::string last;
  while (absl::Now() < deadline) {
    absl::StatusOr<std::string> screen = t.Screen();
    if (!screen.ok()) return screen.status();
    last = *screen;
    std::vector<std::string> lines = absl::StrSplit(last, '\n');
    if (absl::StrContains(last, text) && lines.back() == kPrompt) return last;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no prompt after '", text, "':\n", last));
}

// The replay's screen with what was typed after the live capture taken out
// (see the comparison at the top): nullopt when it differs otherwise.
std::optional<std::string> WithoutExit(const std::string& replay) {
  std::vector<std::string> lines = absl::StrSplit(replay, '\n');
  if (lines.size() >= 2 &&
      (lines.back() == "logout" || lines.back() == "exit")) {
    lines.pop_back();
  }
  const std::string suffix = absl::StrCat(kPrompt, " exit");
  if (!absl::EndsWith(lines.back(), suffix)) return std::nullopt;
  lines.back().resize(lines.back().size() - 5);  // " exit"
  return absl::StrJoin(lines, "\n");
}

// A pseudo-terminal for tools that want one (asciinema cat opens /dev/tty):
// `script -qec COMMAND /dev/null`.
RunResult OnPty(const std::string& command, RunOptions options = {}) {
  return GatewayE2eEnv::Run({"script", "-qec", command, "/dev/null"},
                            std::move(options));
}

TEST_F(GatewayReplayE2eTest, RecordedPtySessionReplaysToTheSameScreen) {
  TmuxSession::Options live_size;
  live_size.width = 100;
  live_size.height = 30;
  auto live =
      TmuxSession::Start(env_->Ssh("alice", "web01", {"-tt"}), live_size);
  ASSERT_TRUE(live.ok()) << live.status();
  TmuxSession& t = **live;
  // A fixed prompt: the live screen is compared when it is back.
  ASSERT_TRUE(t.TypeLine(absl::StrCat("PS1='", kPrompt, " '")).ok());
  ASSERT_TRUE(t.TypeLine("echo typed-$((6*7))").ok());
  auto screen = WaitForPrompt(t, "typed-42");
  ASSERT_TRUE(screen.ok()) << screen.status() << Logs();
  ASSERT_TRUE(t.TypeLine("seq 1 45; echo seq-$((40+5))-done").ok());
  screen = WaitForPrompt(t, "seq-45-done");
  ASSERT_TRUE(screen.ok()) << screen.status();

  ASSERT_TRUE(t.Resize(90, 24).ok());
  // The target sees the new size; a 130-column line wraps at 90.
  ASSERT_TRUE(t.TypeLine("clear; printf 'word-%s\\n' zebulon quixote; "
                         "echo size-$(stty size | tr ' ' x); "
                         "printf '%.0s=' $(seq 1 130); echo; "
                         "echo end-$((3*4))")
                  .ok());
  screen = WaitForPrompt(t, "end-12");
  ASSERT_TRUE(screen.ok()) << screen.status();
  const std::string live_screen = *screen;
  EXPECT_TRUE(absl::StrContains(live_screen, "size-24x90")) << live_screen;
  EXPECT_TRUE(absl::StrContains(live_screen,
                                absl::StrCat("\n", std::string(90, '='), "\n",
                                             std::string(40, '='), "\n")))
      << live_screen;
  ASSERT_TRUE(t.TypeLine("exit").ok());
  auto status = t.WaitForExit(kScreenWait);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 0);

  std::optional<storage::Session> session = WaitShipped(absl::Seconds(120));
  ASSERT_TRUE(session.has_value()) << Logs();
  const std::string id = session->id;
  EXPECT_EQ(session->status, storage::SessionStatus::kEnded);
  EXPECT_EQ(session->user, "alice");
  EXPECT_EQ(session->host, "web01");
  RunResult verify = Spctl(env_->fixture(), {"sessions", "verify", id});
  EXPECT_EQ(verify.exit_code, 0) << verify.Describe();
  EXPECT_FALSE(absl::StrContains(verify.out, "still active")) << verify.out;
  // One terminal channel, its exit status and the typed bytes counted.
  RunResult show = Spctl(env_->fixture(), {"sessions", "show", id});
  ASSERT_EQ(show.exit_code, 0) << show.Describe();
  EXPECT_TRUE(absl::StrContains(show.out, "intact")) << show.out;
  EXPECT_TRUE(absl::StrContains(show.out, "channel 0 (id ")) << show.out;
  EXPECT_TRUE(absl::StrContains(show.out, "): session")) << show.out;
  EXPECT_FALSE(absl::StrContains(show.out, "channel 1")) << show.out;
  EXPECT_TRUE(absl::StrContains(show.out, " exit=0")) << show.out;
  EXPECT_FALSE(absl::StrContains(show.out, "bytes_in=0 ")) << show.out;
  // A pty session keeps its output and its typing whole (the role does not
  // turn record_input off), and `show` says so from the gateway's records.
  EXPECT_TRUE(absl::StrContains(show.out, "\n  recorded: output whole ("))
      << show.out;
  EXPECT_TRUE(absl::StrContains(show.out, "; input whole (")) << show.out;
  EXPECT_FALSE(absl::StrContains(show.out, "not recorded")) << show.out;

  // The replay, in a pane of the final size. The pane stays alive after
  // spctl ends (tmux would scroll a dead pane's screen for its "Pane is
  // dead" line); spctl's exit status goes to `played`.
  absl::StatusOr<const BastionFixture::User*> admin =
      env_->fixture().user("admin");
  ASSERT_TRUE(admin.ok()) << admin.status();
  const std::string played = env_->File("played");
  TmuxSession::Options replay_size;
  replay_size.width = 90;
  replay_size.height = 24;
  replay_size.env["SALLYPORT_HOME"] = (*admin)->home;
  auto replay = TmuxSession::Start(
      {"/bin/sh", "-c", "\"$@\"; echo $? > \"$0\"; exec sleep 3600", played,
       RunfilePath("cli/spctl"), "sessions", "play", id, "--speed", "20",
       "--max-idle", "50ms"},
      replay_size);
  ASSERT_TRUE(replay.ok()) << replay.status();
  const absl::Time deadline = absl::Now() + kScreenWait;
  while (!absl::EndsWith(ReadFileOrEmpty(played), "\n") &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  // tmux may not have read spctl's last bytes from the pty yet: the screen
  // counts once the typed exit is on it and it stays the same for 1 s.
  absl::StatusOr<std::string> replay_screen = (*replay)->Screen();
  for (std::string seen; absl::Now() < deadline;) {
    ASSERT_TRUE(replay_screen.ok()) << replay_screen.status();
    if (*replay_screen == seen && WithoutExit(seen).has_value()) break;
    seen = *replay_screen;
    absl::SleepFor(absl::Seconds(1));
    replay_screen = (*replay)->Screen();
  }
  ASSERT_TRUE(replay_screen.ok()) << replay_screen.status();
  ASSERT_EQ(ReadFileOrEmpty(played), "0\n") << *replay_screen;
  std::optional<std::string> compared = WithoutExit(*replay_screen);
  ASSERT_TRUE(compared.has_value())
      << "the replay does not end with the typed exit:\n"
      << *replay_screen;
  EXPECT_EQ(*compared, live_screen) << "replay:\n"
                                    << *replay_screen << "\nlive:\n"
                                    << live_screen;

  // The player asks the terminal for the recorded size at the start and
  // for the new one when the window was resized (xterm window operation).
  RunResult raw = Spctl(env_->fixture(), {"sessions", "play", id, "--speed",
                                          "50", "--max-idle", "10ms"});
  ASSERT_EQ(raw.exit_code, 0) << raw.Describe();
  EXPECT_TRUE(absl::StartsWith(raw.out, "\x1b[8;30;100t")) << raw.out;
  const size_t resize_at = raw.out.find("\x1b[8;24;90t");
  EXPECT_NE(resize_at, std::string::npos) << raw.out;
  EXPECT_GT(raw.out.find("end-12"), resize_at) << raw.out;

  // Each replay is an audit event.
  RunResult audit = Spctl(env_->fixture(), {"audit", "ls"});
  ASSERT_EQ(audit.exit_code, 0) << audit.Describe();
  int replays = 0;
  for (absl::string_view line : absl::StrSplit(audit.out, '\n')) {
    if (absl::StrContains(line, "session.replay") &&
        absl::StrContains(line, id)) {
      ++replays;
    }
  }
  EXPECT_EQ(replays, 2) << audit.out;

  // asciicast v2 of the one terminal channel; `asciinema cat` prints it.
  RunResult cast = Spctl(env_->fixture(),
                         {"sessions", "export", id, "--format", "asciicast"});
  ASSERT_EQ(cast.exit_code, 0) << cast.Describe();
  EXPECT_TRUE(
      absl::StartsWith(cast.out, "{\"version\":2,\"width\":100,\"height\":30,"))
      << cast.out.substr(0, 200);
  EXPECT_TRUE(absl::StrContains(cast.out, "\"r\", \"90x24\"")) << cast.out;
  const std::string cast_file = env_->File("session.cast");
  ASSERT_TRUE(WriteFile(cast_file, cast.out).ok());
  RunOptions asciinema;
  // asciinema wants a config directory (a test has no $HOME).
  asciinema.env["ASCIINEMA_CONFIG_HOME"] = env_->File("asciinema");
  RunResult cat = OnPty("asciinema cat " + cast_file, asciinema);
  ASSERT_EQ(cat.exit_code, 0) << cat.Describe();
  for (const char* typed :
       {"echo typed-$((6*7))", "seq 1 45", "stty size", "exit"}) {
    EXPECT_TRUE(absl::StrContains(cat.out, typed)) << typed << "\n" << cat.out;
  }
  EXPECT_TRUE(absl::StrContains(cat.out, "word-zebulon")) << cat.out;

  // Search: a typed command (in the input, echoed in the output), a printed
  // word (output only), a word that never appeared.
  auto grep = [&](const std::string& text) {
    RunResult r = Spctl(env_->fixture(), {"sessions", "ls", "--grep", text});
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    return r.out;
  };
  const std::string by_command = grep("echo typed-$((6*7))");
  EXPECT_TRUE(absl::StrContains(by_command, id)) << by_command;
  EXPECT_TRUE(absl::StrContains(by_command, "input channel")) << by_command;
  const std::string by_word = grep("word-quixote");
  EXPECT_TRUE(absl::StrContains(by_word, id)) << by_word;
  EXPECT_TRUE(absl::StrContains(by_word, "output channel")) << by_word;
  EXPECT_FALSE(absl::StrContains(by_word, "input channel")) << by_word;
  const std::string by_nothing = grep("never-seen-word");
  EXPECT_FALSE(absl::StrContains(by_nothing, id)) << by_nothing;
}

}  // namespace
}  // namespace sallyport::testing
