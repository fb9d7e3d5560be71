// Issue 12 refusals when the CA is unreachable, with the real binaries
// (BastionFixture): the CA process is stopped while the gateway runs, and
// the gateway is started while the CA is down.
//  - A new connection is refused with a message that says the CA is
//    unreachable (not a dropped connection).
//  - Once the revocation stream has been down longer than
//    revocation_grace, the gateway fails closed: even a new channel on an
//    established (multiplexed) connection is refused, although its kind was
//    authorized and cached before.
#include <unistd.h>

#include <csignal>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/gateway_refusal_util.h"
#include "tests/harness/net_util.h"

namespace sallyport::testing {
namespace {

// Long enough for one ssh connection on a loaded machine to finish inside
// it, short enough to wait out.
constexpr absl::Duration kGrace = absl::Seconds(20);

class GatewayCaDownE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto f = BastionFixture::Start();
    ASSERT_TRUE(f.ok()) << f.status();
    fixture_ = std::move(*f);
    fixture_->AddGatewayConfigEdit([](config::GatewayConfig& c) {
      c.mutable_revocation_grace()->set_seconds(absl::ToInt64Seconds(kGrace));
    });
    absl::Status st =
        fixture_->StartGateway(RunfilePath("gateway/sallyport-gateway"));
    ASSERT_TRUE(st.ok()) << st << "\n" << fixture_->GatewayLog();
    auto dir = TempDir::Create("gwcadown");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<TempDir>(std::move(*dir));
  }
  void TearDown() override {
    if (HasFailure()) {
      std::fprintf(stderr, "--- gateway log ---\n%s\n",
                   fixture_->GatewayLog().c_str());
    }
  }

  // `ssh -S control ... COMMAND`: a channel on the master's connection.
  RunResult ViaMaster(const std::string& control, const std::string& command) {
    return ViaGateway(*fixture_, "olivia", "web01", command,
                      {"-S", control, "-o", "ControlMaster=no"});
  }

  std::unique_ptr<BastionFixture> fixture_;
  std::unique_ptr<TempDir> dir_;
};

TEST_F(GatewayCaDownE2eTest, NewSessionsThenNewChannelsAreRefused) {
  // olivia's multiplexed connection; one command runs through it (and
  // `exec` is authorized and cached for the connection).
  const std::string control = dir_->File("ctl");
  auto args = fixture_->SshArgs("olivia");
  ASSERT_TRUE(args.ok());
  args->insert(args->end(),
               {"-M", "-S", control, "-o", "ControlPersist=no", "-N", "-l",
                absl::StrCat(fixture_->target_login(), "+web01"), "gateway"});
  BackgroundProcess::Options po;
  po.log_path = dir_->File("master.log");
  auto master = BackgroundProcess::Start(*args, po);
  ASSERT_TRUE(master.ok()) << master.status();
  const absl::Time limit = absl::Now() + absl::Seconds(60);
  while (access(control.c_str(), F_OK) != 0 && absl::Now() < limit &&
         (*master)->Running()) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(access(control.c_str(), F_OK), 0) << ReadFileOrEmpty(po.log_path);
  RunResult r = ViaMaster(control, "echo one");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_EQ(r.out, "one\n");

  // The CA goes away.
  fixture_->ca_process().Stop();
  const absl::Time down = absl::Now();

  // Inside revocation_grace: a new connection is refused, and says why.
  r = ViaGateway(*fixture_, "olivia", "web01", "echo should-not-run");
  EXPECT_LT(absl::Now() - down, kGrace) << "too slow to test inside the grace";
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "should-not-run"));
  EXPECT_TRUE(absl::StrContains(r.err, "the Sallyport CA is unreachable"))
      << r.err;

  // Past it: not even a new channel on the established connection.
  absl::SleepFor(down + kGrace + absl::Seconds(3) - absl::Now());
  // (The master does not pass the gateway's reason on to the mux client;
  // the gateway logs it.)
  r = ViaMaster(control, "echo two");
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "two")) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "Session open refused by peer"))
      << r.err;
  EXPECT_TRUE(absl::StrContains(fixture_->GatewayLog(),
                                "the revocation list is not current"))
      << fixture_->GatewayLog();
  // Nor a new connection.
  r = ViaGateway(*fixture_, "olivia", "web01", "echo should-not-run");
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "revocation")) << r.err;
}

TEST_F(GatewayCaDownE2eTest, AGatewayThatNeverReachedTheCaSaysSo) {
  // Stop the gateway and the CA, then serve the same config again: the
  // gateway starts without the CA's keys.
  ASSERT_EQ(fixture_->StopGateway(), 0) << fixture_->GatewayLog();
  fixture_->ca_process().Stop();
  absl::StatusOr<uint16_t> port = FreeLoopbackPort();
  ASSERT_TRUE(port.ok());
  BackgroundProcess::Options po;
  po.log_path = dir_->File("gateway2.log");
  auto gateway = BackgroundProcess::Start(
      {RunfilePath("gateway/sallyport-gateway"), "serve", "--config",
       fixture_->gateway_state_dir() + "/gateway.yaml", "--listen",
       absl::StrCat("127.0.0.1:", *port)},
      po);
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  ASSERT_TRUE(WaitForTcpListener("127.0.0.1", *port, absl::Seconds(30)).ok())
      << ReadFileOrEmpty(po.log_path);
  const RunResult r =
      ViaGateway(*fixture_, "olivia", "web01", "echo should-not-run",
                 {"-p", absl::StrCat(*port)});
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "should-not-run"));
  EXPECT_TRUE(absl::StrContains(r.err, "the Sallyport CA is unreachable"))
      << r.Describe() << ReadFileOrEmpty(po.log_path);
  EXPECT_TRUE((*gateway)->Running()) << ReadFileOrEmpty(po.log_path);
}

}  // namespace
}  // namespace sallyport::testing
