// Operating the real `sallyport-gateway serve` (issue 12 "Operations",
// "Limits", "Threads"), enrolled and served by BastionFixture with the real
// CA, real sshd targets and stock `ssh`:
//   - /metrics after a session: the connection, session, channel, byte,
//     upstream-latency and CA-RPC counters moved; /healthz answers 200;
//   - log_format json: every line the gateway writes is a JSON object, with
//     one line per connection, auth decision, channel and upstream connect,
//     and no secret in them;
//   - `threads: 0` runs one I/O thread per core;
//   - SIGHUP re-reads renewed certificates: the host certificate new
//     clients see and the mTLS certificate the CA sees;
//   - SIGHUP reloads limits (each tested at its limit: max_sessions_per_user,
//     max_auth_tries, max_channels_per_connection, idle_timeout, login_grace,
//     max_startups) without ending an established session, and says which
//     changes need a restart;
//   - SIGTERM drains: a running session is ended after drain_timeout with a
//     message, and the gateway exits 0.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gateway/enroll.h"
#include "gateway/renew_host.h"
#include "gateway/serve.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/preauth_clients.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {
namespace {

// GET `path` from 127.0.0.1:port over plain HTTP/1.1; returns the status
// code and the body (code 0 when the server cannot be reached).
std::pair<int, std::string> HttpGet(uint16_t port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {0, ""};
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return {0, ""};
  }
  const std::string req =
      absl::StrCat("GET ", path,
                   " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return {0, ""};
  }
  std::string resp;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  int code = 0;
  if (resp.size() > 12) (void)absl::SimpleAtoi(resp.substr(9, 3), &code);
  const size_t body = resp.find("\r\n\r\n");
  return {code, body == std::string::npos ? "" : resp.substr(body + 4)};
}

// The value of the metric line starting with `series` (name and labels as
// rendered), or -1.
double Metric(const std::string& text, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, series + " ")) {
      double v = -1;
      (void)absl::SimpleAtod(line.substr(series.size() + 1), &v);
      return v;
    }
  }
  return -1;
}

class GatewayOpsE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto f = BastionFixture::Start();
    ASSERT_TRUE(f.ok()) << f.status();
    fixture_ = f->release();
    absl::Status st =
        fixture_->StartGateway(RunfilePath("gateway/sallyport-gateway"), {},
                               [](config::GatewayConfig* c) {
                                 c->set_log_format("json");
                                 c->set_threads(0);
                               });
    ASSERT_TRUE(st.ok()) << st << "\n" << fixture_->GatewayLog();
  }
  static void TearDownTestSuite() {
    if (fixture_ != nullptr) (void)fixture_->StopGateway();
    delete fixture_;
    fixture_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(fixture_, nullptr); }
  void TearDown() override {
    if (HasFailure())
      std::fprintf(stderr, "%s", fixture_->GatewayLog().c_str());
  }

  static std::vector<std::string> GatewayArgs(
      const std::string& user, const std::vector<std::string>& options,
      const std::string& host = "web01") {
    auto args = fixture_->SshArgs(user);
    EXPECT_TRUE(args.ok()) << args.status();
    if (!args.ok()) return {};
    args->insert(args->end(), options.begin(), options.end());
    args->push_back("-l");
    args->push_back(absl::StrCat(fixture_->target_login(), "+", host));
    args->push_back("gateway");
    return *args;
  }

  static RunResult ViaGateway(const std::string& command,
                              const std::vector<std::string>& options = {}) {
    std::vector<std::string> args = GatewayArgs("alice", options);
    args.push_back(command);
    RunOptions ro;
    ro.timeout = absl::Seconds(90);
    auto r = RunCommand(args, ro);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : RunResult();
  }

  // A session running `command` in the background (its output in `log`).
  static std::unique_ptr<BackgroundProcess> StartSession(
      const std::string& command, const std::string& log) {
    std::vector<std::string> args = GatewayArgs("alice", {});
    args.push_back(command);
    BackgroundProcess::Options o;
    o.log_path = log;
    auto p = BackgroundProcess::Start(args, o);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? std::move(*p) : nullptr;
  }

  static std::string ReadLog(const std::string& path) {
    return ReadFileOrEmpty(path);
  }

  // Waits until `pred` holds (up to `limit`).
  template <typename Pred>
  static bool WaitFor(Pred pred, absl::Duration limit = absl::Seconds(60)) {
    const absl::Time end = absl::Now() + limit;
    while (absl::Now() < end) {
      if (pred()) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return pred();
  }

  // Edits gateway.yaml, sends SIGHUP and waits for the reload line.
  static void Reload(const std::function<void(config::GatewayConfig*)>& edit) {
    const size_t before = CountInLog("\"message\":\"reloaded:");
    ASSERT_TRUE(fixture_->EditGatewayConfig(edit).ok());
    fixture_->gateway_process()->Signal(SIGHUP);
    ASSERT_TRUE(WaitFor([&] {
      return CountInLog("\"message\":\"reloaded:") > before;
    })) << fixture_->GatewayLog();
  }

  static size_t CountInLog(const std::string& needle) {
    const std::string log = fixture_->GatewayLog();
    size_t n = 0;
    for (size_t at = log.find(needle); at != std::string::npos;
         at = log.find(needle, at + 1)) {
      ++n;
    }
    return n;
  }

  // The lines of the gateway's log that are its own (JSON objects), parsed.
  static std::vector<google::protobuf::Struct> JsonLines(
      std::vector<std::string>* bad) {
    std::vector<google::protobuf::Struct> out;
    for (absl::string_view line :
         absl::StrSplit(fixture_->GatewayLog(), '\n', absl::SkipEmpty())) {
      google::protobuf::Struct s;
      if (google::protobuf::util::JsonStringToMessage(std::string(line), &s)
              .ok()) {
        out.push_back(std::move(s));
      } else {
        bad->push_back(std::string(line));
      }
    }
    return out;
  }

  static std::string Field(const google::protobuf::Struct& s,
                           const std::string& key) {
    auto it = s.fields().find(key);
    if (it == s.fields().end()) return "";
    if (it->second.has_string_value()) return it->second.string_value();
    if (it->second.has_number_value())
      return absl::StrCat(it->second.number_value());
    return "";
  }

  static BastionFixture* fixture_;
};

