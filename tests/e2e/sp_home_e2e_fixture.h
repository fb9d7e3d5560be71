// A user set up the way the docs tell them (issue 13), for end-to-end tests
// of stock clients through the real gateway: `sp login` and `sp config`
// against the real CA (whose gateway.ssh_addresses names the real
// `sallyport-gateway`), in a temporary HOME whose ssh config holds only the
// Include line `sp` printed; no SSH_AUTH_SOCK. Tests read what the gateway
// recorded of the user's sessions to web01 (the CA's store and the spool).
#ifndef SALLYPORT_TESTS_E2E_SP_HOME_E2E_FIXTURE_H_
#define SALLYPORT_TESTS_E2E_SP_HOME_E2E_FIXTURE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/e2e/gateway_e2e_env.h"
#include "tests/e2e/gateway_ship_util.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {

// The CA's audit events of `type` (`spctl audit export --json` as the
// admin), one JSON line each.
std::vector<std::string> Events(BastionFixture& f, const std::string& type);

// A client's run: it worked and printed nothing on stderr.
void ExpectQuietSuccess(const RunResult& r);

class SpHomeE2eTest : public ::testing::Test {
 protected:
  // The fixture's options (the gateway advertised, nobody logged in by the
  // fixture); a test that needs other roles overrides this. The user is
  // `user()`, alice unless overridden.
  virtual BastionFixture::Options Options();
  virtual std::string user() const { return "alice"; }

  // The real CA advertising the real gateway; the user runs `sp login`
  // (which runs sp config) and `sp config` in a temporary HOME whose
  // ~/.ssh/config then holds only the Include line they printed.
  void SetUp() override;

  // argv with HOME = the temporary home (the test process has no
  // SSH_AUTH_SOCK, so neither has the child).
  RunResult Run(const std::vector<std::string>& argv,
                RunOptions options = {}) const;
  // `program` (ssh, scp, sftp) with the user's config, strict host key
  // checking and no prompts, then `args`.
  std::vector<std::string> Client(const std::string& program,
                                  const std::vector<std::string>& args) const;
  // The ssh command line for rsync -e and GIT_SSH_COMMAND.
  std::string SshCommand() const;

  // The channels of the user's recorded web01 sessions (stored or
  // spooled).
  std::vector<RecordedChannel> Channels() const;
  // Waits for a closed channel of Channels() that no earlier call returned
  // and `match` accepts.
  std::optional<RecordedChannel> WaitForChannel(
      const std::function<bool(const RecordedChannel&)>& match);

  std::unique_ptr<GatewayE2eEnv> env_;
  std::string home_;
  std::string user_config_;  // ~/.ssh/config: the Include line only
  std::set<std::pair<std::string, uint32_t>> seen_;
};

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_E2E_SP_HOME_E2E_FIXTURE_H_
