#include "cli/terminal.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <iterator>

namespace sallyport::cli {
namespace {

constexpr size_t kMaxLine = 4096;

// The signal that interrupted a prompt with echo off (0: none).
volatile std::sig_atomic_t g_prompt_signal = 0;

extern "C" void NotePromptSignal(int sig) { g_prompt_signal = sig; }

// The signals that end a process at a prompt: Ctrl-C, Ctrl-\, a closed
// terminal, kill.
constexpr int kPromptSignals[] = {SIGINT, SIGQUIT, SIGHUP, SIGTERM};

// Reads up to '\n' from fd into `out` (without the newline); false also
// when a signal of kPromptSignals was caught.
bool ReadLine(int fd, base::SecretBytes& out) {
  for (;;) {
    if (g_prompt_signal != 0) return false;
    uint8_t c;
    ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return !out.empty();
    if (c == '\n') return true;
    if (c == '\r') continue;
    if (out.size() >= kMaxLine) return false;
    out.Append(absl::Span<const uint8_t>(&c, 1));
  }
}

absl::StatusOr<base::SecretBytes> Prompt(std::string_view prompt, bool echo) {
  int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return absl::FailedPreconditionError("no terminal to prompt on");
  }
  (void)!write(fd, prompt.data(), prompt.size());
  termios saved{};
  const bool have_termios = tcgetattr(fd, &saved) == 0;
  const bool quiet = !echo && have_termios;
  // Ctrl-C at a secret's prompt must not leave the terminal without echo
  // (a shell that does not reset it, dash or a script, then showed nothing
  // typed): the signal is caught (read returns EINTR, no SA_RESTART), echo
  // restored, and the signal raised again with its old action.
  struct sigaction old_actions[std::size(kPromptSignals)];
  if (quiet) {
    g_prompt_signal = 0;
    struct sigaction note {};
    note.sa_handler = NotePromptSignal;
    sigemptyset(&note.sa_mask);
    for (size_t i = 0; i < std::size(kPromptSignals); ++i) {
      sigaction(kPromptSignals[i], nullptr, &old_actions[i]);
      // An ignored signal (nohup) stays ignored.
      if (old_actions[i].sa_handler != SIG_IGN) {
        sigaction(kPromptSignals[i], &note, nullptr);
      }
    }
    termios no_echo = saved;
    no_echo.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    no_echo.c_lflag |= ECHONL;
    tcsetattr(fd, TCSAFLUSH, &no_echo);
  }
  base::SecretBytes line;
  const bool ok = ReadLine(fd, line);
  int caught = 0;
  if (quiet) {
    tcsetattr(fd, TCSAFLUSH, &saved);
    for (size_t i = 0; i < std::size(kPromptSignals); ++i) {
      sigaction(kPromptSignals[i], &old_actions[i], nullptr);
    }
    caught = g_prompt_signal;
    g_prompt_signal = 0;
    // What the shell prints next starts on a line of its own.
    if (caught != 0) (void)!write(fd, "\n", 1);
  }
  close(fd);
  if (caught != 0) raise(caught);
  if (!ok) return absl::FailedPreconditionError("no input");
  return line;
}

}  // namespace

absl::StatusOr<base::SecretBytes> PromptSecret(std::string_view prompt) {
  return Prompt(prompt, /*echo=*/false);
}

absl::StatusOr<std::string> PromptLine(std::string_view prompt) {
  absl::StatusOr<base::SecretBytes> line = Prompt(prompt, /*echo=*/true);
  if (!line.ok()) return line.status();
  return std::string(line->view());
}

absl::StatusOr<base::SecretBytes> ReadSecretFromStdin() {
  base::SecretBytes line;
  if (!ReadLine(STDIN_FILENO, line)) {
    return absl::InvalidArgumentError("no password on stdin");
  }
  return line;
}

}  // namespace sallyport::cli
