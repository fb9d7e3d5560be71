// Interop, our server: an interactive `ssh -tt` session with a pty, driven
// through tmux like a person at a terminal: a command's output on the
// screen, the window size seen by `stty size` at start and after the tmux
// window is resized (window-change), and `exit` ending the session.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/interop/example_server_fixture.h"

namespace sallyport::testing {
namespace {

class ExampleServerPty : public ExampleServerTest {
 protected:
  void TearDown() override {
    if (!socket_.empty()) (void)RunCommand(Tmux({"kill-server"}));
  }

  std::vector<std::string> Tmux(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"tmux", "-S", socket_};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  void Run(const std::vector<std::string>& args) {
    auto r = RunCommand(Tmux(args));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(r->ok()) << r->Describe();
  }

  std::string Screen() const {
    auto r = RunCommand(Tmux({"capture-pane", "-p", "-t", "X"}));
    return r.ok() ? r->out : "";
  }

  // Waits until some line of the screen, without trailing blanks, equals
  // `line` at least `count` times.
  bool WaitForLine(const std::string& line, int count = 1) const {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      int seen = 0;
      for (absl::string_view l : absl::StrSplit(Screen(), '\n')) {
        if (absl::StripTrailingAsciiWhitespace(l) == line) ++seen;
      }
      if (seen >= count) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  void Type(const std::string& text) {
    Run({"send-keys", "-t", "X", "-l", text});
    Run({"send-keys", "-t", "X", "Enter"});
  }

  std::string socket_;
};

TEST_F(ExampleServerPty, ShellInTmuxRunsCommandsAndFollowsWindowSize) {
  StartServer();
  socket_ = dir_->File("tmux.sock");
  std::vector<std::string> ssh = SshArgs();
  ssh.push_back("-tt");
  ssh.push_back(Destination());
  Run({"new-session", "-d", "-s", "X", "-x", "100", "-y", "30",
       ShellJoin(ssh)});
  ASSERT_TRUE(WaitForLog("started shell as pid")) << ServerLog();
  ExpectContains(ServerLog(), "with a pty");

  Type("echo hi");
  EXPECT_TRUE(WaitForLine("hi")) << Screen();

  Type("stty size");
  EXPECT_TRUE(WaitForLine("30 100")) << Screen();

  // window-change: the pty's size follows the tmux window.
  Run({"resize-window", "-t", "X", "-x", "120", "-y", "40"});
  Type("stty size");
  EXPECT_TRUE(WaitForLine("40 120")) << Screen();

  Type("exit");
  EXPECT_TRUE(WaitForLog("exited with status 0")) << ServerLog();
  // ssh ends, and with it the tmux session.
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    auto r = RunCommand(Tmux({"has-session", "-t", "X"}));
    gone = r.ok() && r->exit_code != 0;
    if (!gone) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(gone) << Screen();
}

TEST_F(ExampleServerPty, ExecWithPtyHasTerminalAndTerm) {
  StartServer();
  RunOptions run;
  run.env["TERM"] = "xterm-test";  // ssh sends it in pty-req
  RunResult r = Ssh("tty; echo \"TERM=$TERM\"; test -t 0 && echo stdin-tty",
                    {"-tt"}, run);
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  ExpectContains(r.out, "TERM=xterm-test");
  ExpectContains(r.out, "/dev/pts/");
  ExpectContains(r.out, "stdin-tty");
  // A pty turns \n into \r\n.
  ExpectContains(r.out, "\r\n");
}

}  // namespace
}  // namespace sallyport::testing
