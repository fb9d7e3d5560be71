// spctl: the admin's Sallyport CLI (`spctl --help`). Log in first with
// `sp login` as a user holding the admin role; spctl uses that login
// ($SALLYPORT_HOME, default ~/.sallyport).
#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <string>

#include "base/grpc_timers.h"
#include "cli/cli_app.h"
#include "cli/spctl.h"

int main(int argc, char** argv) {
  using namespace sallyport::cli;
  CLI::App app{
      "spctl: administer Sallyport (users, roles, hosts, certificates)"};
  app.name("spctl");
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("spctl ") + kVersion);
  app.footer(
      "Environment:\n"
      "  SALLYPORT_HOME  where `sp login` keeps the login spctl uses (default "
      "~/.sallyport)\n"
      "Exit codes: 0 ok, 1 error, 2 usage (a bad command line, a role file "
      "that does not parse, or a value the CA refused as invalid), 3 not "
      "found, 4 denied (not an admin, or "
      "`access check` said deny)");
  std::string format = "table";
  // Accepted before or after the verb (`spctl users ls --output json`).
  app.fallthrough();
  app.add_option("--output", format, "table (default), json or yaml")
      ->check(CLI::IsMember({"table", "json", "yaml"}));

  // Unset (nullopt) is the default; given empty is a usage error.
  std::optional<std::string> ca;
  app.add_option("--ca", ca,
                 "the CA's addresses, HOST[:PORT][,HOST[:PORT]...] tried in "
                 "order (default: those of the last `sp login`)");

  Spctl ctl(std::cout, std::cerr);
  Action action;
  AddUserCommands(app, ctl, &action);
  AddRoleCommands(app, ctl, &action);
  AddHostCommands(app, ctl, &action);
  AddTokenCommands(app, ctl, &action);
  AddCertCommands(app, ctl, &action);
  AddAuditCommands(app, ctl, &action);
  AddSessionCommands(app, ctl, &action);
  CLI::App* completion =
      app.add_subcommand("completion", "print a shell completion script");
  std::string shell;
  completion->add_option("SHELL", shell, "bash or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));
  OnRun(completion, &action, [&] {
    std::cout << CompletionScript(app, shell);
    return kExitOk;
  });

  if (std::optional<int> rc = ParseCommandLine(app, argc, argv)) return *rc;
  if (std::optional<std::string> bad = NonUtf8Argument(app)) {
    std::cerr << "spctl: " << *bad << "\n";
    return kExitUsage;
  }
  // A value given empty is a mistake (an unset shell variable), never the
  // default: `--ca ""` went on with the CA of the last login, as `sp login
  // --ca ""` did before RunLogin refused it (exit 2).
  if (ca.has_value() && ca->empty()) {
    std::cerr << "spctl: --ca must not be empty\n";
    return kExitUsage;
  }
  ctl.set_format(*ParseOutputFormat(format));
  ctl.set_ca_override(ca.value_or(""));
  if (!action) {
    std::cerr << CommandList(app);
    return kExitUsage;
  }
  // The calls' deadlines hold after a wall-clock step (base/grpc_timers.h).
  const auto grpc_timers = sallyport::base::KeepGrpcTimersOnTime();
  return action();
}
