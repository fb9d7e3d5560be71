// TmuxSession: a real terminal for tests. A private tmux server (its own
// socket in a temp dir, no user config) runs one command in one pane of a
// fixed size; the test types into it, reads the screen, resizes it and
// reads the command's exit status once it ends (remain-on-exit keeps the
// last screen; a /bin/sh wrapper writes the status).
#ifndef SALLYPORT_TESTS_HARNESS_TMUX_SESSION_H_
#define SALLYPORT_TESTS_HARNESS_TMUX_SESSION_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {

class TmuxSession {
 public:
  struct Options {
    int width = 120;
    int height = 40;
    // Environment of the command (tmux new-session -e).
    std::map<std::string, std::string> env;
  };

  // Starts `argv` (argv[0] searched in PATH) in a detached pane.
  // kFailedPrecondition when tmux is not installed.
  static absl::StatusOr<std::unique_ptr<TmuxSession>> Start(
      const std::vector<std::string>& argv, const Options& options);
  static absl::StatusOr<std::unique_ptr<TmuxSession>> Start(
      const std::vector<std::string>& argv) {
    return Start(argv, Options());
  }
  // Kills the tmux server (and with it the command).
  ~TmuxSession();

  // Types `text` literally (no key names are interpreted).
  absl::Status Type(const std::string& text);
  // Presses keys by tmux name: "Enter", "C-c", "C-d", "Up", ...
  absl::Status Press(const std::string& key);
  // Types `line` and presses Enter.
  absl::Status TypeLine(const std::string& line) {
    absl::Status st = Type(line);
    return st.ok() ? Press("Enter") : st;
  }
  // The visible screen, one line per row, trailing blanks trimmed.
  absl::StatusOr<std::string> Screen();
  // Polls the screen until it contains `text`; kDeadlineExceeded (with the
  // last screen) when it does not appear in time.
  absl::StatusOr<std::string> WaitForText(
      const std::string& text, absl::Duration timeout = absl::Seconds(20));
  // Resizes the window (the command gets SIGWINCH).
  absl::Status Resize(int width, int height);
  // The exit status of the command once it has ended; kDeadlineExceeded if
  // it is still running after `timeout`.
  absl::StatusOr<int> WaitForExit(absl::Duration timeout = absl::Seconds(20));

 private:
  explicit TmuxSession(TempDir dir) : dir_(std::move(dir)) {}
  // tmux -S SOCKET args...; the output, or an error with tmux's message.
  absl::StatusOr<std::string> Tmux(const std::vector<std::string>& args);

  TempDir dir_;
};

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_HARNESS_TMUX_SESSION_H_
