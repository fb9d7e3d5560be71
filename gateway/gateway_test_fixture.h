// The gateway end to end in one process, shared by gateway_test.cc and the
// gateway's other end-to-end tests: a real CA (ca/gateway_test_util,
// SQLite), the real GatewayServer on loopback, a real sshd target whose
// host certificate comes from our host CA and which trusts our user CA, and
// the real OpenSSH `ssh` client logging in with a certificate from the CA's
// Login; or our own SSH client (RunOurClient, SessionChannelClient).
#ifndef SALLYPORT_GATEWAY_GATEWAY_TEST_FIXTURE_H_
#define SALLYPORT_GATEWAY_GATEWAY_TEST_FIXTURE_H_

#include <sys/stat.h>

#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/files.h"
#include "ca/gateway_test_util.h"
#include "ca/source_relay.h"
#include "gateway/ca_client.h"
#include "gateway/recorder.h"
#include "gateway/serve.h"
#include "gtest/gtest.h"
#include "ssh/auth/auth.h"
#include "ssh/cert/certificate_file.h"
#include "ssh/cert/host_cert_policy.h"
#include "ssh/connection/connection.h"
#include "ssh/crypto/keys.h"
#include "ssh/net/driver.h"
#include "ssh/net/session_handler.h"
#include "ssh/session/session.h"
#include "tests/harness/net_util.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::gateway {

// The text of the string field `field` of an audit event's JSON payload
// (values without escaped quotes), or "" when it has none.
std::string PayloadText(std::string_view payload, std::string_view field);

// Opens a direct-tcpip channel on `s` to host:port (as ssh -L would, from
// 127.0.0.1:40000).
absl::Status OpenDirectTcpip(ssh::session::Session& s, const std::string& host,
                             uint32_t port);

// Writes what `sallyport-gateway enroll` leaves in `gw_dir` (created,
// 0700) for the enrolled gateway `gw`: the SSH host key and certificate,
// the TLS key and mTLS certificate, and the CA's TLS certificate
// (`ca_state_dir`/tls.crt) as ca.pem. Returns that certificate's
// fingerprint (the config's ca_fingerprint).
absl::StatusOr<std::string> WriteEnrolledGatewayFiles(
    const ca::EnrolledGateway& gw, const std::string& ca_state_dir,
    const std::string& gw_dir);

// A host on our own SSH library (ssh/session's ServerSession), made by
// GatewayTest::StartOwnHost: it accepts one connection (the gateway's) on
// its own thread and runs `handler`'s session there until destroyed.
// Every user the library verified (a certificate of our user CA for the
// login) is accepted.
class OwnHost : public ssh::auth::AuthPolicy {
 public:
  struct Options {
    // The host's connection options (e.g. a huge window).
    ssh::connection::ConnectionOptions connection;
    // Called on the host's thread with its driver once the gateway
    // connected (e.g. to pause its input later).
    std::function<void(ssh::net::TransportDriver&)> on_driver;
  };
  // Stops the host's thread; destroy it before `handler`.
  ~OwnHost() override;
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  ssh::auth::AuthDecision Decide(const ssh::auth::AuthAttempt&) override {
    return {ssh::auth::AuthResult::kAccept, "test host"};
  }

 private:
  friend class GatewayTest;
  OwnHost() = default;

  // Destroyed last: the driver's timers and socket belong to it.
  asio::io_context io_;
  // Destroyed after the session, which uses the transport it owns.
  std::unique_ptr<ssh::net::TransportDriver> driver_;
  std::unique_ptr<ssh::session::ServerSession> session_;
  asio::ip::tcp::acceptor acceptor_{io_};
  std::unique_ptr<ssh::net::SessionMessageHandler> messages_;
  std::thread thread_;
};

