// The gateway end to end in one process: a real CA (ca/gateway_test_util,
// SQLite), the real GatewayServer on loopback, a real sshd target whose
// host certificate comes from our host CA and which trusts our user CA,
// and the real OpenSSH `ssh` client logging in with a certificate from
// the CA's Login.
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/files.h"
#include "ca/gateway_test_util.h"
#include "gateway/ca_client.h"
#include "gateway/recorder.h"
#include "gateway/serve.h"
#include "gtest/gtest.h"
#include "ssh/cert/certificate_file.h"
#include "ssh/cert/host_cert_policy.h"
#include "ssh/crypto/keys.h"
#include "ssh/net/driver.h"
#include "ssh/net/session_handler.h"
#include "ssh/session/session.h"
#include "tests/harness/echo_server.h"
#include "tests/harness/net_util.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::gateway {
namespace {

using testing::RunCommand;
using testing::RunResult;

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = ca::StartCa(ca::Backend::kSqlite, &pg_);
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
    // With cert_lifetime_ set, the CA's clock is moved so that the 8-hour
    // certificate ends that long from now.
    const absl::Time now = absl::Now();
    if (cert_lifetime_ > absl::ZeroDuration()) {
      env_->clock().Set(now - absl::Hours(8) + cert_lifetime_);
    }
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
    std::string token;
    ASSERT_TRUE(
        ca::CreateJoinToken(*env_, "gateway", absl::Hours(1), &token).ok());
    ca::EnrolledGateway gw = ca::Enroll(*env_, token, "gw1", {"127.0.0.1"});
    ASSERT_TRUE(gw.status.ok()) << gw.status.error_message();
    const std::string gw_dir = dir_->File("gateway");
    ASSERT_EQ(mkdir(gw_dir.c_str(), 0700), 0);
    ASSERT_TRUE(testing::WriteFile(gw_dir + "/ssh_host_ed25519_key",
                                   gw.host_key_pem, 0600)
                    .ok());
    ASSERT_TRUE(testing::WriteFile(
                    gw_dir + "/ssh_host_ed25519_key-cert.pub",
                    gw.response.host_certificate().ssh_certificate() + "\n")
                    .ok());
    ASSERT_TRUE(
        testing::WriteFile(gw_dir + "/gateway_tls.key", gw.tls_key_pem, 0600)
            .ok());
    ASSERT_TRUE(testing::WriteFile(gw_dir + "/gateway_tls.crt",
                                   gw.response.tls_client_certificate_pem())
                    .ok());
    auto pem = base::ReadTextFile(state + "/tls.crt");
    ASSERT_TRUE(pem.ok());
    // The CA's TLS certificate as enrolment pins it.
    ASSERT_TRUE(testing::WriteFile(gw_dir + "/ca.pem", *pem).ok());
    auto fp = CertificatePemFingerprint(*pem);
    ASSERT_TRUE(fp.ok());
    // A free port: the config's listen must name one (port 0 is refused).
    absl::StatusOr<uint16_t> port = testing::FreeLoopbackPort();
    ASSERT_TRUE(port.ok()) << port.status();
    const std::string yaml = absl::StrCat(
        "listen: 127.0.0.1:", *port, "\n", "ca: ", env_->server().address(),
        "\n", "ca_fingerprint: ", *fp, "\n", "name: gw1\n", "threads: 1\n",
        "metrics_listen: \"\"\n", extra_yaml_);
    ASSERT_TRUE(testing::WriteFile(gw_dir + "/gateway.yaml", yaml).ok());
    auto config = LoadServeConfig(gw_dir + "/gateway.yaml");
    ASSERT_TRUE(config.ok()) << config.status();
    GatewayServer::Options options;
    options.config = *config;
    options.recorder = &recorder_;
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

  // `ssh` through the gateway as `user` running `command`.
  RunResult Ssh(const std::string& user, const std::string& command,
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
    auto r = RunCommand(args);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : RunResult();
  }

