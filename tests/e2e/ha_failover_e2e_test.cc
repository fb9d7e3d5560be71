// High availability (issue 16, DESIGN.md §10) with the real binaries: one
// PostgreSQL, two `sallyport-ca` instances serving identical copies of one
// state dir on loopback, two `sallyport-gateway`s whose `ca` lists both
// instances, users whose `sp login --ca` names both.
//  - One CA instance is killed with SIGKILL while a recorded session runs;
//    logins, spctl and new recorded sessions (each needs AuthorizeChannel
//    and a session certificate from the CA) then go through the other
//    instance, and nothing recorded is lost: every session, also the one
//    in flight during the kill, is stored complete at the CA (shipped by
//    its gateway to the surviving instance) and its spool deleted.
//  - Then gateway B is killed with SIGKILL while an exec streams through
//    it; when it restarts, its spool is shipped (still with one CA dead),
//    the session is closed as `interrupted`, and the Store holds every
//    byte the client received (SHA-256 of a prefix) with an intact chain.
#include <signal.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "storage/store.h"
#include "tests/e2e/gateway_e2e_env.h"
#include "tests/e2e/gateway_ship_util.h"
#include "tests/harness/net_util.h"
#include "tests/harness/postgres_fixture.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

class HaFailoverE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<PostgresFixture>> pg =
        PostgresFixture::Start();
    ASSERT_TRUE(pg.ok()) << pg.status();
    pg_ = *std::move(pg);
    BastionFixture::Options options = BastionFixture::DefaultOptions();
    options.store_url = pg_->ConnectionUri();
    options.ca_instances = 2;
    absl::StatusOr<std::unique_ptr<GatewayE2eEnv>> env =
        GatewayE2eEnv::Start(options);
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = *std::move(env);
    absl::StatusOr<int> b = f().StartExtraGateway(
        RunfilePath("gateway/sallyport-gateway"), "sallyport-gw-b");
    ASSERT_TRUE(b.ok()) << b.status();
    gw_b_ = *b;
  }

  BastionFixture& f() { return env_->fixture(); }

  // `ssh ... gateway COMMAND` as alice to web01 through gateway A (b =
  // false) or B.
  std::vector<std::string> Ssh(bool b, const std::string& command) {
    std::vector<std::string> options;
    if (b) {
      options = {"-o", absl::StrCat("Port=", f().extra_gateway_port(gw_b_))};
    }
    std::vector<std::string> argv = env_->Ssh("alice", "web01", options);
    argv.push_back(command);
    return argv;
  }

  // A fresh `sp login` for alice, then one recorded session through each
  // gateway; `tag` names the round in the commands.
  void Round(const std::string& tag) {
    ASSERT_TRUE(f().Login("alice").ok()) << tag;
    for (bool b : {false, true}) {
      const std::string command =
          absl::StrCat("echo ", tag, "-via-", b ? "b" : "a");
      RunResult r = GatewayE2eEnv::Run(Ssh(b, command));
      EXPECT_EQ(r.exit_code, 0) << command << ": " << r.Describe();
      EXPECT_EQ(r.out, absl::StrCat(tag, "-via-", b ? "b" : "a", "\n"));
      expected_[b].push_back(command);
    }
  }

  std::string SpoolDir(int g) {
    return g == 0 ? f().gateway_state_dir() + "/spool"
                  : f().extra_gateway_state_dir(gw_b_) + "/spool";
  }

  // Waits until the Store holds the ended recording of `command` and the
  // spool dir of gateway `g` is empty (everything shipped).
  std::optional<StoredRecording> WaitShipped(int g, const std::string& command,
                                             absl::Duration timeout) {
    std::optional<StoredRecording> found;
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      found = FindStoredRecording(pg_->ConnectionUri(), command);
      if (found && found->has_end &&
          found->session.status != storage::SessionStatus::kActive &&
          SpoolFiles(SpoolDir(g)).empty()) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(250));
    }
    return found;
  }

  std::string Logs() {
    return absl::StrCat("\n--- gateway A\n", f().GatewayLog(),
                        "\n--- gateway B\n", f().ExtraGatewayLog(gw_b_),
                        "\n--- CA\n", f().CaLog());
  }

  std::unique_ptr<PostgresFixture> pg_;
  std::unique_ptr<GatewayE2eEnv> env_;
  int gw_b_ = 0;
  std::vector<std::string> expected_[2];  // commands via gateway A, B
};

