// GatewayServer's operations in one process, against a real CA (SQLite):
// /metrics and /healthz served on metrics_listen; Reload applies limits
// and the log format and level, refuses an unreadable host certificate and
// names what needs a restart; log_level drops the lines below it; the renewal
// thread renews the mTLS certificate once it is due (renew_fraction 0: at once)
// and the CA accepts the new one.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "base/files.h"
#include "ca/gateway_test_util.h"
#include "ca/source_relay.h"
#include "gateway/ca_client.h"
#include "gateway/enroll.h"
#include "gateway/gateway_test_fixture.h"
#include "gateway/renew_host.h"
#include "gateway/serve.h"
#include "gtest/gtest.h"
#include "tests/harness/net_util.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::gateway {
namespace {

class ServeOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = ca::StartCa(ca::Backend::kSqlite, &pg_);
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = std::move(*env);
    auto dir = testing::TempDir::Create("gwops");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<testing::TempDir>(std::move(*dir));
    std::string token;
    ASSERT_TRUE(
        ca::CreateJoinToken(*env_, "gateway", absl::Hours(1), &token).ok());
    ca::EnrolledGateway gw = ca::Enroll(*env_, token, "gw1", {"127.0.0.1"});
    ASSERT_TRUE(gw.status.ok()) << gw.status.error_message();
    gw_dir_ = dir_->File("gateway");
    absl::StatusOr<std::string> fp =
        WriteEnrolledGatewayFiles(gw, env_->dir() + "/state", gw_dir_);
    ASSERT_TRUE(fp.ok()) << fp.status();
    absl::StatusOr<uint16_t> port = testing::FreeLoopbackPort();
    absl::StatusOr<uint16_t> metrics = testing::FreeLoopbackPort();
    ASSERT_TRUE(port.ok() && metrics.ok());
    base_yaml_ = absl::StrCat(
        "listen: 127.0.0.1:", *port, "\nca: ", env_->server().address(),
        "\nca_fingerprint: ", *fp,
        "\nname: gw1\nthreads: 1\nmetrics_listen: ", "127.0.0.1:", *metrics,
        "\n");
    metrics_port_ = *metrics;
  }

  void StartServer(const std::string& extra_yaml, double renew_fraction) {
    auto server = TryStart(extra_yaml, renew_fraction);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  absl::StatusOr<std::unique_ptr<GatewayServer>> TryStart(
      const std::string& extra_yaml, double renew_fraction) {
    absl::Status written =
        testing::WriteFile(gw_dir_ + "/gateway.yaml", base_yaml_ + extra_yaml);
    if (!written.ok()) return written;
    auto config = LoadServeConfig(gw_dir_ + "/gateway.yaml");
    if (!config.ok()) return config.status();
    GatewayServer::Options options;
    options.config = *config;
    options.renew_fraction = renew_fraction;
    options.renew_check_interval = absl::Milliseconds(200);
    options.log = [this](std::string_view line) {
      absl::MutexLock lock(&log_mu_);
      log_.append(line.data(), line.size());
      log_ += "\n";
    };
    return GatewayServer::Start(std::move(options));
  }

  std::string Log() {
    absl::MutexLock lock(&log_mu_);
    return log_;
  }
  void ClearLog() {
    absl::MutexLock lock(&log_mu_);
    log_.clear();
  }
  // Lines are written on the gateway's I/O threads.
  bool WaitForLog(absl::string_view text) {
    const absl::Time limit = absl::Now() + absl::Seconds(10);
    while (!absl::StrContains(Log(), text) && absl::Now() < limit) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    return absl::StrContains(Log(), text);
  }

  // `curl`-free GET through bash's /dev/tcp.
  std::string Get(const std::string& path) {
    auto r = testing::RunCommand(
        {"bash", "-c",
         absl::StrCat("exec 3<>/dev/tcp/127.0.0.1/", metrics_port_,
                      "; printf 'GET ", path,
                      " HTTP/1.1\\r\\nHost: x\\r\\nConnection: "
                      "close\\r\\n\\r\\n' >&3; cat <&3")});
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->out : "";
  }

  // /healthz, asked until it starts with `status_line` (up to 20 s: the
  // spool is probed every 5 s); the last answer.
  std::string AwaitHealthz(absl::string_view status_line) {
    const absl::Time limit = absl::Now() + absl::Seconds(20);
    std::string got = Get("/healthz");
    while (!absl::StartsWith(got, status_line) && absl::Now() < limit) {
      absl::SleepFor(absl::Milliseconds(200));
      got = Get("/healthz");
    }
    return got;
  }

  // The gateway's host certificate re-signed by the CA's host key with
  // `ssh-keygen`, with `serial` and `validity` (-V).
  void ResignHostCertificate(const GatewaySettings& config,
                             const std::string& serial,
                             const std::string& validity) {
    auto enrolled = ReadHostCertificate(config);
    ASSERT_TRUE(enrolled.ok()) << enrolled.status();
    const std::string pub = dir_->File("host_key.pub");
    ASSERT_TRUE(
        testing::WriteFile(pub, enrolled->key.ToAuthorizedKeysLine() + "\n")
            .ok());
    ASSERT_TRUE(testing::RunCommandOk({"ssh-keygen", "-q", "-s",
                                       env_->dir() + "/state/host_ca", "-h",
                                       "-I", "gw1", "-n", "gw1,127.0.0.1", "-z",
                                       serial, "-V", validity, pub})
                    .ok());
    auto line = base::ReadTextFile(dir_->File("host_key-cert.pub"));
    ASSERT_TRUE(line.ok());
    ASSERT_TRUE(testing::WriteFile(config.files.host_certificate, *line).ok());
  }

  // The log's lines that contain `text`.
  std::vector<std::string> LogLines(absl::string_view text) {
    std::vector<std::string> out;
    for (absl::string_view line : absl::StrSplit(Log(), '\n')) {
      if (absl::StrContains(line, text)) out.emplace_back(line);
    }
    return out;
  }

  void TearDown() override {
    server_.reset();
    if (HasFailure()) std::fprintf(stderr, "gateway log:\n%s\n", Log().c_str());
  }

  std::unique_ptr<testing::PostgresFixture> pg_;
  std::unique_ptr<ca::CaTestEnv> env_;
  std::unique_ptr<testing::TempDir> dir_;
  std::string gw_dir_, base_yaml_;
  uint16_t metrics_port_ = 0;
  absl::Mutex log_mu_;
  std::string log_ ABSL_GUARDED_BY(log_mu_);
  std::unique_ptr<GatewayServer> server_;
};

