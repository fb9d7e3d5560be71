// sp: the engineer's Sallyport CLI (`sp --help`).
//
//   sp login [--ca HOST[:PORT]] [--user NAME] [--password-stdin]
//            [--otp CODE] [--ca-fingerprint SHA256:...]
//   sp status [--output json]
//   sp logout
//   sp config [--install]
//   sp ls [--output json]
//   sp ssh [LOGIN@]HOST [CMD...]
//
// Files live under $SALLYPORT_HOME (default ~/.sallyport); see
// cli/sp_home.h.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "base/grpc_timers.h"
#include "cli/cli_app.h"
#include "cli/exit_codes.h"
#include "cli/sp_commands.h"

namespace {

// `sp ssh [LOGIN@]HOST CMD...`: CMD, cut off the command line before CLI11
// reads it (`argc` then ends at HOST), a leading `--` dropped. CLI11 took
// CMD's own options as unknown options of `sp ssh` and went on filling the
// command with its words: `sp ssh web01 echo -n hi` ran `-n` on web01
// ("bash: -c: option requires an argument"), `echo` and `hi` lost.
std::vector<std::string> CutSshCommand(int* argc, char** argv) {
  int i = 1;
  // sp's own options (--help, --version) take no value.
  while (i < *argc && argv[i][0] == '-') ++i;
  if (i >= *argc || std::string_view(argv[i]) != "ssh") return {};
  for (++i; i < *argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") {
      ++i;  // the target follows
      break;
    }
    if (arg.empty() || arg[0] != '-') break;  // the target
  }
  if (i >= *argc) return {};
  std::vector<std::string> command(argv + i + 1, argv + *argc);
  if (!command.empty() && command.front() == "--") {
    command.erase(command.begin());
  }
  *argc = i + 1;
  return command;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sallyport::cli;
  CLI::App app{"sp: log in to Sallyport and get an SSH certificate"};
  app.name("sp");
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("sp ") + kVersion);
  app.footer(
      "Environment:\n"
      "  SALLYPORT_HOME  where sp keeps your key, certificate and the CA pin "
      "(default ~/.sallyport)\n"
      "Exit codes: 0 ok, 1 error, 2 usage, 5 wrong user/password/code, 6 "
      "account locked, 7 CA unreachable, 8 CA certificate does not match the "
      "pin or --ca-fingerprint");
  LoginOptions login;
  CLI::App* login_cmd = app.add_subcommand(
      "login", "prove who you are to the CA and get a certificate");
  login_cmd->add_option(
      "--ca", login.ca,
      "the CA, HOST or HOST:PORT (port 7443; default: the last one); "
      "several CA instances: HOST:PORT,HOST:PORT,... (tried in order, "
      "remembered for later commands)");
  login_cmd->add_option("--user", login.user,
                        "your user name (default: the last one)");
  login_cmd->add_flag("--password-stdin", login.password_stdin,
                      "read the password from the first line of stdin");
  login_cmd->add_option("--otp", login.otp, "the current one-time code");
  login_cmd->add_option("--ttl", login.ttl,
                        "a shorter certificate, e.g. 2h (the CA caps it at "
                        "your roles' max_ttl)");
  login_cmd->add_option(
      "--ca-fingerprint", login.ca_fingerprint,
      "the SHA256 fingerprint the CA's TLS certificate must have (checked "
      "at every login it is given; trusted and pinned at the first)");
  CLI::App* status_cmd = app.add_subcommand(
      "status",
      "show the current certificate and ask the CA whether it was revoked "
      "(exit 1 when it has expired or was revoked)");
  std::string format = "text";
  status_cmd->add_option("--output", format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  CLI::App* logout_cmd = app.add_subcommand(
      "logout", "remove the key and certificates (also from ssh-agent)");
  ConfigOptions config;
  CLI::App* config_cmd = app.add_subcommand(
      "config",
      "write ~/.sallyport/ssh_config: Host blocks for the gateway and your "
      "hosts (also done by login)");
  config_cmd->add_flag("--install", config.install,
                       "also add the Include line at the top of "
                       "~/.ssh/config (once; the old file is kept as "
                       "config.sallyport-backup)");
  CLI::App* ls_cmd = app.add_subcommand(
      "ls", "list the hosts you may reach (name, address, labels, logins)");
  std::string ls_format = "text";
  ls_cmd->add_option("--output", ls_format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  CLI::App* ssh_cmd = app.add_subcommand(
      "ssh", "run ssh to one of your hosts through the gateway");
  std::string ssh_target;
  ssh_cmd->add_option("target", ssh_target, "[LOGIN@]HOST")->required();
  // Everything after HOST is the command, options included, `--` before it
  // allowed (`sp ssh web01 -- ls -l`): CutSshCommand takes it off the
  // command line before CLI11 parses it; this positional is for --help.
  std::vector<std::string> ssh_command;
  ssh_cmd->add_option("command", ssh_command,
                      "the command to run (after HOST, or after --)");
  ssh_cmd->prefix_command();
  const std::vector<std::string> command = CutSshCommand(&argc, argv);
  if (std::optional<int> rc = ParseCommandLine(app, argc, argv)) return *rc;
  // The calls' deadlines hold after a wall-clock step (base/grpc_timers.h).
  const auto grpc_timers = sallyport::base::KeepGrpcTimersOnTime();
  if (config_cmd->parsed()) return RunConfig(config, std::cout, std::cerr);
  if (ls_cmd->parsed()) return RunLs(ls_format == "json", std::cout, std::cerr);
  if (ssh_cmd->parsed()) return RunSsh(ssh_target, command, std::cerr);
  if (login_cmd->parsed()) return RunLogin(login, std::cout, std::cerr);
  if (status_cmd->parsed()) {
    return RunStatus(format == "json", std::cout, std::cerr);
  }
  if (logout_cmd->parsed()) return RunLogout(std::cout, std::cerr);
  std::cerr << CommandList(app);
  return kExitUsage;
}
