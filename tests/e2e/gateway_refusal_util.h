// Helpers of the gateway's refusal and load E2E tests (gwrefuse): stock
// `ssh` through the gateway as a BastionFixture user, admin calls that
// revoke and add inventory hosts, extra sshd targets with chosen host
// certificates, and a real ssh-agent.
#ifndef SALLYPORT_TESTS_E2E_GATEWAY_REFUSAL_UTIL_H_
#define SALLYPORT_TESTS_E2E_GATEWAY_REFUSAL_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {

// `ssh -F <user's config> -o LogLevel=INFO OPTIONS -l LOGIN+HOST gateway
// [COMMAND]` (LogLevel INFO so that the gateway's banners and disconnect
// messages reach stderr). A failure to run ssh at all is a test failure.
RunResult ViaGateway(BastionFixture& f, const std::string& user,
                     const std::string& host, const std::string& command,
                     const std::vector<std::string>& options = {},
                     const RunOptions& ro = {});

// The same with only `key` and its certificate `certificate` (no ssh
// config, no agent: ssh cannot fall back to the user's own certificate).
RunResult ViaGatewayWithKey(BastionFixture& f, const std::string& key,
                            const std::string& certificate,
                            const std::string& host, const std::string& command,
                            const RunOptions& ro = {});

// RunOptions with `data` as stdin.
RunOptions StdinOf(const std::string& data);

// Admin RevokeUserCertificates (what `spctl certs revoke --user` calls).
absl::Status RevokeUser(BastionFixture& f, const std::string& user,
                        const std::string& reason = "test revocation");

// Admin CreateHost: `name` at 127.0.0.1:port with env=dev, trust
// "host-ca" or "pinned-key" (`host_key` the pinned key line).
absl::Status AddInventoryHost(BastionFixture& f, const std::string& name,
                              const std::string& trust, uint16_t port,
                              const std::string& host_key);
// Admin UpdateHost: the same record as AddInventoryHost makes, replaced.
absl::Status UpdateInventoryHost(BastionFixture& f, const std::string& name,
                                 const std::string& trust, uint16_t port,
                                 const std::string& host_key);

// A real sshd trusting the user CA, presenting a host certificate that
// `ca_key` (an OpenSSH private key file) signs for `principal`; its key
// and certificate live in `dir`.
absl::StatusOr<std::unique_ptr<SshdFixture>> StartSshdWithHostCertificate(
    BastionFixture& f, const TempDir& dir, const std::string& name,
    const std::string& ca_key, const std::string& principal);

// `ssh-agent -D -a socket` with one key loaded (so there is something to
// forward).
absl::StatusOr<std::unique_ptr<BackgroundProcess>> StartAgent(
    const std::string& socket, const std::string& log);

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_E2E_GATEWAY_REFUSAL_UTIL_H_
