#include "cli/terminal.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>

namespace sallyport::cli {
namespace {

constexpr size_t kMaxLine = 4096;

// Reads up to '\n' from fd into `out` (without the newline).
bool ReadLine(int fd, base::SecretBytes& out) {
  for (;;) {
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
  if (!echo && have_termios) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  base::SecretBytes line;
  const bool ok = ReadLine(fd, line);
  if (!echo && have_termios) tcsetattr(fd, TCSAFLUSH, &saved);
  close(fd);
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
