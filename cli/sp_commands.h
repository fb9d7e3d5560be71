// The `sp` commands: login, status, logout (DESIGN.md §1, §5).
#ifndef SALLYPORT_CLI_SP_COMMANDS_H_
#define SALLYPORT_CLI_SP_COMMANDS_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/host_port.h"
#include "cli/sp_home.h"

namespace sallyport::cli {

// The flags of `sp login`, each as given; nullopt when it was not. A value
// given empty is a usage error, not the default.
struct LoginOptions {
  // HOST[:PORT] (port 7443), or several; defaults to the last CA.
  std::optional<std::string> ca;
  std::optional<std::string> user;  // defaults to the user of the last login
  bool password_stdin = false;
  std::optional<std::string> otp;  // a TOTP code for scripts
  // The fingerprint the CA's TLS certificate must have: checked at every
  // login it is given, also against a pin; on first contact the
  // certificate is trusted without asking.
  std::optional<std::string> ca_fingerprint;
  // A shorter certificate ("2h"); nullopt: as long as the roles allow. The
  // CA caps it at the roles' max_ttl and sp says so.
  std::optional<std::string> ttl;
};

// Each returns the process exit code (cli/exit_codes.h) and writes short,
// clear messages to `err`. RunLogin: 0, 1, 2 a flag given empty or bad, or
// no CA or user given or remembered (no file written, nothing sent), 5 wrong
// password, 6 locked, 7 CA unreachable, 8 the CA's certificate does not
// match the pin or --ca-fingerprint. The login ends with WriteSshConfig;
// when that fails (the CA cannot list the hosts just then) the login
// stands, the ssh_config and known_hosts of an earlier `sp config` stay as
// they were and a warning says so (without one, a fragment without Host
// blocks is written).
int RunLogin(const LoginOptions& options, std::ostream& out, std::ostream& err);
// `json`: one JSON object instead of the human lines.
int RunStatus(bool json, std::ostream& out, std::ostream& err);
int RunLogout(std::ostream& out, std::ostream& err);

// `sp config [--install]` (cli/sp_hosts.cc): asks the CA which hosts the
// user may reach (ListMyHosts) and writes $SALLYPORT_HOME/ssh_config and
// known_hosts (cli/sp_config.h); prints the Include line for ~/.ssh/config
// or, with `install`, adds it at the top of $HOME/.ssh/config.
struct ConfigOptions {
  bool install = false;
};
int RunConfig(const ConfigOptions& options, std::ostream& out,
              std::ostream& err);
// The same for a home that is logged in (`sp login` ends with it).
int WriteSshConfig(const SpHome& home, bool install, std::ostream& out,
                   std::ostream& err);
// What `sp config --install` prints on stderr when $HOME (`home`) is not
// the home directory the user database names (`pw_dir`), from which ssh
// reads ~/.ssh/config: a warning naming both and the file ssh reads
// (escaped). Empty when they are the same directory, by the same path or
// another (a symbolic link).
std::string HomeMismatchWarning(const std::string& home,
                                const std::string& pw_dir);
// `sp ls [--output json]`: the reachable hosts as a table (NAME, ADDRESS,
// LABELS, LOGINS) or the ListMyHosts answer as JSON.
int RunLs(bool json, std::ostream& out, std::ostream& err);
// `sp ssh [LOGIN@]HOST [CMD...]`: execs `ssh -F $SALLYPORT_HOME/ssh_config
// -- [LOGIN@]HOST CMD...` (stock ssh; only hosts of that file). Returns
// only when it could not (2 for a bad target, 1 otherwise).
int RunSsh(const std::string& target, const std::vector<std::string>& command,
           std::ostream& err);

// What the CA says of the login in `home` (`sp status`), whose SSH
// certificate has `serial` and certifies the key `key_fingerprint`:
// revoked (its serial or its key is on the revocation list, or the CA
// refuses the login's client certificate: revoked, the user disabled or
// removed), not revoked, or unknown (the CA could not be asked). `text`
// says which, for a person.
struct LoginStanding {
  std::optional<bool> revoked;  // nullopt: unknown
  std::string text;
};
LoginStanding AskCaAboutLogin(const SpHome& home, uint64_t serial,
                              const std::string& key_fingerprint);

// What sp prints for a failed Login call, and for another failed call to
// the CA (sp ls, sp config, sp status): by its code, with the CA's message
// escaped (base::EscapeControls), so a CA, or what answers as one, cannot
// drive the user's terminal or forge lines.
std::string LoginErrorMessage(const grpc::Status& st,
                              const std::vector<base::HostPort>& cas);
std::string RpcError(const grpc::Status& st,
                     const std::vector<base::HostPort>& cas);

// The host pattern for the @cert-authority line of a CA at `ca_host`:
// "*.example.com" for "ca.example.com"; nullopt for an IP address or a
// one-label name (never "*": the host CA must not vouch for every host).
std::optional<std::string> CertAuthorityPattern(std::string_view ca_host);

}  // namespace sallyport::cli

#endif  // SALLYPORT_CLI_SP_COMMANDS_H_
