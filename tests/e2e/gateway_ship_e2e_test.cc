// The recording shipper with the real gateway and CA binaries, OpenSSH and
// sshd (issue 14): a recorded session reaches the CA's Store (spctl
// sessions show/verify see it) and its spool file is deleted; a gateway
// killed with SIGKILL in the middle of an exec stream ships the spool on
// its next start, and the Store then holds every byte the client received,
// with the session closed as `interrupted`.
#include <signal.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/gateway_e2e_env.h"
#include "tests/e2e/gateway_ship_util.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

class GatewayShipE2eTest : public ShippingGatewayTest {
 protected:
  // Waits until the Store holds the recording of `command` with its end
  // and the spool directory is empty.
  std::optional<StoredRecording> WaitShipped(const std::string& command,
                                             absl::Duration timeout) {
    std::optional<StoredRecording> found;
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      found = FindStoredRecording(store_url_, command);
      if (found && found->has_end &&
          found->session.status != storage::SessionStatus::kActive &&
          SpoolFiles(spool_dir_).empty()) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(250));
    }
    return found;
  }
};

TEST_F(GatewayShipE2eTest, ARecordedSessionIsShippedAndItsSpoolDeleted) {
  const std::string command = "echo shipped-$((6*7)); echo on-stderr >&2";
  std::vector<std::string> argv = env_->Ssh("alice", "web01");
  argv.push_back(command);
  RunResult r = GatewayE2eEnv::Run(argv);
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << Logs();
  EXPECT_EQ(r.out, "shipped-42\n");

  std::optional<StoredRecording> found =
      WaitShipped(command, absl::Seconds(90));
  ASSERT_TRUE(found.has_value()) << Logs();
  EXPECT_TRUE(found->has_end) << Logs();
  EXPECT_TRUE(SpoolFiles(spool_dir_).empty()) << Logs();
  EXPECT_EQ(found->output, "shipped-42\n");
  EXPECT_EQ(found->session.status, storage::SessionStatus::kEnded);
  EXPECT_EQ(found->session.gateway_id, "sallyport-gw");
  EXPECT_EQ(found->session.user, "alice");
  EXPECT_EQ(found->session.host, "web01");
  EXPECT_EQ(found->session.last_seq, found->records.size());

  const std::string id = found->session.id;
  RunResult show = Spctl(env_->fixture(), {"sessions", "show", id});
  ASSERT_EQ(show.exit_code, 0) << show.Describe();
  EXPECT_TRUE(absl::StrContains(show.out, "ended")) << show.out;
  EXPECT_TRUE(absl::StrContains(show.out, "intact")) << show.out;
  EXPECT_TRUE(absl::StrContains(show.out, "web01")) << show.out;
  RunResult verify = Spctl(env_->fixture(), {"sessions", "verify", id});
  EXPECT_EQ(verify.exit_code, 0) << verify.Describe();
  // The shipper's metrics.
  RunResult metrics = GatewayE2eEnv::Run(
      {"curl", "-s",
       absl::StrCat("http://127.0.0.1:", env_->fixture().gateway_metrics_port(),
                    "/metrics")});
  EXPECT_TRUE(absl::StrContains(metrics.out,
                                "sallyport_gateway_shipped_sessions_total 1"))
      << metrics.out;
  EXPECT_TRUE(absl::StrContains(metrics.out, "sallyport_gateway_spool_bytes 0"))
      << metrics.out;
}