TEST_F(HaFailoverE2eTest, OneCaKilledLoginsAndSessionsGoOnThroughTheOther) {
  for (int i = 0; i < 2; ++i) Round(absl::StrCat("before", i));
  ASSERT_FALSE(HasFailure());

  // A recorded session in flight through gateway A while the CA dies.
  const std::string inflight =
      "echo inflight-start; sleep 6; echo inflight-end";
  std::vector<std::string> quoted;
  for (const std::string& a : Ssh(false, inflight)) {
    quoted.push_back(ShellQuote(a));
  }
  const std::string received = env_->File("inflight.txt");
  BackgroundProcess::Options po;
  po.log_path = env_->File("inflight.log");
  absl::StatusOr<std::unique_ptr<BackgroundProcess>> client =
      BackgroundProcess::Start(
          {"bash", "-c",
           absl::StrCat("exec ", absl::StrJoin(quoted, " "), " > ",
                        ShellQuote(received))},
          po);
  ASSERT_TRUE(client.ok()) << client.status();
  const absl::Time started_by = absl::Now() + absl::Seconds(90);
  while (!absl::StrContains(ReadFileOrEmpty(received), "inflight-start") &&
         absl::Now() < started_by) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(absl::StrContains(ReadFileOrEmpty(received), "inflight-start"))
      << ReadFileOrEmpty(po.log_path);

  // SIGKILL the first CA instance: the one every client tries first.
  f().ca_instance(0).process().Signal(SIGKILL);
  const absl::Time dead_by = absl::Now() + absl::Seconds(30);
  while (f().ca_instance(0).Running() && absl::Now() < dead_by) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_FALSE(f().ca_instance(0).Running());

  // Logins (sp) and session certificates (both gateways) from the other.
  for (int i = 0; i < 2; ++i) Round(absl::StrCat("after", i));
  // spctl uses the addresses `sp login` remembered.
  RunResult users = Spctl(f(), {"users", "ls"});
  EXPECT_EQ(users.exit_code, 0) << users.Describe();
  EXPECT_TRUE(absl::StrContains(users.out, "alice")) << users.out;

  // The session that was running when the CA died finished normally.
  const absl::Time end_by = absl::Now() + absl::Seconds(90);
  while ((*client)->Running() && absl::Now() < end_by) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ((*client)->Stop(), 0) << ReadFileOrEmpty(po.log_path);
  EXPECT_EQ(ReadFileOrEmpty(received), "inflight-start\ninflight-end\n");
  expected_[0].push_back(inflight);

  // Nothing recorded is lost: every session, also the one in flight while
  // the CA died, is stored complete at the CA (shipped by its gateway to
  // the surviving instance), ended, and gone from the spool.
  const char* const gateway_ids[2] = {"sallyport-gw", "sallyport-gw-b"};
  for (int g = 0; g < 2; ++g) {
    for (const std::string& command : expected_[g]) {
      std::optional<StoredRecording> found =
          WaitShipped(g, command, absl::Seconds(120));
      ASSERT_TRUE(found.has_value())
          << "not stored at the CA: " << command << Logs();
      EXPECT_TRUE(found->has_end) << command;
      EXPECT_EQ(found->session.status, storage::SessionStatus::kEnded)
          << command;
      EXPECT_EQ(found->session.gateway_id, gateway_ids[g]) << command;
      EXPECT_EQ(found->session.last_seq, found->records.size()) << command;
      if (command == inflight) {
        EXPECT_EQ(found->output, "inflight-start\ninflight-end\n");
      } else {
        EXPECT_EQ(found->output, command.substr(5) + "\n");  // after "echo "
      }
      absl::Status intact =
          VerifyStoredRecording(pg_->ConnectionUri(), found->session.id);
      EXPECT_TRUE(intact.ok()) << command << ": " << intact;
    }
    EXPECT_TRUE(SpoolFiles(SpoolDir(g)).empty()) << Logs();
  }

  // With every listed instance down the error names each address.
  absl::StatusOr<uint16_t> dead = FreeLoopbackPort();
  ASSERT_TRUE(dead.ok());
  const std::string first = f().ca_address();
  const std::string other = absl::StrCat("127.0.0.1:", *dead);
  RunResult none =
      Spctl(f(), {"--ca", absl::StrCat(first, ",", other), "users", "ls"});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(none.err, first)) << none.err;
  EXPECT_TRUE(absl::StrContains(none.err, other)) << none.err;

  // Gateway B is killed with SIGKILL while an exec streams through it
  // (about 4 MB, paced over several seconds; the CA instance 0 is still
  // dead, so B ships to the other).
  const std::string stream =
      "i=0; while [ $i -lt 500 ]; do seq $((i*1000)) $((i*1000+999)); "
      "i=$((i+1)); sleep 0.01; done";
  const std::string got_path = env_->File("stream-b.txt");
  absl::StatusOr<std::unique_ptr<BackgroundProcess>> streamer =
      StartStreamingClient(
          *env_, stream, got_path,
          {"-o", absl::StrCat("Port=", f().extra_gateway_port(gw_b_))});
  ASSERT_TRUE(streamer.ok()) << streamer.status();
  ASSERT_TRUE(WaitForFileSize(got_path, 1 << 20, absl::Seconds(120)))
      << ReadFileOrEmpty(got_path + ".log") << Logs();
  f().extra_gateway_process(gw_b_).Signal(SIGKILL);
  const absl::Time b_dead_by = absl::Now() + absl::Seconds(60);
  while (
      (f().extra_gateway_process(gw_b_).Running() || (*streamer)->Running()) &&
      absl::Now() < b_dead_by) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_FALSE(f().extra_gateway_process(gw_b_).Running());
  EXPECT_FALSE((*streamer)->Running());
  const std::string got = ReadFileOrEmpty(got_path);
  ASSERT_GT(got.size(), 1u << 20);
  // `seq` 0..499999 is 3,388,890 bytes: the kill came before the end.
  ASSERT_LT(got.size(), 3388890u) << "the stream finished before the kill";
  // The dead gateway left its spool without an end.
  ASSERT_FALSE(SpoolFiles(SpoolDir(1)).empty());
  std::optional<StoredRecording> before =
      FindStoredRecording(pg_->ConnectionUri(), stream);
  ASSERT_FALSE(before && before->has_end) << "ended before the restart";

  absl::Status restarted = f().RestartExtraGateway(gw_b_);
  ASSERT_TRUE(restarted.ok()) << restarted << Logs();
  std::optional<StoredRecording> found =
      WaitShipped(1, stream, absl::Seconds(120));
  ASSERT_TRUE(found.has_value()) << Logs();
  ASSERT_TRUE(found->has_end) << Logs();
  EXPECT_TRUE(SpoolFiles(SpoolDir(1)).empty()) << Logs();
  EXPECT_EQ(found->session.status, storage::SessionStatus::kInterrupted);
  EXPECT_EQ(found->session.gateway_id, "sallyport-gw-b");
  ASSERT_GE(found->output.size(), got.size());
  EXPECT_EQ(Sha256Hex(found->output.substr(0, got.size())), Sha256Hex(got))
      << "the client received bytes the Store does not hold";
  absl::Status intact =
      VerifyStoredRecording(pg_->ConnectionUri(), found->session.id);
  EXPECT_TRUE(intact.ok()) << intact;
  // spctl (failing over past the dead instance) sees it as interrupted.
  RunResult show = Spctl(f(), {"sessions", "show", found->session.id});
  EXPECT_EQ(show.exit_code, 0) << show.Describe();
  EXPECT_TRUE(absl::StrContains(show.out, "interrupted")) << show.out;
  EXPECT_TRUE(absl::StrContains(show.out, "intact")) << show.out;

  // The restarted gateway B serves new recorded sessions.
  RunResult again = GatewayE2eEnv::Run(Ssh(true, "echo after-restart"));
  EXPECT_EQ(again.exit_code, 0) << again.Describe() << Logs();
  EXPECT_EQ(again.out, "after-restart\n");
}

}  // namespace
}  // namespace sallyport::testing