  struct LoginResult {
    bool authenticated = false;
    std::string banner;
    absl::Status end;
  };
  // Logs in to the gateway as `user` with alice's key and certificate
  // using our own SSH client, then disconnects.
  LoginResult LoginWithOurClient(const std::string& user) {
    LoginResult out;
    asio::io_context io;
    auto key = ssh::crypto::PrivateKey::LoadFile(key_path_);
    auto cert = ssh::cert::LoadCertificate(cert_path_);
    auto host_ca = ssh::crypto::PublicKey::FromAuthorizedKeysLine(
        env_->init().host_ca_public_key);
    EXPECT_TRUE(key.ok() && cert.ok() && host_ca.ok());
    if (!key.ok() || !cert.ok() || !host_ca.ok()) return out;
    ssh::cert::HostCertificatePolicy::Options hp;
    hp.trusted_cas = {*host_ca};
    hp.host_name = "127.0.0.1";
    auto policy = ssh::cert::HostCertificatePolicy::Create(hp);
    EXPECT_TRUE(policy.ok());
    struct Handler : ssh::session::SessionHandler {
      bool authenticated = false;
      ssh::session::Session* session = nullptr;
      void OnAuthenticated(ssh::session::Session& s) override {
        authenticated = true;
        s.Disconnect("done");
      }
      void OnData(ssh::session::Channel, uint32_t, ssh::wire::Bytes) override {}
    } handler;
    ssh::session::ClientSessionOptions o;
    o.transport.host_key_policy = std::move(*policy);
    o.auth.user = user;
    o.auth.identities.push_back(ssh::auth::ClientIdentity{*key, cert->blob});
    auto session = ssh::session::ClientSession::Create(std::move(o), handler);
    EXPECT_TRUE(session.ok()) << session.status();
    if (!session.ok()) return out;
    asio::ip::tcp::socket socket(io);
    asio::error_code ec;
    socket.connect(server_->local_endpoint(), ec);
    EXPECT_FALSE(ec) << ec.message();
    ssh::net::TransportDriver driver(std::move(socket),
                                     (*session)->ReleaseTransport());
    ssh::net::SessionMessageHandler mh(**session, driver);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> { out.end = co_await driver.Run(mh); },
        [](std::exception_ptr e) {
          if (e) ADD_FAILURE() << "the client driver coroutine threw";
        });
    io.run_for(std::chrono::seconds(30));
    out.authenticated = handler.authenticated;
    out.banner = (*session)->banner();
    return out;
  }

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
  std::string extra_yaml_;  // appended to gateway.yaml
  // More channel kinds for the "ops" role (forward_test.cc).
  std::vector<storage::ChannelKind> extra_kinds_;

  // Runs `command` through the gateway on a thread; returns once the
  // host's output contains `marker`.
  std::thread StartLongSession(const std::string& command,
                               const std::string& marker, RunResult* r) {
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

TEST_F(GatewayTest, ExecReturnsTheOutputAndTheExitCodeAndIsRecorded) {
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  RunResult r = Ssh(login_ + "+web01", "hostname; echo oops >&2; exit 3");
  EXPECT_EQ(r.exit_code, 3) << r.Describe() << sshd_->Log();
  EXPECT_EQ(r.out, std::string(host) + "\n");
  EXPECT_TRUE(absl::StrContains(r.err, "oops")) << r.err;
  // The tap saw the output, stderr, the command and the exit status.
  EXPECT_EQ(recorder_.DataFor("web01", Direction::kOutput),
            std::string(host) + "\n");
  EXPECT_EQ(recorder_.DataFor("web01", Direction::kOutput, 1), "oops\n");
  bool saw_exec = false, saw_exit = false;
  for (const auto& e : recorder_.events()) {
    saw_exec |= e.kind == "request" && e.bytes == "exec" &&
                e.summary == "hostname; echo oops >&2; exit 3";
    saw_exit |=
        e.kind == "request" && e.bytes == "exit-status" && e.summary == "3";
  }
  EXPECT_TRUE(saw_exec);
  EXPECT_TRUE(saw_exit);
  ASSERT_EQ(recorder_.channels().size(), 1u);
  EXPECT_EQ(recorder_.channels()[0].info.user, "alice");
  EXPECT_EQ(recorder_.channels()[0].info.login, login_);
  EXPECT_TRUE(AllChannelsClosed());
  // The target saw the session certificate, not the user's.
  EXPECT_TRUE(absl::StrContains(sshd_->Log(), "alice@s")) << sshd_->Log();
}

TEST_F(GatewayTest, StdinReachesTheHost) {
  std::vector<std::string> args = testing::SshClientArgs(
      server_->local_endpoint().port(), known_hosts_, key_path_, cert_path_);
  args.insert(args.end(), {"-l", login_ + "+web01", "127.0.0.1", "wc -c"});
  testing::RunOptions o;
  o.stdin_data = std::string(100000, 'x');
  auto r = RunCommand(args, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0) << r->Describe();
  EXPECT_EQ(r->out, "100000\n");
  EXPECT_EQ(recorder_.DataFor("web01", Direction::kInput).size(), 100000u);
}

TEST_F(GatewayTest, APlainKeyIsRefusedWithTheSpLoginBanner) {
  // The same key without its certificate next to it (ssh would load
  // KEY-cert.pub by itself).
  auto text = base::ReadTextFile(key_path_);
  ASSERT_TRUE(text.ok());
  key_path_ = dir_->File("plain");
  ASSERT_TRUE(testing::WriteFile(key_path_, *text, 0600).ok());
  RunResult r = Ssh(login_ + "+web01", "true", {}, /*with_certificate=*/false);
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "log in with `sp login` first"))
      << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "Permission denied")) << r.err;
}