TEST_F(ServeOpsTest, MetricsAndHealthzAreServed) {
  StartServer("", 2.0 / 3.0);
  EXPECT_EQ(server_->metrics_port(), metrics_port_);
  EXPECT_EQ(server_->threads(), 1);
  EXPECT_TRUE(server_->Health().ok()) << server_->Health();
  const std::string health = Get("/healthz");
  EXPECT_TRUE(absl::StartsWith(health, "HTTP/1.1 200")) << health;
  const std::string metrics = Get("/metrics");
  EXPECT_TRUE(absl::StrContains(metrics, "sallyport_gateway_connections 0"))
      << metrics;
  // The start-up CA calls were timed.
  EXPECT_TRUE(absl::StrContains(
      metrics,
      "sallyport_gateway_ca_rpc_seconds_count{method=\"GetCaPublicKeys\"}"))
      << metrics;
  // Draining: /healthz says 503 and why.
  server_->Drain(absl::ZeroDuration());
  EXPECT_FALSE(server_->Health().ok());
  const std::string drained = Get("/healthz");
  EXPECT_TRUE(absl::StartsWith(drained, "HTTP/1.1 503")) << drained;
  EXPECT_TRUE(absl::StrContains(drained, "draining")) << drained;
}

// A gateway whose spool cannot be used refuses every recorded session:
// /healthz says 503 and why, so a load balancer sends users elsewhere
// (it said 200 before). Over spool_max_bytes likewise.
TEST_F(ServeOpsTest, HealthzFailsWhileRecordedSessionsWouldBeRefused) {
  const std::string not_a_dir = gw_dir_ + "/spool-is-a-file";
  ASSERT_TRUE(testing::WriteFile(not_a_dir, "x").ok());
  StartServer(absl::StrCat("spool_dir: \"", not_a_dir, "\"\n"), 2.0 / 3.0);
  ASSERT_NE(server_, nullptr);
  const absl::Status health = server_->Health();
  EXPECT_EQ(health.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(
      absl::StrContains(health.message(), "the recording spool cannot be used"))
      << health;
  const std::string got = Get("/healthz");
  EXPECT_TRUE(absl::StartsWith(got, "HTTP/1.1 503")) << got;
  EXPECT_TRUE(absl::StrContains(got, "spool")) << got;
}

TEST_F(ServeOpsTest, HealthzFailsWhileTheSpoolIsOverItsLimit) {
  const std::string spool = gw_dir_ + "/small-spool";
  ASSERT_TRUE(std::filesystem::create_directory(spool));
  // A spool file left by an earlier run, larger than the limit.
  ASSERT_TRUE(
      testing::WriteFile(spool + "/old.spool", std::string(2 << 20, 'x')).ok());
  StartServer(
      absl::StrCat("spool_dir: \"", spool, "\"\nspool_max_bytes: 1048576\n"),
      2.0 / 3.0);
  ASSERT_NE(server_, nullptr);
  const absl::Status health = server_->Health();
  EXPECT_EQ(health.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(health.message(), "spool_max_bytes")) << health;
}

// The spool directory stops taking files (tests run as root, who writes
// into a chmod 0500 directory anyway, so a file takes its place): within
// the probe interval /healthz says 503 and why, and 200 again once the
// directory is back.
TEST_F(ServeOpsTest, HealthzFailsWhileTheSpoolDirCannotBeWritten) {
  const std::string spool = gw_dir_ + "/probed-spool";
  StartServer(absl::StrCat("spool_dir: \"", spool, "\"\n"), 2.0 / 3.0);
  ASSERT_NE(server_, nullptr);
  ASSERT_TRUE(server_->Health().ok()) << server_->Health();
  ASSERT_EQ(rename(spool.c_str(), (spool + ".away").c_str()), 0);
  ASSERT_TRUE(testing::WriteFile(spool, "not a directory\n").ok());
  std::string got = AwaitHealthz("HTTP/1.1 503");
  EXPECT_TRUE(absl::StartsWith(got, "HTTP/1.1 503")) << got;
  EXPECT_TRUE(
      absl::StrContains(got, "the recording spool directory cannot be written"))
      << got;
  // The whole reason (the answer's text is cut at 256 bytes).
  EXPECT_EQ(server_->Health().message(),
            absl::StrCat("the recording spool directory cannot be written "
                         "(cannot create ",
                         spool,
                         "/.write-probe: Not a directory); recorded sessions "
                         "fail"));
  ASSERT_EQ(unlink(spool.c_str()), 0);
  ASSERT_EQ(rename((spool + ".away").c_str(), spool.c_str()), 0);
  got = AwaitHealthz("HTTP/1.1 200");
  EXPECT_TRUE(absl::StartsWith(got, "HTTP/1.1 200")) << got;
  // The probe leaves nothing behind.
  EXPECT_FALSE(std::filesystem::exists(spool + "/.write-probe"));
}

// A second `serve` with the same config does not start: it would take the
// first one's live spools for a dead process's, cut their tails and end
// their sessions as interrupted while they are still written (and, with
// SO_REUSEPORT, even share its port).
TEST_F(ServeOpsTest, ASecondGatewayOnTheSameSpoolDirDoesNotStart) {
  const std::string spool = gw_dir_ + "/shared-spool";
  const std::string extra = absl::StrCat("spool_dir: \"", spool, "\"\n");
  StartServer(extra, 2.0 / 3.0);
  ASSERT_NE(server_, nullptr);
  auto config = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  GatewayServer::Options options;
  options.config = *config;
  auto second = GatewayServer::Start(std::move(options));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(second.status().message(),
            absl::StrCat("spool_dir ", spool,
                         " is in use by another sallyport-gateway process"));
  EXPECT_TRUE(server_->Health().ok()) << server_->Health();
}

TEST_F(ServeOpsTest, ReloadAppliesLimitsAndLogFormatAndNamesRestarts) {
  StartServer("limits:\n  max_sessions_per_user: 5\n", 2.0 / 3.0);
  EXPECT_EQ(server_->proxy().limits().max_sessions_per_user, 5);
  ASSERT_TRUE(
      testing::WriteFile(gw_dir_ + "/gateway.yaml",
                         absl::StrCat(base_yaml_,
                                      "log_format: json\nlimits:\n"
                                      "  max_sessions_per_user: 2\n"
                                      "  max_auth_tries: 3\n"
                                      "  max_channels_per_connection: 4\n"
                                      "  idle_timeout: 90s\n"
                                      "  max_startups: \"5:50:20\"\n"
                                      "  login_grace: 7s\n"
                                      "revocation_grace: 10s\n"
                                      "spool_fsync_interval: 3s\n"
                                      "spool_max_bytes: 1048576\n"
                                      "record_exec_output_limit: 1024\n"))
          .ok());
  auto fresh = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  const uint16_t port = server_->local_endpoint().port();
  ASSERT_TRUE(server_->Reload(*fresh).ok());
  const ProxyLimits l = server_->proxy().limits();
  EXPECT_EQ(l.max_sessions_per_user, 2);
  EXPECT_EQ(l.max_auth_tries, 3);
  EXPECT_EQ(l.max_channels_per_connection, 4u);
  EXPECT_EQ(l.idle_timeout, absl::Seconds(90));
  EXPECT_EQ(server_->settings().limits.max_startups.full, 20);
  EXPECT_EQ(server_->settings().limits.login_grace, absl::Seconds(7));
  EXPECT_EQ(server_->ops().log_format(), base::LogFormat::kJson);
  // The listeners were replaced on the same port.
  EXPECT_EQ(server_->local_endpoint().port(), port);
  EXPECT_TRUE(
      testing::WaitForTcpListener("127.0.0.1", port, absl::Seconds(10)).ok());
  // Named, not silently kept as they were (the recorder is made at start).
  EXPECT_TRUE(absl::StrContains(
      Log(),
      "needs a restart to take effect: revocation_grace, "
      "spool_fsync_interval, spool_max_bytes, record_exec_output_limit"))
      << Log();
  EXPECT_NE(server_->settings().revocation_grace, absl::Seconds(10));

  // An unreadable host certificate: the reload is refused, nothing changes.
  ASSERT_TRUE(testing::WriteFile(gw_dir_ + "/ssh_host_ed25519_key-cert.pub",
                                 "garbage\n")
                  .ok());
  fresh->limits.max_sessions_per_user = 9;
  EXPECT_FALSE(server_->Reload(*fresh).ok());
  EXPECT_EQ(server_->proxy().limits().max_sessions_per_user, 2);
}

// The two private keys in the state dir, as `enroll` wrote them.
constexpr const char* kPrivateKeys[] = {"ssh_host_ed25519_key",
                                        "gateway_tls.key"};

// A private key that group or others may read or write, or that another
// user owns, is not the gateway's alone: `serve` does not start, and says
// which file and how to fix it.
TEST_F(ServeOpsTest, ServeRefusesPrivateKeysOthersCanAccess) {
  for (const char* name : kPrivateKeys) {
    const std::string key = gw_dir_ + "/" + name;
    for (mode_t mode : {0640, 0604, 0620, 0602, 0644}) {
      ASSERT_EQ(chmod(key.c_str(), mode), 0);
      auto server = TryStart("", 2.0 / 3.0);
      ASSERT_FALSE(server.ok()) << name << " " << mode;
      EXPECT_EQ(server.status().code(), absl::StatusCode::kPermissionDenied);
      EXPECT_TRUE(absl::StrContains(server.status().message(),
                                    absl::StrCat("chmod 600 ", key)))
          << server.status();
    }
    ASSERT_EQ(chmod(key.c_str(), 0600), 0);
    // Owned by another user (tests run as root, who may give it away).
    if (geteuid() == 0) {
      ASSERT_EQ(chown(key.c_str(), 65534, 65534), 0);
      auto server = TryStart("", 2.0 / 3.0);
      ASSERT_FALSE(server.ok()) << name;
      EXPECT_EQ(server.status().code(), absl::StatusCode::kPermissionDenied);
      EXPECT_TRUE(absl::StrContains(server.status().message(),
                                    absl::StrCat(key,
                                                 " is a private key "
                                                 "owned by uid 65534")))
          << server.status();
      ASSERT_EQ(chown(key.c_str(), 0, 0), 0);
    }
  }
  // 0600 (or 0400) and ours: it starts.
  ASSERT_EQ(chmod((gw_dir_ + "/" + kPrivateKeys[0]).c_str(), 0400), 0);
  StartServer("", 2.0 / 3.0);
  EXPECT_TRUE(server_->Health().ok()) << server_->Health();
}

// SIGHUP with a key others may access: the reload is refused with the file
// and the fix, and nothing of the new settings is applied.
TEST_F(ServeOpsTest, ReloadRefusesPrivateKeysOthersCanAccess) {
  StartServer("limits:\n  max_sessions_per_user: 5\n", 2.0 / 3.0);
  auto fresh = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  fresh->limits.max_sessions_per_user = 2;
  fresh->log_format = base::LogFormat::kJson;
  for (const char* name : kPrivateKeys) {
    const std::string key = gw_dir_ + "/" + name;
    ASSERT_EQ(chmod(key.c_str(), 0644), 0);
    ClearLog();
    const absl::Status st = server_->Reload(*fresh);
    EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied) << st;
    EXPECT_TRUE(
        absl::StrContains(st.message(), absl::StrCat("chmod 600 ", key)))
        << st;
    EXPECT_TRUE(absl::StrContains(Log(), "reload refused")) << Log();
    EXPECT_TRUE(absl::StrContains(Log(), "outcome=failure")) << Log();
    EXPECT_EQ(server_->proxy().limits().max_sessions_per_user, 5);
    EXPECT_EQ(server_->settings().limits.max_sessions_per_user, 5);
    EXPECT_EQ(server_->ops().log_format(), base::LogFormat::kText);
    ASSERT_EQ(chmod(key.c_str(), 0600), 0);
    if (geteuid() == 0) {
      ASSERT_EQ(chown(key.c_str(), 65534, 65534), 0);
      EXPECT_EQ(server_->Reload(*fresh).code(),
                absl::StatusCode::kPermissionDenied);
      EXPECT_EQ(server_->proxy().limits().max_sessions_per_user, 5);
      ASSERT_EQ(chown(key.c_str(), 0, 0), 0);
    }
  }
  // Fixed: the same reload is applied.
  ASSERT_TRUE(server_->Reload(*fresh).ok()) << Log();
  EXPECT_EQ(server_->proxy().limits().max_sessions_per_user, 2);
  EXPECT_EQ(server_->ops().log_format(), base::LogFormat::kJson);
}

