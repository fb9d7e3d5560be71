// The recording shipper under store outages, with the real gateway and CA
// binaries, OpenSSH, sshd and PostgreSQL (issue 14): while a session moves
// 50 MiB, the CA is stopped for 30 s (SQLite), or PostgreSQL under the CA
// is stopped for 30 s. The session goes on on the spool, the shipper backs
// off (ship_errors_total grows) and nothing is lost: once the CA or the
// database is back, the Store holds the session whole (its first
// record_exec_output_limit bytes as the client received them, and the
// length and SHA-256 of all 50 MiB), and the spool file is gone.
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/gateway_e2e_env.h"
#include "tests/e2e/gateway_ship_util.h"
#include "tests/harness/postgres_fixture.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

namespace v1 = ::sallyport::audit::v1;

constexpr int64_t kTotalBytes = int64_t{50} << 20;
constexpr int64_t kExecOutputLimit = int64_t{16} << 20;  // the default
constexpr absl::Duration kOutage = absl::Seconds(30);

// A value of the gateway's /metrics ("" when absent).
std::string Metric(BastionFixture& f, const std::string& name) {
  RunResult m = GatewayE2eEnv::Run(
      {"curl", "-s",
       absl::StrCat("http://127.0.0.1:", f.gateway_metrics_port(),
                    "/metrics")});
  for (absl::string_view line : absl::StrSplit(m.out, '\n')) {
    if (absl::StartsWith(line, name + " ")) {
      return std::string(line.substr(name.size() + 1));
    }
  }
  return "";
}

// 50 x 1 MiB of random bytes, one per 0.8 s: about 40 s of session.
const char kCommand[] =
    "i=0; while [ $i -lt 50 ]; do head -c 1048576 /dev/urandom; "
    "sleep 0.8; i=$((i+1)); done";

// Runs the session, calls `stop` once the client has 4 MiB, waits
// kOutage, calls `start`, and checks that the Store ends up with all of it.
void SessionSurvivesOutage(GatewayE2eEnv& env, const std::string& store_url,
                           const std::function<absl::Status()>& stop,
                           const std::function<absl::Status()>& start) {
  BastionFixture& f = env.fixture();
  const std::string spool_dir = f.gateway_state_dir() + "/spool";
  const std::string received = env.File("received.bin");
  absl::StatusOr<std::unique_ptr<BackgroundProcess>> client =
      StartStreamingClient(env, kCommand, received);
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE(WaitForFileSize(received, 4 << 20, absl::Seconds(120)))
      << ReadFileOrEmpty(received + ".log") << f.GatewayLog();
  ASSERT_TRUE(stop().ok());
  const absl::Time stopped = absl::Now();
  const std::string errors_before =
      Metric(f, "sallyport_gateway_ship_errors_total");
  absl::SleepFor(kOutage);
  // During the outage: the session went on, the shipper failed and kept
  // the spool.
  EXPECT_FALSE(SpoolFiles(spool_dir).empty());
  int64_t errors = 0;
  EXPECT_TRUE(absl::SimpleAtoi(Metric(f, "sallyport_gateway_ship_errors_total"),
                               &errors));
  EXPECT_GT(errors, 0) << "before: " << errors_before << "\n" << f.GatewayLog();
  ASSERT_TRUE(start().ok()) << f.GatewayLog();
  EXPECT_GE(absl::Now() - stopped, kOutage);

  const absl::Time deadline = absl::Now() + absl::Seconds(180);
  while ((*client)->Running() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_FALSE((*client)->Running());
  EXPECT_EQ((*client)->Stop(), 0) << ReadFileOrEmpty(received + ".log");
  const std::string got = ReadFileOrEmpty(received);
  ASSERT_EQ(static_cast<int64_t>(got.size()), kTotalBytes);

  std::optional<StoredRecording> found;
  while (absl::Now() < deadline + absl::Seconds(120)) {
    found = FindStoredRecording(store_url, kCommand);
    if (found && found->has_end &&
        found->session.status != storage::SessionStatus::kActive &&
        SpoolFiles(spool_dir).empty()) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(500));
  }
  ASSERT_TRUE(found.has_value()) << f.GatewayLog() << f.CaLog();
  ASSERT_TRUE(found->has_end) << f.GatewayLog();
  EXPECT_TRUE(SpoolFiles(spool_dir).empty());
  EXPECT_EQ(found->session.status, storage::SessionStatus::kEnded);
  // The kept part, byte for byte; the whole by length and SHA-256.
  ASSERT_EQ(static_cast<int64_t>(found->output.size()), kExecOutputLimit);
  EXPECT_EQ(Sha256Hex(found->output),
            Sha256Hex(got.substr(0, kExecOutputLimit)));
  bool summary_seen = false;
  for (const v1::RecordingRecord& r : found->records) {
    if (!r.has_stream_summary() ||
        r.stream_summary().direction() != v1::RECORD_DIRECTION_OUTPUT ||
        r.stream_summary().ssh_stream() != 0) {
      continue;
    }
    summary_seen = true;
    EXPECT_EQ(static_cast<int64_t>(r.stream_summary().total_bytes()),
              kTotalBytes);
    EXPECT_EQ(absl::BytesToHexString(r.stream_summary().sha256()),
              Sha256Hex(got));
  }
  EXPECT_TRUE(summary_seen);
  // The chain, checked in the Store (gateway_ship_e2e_test runs `spctl
  // sessions verify` on a multi-page recording).
  absl::Status intact = VerifyStoredRecording(store_url, found->session.id);
  EXPECT_TRUE(intact.ok()) << intact;
}

TEST(GatewayShipFaultE2eTest, CaDownFor30sWhileASessionMoves50MiB) {
  absl::StatusOr<std::unique_ptr<GatewayE2eEnv>> env = GatewayE2eEnv::Start();
  ASSERT_TRUE(env.ok()) << env.status();
  BastionFixture& f = (*env)->fixture();
  SessionSurvivesOutage(
      **env, "sqlite://" + f.ca_state_dir() + "/ca.db",
      [&f] {
        return f.StopCa() == 0 ? absl::OkStatus()
                               : absl::InternalError("the CA did not stop");
      },
      [&f] { return f.RestartCa(); });
}

TEST(GatewayShipFaultE2eTest, PostgresDownFor30sWhileASessionMoves50MiB) {
  absl::StatusOr<std::unique_ptr<PostgresFixture>> pg =
      PostgresFixture::Start();
  ASSERT_TRUE(pg.ok()) << pg.status();
  BastionFixture::Options options = BastionFixture::DefaultOptions();
  options.store_url = (*pg)->ConnectionUri();
  absl::StatusOr<std::unique_ptr<GatewayE2eEnv>> env =
      GatewayE2eEnv::Start(options);
  ASSERT_TRUE(env.ok()) << env.status();
  SessionSurvivesOutage(
      **env, (*pg)->ConnectionUri(), [&pg] { return (*pg)->Stop(); },
      [&pg] { return (*pg)->Restart(); });
}

}  // namespace
}  // namespace sallyport::testing