BastionFixture* GatewayOpsE2eTest::fixture_ = nullptr;

TEST_F(GatewayOpsE2eTest, MetricsMoveAfterASessionAndHealthzIsOk) {
  auto [code0, before] = HttpGet(fixture_->gateway_metrics_port(), "/metrics");
  ASSERT_EQ(code0, 200) << before;
  const RunResult r = ViaGateway("echo ops-hello");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "ops-hello\n");
  // The connection's close is reported after the client has gone.
  std::string after;
  ASSERT_TRUE(WaitFor([&] {
    after = HttpGet(fixture_->gateway_metrics_port(), "/metrics").second;
    return Metric(
               after,
               "sallyport_gateway_connections_closed_total{outcome=\"ok\"}") >
           std::max(0.0, Metric(before,
                                "sallyport_gateway_connections_closed_"
                                "total{outcome=\"ok\"}"));
  })) << after;
  auto moved = [&](const std::string& series, double at_least) {
    const double b = std::max(0.0, Metric(before, series));
    const double a = Metric(after, series);
    EXPECT_GE(a - b, at_least)
        << series << " before " << b << " after " << a << "\n"
        << after;
  };
  moved("sallyport_gateway_connections_accepted_total", 1);
  moved("sallyport_gateway_channels_opened_total{kind=\"session\"}", 1);
  moved("sallyport_gateway_bytes_total{direction=\"target_to_client\"}",
        r.out.size());
  moved("sallyport_gateway_upstream_connect_seconds_count", 1);
  moved(
      "sallyport_gateway_ca_rpc_seconds_count{method="
      "\"IssueSessionCertificate\"}",
      1);
  // The exec was decided with the session certificate
  // (IssueSessionCertificateResponse.session_decisions): no AuthorizeChannel
  // call for it.
  const std::string authorize =
      "sallyport_gateway_ca_rpc_seconds_count{method=\"AuthorizeChannel\"}";
  EXPECT_EQ(std::max(0.0, Metric(after, authorize)),
            std::max(0.0, Metric(before, authorize)))
      << after;
  EXPECT_EQ(Metric(after, "sallyport_gateway_connections"), 0) << after;
  EXPECT_EQ(Metric(after, "sallyport_gateway_sessions_active"), 0) << after;
  EXPECT_EQ(Metric(after, "sallyport_gateway_channels_open"), 0) << after;

  // A plain key: an auth failure by reason, and the connection's outcome.
  auto key = GenerateKey(::testing::TempDir(), "ops_plain_key");
  ASSERT_TRUE(key.ok()) << key.status();
  auto plain = RunCommand(
      {"ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o",
       "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o",
       "IdentitiesOnly=yes", "-i", key->private_path, "-p",
       absl::StrCat(fixture_->gateway_port()), "-l",
       absl::StrCat(fixture_->target_login(), "+web01"), "127.0.0.1", "true"});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->exit_code, 255) << plain->Describe();
  ASSERT_TRUE(WaitFor([&] {
    after = HttpGet(fixture_->gateway_metrics_port(), "/metrics").second;
    return Metric(after,
                  "sallyport_gateway_connections_closed_total{outcome="
                  "\"auth-failed\"}") >= 1;
  })) << after;
  EXPECT_GE(
      Metric(after,
             "sallyport_gateway_auth_failures_total{reason=\"plain-key\"}"),
      1)
      << after;

  auto [code, body] = HttpGet(fixture_->gateway_metrics_port(), "/healthz");
  EXPECT_EQ(code, 200) << body;
}

