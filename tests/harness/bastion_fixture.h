// BastionFixture: a whole Sallyport deployment minus the gateway, made of
// real parts, for the gateway's end-to-end tests and benchmarks:
//  - a real `sallyport-ca` (SQLite in its own state dir, a free loopback
//    port, `gateway.egress_addresses` set so it issues session
//    certificates);
//  - users with passwords, roles, bindings and inventory hosts, created
//    through the real admin API (mutual TLS as the admin that `init`
//    created);
//  - a real `sp login` per user (own SALLYPORT_HOME: key + 8 h
//    certificate + known_hosts);
//  - real sshd targets (SshdFixture) with host certificates from our host
//    CA (CertificateAuthority.IssueHostCertificate as admin) or a pinned
//    key, `TrustedUserCAKeys` = our user CA, registered in the inventory;
//  - per user an ssh_config for stock `ssh -F` (targets by name, and the
//    gateway once StartGateway ran) and a known_hosts with
//    `@cert-authority * <host CA>` plus the pinned keys.
// StartGateway runs the documented `sallyport-gateway enroll` and `serve`
// commands.
#ifndef SALLYPORT_TESTS_HARNESS_BASTION_FIXTURE_H_
#define SALLYPORT_TESTS_HARNESS_BASTION_FIXTURE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/admin.grpc.pb.h"
#include "proto/ca.grpc.pb.h"
#include "proto/config.pb.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {

struct BastionUserSpec {
  std::string name;
  std::vector<std::string> roles;
  // Run `sp login` for the user at Start.
  bool log_in = true;
};

struct BastionTargetSpec {
  // Inventory name (also the ssh_config Host alias).
  std::string name;
  std::map<std::string, std::string> labels;
  // "host-ca": the sshd presents a host certificate from our host CA;
  // "pinned-key": no certificate, the inventory holds its public key.
  std::string trust = "host-ca";
};

class BastionFixture {
 public:
  struct Options {
    std::vector<admin::v1::Role> roles;
    std::vector<BastionUserSpec> users;
    std::vector<BastionTargetSpec> targets;
    // CA config gateway.egress_addresses.
    std::vector<std::string> egress_addresses = {"127.0.0.1"};
    // Extra sshd_config options for every target (e.g. "Ciphers").
    std::map<std::string, std::string> sshd_config;
    // --- ha16 (#16 HA) ---
    // `sallyport-ca init --store` (a PostgreSQL URI); empty: SQLite in the
    // CA's state dir.
    std::string store_url;
    // CA instances: the first is `init`ed, the others serve identical
    // copies of its state dir (keys, TLS material, ca.yaml), all on the
    // same store. More than one needs `store_url`.
    int ca_instances = 1;
    // --- end ha16 ---
    // pjump: CA config gateway.ssh_addresses = ["127.0.0.1:P"] with a port
    // P picked at Start, on which StartGateway then listens: `sp login` /
    // `sp config` write Host blocks that reach the real gateway.
    bool advertise_gateway = false;
    // `sallyport-ca init --session-ca`: a session CA key signs session
    // certificates and the targets trust only it (TrustedUserCAKeys), not
    // the user CA: users' own certificates do not open them directly.
    bool session_ca = false;
    // The gateways' log_level: tests read the per-session trace (debug);
    // benchmarks measure the default (info).
    std::string gateway_log_level = "debug";
  };

  // The default deployment (L = CurrentUserName(), root in the test runs):
  //  roles  dev:           logins [L], env=dev,  shell exec sftp
  //         ops:           logins [L], env=dev and env=prod, every kind
  //                        (incl. port-forward, agent-forward,
  //                        proxyjump-passthrough)
  //         prod-readonly: logins [L], env=prod, shell exec; deny sftp,
  //                        port-forward, proxyjump-passthrough on env=prod
  //                        (a deny rule that beats ops' allow)
  //         guest:         logins [guest], env=dev, shell exec
  //  users  alice [dev], olivia [ops], rita [ops, prod-readonly],
  //         bob [guest] (no certificate principal L); `admin` (from init,
  //         roles admin + login) is always logged in too
  //  hosts  web01 env=dev host-ca; web02 env=prod pinned-key
  static Options DefaultOptions();

  // Starts everything; on failure the error carries the failing step and
  // the logs.
  static absl::StatusOr<std::unique_ptr<BastionFixture>> Start(
      Options options = DefaultOptions());
  ~BastionFixture();