TEST_F(GatewayTest, ALoginNotInThePrincipalsIsRefused) {
  RunResult r = Ssh("nobody+web01", "true");
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "certificate refused")) << r.err;
  EXPECT_TRUE(recorder_.channels().empty());
}

TEST_F(GatewayTest, AHostNotInTheInventoryIsRefused) {
  RunResult r = Ssh(login_ + "+db99", "true");
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "db99")) << r.err;
  EXPECT_TRUE(recorder_.channels().empty());
}

TEST_F(GatewayTest, BadTargetNamesAreRefusedBeforeAnyLookup) {
  // OpenSSH's client refuses such user names itself, so our own client
  // sends them, with alice's valid certificate.
  for (const std::string& host :
       {std::string("a;id"), std::string("$(x)"), std::string("web01\nid"),
        std::string("web01%00"), std::string(240, 'a')}) {
    LoginResult r = LoginWithOurClient(login_ + "+" + host);
    EXPECT_FALSE(r.authenticated) << host;
    EXPECT_TRUE(absl::StrContains(r.banner, "invalid host name")) << r.banner;
    EXPECT_TRUE(absl::StrContains(r.banner, "LOGIN+HOST")) << r.banner;
  }
  // 300 bytes do not even fit the SSH layer's user name limit.
  RunResult r = Ssh(login_ + "+" + std::string(300, 'a'), "true");
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  // Nothing reached the CA, and the raw names never reached the log.
  EXPECT_TRUE(recorder_.channels().empty());
  const std::string log = GatewayLog();
  EXPECT_FALSE(absl::StrContains(log, "$(x)")) << log;
  EXPECT_FALSE(absl::StrContains(log, "a;id")) << log;
  EXPECT_FALSE(absl::StrContains(log, "web01\nid")) << log;
  EXPECT_FALSE(absl::StrContains(log, "event=auth.ok")) << log;
  // The good name still works with the same client.
  EXPECT_TRUE(LoginWithOurClient(login_ + "+web01").authenticated);
}

TEST_F(GatewayTest, AHostKeyMismatchRefusesTheSessionAndSaysSo) {
  RunResult r = Ssh(login_ + "+web02", "echo should-not-run");
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "should-not-run"));
  EXPECT_TRUE(absl::StrContains(r.err, "web02")) << r.err;
  EXPECT_TRUE(absl::StrContains(GatewayLog(), "event=upstream.failed"))
      << GatewayLog();
}

TEST_F(GatewayTest, OnlyTheSftpSubsystemIsAllowed) {
  RunResult r = Ssh(login_ + "+web01", "backdoor", {"-s"});
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  // The user sees why (the refusal ends the channel like a command that
  // fails).
  EXPECT_TRUE(absl::StrContains(r.err, "not allowed (only sftp)")) << r.err;
  EXPECT_TRUE(absl::StrContains(GatewayLog(), "not allowed (only sftp)"))
      << GatewayLog();
}

TEST_F(GatewayTest, PortForwardingNeedsTheCertificatesPermission) {
  RunResult r = Ssh(login_ + "+web01", "",
                    {"-W", absl::StrCat("127.0.0.1:", sshd_->port())});
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "port forwarding is not permitted"))
      << r.err;
}