TEST_F(GatewayOpsE2eTest, JsonLogLinesParseAndCoverEachEventWithoutSecrets) {
  const RunResult r = ViaGateway("echo json-log");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  std::vector<std::string> bad;
  std::set<std::string> events;
  ASSERT_TRUE(WaitFor([&] {
    bad.clear();
    events.clear();
    for (const auto& s : JsonLines(&bad)) events.insert(Field(s, "event"));
    return events.count("connection.close") > 0;
  })) << fixture_->GatewayLog();
  // Every line is the gateway's own JSON (gRPC and the listener included).
  EXPECT_TRUE(bad.empty()) << "not JSON: " << absl::StrJoin(bad, "\n");
  for (const char* e : {"connection.open", "connection.close", "auth",
                        "channel.open", "channel.close", "upstream.connect"}) {
    EXPECT_TRUE(events.count(e)) << e << "\n" << fixture_->GatewayLog();
  }
  // The auth line names the user and target; no key or token material.
  const std::string log = fixture_->GatewayLog();
  EXPECT_TRUE(absl::StrContains(log, "\"event\":\"auth\"")) << log;
  EXPECT_FALSE(absl::StrContains(log, "PRIVATE KEY")) << log;
  EXPECT_FALSE(absl::StrContains(log, "-cert-v01@openssh.com AAAA")) << log;
}

TEST_F(GatewayOpsE2eTest, ThreadsZeroIsOnePerCore) {
  const std::string log = fixture_->GatewayLog();
  const size_t at = log.find("threads=");
  ASSERT_NE(at, std::string::npos) << log;
  int threads = 0;
  ASSERT_TRUE(absl::SimpleAtoi(
      log.substr(at + 8, log.find_first_not_of("0123456789", at + 8) - at - 8),
      &threads));
  EXPECT_EQ(threads, static_cast<int>(std::thread::hardware_concurrency()));
}

TEST_F(GatewayOpsE2eTest, SighupChangesMaxSessionsPerUserAndKeepsSessions) {
  auto dir = TempDir::Create("gwops");
  ASSERT_TRUE(dir.ok());
  auto held = StartSession("echo held-up; sleep 20; echo held-done",
                           dir->File("held.log"));
  ASSERT_NE(held, nullptr);
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(ReadLog(dir->File("held.log")), "held-up");
  })) << ReadLog(dir->File("held.log"));
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->set_max_sessions_per_user(1);
    c->set_threads(3);  // cannot change live
  });
  EXPECT_TRUE(absl::StrContains(fixture_->GatewayLog(),
                                "needs a restart to take effect: threads"))
      << fixture_->GatewayLog();
  // At the limit: alice's second session is refused.
  // (LogLevel INFO: the user's ssh_config hides banners.)
  const RunResult second = ViaGateway("echo second", {"-o", "LogLevel=INFO"});
  EXPECT_EQ(second.exit_code, 255) << second.Describe();
  EXPECT_TRUE(absl::StrContains(second.err, "you already have 1 sessions"))
      << second.Describe();
  // The established session was not touched.
  ASSERT_TRUE(WaitFor([&] { return !held->Running(); }, absl::Seconds(90)));
  EXPECT_TRUE(absl::StrContains(ReadLog(dir->File("held.log")), "held-done"))
      << ReadLog(dir->File("held.log"));
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->set_max_sessions_per_user(50);
    c->set_threads(0);
  });
  EXPECT_EQ(ViaGateway("echo again").exit_code, 0);
}