// Our own client's handler (for GatewayTest::RunOurClient) running
// commands on session channels. Once authenticated it opens `channels`
// session channels; a refused one is a test failure and ends the session.
// It hands each open channel to OnSessionOpen, appends what arrives on
// stderr (1) to `err` and all else to `out` (consuming it), notes the
// host's exit-status, refuses every request that wants a reply, and once
// every channel closed calls OnAllClosed and disconnects. Subclasses
// override OnData, OnChannelRequest (calling this one) or OnClose to do
// otherwise.
class SessionChannelClient : public ssh::session::SessionHandler {
 public:
  explicit SessionChannelClient(int channels = 1) : channels_(channels) {}

  std::string out, err;
  std::optional<uint32_t> exit_status;

  void OnAuthenticated(ssh::session::Session& s) override;
  void OnChannelOpenResult(ssh::session::Channel ch,
                           const ssh::connection::OpenResult& r) final;
  void OnData(ssh::session::Channel ch, uint32_t stream,
              ssh::wire::Bytes data) override;
  void OnChannelRequest(ssh::session::Channel ch, std::string_view type,
                        bool want_reply, ssh::wire::Bytes data,
                        ssh::connection::RequestId request) override;
  void OnClose(ssh::session::Channel ch) override;

 protected:
  // One of the session channels is open.
  virtual void OnSessionOpen(ssh::session::Channel ch) = 0;
  // Every session channel closed; the session is disconnected after this.
  virtual void OnAllClosed() {}
  // Sends an exec of `command` on `ch`.
  static void Exec(ssh::session::Channel ch, std::string_view command,
                   bool want_reply = false);
  // Set once authenticated.
  ssh::session::Session& session() { return *session_; }