  // ------------------------------------------------------------ CA
  // The first CA instance (what `enroll` and single-CA tests use).
  std::string ca_address() const;
  // ha16: every CA instance, "127.0.0.1:A,127.0.0.1:B" (what `sp login
  // --ca` gets, so the users' logins fail over); ca_instance(i) is the
  // i-th instance's process (0 = the first).
  std::string ca_addresses() const;
  ListeningProcess& ca_instance(int i) {
    return i == 0 ? *ca_ : *more_cas_[i - 1];
  }
  const std::string& ca_fingerprint() const { return ca_fingerprint_; }
  const std::string& ca_state_dir() const { return ca_state_dir_; }
  // OpenSSH public key lines of the active user and host CA keys.
  const std::string& user_ca_public_key() const { return user_ca_line_; }
  const std::string& host_ca_public_key() const { return host_ca_line_; }
  // Empty without Options::session_ca.
  const std::string& session_ca_public_key() const { return session_ca_line_; }
  std::string CaLog() const { return ca_ ? ca_->Log() : ""; }
  BackgroundProcess& ca_process() { return ca_->process(); }
  // Stubs on the admin's mutual-TLS channel.
  admin::v1::Admin::Stub& admin() { return *admin_stub_; }
  ca::v1::CertificateAuthority::Stub& ca_as_admin() { return *ca_stub_; }
  // A one-time join token ("gateway" or "host"); a gateway token for
  // `gateway_name` only when given (needed to enrol a name again).
  absl::StatusOr<std::string> CreateJoinToken(
      const std::string& purpose = "gateway",
      const std::string& gateway_name = "");

  // ------------------------------------------------------------ users
  struct User {
    std::string name;
    std::string password;
    std::string home;         // SALLYPORT_HOME
    std::string key;          // private key written by `sp login`
    std::string certificate;  // key + "-cert.pub"
    // Written by the fixture: `ssh -F ssh_config web01 CMD` works.
    std::string ssh_config;
  };
  // kNotFound for a name that was not in Options::users (or "admin").
  absl::StatusOr<const User*> user(const std::string& name) const;
  // Runs `sp login` again for the user (a fresh certificate).
  absl::Status Login(const std::string& name);
  // The login on the targets: CurrentUserName().
  std::string target_login() const;

  // ------------------------------------------------------------ targets
  struct Target {
    BastionTargetSpec spec;
    KeyPair host_key;
    std::string host_certificate;  // empty for pinned-key targets
    std::unique_ptr<SshdFixture> sshd;
  };
  // nullptr for an unknown name.
  Target* target(const std::string& name);
  // known_hosts for clients: `@cert-authority * <host CA>` and the pinned
  // targets' keys (by name and by [127.0.0.1]:port).
  std::string client_known_hosts() const { return dir_.File("known_hosts"); }
  // `ssh -F <user's ssh_config>` (the config sets BatchMode, the user's key
  // and certificate, User = target_login() and StrictHostKeyChecking with
  // client_known_hosts()), to which the caller appends options, a host
  // alias ("web01", "gateway"; `-l LOGIN+web01 gateway` for a recorded
  // session) and a command. Through the gateway as ProxyJump, add
  // `-J gateway -o HostName=web01 web01`, so the direct-tcpip request names
  // the inventory host (web01:its port) rather than 127.0.0.1.
  absl::StatusOr<std::vector<std::string>> SshArgs(
      const std::string& user) const;

  // ------------------------------------------------------------ gateway
  // Runs `BINARY enroll --ca ADDR --ca-fingerprint FP --token-file FILE
  // --state-dir DIR --name sallyport-gw --principal 127.0.0.1 --principal
  // localhost` (FILE holds a new join token for sallyport-gw),
  // sets metrics_listen in DIR/gateway.yaml to a free port, starts `BINARY
  // serve --config DIR/gateway.yaml --listen 127.0.0.1:PORT` and waits for
  // the port; then adds `Host gateway` (127.0.0.1, that port) to every
  // user's ssh_config.
  // `edit_config` (gwops), when set, changes DIR/gateway.yaml after enroll
  // and before serve (e.g. nested `limits:` keys, log_format).
  absl::Status StartGateway(
      const std::string& binary,
      const std::vector<std::string>& extra_serve_args = {},
      const std::function<void(config::GatewayConfig*)>& edit_config = nullptr);
  // `BINARY enroll` into `state` as `name` (principals 127.0.0.1 and
  // localhost) with a new join token for that name, passed in a file as
  // operators are told to (not in argv, where ps shows it). StartGateway
  // does this; an environment that serves the gateway itself calls it.
  absl::Status EnrollGateway(const std::string& binary, const std::string& name,
                             const std::string& state);
  // Reads DIR/gateway.yaml, applies `edit` and writes it back (0600); for
  // a SIGHUP reload, ReloadGateway below.
  absl::Status EditGatewayConfig(
      const std::function<void(config::GatewayConfig*)>& edit);
  // EditGatewayConfig, SIGHUP, then waits up to 30 s for `logged` in
  // GatewayLog() (a line the reload writes). kDeadlineExceeded, with the
  // log, when it does not appear.
  absl::Status ReloadGateway(
      const std::function<void(config::GatewayConfig*)>& edit,
      const std::string& logged);
  uint16_t gateway_port() const { return gateway_port_; }
  uint16_t gateway_metrics_port() const { return gateway_metrics_port_; }
  std::string gateway_state_dir() const { return dir_.File("gateway"); }
  BackgroundProcess* gateway_process() { return gateway_.get(); }
  // The gateway's SSH host public key (OpenSSH line, from the key `enroll`
  // wrote), for clients that pin it instead of checking the certificate.
  absl::StatusOr<std::string> GatewayHostPublicKey() const;
  std::string GatewayLog() const {
    return ReadFileOrEmpty(dir_.File("gateway.log"));
  }
  // SIGTERM and wait; returns the wait status (0 when not running).
  int StopGateway();

