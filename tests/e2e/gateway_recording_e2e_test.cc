// Session recordings with the real gateway binary, OpenSSH and sshd
// (issue 14): what a session moved is in the gateway's spool, and a
// gateway killed with SIGKILL in the middle of an exec stream has spooled
// every byte the client received (record before forward).
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "audit/recording_record.h"
#include "audit/spool.h"
#include "gtest/gtest.h"
#include "tests/e2e/gateway_e2e_env.h"
#include "tests/e2e/gateway_ship_util.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

namespace v1 = ::sallyport::audit::v1;

std::string Sha256(const std::string& s) {
  audit::StreamHasher h;
  h.Update(s);
  absl::StatusOr<std::string> d = h.Finish();
  return d.ok() ? absl::BytesToHexString(*d) : "";
}

// The spool holding an exec request for `command`, and that channel's
// stdout.
struct Found {
  audit::SpoolContents contents;
  std::string output;
  bool ended = false;
};
std::optional<Found> FindRecording(const std::string& dir,
                                   const std::string& command) {
  for (const std::string& path : SpoolFiles(dir)) {
    absl::StatusOr<audit::SpoolContents> c = audit::ReadSpool(path);
    if (!c.ok()) continue;
    std::optional<std::string> output = ExecOutput(c->records, command);
    if (!output) continue;
    Found f;
    f.output = *std::move(output);
    f.ended = HasSessionEnd(c->records);
    f.contents = *std::move(c);
    return f;
  }
  return std::nullopt;
}

class GatewayRecordingE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<GatewayE2eEnv>> env = GatewayE2eEnv::Start();
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = *std::move(env);
    spool_dir_ = env_->fixture().gateway_state_dir() + "/spool";
  }
  std::unique_ptr<GatewayE2eEnv> env_;
  std::string spool_dir_;
};

// ship (#14): the spool is shipped to the CA and deleted once the CA has
// it, so the finished session is looked for in the CA's Store.
TEST_F(GatewayRecordingE2eTest, AnExecSessionIsRecordedWithItsEnd) {
  const std::string command = "echo recorded-$((6*7)); echo on-stderr >&2";
  std::vector<std::string> argv = env_->Ssh("alice", "web01");
  argv.push_back(command);
  RunResult r = GatewayE2eEnv::Run(argv);
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << env_->fixture().GatewayLog();
  const std::string store_url =
      "sqlite://" + env_->fixture().ca_state_dir() + "/ca.db";
  std::optional<StoredRecording> found;
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  while (absl::Now() < deadline) {
    found = FindStoredRecording(store_url, command);
    if (found && found->has_end) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_TRUE(found.has_value()) << env_->fixture().GatewayLog();
  EXPECT_TRUE(found->has_end);
  EXPECT_EQ(found->output, "recorded-42\n");
  EXPECT_EQ(found->session.user, "alice");
  EXPECT_EQ(found->session.host, "web01");
  EXPECT_EQ(found->session.gateway_id, "sallyport-gw");
  bool stderr_seen = false, exit_seen = false;
  for (const v1::RecordingRecord& rec : found->records) {
    if (rec.has_data() && rec.data().ssh_stream() == 1) {
      stderr_seen = rec.data().bytes() == "on-stderr\n";
    }
    if (rec.has_request() && rec.request().type() == "exit-status") {
      exit_seen = rec.request().summary() == "0";
    }
  }
  EXPECT_TRUE(stderr_seen);
  EXPECT_TRUE(exit_seen);
}

// Record before forward: kill -9 the gateway while an exec streams; the
// spool (torn tail aside) holds at least every byte the client received.
TEST_F(GatewayRecordingE2eTest, SigkilledGatewaySpooledEverythingTheClientGot) {
  // About 12 MB (below record_exec_output_limit), paced over ~10 s.
  const std::string command =
      "i=0; while [ $i -lt 1500 ]; do seq $((i*1000)) $((i*1000+999)); "
      "i=$((i+1)); sleep 0.005; done";
  const std::string received = env_->File("received.txt");
  absl::StatusOr<std::unique_ptr<BackgroundProcess>> client =
      StartStreamingClient(*env_, command, received, {});
  ASSERT_TRUE(client.ok()) << client.status();
  // Kill the gateway once the client has 1 MB.
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  struct stat st = {};
  while (absl::Now() < deadline) {
    if (::stat(received.c_str(), &st) == 0 && st.st_size > (1 << 20)) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_GT(st.st_size, 1 << 20) << ReadFileOrEmpty((*client)->log_path());
  env_->fixture().gateway_process()->Signal(SIGKILL);
  // The client sees the connection drop.
  const absl::Time client_deadline = absl::Now() + absl::Seconds(60);
  while ((*client)->Running() && absl::Now() < client_deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_FALSE((*client)->Running());
  const std::string got = ReadFileOrEmpty(received);
  ASSERT_GT(got.size(), 1u << 20);
  ASSERT_LT(got.size(), 12u << 20) << "the stream finished before the kill";

  std::optional<Found> found = FindRecording(spool_dir_, command);
  ASSERT_TRUE(found.has_value());
  EXPECT_FALSE(found->ended);  // killed: no end record
  ASSERT_GE(found->output.size(), got.size());
  EXPECT_EQ(found->output.substr(0, got.size()), got)
      << "the client received bytes the spool does not hold";
  EXPECT_EQ(Sha256(found->output.substr(0, got.size())), Sha256(got));
}

}  // namespace
}  // namespace sallyport::testing
