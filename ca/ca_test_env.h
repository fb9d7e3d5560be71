// CaTestEnv: a real CA for tests, in process: `init` into a temporary
// directory, a SQLite (or given) store, a FakeClock starting at the real
// time, and the gRPC server over TLS on a free loopback port. Clients talk
// to it through real TLS channels, with or without a client certificate.
#ifndef SALLYPORT_CA_CA_TEST_ENV_H_
#define SALLYPORT_CA_CA_TEST_ENV_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "ca/init.h"
#include "ca/server.h"
#include "ca/source_relay.h"
#include "proto/admin.grpc.pb.h"
#include "proto/ca.grpc.pb.h"
#include "ssh/crypto/keys.h"
#include "storage/store.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::ca {

class CaTestEnv {
 public:
  struct Options {
    storage::LockoutPolicy lockout;
    int max_failures_per_address = 20;
    absl::Duration failure_delay = absl::ZeroDuration();
    absl::Duration max_user_ttl = absl::Hours(8);
    // Empty: SQLite in the temporary directory.
    std::string store_url;
    // gateway.egress_addresses (source-address of session certificates).
    std::vector<std::string> gateway_egress_addresses = {"127.0.0.1/32"};
    // gateway.ssh_addresses (ListMyHosts), as in the config file.
    std::vector<std::string> gateway_ssh_addresses;
    HashGate::Limits hash_limits;
    std::string log_format = "text";
    // Edits of the ca.yaml that `init` wrote, before it is loaded: each
    // `first` (which must occur) is replaced by `second`, e.g.
    // {"host_ttl: 720h", "host_ttl: 36h"}.
    std::vector<std::pair<std::string, std::string>> config_edits;
    // How often WatchRevocations streams look for revocations added in the
    // store by others (the CA's own revocations wake them at once).
    absl::Duration revocation_poll = absl::Milliseconds(100);
    // `init --session-ca`: a session CA key signs session certificates.
    bool session_ca = false;
    // The server's HTTP/2 keepalive (CaServer::Options).
    absl::Duration keepalive_time = CaServer::kKeepaliveTime;
    absl::Duration keepalive_timeout = CaServer::kKeepaliveTimeout;
    // Non-zero: the channels ClientChannel makes send HTTP/2 keepalive
    // pings after this long without traffic, also without calls and
    // without data, as the gateway's channel to the CA does.
    absl::Duration client_keepalive_time = absl::ZeroDuration();
    // When set, the server uses the store this returns (given the opened
    // and initialised one), e.g. a storage::ForwardingStore that fails a
    // call.
    std::function<std::unique_ptr<storage::Store>(
        std::unique_ptr<storage::Store>)>
        wrap_store;
  };

  static absl::StatusOr<std::unique_ptr<CaTestEnv>> Create(Options options);
  static absl::StatusOr<std::unique_ptr<CaTestEnv>> Create() {
    return Create(Options());
  }
  // Create() with the default options for tests that ASSERT_NE(env,
  // nullptr): nullptr, with the reason on stderr, when it cannot start.
  static std::unique_ptr<CaTestEnv> CreateOrNull();
  ~CaTestEnv();

  base::FakeClock& clock() { return clock_; }
  storage::Store& store() { return *store_; }
  CaServer& server() { return *server_; }
  const InitResult& init() const { return init_; }
  const std::string& dir() const { return dir_.path(); }
  std::string admin_password() const {
    return std::string(init_.admin_password.view());
  }
  // Durations passed to the failure-delay sleeper (nothing really sleeps).
  std::vector<absl::Duration> sleeps();
  // The one-line event log the server wrote (CaServer::Options).
  std::vector<std::string> log_lines();

  // A TLS channel that trusts the CA's certificate, without a client
  // certificate.
  std::shared_ptr<grpc::Channel> AnonymousChannel();
  // The same with a client certificate and its key (PEM). With `source`
  // (e.g. "127.0.0.2") the connection goes through a SourceRelay, so the
  // CA sees that peer address.
  std::shared_ptr<grpc::Channel> ClientChannel(const std::string& key_pem,
                                               const std::string& cert_pem,
                                               const std::string& source = "");
  // The SourceRelay of `source` that ClientChannel started (to Freeze it:
  // a peer that died); nullptr when there is none.
  SourceRelay* Relay(const std::string& source);

  struct LoginResult {
    grpc::Status status;
    v1::LoginResponse response;
    std::string tls_key_pem;  // the key for response's client certificate
    std::string ssh_public_key;
    // Its private half (openssh-key-v1), for tests that hand it to `ssh`.
    std::string ssh_private_key;
    // A channel with the client certificate (when the login succeeded).
    std::shared_ptr<grpc::Channel> channel;
  };
  // Logs in with a fresh Ed25519 SSH key and P-256 TLS key.
  LoginResult Login(const std::string& user, const std::string& password,
                    const std::string& otp = "",
                    const std::string& source = "");

  // Creates a user with a password bound to `roles` (which must exist).
  absl::Status AddUser(const std::string& name, const std::string& password,
                       const std::vector<std::string>& roles);
  // Creates a role with these logins, channels and max_ttl.
  absl::Status AddRole(const std::string& name,
                       const std::vector<std::string>& logins,
                       absl::Duration max_ttl = absl::Hours(8));

 private:
  explicit CaTestEnv(sallyport::testing::TempDir dir)
      : dir_(std::move(dir)), clock_(absl::Now()) {}
  sallyport::testing::TempDir dir_;
  base::FakeClock clock_;
  std::unique_ptr<storage::Store> store_;
  InitResult init_;
  std::unique_ptr<CaServer> server_;
  std::string tls_cert_pem_;
  absl::Duration client_keepalive_time_;
  absl::Mutex mu_;
  std::vector<absl::Duration> sleeps_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> log_lines_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<SourceRelay>> relays_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_CA_TEST_ENV_H_