  // --- Added by gwrefuse (refusal and load tests) ---
  // Changes StartGateway makes to the generated gateway.yaml between
  // `enroll` and `serve` (limits, revocation_grace, ...), in call order.
  void AddGatewayConfigEdit(std::function<void(config::GatewayConfig&)> edit) {
    gateway_config_edits_.push_back(std::move(edit));
  }
  // --- end gwrefuse ---

  // --- ha16 (#16 HA): more gateways beside the one StartGateway runs ---
  // Enrolls `name` (own state dir NAME, `ca` = ca_addresses()) and serves
  // it on a free port with `binary`; returns its index for the accessors.
  absl::StatusOr<int> StartExtraGateway(const std::string& binary,
                                        const std::string& name);
  uint16_t extra_gateway_port(int i) const { return extra_gateways_[i].port; }
  std::string extra_gateway_state_dir(int i) const {
    return dir_.File(extra_gateways_[i].name);
  }
  BackgroundProcess& extra_gateway_process(int i) {
    return *extra_gateways_[i].process;
  }
  std::string ExtraGatewayLog(int i) const {
    return ReadFileOrEmpty(dir_.File(extra_gateways_[i].name + ".log"));
  }
  // Starts gateway i again (same config and port) after it stopped.
  absl::Status RestartExtraGateway(int i);
  // --- end ha16 ---
  // --- Added by ship (#14 shipper tests) ---
  // Runs `serve` again with the enrolled state and config (after the
  // gateway was killed or stopped), on a fresh port; the users' ssh_config
  // follow it. The log goes on in GatewayLog().
  absl::Status RestartGateway(
      const std::string& binary,
      const std::vector<std::string>& extra_serve_args = {});
  // Stops the CA (SIGTERM and wait) and starts it again on the same port
  // (its log then goes to ca-N.log; CaLog() reads the current one).
  int StopCa();
  absl::Status RestartCa();
  // --- end ship ---

 private:
  explicit BastionFixture(TempDir dir) : dir_(std::move(dir)) {}
  absl::Status StartCa(const Options& options);
  absl::Status ConnectAdmin();
  absl::Status CreatePolicy(const Options& options);
  absl::Status StartTarget(const BastionTargetSpec& spec,
                           const Options& options);
  absl::Status WriteClientFiles();
  absl::Status ServeGateway(const std::string& binary,
                            const std::vector<std::string>& extra);  // ship
  absl::Status WriteUserSshConfig(const User& user);

  TempDir dir_;
  std::string gateway_log_level_ = "debug";
  std::string ca_state_dir_;
  std::string ca_fingerprint_;
  std::string user_ca_line_;
  std::string host_ca_line_;
  std::string session_ca_line_;
  std::unique_ptr<ListeningProcess> ca_;
  uint16_t ca_port_ = 0;                 // ship: kept across StopCa/RestartCa
  int ca_restarts_ = 0;                  // ship
  std::shared_ptr<void> admin_channel_;  // grpc::Channel, kept alive
  std::unique_ptr<admin::v1::Admin::Stub> admin_stub_;
  std::unique_ptr<ca::v1::CertificateAuthority::Stub> ca_stub_;
  std::map<std::string, User> users_;
  std::vector<std::unique_ptr<Target>> targets_;
  std::unique_ptr<BackgroundProcess> gateway_;
  uint16_t gateway_port_ = 0;
  uint16_t gateway_metrics_port_ = 0;
  std::vector<std::function<void(config::GatewayConfig&)>>
      gateway_config_edits_;  // gwrefuse
  // ha16
  struct ExtraGateway {
    std::string name;
    std::string binary;
    uint16_t port = 0;
    std::unique_ptr<BackgroundProcess> process;
  };
  absl::Status StartMoreCas(const Options& options, const std::string& bin);
  absl::Status ServeExtraGateway(ExtraGateway& g);
  std::vector<std::unique_ptr<ListeningProcess>> more_cas_;
  std::vector<ExtraGateway> extra_gateways_;
  uint16_t advertised_gateway_port_ = 0;  // pjump: advertise_gateway
};

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_HARNESS_BASTION_FIXTURE_H_
