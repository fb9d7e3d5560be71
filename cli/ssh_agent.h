// Loading and removing keys in a running ssh-agent with OpenSSH's ssh-add.
#ifndef SALLYPORT_CLI_SSH_AGENT_H_
#define SALLYPORT_CLI_SSH_AGENT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sallyport::cli {

// True when SSH_AUTH_SOCK is set.
bool AgentAvailable();
// `ssh-add -q -t SECONDS key_path`: adds the key and, when it exists beside
// it, key_path-cert.pub, for `lifetime` (rounded up to whole seconds).
absl::Status AgentAdd(const std::string& key_path, absl::Duration lifetime);
// `ssh-add -q -d key_path`: removes the key and its certificate.
absl::Status AgentRemove(const std::string& key_path);

// The identities the agent holds, as `ssh-add -L` prints them (one
// public key or certificate line each). Empty when it holds none.
absl::StatusOr<std::vector<std::string>> AgentList();
// Removes one identity given as its public key or certificate line.
absl::Status AgentRemoveLine(const std::string& line,
                             const std::string& scratch_path);

// The agent lines that belong to Sallyport logins of `user`: certificates
// with key id `user` signed by one of `user_ca_keys` (authorized_keys
// lines), and the plain keys those certificates certify.
std::vector<std::string> SallyportAgentLines(
    const std::vector<std::string>& agent_lines, const std::string& user,
    const std::vector<std::string>& user_ca_keys);

// Runs argv with stdin on /dev/null and returns what it wrote to stdout
// (at most 1 MiB) and its exit status.
struct Captured {
  int exit_status = -1;
  std::string out;
};
absl::StatusOr<Captured> RunCapture(const std::vector<std::string>& argv);

// Runs argv (argv[0] searched in PATH) with stdin, stdout and stderr on
// /dev/null and waits. kFailedPrecondition with the exit status otherwise.
absl::Status RunQuietly(const std::vector<std::string>& argv);

}  // namespace sallyport::cli

#endif  // SALLYPORT_CLI_SSH_AGENT_H_
