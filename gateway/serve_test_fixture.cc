#include "gateway/serve_test_fixture.h"

#include <unistd.h>

#include <cstdio>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "base/files.h"
#include "gateway/gateway_test_fixture.h"
#include "gateway/renew_host.h"
#include "tests/harness/net_util.h"
#include "tests/harness/subprocess.h"

namespace sallyport::gateway {

void ServeOpsTest::SetUp() {
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

void ServeOpsTest::StartServer(const std::string& extra_yaml,
                               double renew_fraction) {
  auto server = TryStart(extra_yaml, renew_fraction);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = std::move(*server);
}

absl::StatusOr<std::unique_ptr<GatewayServer>> ServeOpsTest::TryStart(
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

std::string ServeOpsTest::Log() {
  absl::MutexLock lock(&log_mu_);
  return log_;
}

void ServeOpsTest::ClearLog() {
  absl::MutexLock lock(&log_mu_);
  log_.clear();
}

bool ServeOpsTest::WaitForLog(absl::string_view text) {
  const absl::Time limit = absl::Now() + absl::Seconds(10);
  while (!absl::StrContains(Log(), text) && absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::StrContains(Log(), text);
}

std::string ServeOpsTest::Get(const std::string& path) {
  auto r = testing::RunCommand(
      {"bash", "-c",
       absl::StrCat("exec 3<>/dev/tcp/127.0.0.1/", metrics_port_,
                    "; printf 'GET ", path,
                    " HTTP/1.1\\r\\nHost: x\\r\\nConnection: "
                    "close\\r\\n\\r\\n' >&3; cat <&3")});
  EXPECT_TRUE(r.ok());
  return r.ok() ? r->out : "";
}

std::string ServeOpsTest::AwaitHealthz(absl::string_view status_line) {
  const absl::Time limit = absl::Now() + absl::Seconds(20);
  std::string got = Get("/healthz");
  while (!absl::StartsWith(got, status_line) && absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(200));
    got = Get("/healthz");
  }
  return got;
}

void ServeOpsTest::ResignHostCertificate(const GatewaySettings& config,
                                         const std::string& serial,
                                         const std::string& validity) {
  auto enrolled = ReadHostCertificate(config);
  ASSERT_TRUE(enrolled.ok()) << enrolled.status();
  const std::string pub = dir_->File("host_key.pub");
  ASSERT_TRUE(
      testing::WriteFile(pub, enrolled->key.ToAuthorizedKeysLine() + "\n")
          .ok());
  ASSERT_TRUE(testing::RunCommandOk({"ssh-keygen", "-q", "-s",
                                     env_->dir() + "/state/host_ca", "-h", "-I",
                                     "gw1", "-n", "gw1,127.0.0.1", "-z", serial,
                                     "-V", validity, pub})
                  .ok());
  auto line = base::ReadTextFile(dir_->File("host_key-cert.pub"));
  ASSERT_TRUE(line.ok());
  ASSERT_TRUE(testing::WriteFile(config.files.host_certificate, *line).ok());
}

std::string ServeOpsTest::ReplaceWithStrayKey(const std::string& key) {
  const std::string path = gw_dir_ + "/" + key;
  absl::StatusOr<std::string> old = base::ReadTextFile(path);
  EXPECT_TRUE(old.ok()) << old.status();
  const std::string stray = dir_->File(key + ".stray");
  unlink(stray.c_str());
  unlink((stray + ".pub").c_str());
  if (absl::StartsWith(key, "ssh_")) {
    EXPECT_TRUE(testing::RunCommandOk({"ssh-keygen", "-q", "-t", "ed25519",
                                       "-N", "", "-f", stray})
                    .ok());
  } else {
    EXPECT_TRUE(testing::RunCommandOk({"openssl", "genpkey", "-algorithm", "EC",
                                       "-pkeyopt", "ec_paramgen_curve:P-256",
                                       "-out", stray})
                    .ok());
  }
  absl::StatusOr<std::string> text = base::ReadTextFile(stray);
  EXPECT_TRUE(text.ok()) << text.status();
  EXPECT_TRUE(testing::WriteFile(path, text.value_or(""), 0600).ok());
  return old.value_or("");
}

std::unique_ptr<ca::SourceRelay> ServeOpsTest::RelayTheCa() {
  const std::string ca = env_->server().address();
  auto relay = ca::SourceRelay::Start("127.0.0.1",
                                      std::stoi(ca.substr(ca.rfind(':') + 1)));
  EXPECT_TRUE(relay.ok()) << relay.status();
  if (!relay.ok()) return nullptr;
  base_yaml_ = absl::StrReplaceAll(base_yaml_, {{ca, (*relay)->address()}});
  return *std::move(relay);
}

std::vector<std::string> ServeOpsTest::LogLines(absl::string_view text) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(Log(), '\n')) {
    if (absl::StrContains(line, text)) out.emplace_back(line);
  }
  return out;
}

void ServeOpsTest::TearDown() {
  server_.reset();
  if (HasFailure()) std::fprintf(stderr, "gateway log:\n%s\n", Log().c_str());
}

}  // namespace sallyport::gateway