TEST_F(GatewayOpsE2eTest, MaxAuthTriesAtItsLimit) {
  // Stock ssh offering three plain keys (OpenSSH offers certificates
  // first, so plain keys are what can fail before a success).
  std::vector<std::string> args = {"ssh",
                                   "-F",
                                   "/dev/null",
                                   "-o",
                                   "BatchMode=yes",
                                   "-o",
                                   "StrictHostKeyChecking=no",
                                   "-o",
                                   "UserKnownHostsFile=/dev/null",
                                   "-o",
                                   "IdentitiesOnly=yes",
                                   "-o",
                                   "IdentityAgent=none"};
  for (int i = 0; i < 3; ++i) {
    auto key = GenerateKey(::testing::TempDir(), absl::StrCat("tries_", i));
    ASSERT_TRUE(key.ok()) << key.status();
    args.push_back("-i");
    args.push_back(key->private_path);
  }
  for (const std::string& a :
       {std::string("-p"), absl::StrCat(fixture_->gateway_port()),
        std::string("-l"), absl::StrCat(fixture_->target_login(), "+web01"),
        std::string("127.0.0.1"), std::string("true")}) {
    args.push_back(a);
  }
  // At the limit (2 < 3 keys): the gateway disconnects, saying why.
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->set_max_auth_tries(2);
  });
  auto cut = RunCommand(args);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->exit_code, 255) << cut->Describe();
  EXPECT_TRUE(absl::StrContains(cut->err, "too many authentication failures"))
      << cut->Describe();
  // Above it: all three are tried and refused one by one.
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->set_max_auth_tries(4);
  });
  auto tried = RunCommand(args);
  ASSERT_TRUE(tried.ok());
  EXPECT_EQ(tried->exit_code, 255) << tried->Describe();
  EXPECT_FALSE(
      absl::StrContains(tried->err, "too many authentication failures"))
      << tried->Describe();
  EXPECT_TRUE(absl::StrContains(tried->err, "Permission denied"))
      << tried->Describe();
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->set_max_auth_tries(6);
  });
}

TEST_F(GatewayOpsE2eTest, MaxChannelsPerConnectionAtItsLimit) {
  auto dir = TempDir::Create("gwmux");
  ASSERT_TRUE(dir.ok());
  const std::string control = dir->File("mux");
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->set_max_channels_per_connection(1);
  });
  // A master connection with no channel, then two sessions over it.
  const std::vector<std::string> mux = {"-o", "ControlPath=" + control};
  std::vector<std::string> master = GatewayArgs(
      "alice", {"-o", "ControlMaster=yes", "-o", "ControlPath=" + control, "-o",
                "ControlPersist=60", "-f", "-N"});
  auto m = RunCommand(master);
  ASSERT_TRUE(m.ok() && m->exit_code == 0) << (m.ok() ? m->Describe() : "");
  std::vector<std::string> one = GatewayArgs("alice", mux);
  one.push_back("echo one-up; sleep 15");
  BackgroundProcess::Options o;
  o.log_path = dir->File("one.log");
  auto p = BackgroundProcess::Start(one, o);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(ReadLog(dir->File("one.log")), "one-up");
  })) << ReadLog(dir->File("one.log"));
  // The master's second channel is refused (ssh then falls back to a
  // connection of its own, so the command itself still runs).
  const RunResult two = ViaGateway("echo two", mux);
  EXPECT_TRUE(absl::StrContains(two.err, "Session open refused by peer"))
      << two.Describe();
  (*p)->Stop();
  const std::vector<std::string> exit_master =
      GatewayArgs("alice", {"-o", "ControlPath=" + control, "-O", "exit"});
  (void)RunCommand(exit_master);
  // Two channels are allowed on a new connection once the limit is 2.
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->set_max_channels_per_connection(2);
  });
  auto m2 = RunCommand(master);
  ASSERT_TRUE(m2.ok() && m2->exit_code == 0);
  o.log_path = dir->File("one2.log");
  auto p2 = BackgroundProcess::Start(one, o);
  ASSERT_TRUE(p2.ok());
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(ReadLog(dir->File("one2.log")), "one-up");
  })) << ReadLog(dir->File("one2.log"));
  const RunResult two_ok = ViaGateway("echo two", mux);
  EXPECT_EQ(two_ok.exit_code, 0) << two_ok.Describe();
  EXPECT_EQ(two_ok.out, "two\n");
  EXPECT_FALSE(absl::StrContains(two_ok.err, "refused")) << two_ok.Describe();
  (*p2)->Stop();
  (void)RunCommand(exit_master);
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->set_max_channels_per_connection(64);
  });
}