TEST_F(GatewayTest, RevokingTheCertificateEndsTheSession) {
  RunResult r;
  std::thread client(
      [&] { r = Ssh(login_ + "+web01", "echo started; sleep 40; echo late"); });
  // Once the command runs, revoke alice's certificate.
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  while (!absl::StrContains(recorder_.DataFor("web01", Direction::kOutput),
                            "started") &&
         absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  auto cert = ssh::cert::LoadCertificate(cert_path_);
  ASSERT_TRUE(cert.ok());
  storage::Revocation rev;
  rev.serial = cert->serial;
  rev.reason = "lost laptop";
  rev.revoked_by = "admin";
  const absl::Time revoked = absl::Now();
  ASSERT_TRUE(env_->store().Revoke(rev).ok());
  client.join();
  EXPECT_LT(absl::Now() - revoked, absl::Seconds(20));
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "late")) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "revoked")) << r.err;
  // And a new connection is refused.
  RunResult again = Ssh(login_ + "+web01", "true");
  EXPECT_EQ(again.exit_code, 255) << again.Describe();
  EXPECT_TRUE(absl::StrContains(again.err, "revoked")) << again.err;
}

TEST_F(GatewayTest, DrainEndsSessionsAfterTheTimeoutWithAMessage) {
  RunResult r;
  std::thread client =
      StartLongSession("echo started; sleep 40; echo late", "started", &r);
  const absl::Time start = absl::Now();
  server_->Drain(absl::Seconds(2));
  client.join();
  EXPECT_GE(absl::Now() - start, absl::Seconds(2));
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  EXPECT_FALSE(absl::StrContains(r.out, "late")) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "gateway shutting down")) << r.err;
  EXPECT_EQ(server_->proxy().active_connections(), 0u);
  // No longer accepting.
  RunResult again = Ssh(login_ + "+web01", "true");
  EXPECT_EQ(again.exit_code, 255) << again.Describe();
}

class LimitsTest : public GatewayTest {
 protected:
  void SetUp() override {
    extra_yaml_ = "limits:\n  max_sessions_per_user: 1\n";
    GatewayTest::SetUp();
  }
};

TEST_F(LimitsTest, MaxSessionsPerUserRefusesTheNextOneUntilOneEnds) {
  RunResult first;
  std::thread client =
      StartLongSession("echo started; sleep 6; echo done", "started", &first);
  RunResult second = Ssh(login_ + "+web01", "echo second");
  EXPECT_EQ(second.exit_code, 255) << second.Describe();
  EXPECT_TRUE(absl::StrContains(second.err, "already have 1 sessions"))
      << second.err;
  client.join();
  // The established session was not disturbed, and its place is free.
  EXPECT_EQ(first.exit_code, 0) << first.Describe();
  EXPECT_EQ(first.out, "started\ndone\n");
  RunResult third = Ssh(login_ + "+web01", "echo third");
  EXPECT_EQ(third.exit_code, 0) << third.Describe();
}

class ShortCertificateTest : public GatewayTest {
 protected:
  void SetUp() override {
    // Long enough for a slow (sanitizer) setup to connect before it ends.
    cert_lifetime_ = absl::Seconds(25);
    GatewayTest::SetUp();
  }
};

TEST_F(ShortCertificateTest, TheSessionEndsAtValidBeforeAndSaysSo) {
  const absl::Time start = absl::Now();
  RunResult r = Ssh(login_ + "+web01", "echo started; sleep 55; echo late");
  const absl::Duration took = absl::Now() - start;
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.out, "started")) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "late")) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "certificate expired")) << r.err;
  EXPECT_LT(took, absl::Seconds(50));
}

// ---- forwarding (gwfwd): the recorder's view of -J, -W and -R.
class ForwardTest : public GatewayTest {
 protected:
  void SetUp() override {
    extra_kinds_ = {storage::ChannelKind::kPortForward,
                    storage::ChannelKind::kProxyJumpPassthrough};
    GatewayTest::SetUp();
  }
};

