// What the recorded-ProxyJump tests (issue 13) share: a BastionFixture
// (real `sallyport-ca`, `sp login` per user, real sshd targets with host
// certificates) and the gateway enrolled with the real
// `sallyport-gateway enroll`, served in this process (GatewayServer) so the
// test reads its InMemoryRecorder. Each user gets a temporary HOME whose
// ~/.ssh/config is written here in the shape of what `sp config` writes
// (Host blocks with ProxyJump to the gateway, CertificateFile,
// IdentityFile, IdentitiesOnly, UserKnownHostsFile with `@cert-authority
// NAMES <host CA>`, never `Host *`), so stock `ssh web01` goes through the
// gateway. It is not sp's output: the gateway is `Host gw` with
// HostKeyAlias sallyport-gw (sp: `Host <advertised address>`, known as
// [ADDR]:PORT), it names hosts the user may not reach, and it adds
// StrictHostKeyChecking, BatchMode, GlobalKnownHostsFile, ControlMaster and
// ConnectTimeout. gateway_proxyjump_sp_e2e_test runs the clients with the
// config `sp config` really writes.
//
// Deployment (L = the test's login):
//   roles  dev:    logins [L], env=dev, shell exec sftp
//          fwd:    logins [L], env=dev, shell exec sftp port-forward
//          ops:    logins [L], env=dev, every kind incl. proxyjump-passthrough
//          dbonly: logins [dbadmin], name db*, shell
//          fwddb:  logins [L], name db*, port-forward
//   users  alice [dev, dbonly], frank [fwd], olivia [ops],
//          bob [dev, fwddb] (permit-port-forwarding, but not on web01)
//   hosts  web01 env=dev, db01 env=dev (host-ca); web02 env=prod (pinned)
//   names  in each user's ssh config and known_hosts line also nosuchhost
//          (never in the inventory) and deadhost (in it only once a test
//          adds it)
#ifndef SALLYPORT_TESTS_E2E_GATEWAY_PROXYJUMP_ENV_H_
#define SALLYPORT_TESTS_E2E_GATEWAY_PROXYJUMP_ENV_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "gateway/recorder.h"
#include "gateway/serve.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {

class ProxyJumpEnv {
 public:
  static BastionFixture::Options DefaultOptions();
  // `edit_config` (optional) changes the enrolled gateway.yaml before the
  // gateway serves (e.g. limits).
  static absl::StatusOr<std::unique_ptr<ProxyJumpEnv>> Start(
      BastionFixture::Options options = DefaultOptions(),
      std::function<void(config::GatewayConfig*)> edit_config = nullptr);
  ~ProxyJumpEnv();

  BastionFixture& fixture() { return *fixture_; }
  gateway::InMemoryRecorder& recorder() { return recorder_; }
  gateway::GatewayServer& server() { return *server_; }
  std::string GatewayLog();
  uint16_t gateway_port() const;
  std::string login() const { return fixture_->target_login(); }

  // The user's temporary HOME (with .ssh/config and .sallyport/known_hosts).
  std::string Home(const std::string& user) const;
  // Home(user)/.ssh/config. OpenSSH reads ~/.ssh/config from the passwd
  // entry's home, not $HOME, so the tools get it with -F (scp, sftp, and
  // the ProxyJump child inherit it).
  std::string Config(const std::string& user) const {
    return Home(user) + "/.ssh/config";
  }
  // {"ssh", "-F", Config(user)}.
  std::vector<std::string> Ssh(const std::string& user) const {
    return {"ssh", "-F", Config(user)};
  }
  // HOME = Home(user); the environment has no SSH_AUTH_SOCK.
  RunOptions Options(const std::string& user) const;
  // argv with Options(user) and a generous timeout.
  RunResult Run(const std::string& user, const std::vector<std::string>& argv,
                RunOptions options = {}) const;
  // /bin/sh -c script, as Run.
  RunResult Shell(const std::string& user, const std::string& script,
                  RunOptions options = {}) const;
  // A scratch directory (0755) shared with the targets.
  std::string File(const std::string& name) const { return dir_.File(name); }
  // The gateway's Host block name and the names in the known_hosts line.
  static constexpr char kGatewayAlias[] = "gw";

  // An ssh_config like the user's, but whose inner hops use `other`'s key
  // and certificate while the jump to the gateway uses the user's own;
  // written to a file whose path is returned.
  absl::StatusOr<std::string> MixedIdentityConfig(const std::string& user,
                                                  const std::string& other);

 private:
  ProxyJumpEnv(std::unique_ptr<BastionFixture> fixture, TempDir dir)
      : fixture_(std::move(fixture)), dir_(std::move(dir)) {}
  absl::Status StartGateway(
      const std::function<void(config::GatewayConfig*)>& edit_config);
  absl::Status WriteHome(const std::string& user);
  std::string ConfigText(const std::string& user, const std::string& home,
                         const std::string& inner_key,
                         const std::string& inner_certificate) const;

  std::unique_ptr<BastionFixture> fixture_;
  TempDir dir_;
  gateway::InMemoryRecorder recorder_;
  absl::Mutex log_mu_;
  std::string log_ ABSL_GUARDED_BY(log_mu_);
  std::unique_ptr<gateway::GatewayServer> server_;
};

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_E2E_GATEWAY_PROXYJUMP_ENV_H_
