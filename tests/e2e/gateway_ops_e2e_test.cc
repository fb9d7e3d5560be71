// Operating the real `sallyport-gateway serve` (issue 12 "Operations",
// "Threads"), enrolled and served by BastionFixture with the real CA, real
// sshd targets and stock `ssh` (gateway_ops_e2e_fixture.h):
//   - /metrics after a session: the connection, session, channel, byte,
//     upstream-latency and CA-RPC counters moved; /healthz answers 200;
//   - log_format json: every line the gateway writes is a JSON object, with
//     one line per connection, auth decision, channel and upstream connect,
//     and no secret in them;
//   - `threads: 0` runs one I/O thread per core;
//   - SIGHUP re-reads renewed certificates: the host certificate new
//     clients see and the mTLS certificate the CA sees;
//   - SIGTERM drains: a running session is ended after drain_timeout with a
//     message, its recording is shipped, and the gateway exits 0.
// The limits SIGHUP reloads: gateway_limits_e2e_test.cc.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
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
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "tests/e2e/gateway_ops_e2e_fixture.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/net_util.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {
namespace {

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
    return MetricValue(
               after,
               "sallyport_gateway_connections_closed_total{outcome=\"ok\"}") >
           std::max(0.0, MetricValue(before,
                                     "sallyport_gateway_connections_closed_"
                                     "total{outcome=\"ok\"}"));
  })) << after;
  auto moved = [&](const std::string& series, double at_least) {
    const double b = std::max(0.0, MetricValue(before, series));
    const double a = MetricValue(after, series);
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
  EXPECT_EQ(std::max(0.0, MetricValue(after, authorize)),
            std::max(0.0, MetricValue(before, authorize)))
      << after;
  EXPECT_EQ(MetricValue(after, "sallyport_gateway_connections"), 0) << after;
  EXPECT_EQ(MetricValue(after, "sallyport_gateway_sessions_active"), 0)
      << after;
  EXPECT_EQ(MetricValue(after, "sallyport_gateway_channels_open"), 0) << after;

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
    return MetricValue(after,
                       "sallyport_gateway_connections_closed_total{outcome="
                       "\"auth-failed\"}") >= 1;
  })) << after;
  EXPECT_GE(
      MetricValue(
          after, "sallyport_gateway_auth_failures_total{reason=\"plain-key\"}"),
      1)
      << after;

  auto [code, body] = HttpGet(fixture_->gateway_metrics_port(), "/healthz");
  EXPECT_EQ(code, 200) << body;
}

// A refused certificate login counts once: ssh then offers the plain key of
// the same identity, its fallback, which is not a second failure (each
// refused login was counted twice, once as reason="plain-key").
TEST_F(GatewayOpsE2eTest, ARefusedCertificateLoginCountsOnce) {
  auto failures = [](const std::string& metrics, const std::string& only) {
    double sum = 0;
    for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
      if (!absl::StartsWith(line, "sallyport_gateway_auth_failures_total{") ||
          !absl::StrContains(line, only)) {
        continue;
      }
      double v = 0;
      if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) sum += v;
    }
    return sum;
  };
  const std::string before =
      HttpGet(fixture_->gateway_metrics_port(), "/metrics").second;
  std::vector<std::string> args = GatewayArgs("alice", {}, "db99");
  args.push_back("true");
  auto refused = RunCommand(args);
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->exit_code, 255) << refused->Describe();
  std::string after;
  ASSERT_TRUE(WaitFor([&] {
    after = HttpGet(fixture_->gateway_metrics_port(), "/metrics").second;
    return failures(after, "") > failures(before, "");
  })) << after;
  absl::SleepFor(absl::Seconds(1));  // a second count would be there now
  after = HttpGet(fixture_->gateway_metrics_port(), "/metrics").second;
  EXPECT_EQ(failures(after, "") - failures(before, ""), 1) << after;
  EXPECT_EQ(failures(after, "plain-key"), failures(before, "plain-key"))
      << after;
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

// The fixture serves with --listen, which wins over the config's listen at
// start and at each reload. A SIGHUP after the file's listen changed said
// only "reloaded:", and the gateway stayed where it was (found by a QA
// run of operations.md: "the gateway reloads limits, listen, ...").
TEST_F(GatewayOpsE2eTest, ASighupSaysWhenTheListenFlagOverridesTheConfig) {
  std::string old;
  const size_t before =
      CountInLog("in the config is not applied: --listen 127.0.0.1:");
  Reload([&](config::GatewayConfig* c) {
    old = c->listen();
    c->set_listen("127.0.0.1:1");
  });
  EXPECT_EQ(CountInLog("in the config is not applied: --listen 127.0.0.1:"),
            before + 1)
      << fixture_->GatewayLog();
  // Still where --listen put it.
  EXPECT_EQ(ViaGateway("echo still").exit_code, 0) << fixture_->GatewayLog();
  Reload([&](config::GatewayConfig* c) { c->set_listen(old); });
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
  // The user was told at the start of the drain, not only at its end.
  EXPECT_TRUE(absl::StrContains(
      out,
      "sallyport: gateway shutting down: this connection will be "
      "closed at "))
      << out;
  ASSERT_TRUE(WaitFor([&] { return !fixture_->gateway_process()->Running(); },
                      absl::Seconds(30)));
  EXPECT_EQ(fixture_->StopGateway(), 0) << fixture_->GatewayLog();
  // The ended session's recording reached the CA before the exit (it
  // waited in the spool for the next start before): nothing is left in
  // the spool directory.
  EXPECT_TRUE(absl::StrContains(fixture_->GatewayLog(), "recordings shipped"))
      << fixture_->GatewayLog();
  std::vector<std::string> left;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(
           fixture_->gateway_state_dir() + "/spool", ec)) {
    if (e.path().extension() == ".spool") left.push_back(e.path().string());
  }
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(left.empty()) << absl::StrJoin(left, " ");
}

}  // namespace
}  // namespace sallyport::testing
