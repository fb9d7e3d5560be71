// sp: the engineer's Sallyport CLI.
//
//   sp login --ca HOST:PORT --user NAME [--password-stdin] [--otp CODE]
//            [--ca-fingerprint SHA256:...]
//   sp status
//   sp logout
//
// Files live under $SALLYPORT_HOME (default ~/.sallyport); see
// cli/sp_home.h.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/sp_commands.h"

int main(int argc, char** argv) {
  CLI::App app{"sp: log in to Sallyport and get an SSH certificate"};
  app.require_subcommand(1);
  sallyport::cli::LoginOptions login;
  CLI::App* login_cmd = app.add_subcommand(
      "login", "prove who you are to the CA and get a certificate");
  login_cmd->add_option("--ca", login.ca,
                        "the CA, HOST:PORT (default: the last one)");
  login_cmd->add_option("--user", login.user,
                        "your user name (default: the last one)");
  login_cmd->add_flag("--password-stdin", login.password_stdin,
                      "read the password from the first line of stdin");
  login_cmd->add_option("--otp", login.otp, "the current one-time code");
  login_cmd->add_option(
      "--ca-fingerprint", login.ca_fingerprint,
      "trust the CA's TLS certificate if it has this SHA256 fingerprint");
  CLI::App* status_cmd =
      app.add_subcommand("status", "show the current certificate");
  CLI::App* logout_cmd =
      app.add_subcommand("logout", "remove the key and certificate");
  CLI11_PARSE(app, argc, argv);
  if (login_cmd->parsed()) {
    return sallyport::cli::RunLogin(login, std::cout, std::cerr);
  }
  if (status_cmd->parsed()) {
    return sallyport::cli::RunStatus(std::cout, std::cerr);
  }
  if (logout_cmd->parsed()) {
    return sallyport::cli::RunLogout(std::cout, std::cerr);
  }
  return 2;
}
