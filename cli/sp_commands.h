// The `sp` commands: login, status, logout (DESIGN.md §1, §5).
#ifndef SALLYPORT_CLI_SP_COMMANDS_H_
#define SALLYPORT_CLI_SP_COMMANDS_H_

#include <iosfwd>
#include <string>

namespace sallyport::cli {

struct LoginOptions {
  std::string ca;    // HOST:PORT; defaults to the CA of the last login
  std::string user;  // defaults to the user of the last login
  bool password_stdin = false;
  std::string otp;             // a TOTP code for scripts
  std::string ca_fingerprint;  // trust this CA certificate on first contact
};

// Each returns the process exit code (0 on success) and writes short,
// clear messages to `err`.
int RunLogin(const LoginOptions& options, std::ostream& out, std::ostream& err);
int RunStatus(std::ostream& out, std::ostream& err);
int RunLogout(std::ostream& out, std::ostream& err);

}  // namespace sallyport::cli

#endif  // SALLYPORT_CLI_SP_COMMANDS_H_
