// What the gateway's end-to-end tests with stock clients share (issue 12's
// E2E rows and the other-clients matrix): one BastionFixture (real CA on
// SQLite, users logged in with `sp login`, real sshd targets with host
// certificates and TrustedUserCAKeys) with the real `sallyport-gateway`
// enrolled and served, plus the command lines that reach a target through
// it. The targets run on this machine, so a file a client moved to a target
// is checked by reading it here.
#ifndef SALLYPORT_TESTS_E2E_GATEWAY_E2E_ENV_H_
#define SALLYPORT_TESTS_E2E_GATEWAY_E2E_ENV_H_

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/ssh_clients.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {

class GatewayE2eEnv {
 public:
  // Starts the fixture with `options` and the gateway (the binary from the
  // test's runfiles, //gateway:sallyport-gateway).
  static absl::StatusOr<std::unique_ptr<GatewayE2eEnv>> Start(
      BastionFixture::Options options = BastionFixture::DefaultOptions());
  // Stops the gateway (SIGTERM); the caller checks StopGateway's status
  // first when it matters.
  ~GatewayE2eEnv();

  BastionFixture& fixture() { return *fixture_; }
  // A fresh directory (0755, short path under /tmp) shared by this
  // machine's tests and its targets, deleted with the env.
  const std::string& dir() const { return dir_.path(); }
  std::string File(const std::string& name) const { return dir_.File(name); }

  // "LOGIN+HOST": the SSH user name of a recorded session to `host`.
  std::string GatewayUser(const std::string& host) const;
  // The user's ssh_config (BastionFixture: key, certificate, known_hosts
  // with the host CA, `Host gateway`).
  std::string SshConfig(const std::string& user) const;
  // `ssh -F <config> OPTIONS -l LOGIN+HOST gateway`; the caller appends the
  // command (or nothing for a shell).
  std::vector<std::string> Ssh(const std::string& user, const std::string& host,
                               const std::vector<std::string>& options = {});
  // The gateway as an endpoint for the non-OpenSSH clients: the user's key
  // and certificate, the gateway's host key (pinned) and the known_hosts
  // with `@cert-authority * <host CA>` (AsyncSSH checks the gateway's host
  // certificate with it).
  absl::StatusOr<SshEndpoint> Endpoint(const std::string& user,
                                       const std::string& host);

  // RunCommand with a generous timeout (the machine may be loaded); the
  // result (exit_code -1 with the error in `err` when it could not start).
  static RunResult Run(const std::vector<std::string>& argv,
                       RunOptions options = {});
  // /bin/sh -c SCRIPT, for pipes and redirections.
  static RunResult Shell(const std::string& script, RunOptions options = {});
  // A file of `bytes` random bytes at `path`.
  static absl::Status RandomFile(const std::string& path, size_t bytes);
  // sha256sum of a file ("unreadable PATH" when it cannot be read).
  static std::string Sha256(const std::string& path);

  // The default timeout of Run and Shell.
  static constexpr absl::Duration kCommandTimeout = absl::Seconds(180);

 private:
  GatewayE2eEnv(std::unique_ptr<BastionFixture> fixture, TempDir dir)
      : fixture_(std::move(fixture)), dir_(std::move(dir)) {}

  std::unique_ptr<BastionFixture> fixture_;
  TempDir dir_;
};

// One GatewayE2eEnv for a whole test suite, in env_:
//   class MyE2eTest : public GatewaySuite<MyE2eTest> { ... };
// MyE2eTest may define, public, `static BastionFixture::Options
// SuiteOptions()` (default: BastionFixture::DefaultOptions()). At the end
// the gateway gets SIGTERM and must exit 0 (a clean drain) unless the suite
// sets, public, `static constexpr bool kCheckCleanStop = false`. A failed
// test prints the gateway's log.
template <typename Suite>
class GatewaySuite : public ::testing::Test {
 protected:
  static BastionFixture::Options SuiteOptions() {
    return BastionFixture::DefaultOptions();
  }
  static constexpr bool kCheckCleanStop = true;

  static void SetUpTestSuite() {
    auto env = GatewayE2eEnv::Start(Suite::SuiteOptions());
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = env->release();
  }
  static void TearDownTestSuite() {
    if (env_ != nullptr && Suite::kCheckCleanStop) {
      EXPECT_EQ(env_->fixture().StopGateway(), 0)
          << env_->fixture().GatewayLog();
    }
    delete env_;
    env_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(env_, nullptr); }
  void TearDown() override {
    if (HasFailure() && env_ != nullptr) {
      std::fprintf(stderr, "%s", env_->fixture().GatewayLog().c_str());
    }
  }

  inline static GatewayE2eEnv* env_ = nullptr;
};

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_E2E_GATEWAY_E2E_ENV_H_
