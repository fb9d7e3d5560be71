// Loading and removing keys in a running ssh-agent with OpenSSH's ssh-add.
#ifndef SALLYPORT_CLI_SSH_AGENT_H_
#define SALLYPORT_CLI_SSH_AGENT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace sallyport::cli {

// True when SSH_AUTH_SOCK is set.
bool AgentAvailable();
// `ssh-add -q -t SECONDS key_path`: adds the key and, when it exists beside
// it, key_path-cert.pub, for `lifetime` (rounded up to whole seconds).
absl::Status AgentAdd(const std::string& key_path, absl::Duration lifetime);
// `ssh-add -q -d key_path`: removes the key and its certificate.
absl::Status AgentRemove(const std::string& key_path);

// Runs argv (argv[0] searched in PATH) with stdin, stdout and stderr on
// /dev/null and waits. kFailedPrecondition with the exit status otherwise.
absl::Status RunQuietly(const std::vector<std::string>& argv);

}  // namespace sallyport::cli

#endif  // SALLYPORT_CLI_SSH_AGENT_H_
