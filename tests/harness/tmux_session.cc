#include "tests/harness/tmux_session.h"

#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

constexpr char kTmux[] = "/usr/bin/tmux";
constexpr char kTarget[] = "t";

}  // namespace

absl::StatusOr<std::unique_ptr<TmuxSession>> TmuxSession::Start(
    const std::vector<std::string>& argv, const Options& options) {
  if (access(kTmux, X_OK) != 0) {
    return absl::FailedPreconditionError(
        "tmux not found at /usr/bin/tmux (deploy/bootstrap.sh installs it)");
  }
  if (argv.empty()) return absl::InvalidArgumentError("no command");
  absl::StatusOr<TempDir> dir = TempDir::Create("tmux");
  if (!dir.ok()) return dir.status();
  std::unique_ptr<TmuxSession> s(new TmuxSession(std::move(*dir)));
  // remain-on-exit before the pane exists, so the last screen of a quick
  // command is still there to read; no status line, so the screen is the
  // pane.
  if (absl::Status st = WriteFile(s->dir_.File("tmux.conf"),
                                  "set -g remain-on-exit on\n"
                                  "set -g status off\n"
                                  "set -g history-limit 2000\n"
                                  "set -g default-terminal screen\n");
      !st.ok()) {
    return st;
  }
  std::vector<std::string> args = {
      "new-session", "-d",
      "-s",          kTarget,
      "-x",          std::to_string(options.width),
      "-y",          std::to_string(options.height)};
  for (const auto& [k, v] : options.env) {
    args.push_back("-e");
    args.push_back(absl::StrCat(k, "=", v));
  }
  // The command's exit status goes to a file: tmux 3.3 sometimes leaves
  // an exited pane process unreaped (pane_dead_status stays empty), so the
  // status is not read from tmux.
  args.insert(args.end(), {"--", "/bin/sh", "-c", "\"$@\"; echo $? > \"$0\"",
                           s->dir_.File("exit_status")});
  args.insert(args.end(), argv.begin(), argv.end());
  absl::StatusOr<std::string> r = s->Tmux(args);
  if (!r.ok()) return r.status();
  return s;
}

TmuxSession::~TmuxSession() { (void)Tmux({"kill-server"}); }

absl::StatusOr<std::string> TmuxSession::Tmux(
    const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kTmux, "-S", dir_.File("sock"), "-f",
                                   dir_.File("tmux.conf")};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOptions ro;
  ro.timeout = absl::Seconds(10);
  // A tmux inside tmux would refuse to start.
  ro.env["TMUX"] = "";
  absl::StatusOr<RunResult> r = RunCommand(argv, ro);
  if (!r.ok()) return r.status();
  if (!r->ok()) {
    return absl::InternalError(absl::StrCat(
        "tmux ", args.empty() ? "" : args[0], ": ", r->Describe()));
  }
  return r->out;
}

absl::Status TmuxSession::Type(const std::string& text) {
  return Tmux({"send-keys", "-t", kTarget, "-l", "--", text}).status();
}

absl::Status TmuxSession::Press(const std::string& key) {
  return Tmux({"send-keys", "-t", kTarget, key}).status();
}

absl::StatusOr<std::string> TmuxSession::Screen() {
  absl::StatusOr<std::string> out = Tmux({"capture-pane", "-p", "-t", kTarget});
  if (!out.ok()) return out.status();
  std::string screen;
  for (absl::string_view line : absl::StrSplit(*out, '\n')) {
    absl::StrAppend(&screen, absl::StripTrailingAsciiWhitespace(line), "\n");
  }
  return std::string(absl::StripTrailingAsciiWhitespace(screen));
}

absl::StatusOr<std::string> TmuxSession::WaitForText(const std::string& text,
                                                     absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string last;
  for (;;) {
    absl::StatusOr<std::string> screen = Screen();
    if (!screen.ok()) return screen.status();
    if (absl::StrContains(*screen, text)) return *screen;
    last = *screen;
    if (absl::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("'", text, "' did not appear on the screen:\n", last));
}

absl::Status TmuxSession::Resize(int width, int height) {
  return Tmux({"resize-window", "-t", kTarget, "-x", std::to_string(width),
               "-y", std::to_string(height)})
      .status();
}

absl::StatusOr<int> TmuxSession::WaitForExit(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    const std::string text = ReadFileOrEmpty(dir_.File("exit_status"));
    int status = 0;
    if (absl::EndsWith(text, "\n") &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &status)) {
      return status;
    }
    if (absl::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  absl::StatusOr<std::string> screen = Screen();
  return absl::DeadlineExceededError(
      absl::StrCat("the command in tmux is still running; screen:\n",
                   screen.ok() ? *screen : screen.status().ToString()));
}

}  // namespace sallyport::testing