TEST_F(GatewayOpsE2eTest, IdleTimeoutEndsAQuietSessionOnly) {
  // 20 s: the target's command start-up (several seconds on a loaded
  // machine) counts as idle.
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->mutable_idle_timeout()->set_seconds(20);
  });
  // Output every second for 30 s: never idle for 20 s.
  const RunResult busy = ViaGateway(
      "i=0; while [ $i -lt 30 ]; do echo tick; sleep 1; i=$((i+1)); done");
  EXPECT_EQ(busy.exit_code, 0) << busy.Describe();
  EXPECT_EQ(busy.out.size(), 150u) << busy.Describe();
  // Silent for 90 s: ended after about 20 s, saying why.
  const absl::Time start = absl::Now();
  const RunResult quiet = ViaGateway("sleep 90; echo woke");
  EXPECT_NE(quiet.exit_code, 0) << quiet.Describe();
  EXPECT_FALSE(absl::StrContains(quiet.out, "woke")) << quiet.Describe();
  EXPECT_TRUE(absl::StrContains(quiet.err, "limits.idle_timeout"))
      << quiet.Describe();
  EXPECT_LT(absl::Now() - start, absl::Seconds(75));
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->mutable_idle_timeout()->set_seconds(0);
  });
}

TEST_F(GatewayOpsE2eTest, LoginGraceAndMaxStartupsAtTheirLimits) {
  auto dir = TempDir::Create("gwgrace");
  ASSERT_TRUE(dir.ok());
  // An established session first: the pre-auth limits must not touch it.
  auto held = StartSession("echo grace-up; sleep 20; echo grace-done",
                           dir->File("held.log"));
  ASSERT_NE(held, nullptr);
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(ReadLog(dir->File("held.log")), "grace-up");
  }));
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->set_max_startups("2");  // 2:100:2
    c->mutable_limits()->mutable_login_grace()->set_seconds(4);
  });
  auto squatters = PreauthClients::Open("127.0.0.1", fixture_->gateway_port(),
                                        4, PreauthClients::Mode::kSilent);
  ASSERT_TRUE(squatters.ok()) << squatters.status();
  // max_startups: only 2 unauthenticated connections are kept.
  EXPECT_TRUE(
      WaitFor([&] { return (*squatters)->StillOpen() == 2; }, absl::Seconds(3)))
      << (*squatters)->StillOpen();
  // login_grace: the 2 left are closed after 4 s.
  EXPECT_TRUE(WaitFor([&] { return (*squatters)->StillOpen() == 0; },
                      absl::Seconds(30)));
  squatters->reset();
  Reload([](config::GatewayConfig* c) {
    c->mutable_limits()->set_max_startups("10:30:100");
    c->mutable_limits()->mutable_login_grace()->set_seconds(30);
  });
  ASSERT_TRUE(WaitFor([&] { return !held->Running(); }, absl::Seconds(90)));
  EXPECT_TRUE(absl::StrContains(ReadLog(dir->File("held.log")), "grace-done"))
      << ReadLog(dir->File("held.log"));
  EXPECT_EQ(ViaGateway("echo after").exit_code, 0);
}

