// GatewayServer in one process against a real CA (SQLite), shared by the
// serve tests (serve_ops_test.cc: reload, keys, log level, renewals;
// serve_listen_test.cc: listen addresses and listeners; serve_health_test.cc:
// /healthz): the gateway enrolled with the CA, its files in a temporary
// state dir, its config on free loopback ports, its log lines kept.
#ifndef SALLYPORT_GATEWAY_SERVE_TEST_FIXTURE_H_
#define SALLYPORT_GATEWAY_SERVE_TEST_FIXTURE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "ca/gateway_test_util.h"
#include "ca/source_relay.h"
#include "gateway/config.h"
#include "gateway/serve.h"
#include "gtest/gtest.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::gateway {

class ServeOpsTest : public ::testing::Test {
 protected:
  // A CA, the gateway enrolled with it (gw_dir_), and base_yaml_: listen
  // and metrics_listen on free loopback ports, the CA, name gw1, 1 thread.
  void SetUp() override;
  // Destroys the server; on failure prints the gateway's log.
  void TearDown() override;

  // TryStart, which must succeed; the server in server_.
  void StartServer(const std::string& extra_yaml, double renew_fraction);
  // Writes base_yaml_ + `extra_yaml` as gw_dir_/gateway.yaml and starts a
  // server on it (renewals checked every 200 ms), its lines into Log().
  absl::StatusOr<std::unique_ptr<GatewayServer>> TryStart(
      const std::string& extra_yaml, double renew_fraction);

  std::string Log();
  void ClearLog();
  // Waits (up to 10 s) until the log contains `text`: lines are written on
  // the gateway's I/O threads.
  bool WaitForLog(absl::string_view text);
  // The log's lines that contain `text`.
  std::vector<std::string> LogLines(absl::string_view text);

  // The whole HTTP answer to GET `path` on metrics_listen (`curl`-free,
  // through bash's /dev/tcp).
  std::string Get(const std::string& path);
  // /healthz, asked until it starts with `status_line` (up to 20 s: the
  // spool is probed every 5 s); the last answer.
  std::string AwaitHealthz(absl::string_view status_line);

  // The gateway's host certificate re-signed by the CA's host key with
  // `ssh-keygen`, with `serial` and `validity` (-V).
  void ResignHostCertificate(const GatewaySettings& config,
                             const std::string& serial,
                             const std::string& validity);

  // Replaces `key` (in gw_dir_) with a fresh private key of the same kind,
  // made by the real tools (ssh-keygen, openssl), mode 0600: what a crash
  // between the key's rename and its certificate's in `enroll --force`
  // leaves, or an operator who copied another identity's key. Returns the
  // key it replaced.
  std::string ReplaceWithStrayKey(const std::string& key);

  // The gateway reaching the CA through a relay (which can hold its calls
  // back, or be destroyed and started again on its port), for the servers
  // started from now on (base_yaml_); null (and a test failure) when it
  // cannot start.
  std::unique_ptr<ca::SourceRelay> RelayTheCa();

  std::unique_ptr<testing::PostgresFixture> pg_;
  std::unique_ptr<ca::CaTestEnv> env_;
  std::unique_ptr<testing::TempDir> dir_;
  std::string gw_dir_, base_yaml_;
  uint16_t metrics_port_ = 0;
  absl::Mutex log_mu_;
  std::string log_ ABSL_GUARDED_BY(log_mu_);
  std::unique_ptr<GatewayServer> server_;
};

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_SERVE_TEST_FIXTURE_H_