TEST_F(ForwardTest, JumpPassthroughRecordsStartEndAndBytesNotContent) {
  // What `ssh -J LOGIN@gw web01` runs for the first hop: a jump-only
  // connection (user name = the login) with -W.
  std::vector<std::string> hop = testing::SshClientArgs(
      server_->local_endpoint().port(), known_hosts_, key_path_, cert_path_);
  hop.insert(hop.end(), {"-W", "%h:%p", "-l", login_, "127.0.0.1"});
  std::vector<std::string> args = testing::SshClientArgs(
      sshd_->port(), known_hosts_, key_path_, cert_path_);
  args.insert(args.end(), {"-o", "ProxyCommand=" + absl::StrJoin(hop, " "),
                           "-l", login_, "web01", "echo inner"});
  auto r = RunCommand(args);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0) << r->Describe() << sshd_->Log();
  EXPECT_EQ(r->out, "inner\n");
  ASSERT_TRUE(AllChannelsClosed());
  ASSERT_EQ(recorder_.channels().size(), 1u);
  const ChannelInfo info = recorder_.channels()[0].info;
  EXPECT_EQ(info.type, "direct-tcpip");
  EXPECT_EQ(info.destination, absl::StrCat("web01:", sshd_->port()));
  EXPECT_EQ(info.login, login_);
  bool started = false, ended = false;
  for (const auto& e : recorder_.events()) {
    EXPECT_NE(e.kind, "data") << "passthrough content was recorded";
    started |= e.kind == "request" && e.bytes == "proxyjump-passthrough";
    ended |= e.kind == "request" && e.bytes == "passthrough-end" &&
             absl::StrContains(e.summary, "bytes_in=") &&
             !absl::StrContains(e.summary, "bytes_in=0 ");
  }
  EXPECT_TRUE(started);
  EXPECT_TRUE(ended);
}

TEST_F(ForwardTest, LocalForwardBytesGoThroughTheTap) {
  testing::EchoServer echo;
  ASSERT_NE(echo.port(), 0);
  std::vector<std::string> args = testing::SshClientArgs(
      server_->local_endpoint().port(), known_hosts_, key_path_, cert_path_);
  args.insert(args.end(), {"-W", absl::StrCat("127.0.0.1:", echo.port()), "-l",
                           login_ + "+web01", "127.0.0.1"});
  testing::RunOptions o;
  o.stdin_data = "forwarded bytes\n";
  auto r = RunCommand(args, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0) << r->Describe();
  EXPECT_EQ(r->out, o.stdin_data);
  EXPECT_EQ(recorder_.DataFor("web01", Direction::kInput), o.stdin_data);
  EXPECT_EQ(recorder_.DataFor("web01", Direction::kOutput), o.stdin_data);
  ASSERT_EQ(recorder_.channels().size(), 1u);
  EXPECT_EQ(recorder_.channels()[0].info.destination,
            absl::StrCat("127.0.0.1:", echo.port()));
}

TEST_F(ForwardTest, RemoteForwardChannelsComeBackThroughTheTap) {
  testing::EchoServer echo;
  ASSERT_NE(echo.port(), 0);
  auto rport = testing::FreeLoopbackPort();
  ASSERT_TRUE(rport.ok());
  std::vector<std::string> args = testing::SshClientArgs(
      server_->local_endpoint().port(), known_hosts_, key_path_, cert_path_);
  args.insert(args.end(),
              {"-N", "-R", absl::StrCat(*rport, ":127.0.0.1:", echo.port()),
               "-l", login_ + "+web01", "127.0.0.1"});
  testing::BackgroundProcess::Options o;
  o.log_path = dir_->File("ssh_r.log");
  auto ssh = testing::BackgroundProcess::Start(args, o);
  ASSERT_TRUE(ssh.ok()) << ssh.status();
  // A connection to the port on the host comes back to the user's side.
  EXPECT_TRUE(testing::EchoesThrough(*rport, "back\n"))
      << testing::ReadFileOrEmpty(o.log_path) << GatewayLog();
  bool forwarded = false;
  for (const auto& c : recorder_.channels()) {
    forwarded |= c.info.type == "forwarded-tcpip" &&
                 c.info.destination == absl::StrCat("localhost:", *rport);
  }
  EXPECT_TRUE(forwarded);
  EXPECT_TRUE(absl::StrContains(recorder_.DataFor("web01", Direction::kInput),
                                "back\n"));
}

}  // namespace
}  // namespace sallyport::gateway