// A listener of another process on 127.0.0.1: with SO_REUSEPORT (another
// copy of the gateway, same user), the kernel would let the gateway's
// listeners share its port and take part of the connections.
struct HeldPort {
  explicit HeldPort(bool reuse_port) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        listen(fd, 8) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = ntohs(a.sin_port);
    }
  }
  ~HeldPort() { close(fd); }
  std::string address() const { return absl::StrCat("127.0.0.1:", port); }
  int fd = -1;
  uint16_t port = 0;
};

// A TCP connection to the gateway that sends nothing (unauthenticated);
// Greeting() is the gateway's first line, "" when it closed at once (a
// connection max_startups dropped).
struct SilentClient {
  explicit SilentClient(uint16_t port) : fd(testing::ConnectToLoopback(port)) {
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~SilentClient() { close(fd); }
  std::string Greeting() {
    std::string line;
    char c;
    while (line.size() < 256 && read(fd, &c, 1) == 1) {
      line += c;
      if (c == '\n') break;
    }
    return line;
  }
  int fd;
};

TEST_F(ServeOpsTest, AListenOrMetricsAddressInUseStopsTheStart) {
  ASSERT_TRUE(testing::WriteFile(gw_dir_ + "/gateway.yaml", base_yaml_).ok());
  auto config = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  for (bool reuse_port : {true, false}) {
    SCOPED_TRACE(reuse_port ? "SO_REUSEPORT" : "plain");
    HeldPort other(reuse_port);
    ASSERT_NE(other.port, 0);
    GatewayServer::Options options;
    options.config = *config;
    options.config.listen = other.address();
    auto server = GatewayServer::Start(std::move(options));
    ASSERT_FALSE(server.ok());
    EXPECT_EQ(server.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(server.status().message(),
              absl::StrCat("listen: cannot listen on ", other.address(),
                           ": Address already in use"));
    options = GatewayServer::Options();
    options.config = *config;
    options.config.metrics_listen = other.address();
    server = GatewayServer::Start(std::move(options));
    ASSERT_FALSE(server.ok());
    EXPECT_EQ(server.status().message(),
              absl::StrCat("metrics_listen: cannot listen on ", other.address(),
                           ": Address already in use"));
    // `serve` says so and exits 1.
    ::testing::internal::CaptureStderr();
    const int code = RunServe(gw_dir_ + "/gateway.yaml", other.address());
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(code, 1);
    EXPECT_EQ(err, absl::StrCat("sallyport-gateway: listen: cannot listen on ",
                                other.address(), ": Address already in use\n"));
  }
}

TEST_F(ServeOpsTest, ReloadKeepsTheListenerWhenTheNewAddressIsInUse) {
  StartServer("", 2.0 / 3.0);
  const uint16_t port = server_->local_endpoint().port();
  const std::string listen = server_->settings().listen;
  HeldPort other(/*reuse_port=*/true);
  ASSERT_NE(other.port, 0);
  auto fresh = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  fresh->listen = other.address();
  fresh->limits.max_sessions_per_user = 7;
  const absl::Status st = server_->Reload(*fresh);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_EQ(st.message(),
            absl::StrCat("reload: listen ", other.address(),
                         " not applied, still listening on ", listen,
                         ": cannot listen on ", other.address(),
                         ": Address already in use"));
  EXPECT_TRUE(WaitForLog(std::string(st.message()))) << Log();
  EXPECT_EQ(server_->local_endpoint().port(), port);
  EXPECT_EQ(server_->settings().listen, listen);
  EXPECT_TRUE(absl::StartsWith(SilentClient(port).Greeting(), "SSH-2.0-"));
  // The rest of the reload is applied.
  EXPECT_EQ(server_->proxy().limits().max_sessions_per_user, 7);

  // A free address: the gateway moves there and leaves the old one.
  absl::StatusOr<uint16_t> free_port = testing::FreeLoopbackPort();
  ASSERT_TRUE(free_port.ok());
  fresh->listen = absl::StrCat("127.0.0.1:", *free_port);
  ASSERT_TRUE(server_->Reload(*fresh).ok());
  EXPECT_EQ(server_->local_endpoint().port(), *free_port);
  EXPECT_EQ(server_->settings().listen, fresh->listen);
  EXPECT_TRUE(
      absl::StartsWith(SilentClient(*free_port).Greeting(), "SSH-2.0-"));
  const int old = testing::ConnectToLoopback(port);
  EXPECT_EQ(old, -1) << "the old address still accepts";
  if (old >= 0) close(old);
}

// max_startups counts the unauthenticated connections of every listener:
// a reload that replaces them (new limits, or a new address) does not
// start a fresh count while the old listeners' connections still wait.
TEST_F(ServeOpsTest, MaxStartupsCountsTheConnectionsOfReplacedListeners) {
  StartServer("limits:\n  max_startups: \"2:100:2\"\n  login_grace: 60s\n",
              2.0 / 3.0);
  const uint16_t port = server_->local_endpoint().port();
  std::vector<std::unique_ptr<SilentClient>> waiting;
  for (int i = 0; i < 2; ++i) {
    waiting.push_back(std::make_unique<SilentClient>(port));
    ASSERT_TRUE(absl::StartsWith(waiting.back()->Greeting(), "SSH-2.0-")) << i;
  }
  EXPECT_EQ(SilentClient(port).Greeting(), "") << "a third was admitted";
  // New listeners on the same port (login_grace changed).
  ASSERT_TRUE(testing::WriteFile(gw_dir_ + "/gateway.yaml",
                                 base_yaml_ +
                                     "limits:\n  max_startups: \"2:100:2\"\n"
                                     "  login_grace: 59s\n")
                  .ok());
  auto fresh = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  ASSERT_TRUE(server_->Reload(*fresh).ok());
  ASSERT_EQ(server_->settings().limits.login_grace, absl::Seconds(59));
  EXPECT_EQ(SilentClient(port).Greeting(), "")
      << "the replaced listeners' connections were not counted";
  // New listeners on a new address.
  absl::StatusOr<uint16_t> free_port = testing::FreeLoopbackPort();
  ASSERT_TRUE(free_port.ok());
  fresh->listen = absl::StrCat("127.0.0.1:", *free_port);
  ASSERT_TRUE(server_->Reload(*fresh).ok());
  EXPECT_EQ(SilentClient(*free_port).Greeting(), "");
  // One of the waiting ones leaves: there is room again.
  waiting.pop_back();
  const absl::Time limit = absl::Now() + absl::Seconds(10);
  bool admitted = false;
  while (!admitted && absl::Now() < limit) {
    admitted =
        absl::StartsWith(SilentClient(*free_port).Greeting(), "SSH-2.0-");
    if (!admitted) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(admitted);
}

// A client that sends a line that is not an SSH version: the gateway
// closes the connection (a failure of that connection).
void SendGarbage(uint16_t port) {
  auto r = testing::RunCommand(
      {"timeout", "10", "bash", "-c",
       absl::StrCat("exec 3<>/dev/tcp/127.0.0.1/", port,
                    "; printf 'garbage\\r\\n' >&3; cat <&3 >/dev/null")});
  EXPECT_TRUE(r.ok());
}

TEST_F(ServeOpsTest, TheLogLevelDropsLinesBelowItAndIsReloaded) {
  StartServer("log_level: warn\n", 2.0 / 3.0);
  const uint16_t port = server_->local_endpoint().port();
  SendGarbage(port);
  ASSERT_TRUE(WaitForLog("event=connection.close outcome=failure")) << Log();
  // warn: the refused connection and the gateway's own notices, but not
  // the connection's open (a success) and no per-session trace.
  EXPECT_FALSE(absl::StrContains(Log(), "event=connection.open")) << Log();
  EXPECT_FALSE(absl::StrContains(Log(), "event=detail")) << Log();
  EXPECT_TRUE(absl::StrContains(Log(), "event=gateway")) << Log();

  // SIGHUP to debug: applied at once, not "needs a restart".
  ASSERT_TRUE(testing::WriteFile(gw_dir_ + "/gateway.yaml",
                                 base_yaml_ + "log_level: debug\n")
                  .ok());
  auto fresh = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  ASSERT_TRUE(server_->Reload(*fresh).ok());
  EXPECT_TRUE(absl::StrContains(Log(), "log_level=debug")) << Log();
  EXPECT_FALSE(absl::StrContains(Log(), "needs a restart")) << Log();
  SendGarbage(port);
  ASSERT_TRUE(WaitForLog("event=connection.open outcome=success")) << Log();
  EXPECT_TRUE(WaitForLog("event=detail")) << Log();

  // Back to info: the trace stops, the events stay.
  ASSERT_TRUE(testing::WriteFile(gw_dir_ + "/gateway.yaml",
                                 base_yaml_ + "log_level: info\n")
                  .ok());
  fresh = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  ASSERT_TRUE(server_->Reload(*fresh).ok());
  ClearLog();
  SendGarbage(port);
  ASSERT_TRUE(WaitForLog("event=connection.close outcome=failure")) << Log();
  EXPECT_TRUE(absl::StrContains(Log(), "event=connection.open")) << Log();
  EXPECT_FALSE(absl::StrContains(Log(), "event=detail")) << Log();

  // error: a reload refused for a broken host certificate is still logged,
  // as a failure (it was logged as a success, and dropped at `error`).
  ASSERT_TRUE(testing::WriteFile(gw_dir_ + "/gateway.yaml",
                                 base_yaml_ + "log_level: error\n")
                  .ok());
  fresh = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  ASSERT_TRUE(server_->Reload(*fresh).ok());
  ClearLog();
  ASSERT_TRUE(testing::WriteFile(gw_dir_ + "/ssh_host_ed25519_key-cert.pub",
                                 "garbage\n")
                  .ok());
  EXPECT_FALSE(server_->Reload(*fresh).ok());
  EXPECT_TRUE(absl::StrContains(Log(), "reload refused")) << Log();
  EXPECT_TRUE(absl::StrContains(Log(), "outcome=failure")) << Log();
}

TEST_F(ServeOpsTest, TheMtlsCertificateIsRenewedWhenDue) {
  auto before = ReadTlsCertificateLifetime(gw_dir_ + "/gateway_tls.crt");
  ASSERT_TRUE(before.ok()) << before.status();
  auto pem_before = base::ReadTextFile(gw_dir_ + "/gateway_tls.crt");
  ASSERT_TRUE(pem_before.ok());
  // Due at once: the renewal thread renews at start.
  StartServer("", 0.0);
  const absl::Time limit = absl::Now() + absl::Seconds(60);
  while (server_->renewals() == 0 && absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_GE(server_->renewals(), 1) << Log();
  auto pem_after = base::ReadTextFile(gw_dir_ + "/gateway_tls.crt");
  ASSERT_TRUE(pem_after.ok());
  EXPECT_NE(*pem_after, *pem_before);
  auto after = ReadTlsCertificateLifetime(gw_dir_ + "/gateway_tls.crt");
  ASSERT_TRUE(after.ok());
  EXPECT_GE(after->not_after, before->not_after);
  EXPECT_TRUE(absl::StrContains(Log(), "mTLS certificate renewed")) << Log();
  // The renewed identity works: a renewal over it is accepted.
  EXPECT_TRUE(server_->RenewIdentityNow().ok()) << Log();
  EXPECT_TRUE(server_->Health().ok()) << server_->Health();
}

// gwrest: an expiring host certificate (600 of its 720 hours gone, past
// renew_fraction 2/3) is renewed once by the renewal thread
// (Gateway.RenewGatewayHostCertificate), written into the state dir, and
// the next stock `ssh` with only `@cert-authority` for our host CA sees the
// new certificate without a prompt.
TEST_F(ServeOpsTest, AnExpiringHostCertificateIsRenewedAndPresented) {
  ASSERT_TRUE(testing::WriteFile(gw_dir_ + "/gateway.yaml", base_yaml_).ok());
  auto config = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  auto enrolled = ReadHostCertificate(*config);
  ASSERT_TRUE(enrolled.ok()) << enrolled.status();
  ResignHostCertificate(*config, "77", "-600h:+120h");

  StartServer("", 2.0 / 3.0);
  const absl::Time limit = absl::Now() + absl::Seconds(60);
  while (server_->host_renewals() == 0 && absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(server_->host_renewals(), 1) << Log();
  auto renewed = ReadHostCertificate(*config);
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_NE(renewed->serial, 77u);
  EXPECT_EQ(renewed->key, enrolled->key);
  EXPECT_EQ(renewed->principals, enrolled->principals);
  EXPECT_GT(renewed->valid_before, static_cast<uint64_t>(absl::ToUnixSeconds(
                                       absl::Now() + absl::Hours(700))));
  EXPECT_TRUE(absl::StrContains(Log(), "host certificate renewed")) << Log();
  // Not due any more: a second second of checks renews nothing.
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(server_->host_renewals(), 1) << Log();

  // Stock ssh trusting only our host CA: the new certificate, no prompt.
  const std::string known_hosts = dir_->File("known_hosts");
  ASSERT_TRUE(
      testing::WriteFile(known_hosts,
                         absl::StrCat("@cert-authority * ",
                                      env_->init().host_ca_public_key, "\n"))
          .ok());
  auto r =
      testing::RunCommand({"ssh",
                           "-F",
                           "/dev/null",
                           "-v",
                           "-o",
                           "BatchMode=yes",
                           "-o",
                           "StrictHostKeyChecking=yes",
                           "-o",
                           "UserKnownHostsFile=" + known_hosts,
                           "-o",
                           "GlobalKnownHostsFile=/dev/null",
                           "-o",
                           "IdentitiesOnly=yes",
                           "-o",
                           "IdentityFile=/dev/null",
                           "-o",
                           "ConnectTimeout=30",
                           "-p",
                           std::to_string(server_->local_endpoint().port()),
                           "nobody@127.0.0.1",
                           "true"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(absl::StrContains(
      r->err, absl::StrCat("serial ", renewed->serial, " ID \"gw1\"")))
      << r->Describe();
  EXPECT_FALSE(absl::StrContains(r->err, "serial 77 ")) << r->Describe();
  EXPECT_FALSE(absl::StrContains(r->err, "Host key verification failed"))
      << r->Describe();
  // Past the host key check: refused only for want of a user certificate.
  EXPECT_TRUE(absl::StrContains(r->err, "Permission denied")) << r->Describe();
}

// A SIGHUP while a renewal is under way waits for it (Reload holds the
// renewals' lock): it never reads a key and certificate the renewal is
// replacing, nor presents the old certificate over the renewed one. The CA
// is reached through a relay that holds the renewal's call back.
TEST_F(ServeOpsTest, AReloadWaitsForTheRenewalUnderWay) {
  const std::string ca = env_->server().address();
  auto relay = ca::SourceRelay::Start("127.0.0.1",
                                      std::stoi(ca.substr(ca.rfind(':') + 1)));
  ASSERT_TRUE(relay.ok()) << relay.status();
  base_yaml_ = absl::StrReplaceAll(base_yaml_, {{ca, (*relay)->address()}});
  // renew_fraction 100: only the calls below renew.
  StartServer("", 100.0);
  auto fresh = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  fresh->limits.max_sessions_per_user = 3;

  (*relay)->Freeze();
  std::atomic<bool> renewing{false};
  absl::StatusOr<absl::Time> renewed = absl::UnknownError("not yet");
  std::thread renewal([&] {
    renewing = true;
    renewed = server_->RenewHostCertificateNow();
  });
  while (!renewing) absl::SleepFor(absl::Milliseconds(1));
  // Into its call to the CA (held by the relay), holding the lock.
  absl::SleepFor(absl::Milliseconds(500));
  absl::Notification reloaded;
  absl::Status reload = absl::UnknownError("not yet");
  std::thread reloader([&] {
    reload = server_->Reload(*fresh);
    reloaded.Notify();
  });
  EXPECT_FALSE(reloaded.WaitForNotificationWithTimeout(absl::Seconds(1)))
      << "the reload ran while the renewal was under way";
  (*relay)->Thaw();
  renewal.join();
  reloader.join();
  ASSERT_TRUE(renewed.ok()) << renewed.status() << Log();
  ASSERT_TRUE(reload.ok()) << reload << Log();
  EXPECT_EQ(server_->proxy().limits().max_sessions_per_user, 3);
  const std::string log = Log();
  const size_t renewed_at = log.find("host certificate renewed");
  const size_t reloaded_at = log.find("reloaded: ");
  ASSERT_NE(renewed_at, std::string::npos) << log;
  ASSERT_NE(reloaded_at, std::string::npos) << log;
  EXPECT_LT(renewed_at, reloaded_at) << log;
}

// A host certificate past its valid_before (its renewal kept failing):
// clients that trust the host CA refuse the gateway, so /healthz says 503
// and why, until a renewal succeeds. A renewal that fails is logged as a
// failure (outcome=failure, level error: seen at log_level error), not as
// news.
TEST_F(ServeOpsTest,
       AnExpiredHostCertificateFailsHealthzAndFailedRenewalsAreFailures) {
  ASSERT_TRUE(testing::WriteFile(gw_dir_ + "/gateway.yaml", base_yaml_).ok());
  auto config = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  ResignHostCertificate(*config, "78", "-2h:-1h");
  // renew_fraction 100: the renewal thread leaves both certificates alone.
  StartServer("log_level: error\n", 100.0);
  const absl::Status health = server_->Health();
  EXPECT_EQ(health.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StartsWith(
      health.message(), "the gateway's SSH host certificate expired at "))
      << health;
  const std::string got = Get("/healthz");
  EXPECT_TRUE(absl::StartsWith(got, "HTTP/1.1 503")) << got;
  EXPECT_TRUE(absl::StrContains(got, "SSH host certificate expired")) << got;
  // Renewed (the CA renews an expired one of this gateway): healthy again.
  ASSERT_TRUE(server_->RenewHostCertificateNow().ok()) << Log();
  EXPECT_TRUE(server_->Health().ok()) << server_->Health();
  EXPECT_TRUE(absl::StartsWith(Get("/healthz"), "HTTP/1.1 200"));

  // The CA goes away: both renewals fail, and say so at log_level error.
  env_.reset();
  ClearLog();
  EXPECT_FALSE(server_->RenewIdentityNow().ok());
  EXPECT_FALSE(server_->RenewHostCertificateNow().ok());
  for (const char* what : {"mTLS certificate renewal failed: ",
                           "host certificate renewal failed: "}) {
    const std::vector<std::string> lines = LogLines(what);
    ASSERT_EQ(lines.size(), 1u) << what << "\n" << Log();
    EXPECT_TRUE(absl::StrContains(lines[0], "outcome=failure")) << lines[0];
  }
}

}  // namespace
}  // namespace sallyport::gateway