// SIGHUP re-reads the certificates in the state dir: renewed there (by
// the renewal path, Gateway.RenewGatewayIdentity and
// RenewGatewayHostCertificate, run from this process as the gateway runs
// them when they are due), with the old mTLS certificate then revoked,
// a SIGHUP makes the gateway present the new host certificate to new
// clients and the new mTLS certificate to the CA (whose calls would be
// refused with the old one: a session needs IssueSessionCertificate).
TEST_F(GatewayOpsE2eTest, SighupPresentsRenewedCertificates) {
  auto settings =
      gateway::LoadServeConfig(fixture_->gateway_state_dir() + "/gateway.yaml");
  ASSERT_TRUE(settings.ok()) << settings.status();
  auto old_serial = RunCommandOk({"openssl", "x509", "-noout", "-serial", "-in",
                                  settings->files.tls_certificate});
  ASSERT_TRUE(old_serial.ok()) << old_serial.status();
  uint64_t serial = 0;
  ASSERT_TRUE(absl::SimpleHexAtoi(
      absl::StripAsciiWhitespace(absl::StripPrefix(old_serial->out, "serial=")),
      &serial))
      << old_serial->out;
  auto channel = gateway::OpenCaChannel(*settings);
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto tls = gateway::RenewIdentity(*settings, *channel);
  ASSERT_TRUE(tls.ok()) << tls.status();
  auto host = gateway::RenewHostCertificate(*settings, *channel);
  ASSERT_TRUE(host.ok()) << host.status();

  admin::v1::RevokeRequest revoke;
  revoke.set_serial(serial);
  revoke.set_reason("renewed; the old mTLS certificate must not be used");
  admin::v1::RevokedEntry revoked;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Status st = fixture_->admin().Revoke(&ctx, revoke, &revoked);
  ASSERT_TRUE(st.ok()) << st.error_message();

  Reload([](config::GatewayConfig*) {});
  const RunResult r = ViaGateway("echo renewed", {"-v"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe() << fixture_->GatewayLog();
  EXPECT_EQ(r.out, "renewed\n");
  EXPECT_TRUE(
      absl::StrContains(r.err, absl::StrCat("serial ", host->serial, " ID ")))
      << r.Describe();
}

// Last: stops the gateway.
TEST_F(GatewayOpsE2eTest, ZzSigtermDrainsThenEndsSessionsWithAMessage) {
  auto dir = TempDir::Create("gwdrain");
  ASSERT_TRUE(dir.ok());
  Reload([](config::GatewayConfig* c) {
    c->mutable_drain_timeout()->set_seconds(3);
  });
  auto held =
      StartSession("echo drain-up; sleep 60; echo drain-done", dir->File("s"));
  ASSERT_NE(held, nullptr);
  ASSERT_TRUE(WaitFor(
      [&] { return absl::StrContains(ReadLog(dir->File("s")), "drain-up"); }));
  const absl::Time start = absl::Now();
  fixture_->gateway_process()->Signal(SIGTERM);
  // Draining: /healthz (while it still answers) says 503.
  int code = 200;
  std::string body;
  EXPECT_TRUE(WaitFor(
      [&] {
        std::tie(code, body) =
            HttpGet(fixture_->gateway_metrics_port(), "/healthz");
        return code != 200;
      },
      absl::Seconds(20)))
      << code << " " << body;
  EXPECT_TRUE(code == 503 || code == 0) << code << " " << body;
  ASSERT_TRUE(WaitFor([&] { return !held->Running(); }, absl::Seconds(60)));
  EXPECT_GE(absl::Now() - start, absl::Seconds(2));
  const std::string out = ReadLog(dir->File("s"));
  EXPECT_FALSE(absl::StrContains(out, "drain-done")) << out;
  EXPECT_TRUE(absl::StrContains(out, "gateway shutting down")) << out;
  ASSERT_TRUE(WaitFor([&] { return !fixture_->gateway_process()->Running(); },
                      absl::Seconds(30)));
  EXPECT_EQ(fixture_->StopGateway(), 0) << fixture_->GatewayLog();
}

}  // namespace
}  // namespace sallyport::testing
