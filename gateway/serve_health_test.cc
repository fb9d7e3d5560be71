// GatewayServer's /healthz against a real CA (SQLite), with
// serve_test_fixture.h: served on metrics_listen beside /metrics, 503 and
// why while draining, while recorded sessions would be refused (the spool
// unusable, over spool_max_bytes, its directory not writable) and once the
// SSH host certificate has expired; a second gateway on the same spool
// does not start.
#include <stdio.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gateway/serve.h"
#include "gateway/serve_test_fixture.h"
#include "gtest/gtest.h"
#include "tests/harness/subprocess.h"

namespace sallyport::gateway {
namespace {

using ServeHealthTest = ServeOpsTest;

TEST_F(ServeHealthTest, MetricsAndHealthzAreServed) {
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
TEST_F(ServeHealthTest, HealthzFailsWhileRecordedSessionsWouldBeRefused) {
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

TEST_F(ServeHealthTest, HealthzFailsWhileTheSpoolIsOverItsLimit) {
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
TEST_F(ServeHealthTest, HealthzFailsWhileTheSpoolDirCannotBeWritten) {
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
TEST_F(ServeHealthTest, ASecondGatewayOnTheSameSpoolDirDoesNotStart) {
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

// A host certificate past its valid_before (its renewal kept failing):
// clients that trust the host CA refuse the gateway, so /healthz says 503
// and why, until a renewal succeeds. A renewal that fails is logged as a
// failure (outcome=failure, level error: seen at log_level error), not as
// news.
TEST_F(ServeHealthTest,
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
