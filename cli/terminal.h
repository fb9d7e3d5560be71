// Talking to the person at the terminal: prompts on /dev/tty (not stdin,
// which scripts may use for --password-stdin), with echo off for secrets.
#ifndef SALLYPORT_CLI_TERMINAL_H_
#define SALLYPORT_CLI_TERMINAL_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/secret_bytes.h"

namespace sallyport::cli {

// Prints `prompt` on the terminal and reads one line with echo off.
// kFailedPrecondition when there is no terminal.
absl::StatusOr<base::SecretBytes> PromptSecret(std::string_view prompt);
// Same with echo on.
absl::StatusOr<std::string> PromptLine(std::string_view prompt);
// Reads one line from stdin (for --password-stdin); the newline is dropped.
absl::StatusOr<base::SecretBytes> ReadSecretFromStdin();

}  // namespace sallyport::cli

#endif  // SALLYPORT_CLI_TERMINAL_H_