 private:
  const int channels_;
  int closed_ = 0;
  ssh::session::Session* session_ = nullptr;
};

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = ca::StartCa(ca::Backend::kSqlite, &pg_, ca_options_);
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = std::move(*env);
    login_ = testing::CurrentUserName();
    auto dir = testing::TempDir::Create("gw");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<testing::TempDir>(std::move(*dir));
    const std::string state = env_->dir() + "/state";

    // The target: sshd with a host certificate for "web01" from our host
    // CA, trusting our user CA.
    auto host_key = testing::GenerateKey(dir_->path(), "web01_host");
    ASSERT_TRUE(host_key.ok()) << host_key.status();
    auto host_cert =
        testing::SignWithSshKeygen(state + "/host_ca", host_key->public_path,
                                   "web01", "web01", "-5m:+1h", /*host=*/true);
    ASSERT_TRUE(host_cert.ok()) << host_cert.status();
    ASSERT_TRUE(testing::WriteFile(dir_->File("user_ca.pub"),
                                   env_->init().user_ca_public_key + "\n")
                    .ok());
    testing::SshdFixture::Options sshd_options;
    sshd_options.config = {{"TrustedUserCAKeys", dir_->File("user_ca.pub")},
                           {"HostKey", host_key->private_path},
                           {"HostCertificate", *host_cert}};
    for (const auto& [key, value] : extra_sshd_config_) {
      sshd_options.config[key] = value;
    }
    auto sshd = testing::SshdFixture::Start(sshd_options);
    ASSERT_TRUE(sshd.ok()) << sshd.status();
    sshd_ = std::move(*sshd);

    // RBAC: alice may reach web* as the test's login with shell/exec/sftp.
    storage::Role ops;
    ops.name = "ops";
    ops.logins = {login_};
    ops.hosts = {storage::HostSelector{.labels = {}, .name_globs = {"web*"}}};
    ops.channels = {storage::ChannelKind::kShell, storage::ChannelKind::kExec,
                    storage::ChannelKind::kSftp};
    ops.channels.insert(ops.channels.end(), extra_kinds_.begin(),
                        extra_kinds_.end());
    ASSERT_TRUE(env_->store().CreateRole(ops).ok());
    // With cert_lifetime_ set, the CA's clock is moved back so that the
    // 8-hour certificate of the Login below ends that long from now; alice
    // is created at that time too (a certificate issued before its user was
    // created is refused as an earlier user's).
    const absl::Time now = absl::Now();
    if (cert_lifetime_ > absl::ZeroDuration()) {
      env_->clock().Set(now - absl::Hours(8) + cert_lifetime_);
    }
    ASSERT_TRUE(env_->AddUser("alice", "alice-pw", {"ops"}).ok());
    storage::Host web01;
    web01.name = "web01";
    web01.address = "127.0.0.1";
    web01.port = sshd_->port();
    web01.trust = storage::HostTrust::kHostCa;
    ASSERT_TRUE(env_->store().CreateHost(web01).ok());
    // web02 is the same sshd, pinned to a key it does not have.
    auto other = testing::GenerateKey(dir_->path(), "not_web02");
    ASSERT_TRUE(other.ok());
    storage::Host web02 = web01;
    web02.name = "web02";
    web02.trust = storage::HostTrust::kPinnedKey;
    web02.host_key = other->public_line;
    ASSERT_TRUE(env_->store().CreateHost(web02).ok());

    // The user: key + certificate from Login, as `sp login` leaves them.
    auto alice = env_->Login("alice", "alice-pw");
    env_->clock().Set(now);
    ASSERT_TRUE(alice.status.ok()) << alice.status.error_message();
    key_path_ = dir_->File("alice");
    ASSERT_TRUE(
        testing::WriteFile(key_path_, alice.ssh_private_key, 0600).ok());
    cert_path_ = dir_->File("alice-cert.pub");
    ASSERT_TRUE(
        testing::WriteFile(cert_path_, alice.response.ssh_certificate() + "\n")
            .ok());
    known_hosts_ = dir_->File("known_hosts");
    ASSERT_TRUE(testing::WriteFile(known_hosts_,
                                   "@cert-authority * " +
                                       env_->init().host_ca_public_key + "\n")
                    .ok());

    // The gateway: enrolled, its files and gateway.yaml in its state dir.
    // A token made for gw1: it shares the name 127.0.0.1 with web01.
    std::string token;
    ASSERT_TRUE(
        ca::CreateJoinToken(*env_, "gateway", absl::Hours(1), &token, "gw1")
            .ok());
    ca::EnrolledGateway gw = ca::Enroll(*env_, token, "gw1", {"127.0.0.1"});
    ASSERT_TRUE(gw.status.ok()) << gw.status.error_message();
    const std::string gw_dir = dir_->File("gateway");
    absl::StatusOr<std::string> fp =
        WriteEnrolledGatewayFiles(gw, state, gw_dir);
    ASSERT_TRUE(fp.ok()) << fp.status();
    // A free port: the config's listen must name one (port 0 is refused).
    absl::StatusOr<uint16_t> port = testing::FreeLoopbackPort();
    ASSERT_TRUE(port.ok()) << port.status();
    std::string ca_address = env_->server().address();
    if (relay_ca_) {
      auto relay = ca::SourceRelay::Start(
          "127.0.0.1", std::stoi(ca_address.substr(ca_address.rfind(':') + 1)));
      ASSERT_TRUE(relay.ok()) << relay.status();
      ca_relay_ = std::move(*relay);
      ca_address = ca_relay_->address();
    }
    const std::string yaml =
        absl::StrCat("listen: 127.0.0.1:", *port, "\n", "ca: ", ca_address,
                     "\n", "ca_fingerprint: ", *fp, "\n", "name: gw1\n",
                     "threads: 1\n", "metrics_listen: \"\"\n", extra_yaml_);
    ASSERT_TRUE(testing::WriteFile(gw_dir + "/gateway.yaml", yaml).ok());
    auto config = LoadServeConfig(gw_dir + "/gateway.yaml");
    ASSERT_TRUE(config.ok()) << config.status();
    GatewayServer::Options options;
    options.config = *config;
    options.config.log_level = "debug";  // the tests read the trace
    options.recorder =
        recorder_override_ != nullptr ? recorder_override_ : &recorder_;
    options.log = [this](std::string_view line) {
      absl::MutexLock lock(&log_mu_);
      log_.append(line.data(), line.size());
      log_ += "\n";
    };
    auto server = GatewayServer::Start(std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  void TearDown() override {
    server_.reset();
    if (HasFailure()) {
      absl::MutexLock lock(&log_mu_);
      std::fprintf(stderr, "gateway log:\n%s\n", log_.c_str());
    }
  }

  std::string GatewayLog() {
    absl::MutexLock lock(&log_mu_);
    return log_;
  }

  // The `ssh` command line through the gateway as `user` running
  // `command` (none when empty), `extra` options before the destination.
  std::vector<std::string> SshArgs(const std::string& user,
                                   const std::string& command,
                                   const std::vector<std::string>& extra = {},
                                   bool with_certificate = true) {
    std::vector<std::string> args =
        testing::SshClientArgs(server_->local_endpoint().port(), known_hosts_,
                               key_path_, with_certificate ? cert_path_ : "");
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("-l");
    args.push_back(user);
    args.push_back("127.0.0.1");
    if (!command.empty()) args.push_back(command);
    return args;
  }

  // `ssh` through the gateway as `user` running `command`.
  testing::RunResult Ssh(const std::string& user, const std::string& command,
                         const std::vector<std::string>& extra = {},
                         bool with_certificate = true) {
    auto r =
        testing::RunCommand(SshArgs(user, command, extra, with_certificate));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : testing::RunResult();
  }

  struct LoginResult {
    bool authenticated = false;
    std::string banner;
    absl::Status end;
  };
  // Connects to the gateway as `user` with our own SSH client and alice's
  // key and certificate; `handler` drives the session (it may open
  // channels once authenticated, and ends the session with Disconnect).
  // Runs until the session ended or `limit` passed. The client opens at
  // most `max_channels` channels at a time.
  LoginResult RunOurClient(const std::string& user,
                           ssh::session::SessionHandler& handler,
                           absl::Duration limit = absl::Seconds(30),
                           size_t max_channels = 64);
  // RunOurClient with more knobs.
  struct OurClientOptions {
    absl::Duration limit = absl::Seconds(30);
    size_t max_channels = 64;
    // The receive window our client advertises per channel (0: the
    // library's default).
    uint32_t initial_window = 0;
    // Called with the client's driver before it runs (it lives until
    // RunOurClient returns): e.g. to pause its input later, or to run
    // timers on its executor.
    std::function<void(ssh::net::TransportDriver&)> on_driver;
  };
  LoginResult RunOurClient(const std::string& user,
                           ssh::session::SessionHandler& handler,
                           const OurClientOptions& options);
  // Logs in to the gateway as `user` with our own client, then
  // disconnects.
  LoginResult LoginWithOurClient(const std::string& user) {
    struct Handler : ssh::session::SessionHandler {
      void OnAuthenticated(ssh::session::Session& s) override {
        s.Disconnect("done");
      }
      void OnData(ssh::session::Channel, uint32_t, ssh::wire::Bytes) override {}
    } handler;
    return RunOurClient(user, handler);
  }

  // Starts a host on our own library for `handler` (see OwnHost) with a
  // host certificate for `name` from our host CA, and adds it to the
  // inventory as `name` (trust: host-ca). Null (a test failure) when it
  // cannot start.
  std::unique_ptr<OwnHost> StartOwnHost(const std::string& name,
                                        ssh::session::SessionHandler& handler,
                                        OwnHost::Options options = {});

  // Replaces alice's certificate (cert_path_) by one that ssh-keygen
  // signs with the user CA key for the same key, key id and login, with
  // `options` (e.g. {"-O", "no-pty"}) added to ssh-keygen's defaults, and
  // records it in the CA's store as the issuance does (the CA accepts only
  // login certificates it has a record of).
  void SignAliceCertificate(const std::vector<std::string>& options);

  // The gateway's AuthorizeChannel calls so far (its CA RPC metric).
  uint64_t AuthorizeChannelCalls();

  // Whether the gateway's metrics, as its /metrics serves them, have each
  // of `lines` ("name{labels} value") as a line.
  ::testing::AssertionResult MetricsHave(const std::vector<std::string>& lines);

  // The payloads (JSON) of the audit events of `type` in the CA's log, in
  // log order, once there are at least `at_least` of them (the gateway
  // sends its events in batches: waits up to 30 s, then returns what is
  // there).
  std::vector<std::string> AuditPayloads(std::string_view type,
                                         size_t at_least = 1);
  // Whether the CA's log has one event of `type` (waited for as
  // AuditPayloads does) and its duration_ms is from 0 to `most`.
  ::testing::AssertionResult OneDurationWithin(std::string_view type,
                                               absl::Duration most);

  // Whether the gateway reported the one session of the test as ended with
  // `outcome` ("ok", "revoked", ...) everywhere it reports it: the
  // session.end audit event at the CA, the log's connection.close line
  // (outcome=failure unless "ok") and the connections_closed metric. Waits
  // up to 30 s for the event.
  ::testing::AssertionResult SessionEndedAs(std::string_view outcome);

  // Waits up to 30 s (the gateway closes the tap once the client's
  // CLOSE arrived, which may be after ssh exited) for every recorded channel to
  // be closed.
  bool AllChannelsClosed() {
    const absl::Time limit = absl::Now() + absl::Seconds(30);
    while (absl::Now() < limit) {
      bool all = true;
      for (const auto& c : recorder_.channels()) all &= c.closed;
      if (all) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

  absl::Duration cert_lifetime_ = absl::ZeroDuration();
  // The CA's options (set before SetUp).
  ca::CaTestEnv::Options ca_options_;
  std::string extra_yaml_;  // appended to gateway.yaml
  // Set before SetUp: the gateway reaches the CA through ca_relay_, which a
  // test can Freeze (the CA's answers wait) and Thaw.
  bool relay_ca_ = false;
  std::unique_ptr<ca::SourceRelay> ca_relay_;
  // The target sshd's options beyond the fixture's (set before SetUp).
  std::map<std::string, std::string> extra_sshd_config_;
  // More channel kinds for the "ops" role (forward_test.cc).
  std::vector<storage::ChannelKind> extra_kinds_;
  // load (#12): the gateway's recorder instead of recorder_ when set
  // before SetUp (recording_release_test.cc).
  Recorder* recorder_override_ = nullptr;

  // Runs `command` through the gateway on a thread; returns once the
  // host's output contains `marker`.
  std::thread StartLongSession(const std::string& command,
                               const std::string& marker,
                               testing::RunResult* r) {
    const size_t before = recorder_.DataFor("web01", Direction::kOutput).size();
    std::thread t([this, command, r] { *r = Ssh(login_ + "+web01", command); });
    const absl::Time limit = absl::Now() + absl::Seconds(30);
    while (absl::Now() < limit &&
           !absl::StrContains(
               recorder_.DataFor("web01", Direction::kOutput).substr(before),
               marker)) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    return t;
  }
  std::unique_ptr<testing::PostgresFixture> pg_;
  std::unique_ptr<ca::CaTestEnv> env_;
  std::unique_ptr<testing::TempDir> dir_;
  std::unique_ptr<testing::SshdFixture> sshd_;
  std::string login_, key_path_, cert_path_, known_hosts_;
  InMemoryRecorder recorder_;
  absl::Mutex log_mu_;
  std::string log_ ABSL_GUARDED_BY(log_mu_);
  std::unique_ptr<GatewayServer> server_;
};

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_GATEWAY_TEST_FIXTURE_H_