// A command is recorded whole and exactly, and `sessions show`, `--output
// json` and `ls --grep` read it so. The recording held a command cut at
// 8192 bytes without a mark (a command padded with spaces hid what ran
// after them) and its bytes that are not UTF-8 as the text "\xNN" (which
// a typed backslash spells too).
TEST_F(GatewayShipE2eTest, ACommandIsRecordedWholeAndExactly) {
  const std::string command = "echo head" + std::string(9000, ' ') +
                              "; echo hidden-tail # \xff typed: \\xff";
  std::vector<std::string> argv = env_->Ssh("alice", "web01");
  argv.push_back(command);
  RunResult r = GatewayE2eEnv::Run(argv);
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << Logs();
  EXPECT_EQ(r.out, "head\nhidden-tail\n");
  std::optional<StoredRecording> found =
      WaitShipped(command, absl::Seconds(90));
  ASSERT_TRUE(found.has_value()) << Logs();
  EXPECT_EQ(found->output, "head\nhidden-tail\n");

  const std::string id = found->session.id;
  RunResult show = Spctl(env_->fixture(), {"sessions", "show", id});
  ASSERT_EQ(show.exit_code, 0) << show.Describe();
  // The byte 0xff as \xff, the typed backslash as \x5c.
  EXPECT_TRUE(absl::StrContains(
      show.out, "; echo hidden-tail # \\xff typed: \\x5cxff bytes_in="))
      << show.out;
  RunResult json =
      Spctl(env_->fixture(), {"sessions", "show", id, "--output", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.Describe();
  EXPECT_TRUE(
      absl::StrContains(json.out, "hidden-tail # \\\\xff typed: \\\\x5cxff\""))
      << json.out;
  EXPECT_TRUE(absl::StrContains(
      json.out,
      absl::StrCat("\"command_bytes\": \"", absl::Base64Escape(command), "\"")))
      << json.out;
  RunResult grep =
      Spctl(env_->fixture(), {"sessions", "ls", "--grep", "echo hidden-tail"});
  ASSERT_EQ(grep.exit_code, 0) << grep.Describe();
  EXPECT_TRUE(absl::StrContains(grep.out, id)) << grep.out;
  EXPECT_TRUE(absl::StrContains(grep.out, "command channel 0")) << grep.out;
}

// A session the gateway ended keeps why in its recording: alice's
// certificates are revoked (`spctl certs revoke --user`) while her command
// runs, the gateway ends the session, and `spctl sessions show` of the
// shipped recording says so. It showed a session ended like any other.
TEST_F(GatewayShipE2eTest, ShowSaysWhyTheGatewayEndedTheSession) {
  const std::string command = "echo started; sleep 60; echo late";
  const std::string received = env_->File("revoked.txt");
  absl::StatusOr<std::unique_ptr<BackgroundProcess>> client =
      StartStreamingClient(*env_, command, received);
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE(WaitForFileSize(received, 0, absl::Seconds(60)))
      << ReadFileOrEmpty(received + ".log") << Logs();
  RunResult revoke =
      Spctl(env_->fixture(),
            {"certs", "revoke", "--user", "alice", "--reason", "lost laptop"});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.Describe();
  const absl::Time client_deadline = absl::Now() + absl::Seconds(30);
  while ((*client)->Running() && absl::Now() < client_deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_FALSE((*client)->Running());
  EXPECT_EQ(ReadFileOrEmpty(received), "started\n");

  std::optional<StoredRecording> found =
      WaitShipped(command, absl::Seconds(90));
  ASSERT_TRUE(found.has_value()) << Logs();
  ASSERT_TRUE(found->has_end) << Logs();
  EXPECT_EQ(found->session.status, storage::SessionStatus::kEnded);
  RunResult show =
      Spctl(env_->fixture(), {"sessions", "show", found->session.id});
  ASSERT_EQ(show.exit_code, 0) << show.Describe();
  EXPECT_TRUE(absl::StrContains(
      show.out, "\nstatus:    ended\nreason:    certificate revoked\n"))
      << show.out;
  RunResult json =
      Spctl(env_->fixture(),
            {"sessions", "show", found->session.id, "--output", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.Describe();
  EXPECT_TRUE(
      absl::StrContains(json.out, "\"reason\": \"certificate revoked\""))
      << json.out;
}

// SIGKILL the gateway while an exec streams; after a restart the spool is
// shipped, and the Store holds every byte the client received.
TEST_F(GatewayShipE2eTest, SigkilledGatewayShipsOnRestartAsInterrupted) {
  // About 12 MB (below record_exec_output_limit), paced over ~10 s.
  const std::string command =
      "i=0; while [ $i -lt 1500 ]; do seq $((i*1000)) $((i*1000+999)); "
      "i=$((i+1)); sleep 0.005; done";
  const std::string received = env_->File("received.txt");
  absl::StatusOr<std::unique_ptr<BackgroundProcess>> client =
      StartStreamingClient(*env_, command, received);
  ASSERT_TRUE(client.ok()) << client.status();
  // Past 5 MiB: a recording several ReadSession pages long.
  ASSERT_TRUE(WaitForFileSize(received, 5 << 20, absl::Seconds(120)))
      << ReadFileOrEmpty(received + ".log") << Logs();
  env_->fixture().gateway_process()->Signal(SIGKILL);
  const absl::Time client_deadline = absl::Now() + absl::Seconds(60);
  while ((*client)->Running() && absl::Now() < client_deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_FALSE((*client)->Running());
  const std::string got = ReadFileOrEmpty(received);
  ASSERT_GT(got.size(), 5u << 20);
  ASSERT_LT(got.size(), 12u << 20) << "the stream finished before the kill";
  // The dead gateway left its spool without an end.
  ASSERT_FALSE(SpoolFiles(spool_dir_).empty());

  ASSERT_TRUE(env_->fixture()
                  .RestartGateway(RunfilePath("gateway/sallyport-gateway"))
                  .ok())
      << Logs();
  std::optional<StoredRecording> found =
      WaitShipped(command, absl::Seconds(120));
  ASSERT_TRUE(found.has_value()) << Logs();
  ASSERT_TRUE(found->has_end) << Logs();
  EXPECT_TRUE(SpoolFiles(spool_dir_).empty()) << Logs();
  EXPECT_EQ(found->session.status, storage::SessionStatus::kInterrupted);
  ASSERT_TRUE(found->session.ended_at.has_value());
  EXPECT_GT(*found->session.ended_at, found->session.started_at);
  EXPECT_LT(*found->session.ended_at, absl::Now());
  ASSERT_GE(found->output.size(), got.size());
  EXPECT_EQ(Sha256Hex(found->output.substr(0, got.size())), Sha256Hex(got))
      << "the client received bytes the Store does not hold";
  // The exec channel it left open was closed by the recovery with the
  // bytes the recording holds: the session's count is not 0.
  EXPECT_GE(found->session.bytes_out, static_cast<int64_t>(got.size()));

  // The chain checked in the Store, and by `spctl sessions verify`, which
  // reads this several-MB recording in pages of at most
  // AuditService::kMaxReadSessionPageBytes (under gRPC's 4 MiB limit).
  absl::Status intact = VerifyStoredRecording(store_url_, found->session.id);
  EXPECT_TRUE(intact.ok()) << intact;
  ASSERT_GT(found->output.size(), size_t{4} << 20);
  RunResult verify =
      Spctl(env_->fixture(), {"sessions", "verify", found->session.id});
  EXPECT_EQ(verify.exit_code, 0) << verify.Describe();

  // The killed gateway never sent the session's session.end; the CA writes
  // it when it stores the interrupted end the restarted one closed the
  // spool with.
  std::string end_event;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
       end_event.empty() && absl::Now() < deadline;
       absl::SleepFor(absl::Milliseconds(200))) {
    RunResult events =
        Spctl(env_->fixture(), {"audit", "export", "--since", "1h"});
    for (absl::string_view line : absl::StrSplit(events.out, '\n')) {
      if (absl::StrContains(line, "session.end") &&
          absl::StrContains(line, found->session.id)) {
        end_event = std::string(line);
      }
    }
  }
  EXPECT_TRUE(absl::StrContains(end_event, "interrupted")) << end_event;
}

}  // namespace
}  // namespace sallyport::testing
