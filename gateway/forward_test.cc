// The recorder's view of forwarding through the gateway (gwfwd): -J
// passthrough (events, never content), -W and -R (bytes through the tap).
// See gateway_test_fixture.h.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/files.h"
#include "gateway/gateway_test_fixture.h"
#include "gtest/gtest.h"
#include "tests/harness/echo_server.h"
#include "tests/harness/net_util.h"
#include "tests/harness/subprocess.h"

namespace sallyport::gateway {
namespace {

using testing::RunCommand;

// ---- forwarding (gwfwd): the recorder's view of -J, -W and -R.
class ForwardTest : public GatewayTest {
 protected:
  void SetUp() override {
    extra_kinds_ = {storage::ChannelKind::kPortForward,
                    storage::ChannelKind::kProxyJumpPassthrough};
    GatewayTest::SetUp();
  }
};

TEST_F(ForwardTest, JumpPassthroughRecordsStartEndAndBytesNotContent) {
  // What `ssh -J LOGIN@gw web01` runs for the first hop: a jump-only
  // connection (user name = the login) with -W.
  std::vector<std::string> hop = testing::SshClientArgs(
      server_->local_endpoint().port(), known_hosts_, key_path_, cert_path_);
  hop.insert(hop.end(), {"-W", "%h:%p", "-l", login_, "127.0.0.1"});
  std::vector<std::string> args = testing::SshClientArgs(
      sshd_->port(), known_hosts_, key_path_, cert_path_);
  args.insert(args.end(), {"-o", "ProxyCommand=" + absl::StrJoin(hop, " "),
                           "-l", login_, "web01", "echo inner"});
  auto r = RunCommand(args);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0) << r->Describe() << sshd_->Log();
  EXPECT_EQ(r->out, "inner\n");
  ASSERT_TRUE(AllChannelsClosed());
  ASSERT_EQ(recorder_.channels().size(), 1u);
  const ChannelInfo info = recorder_.channels()[0].info;
  EXPECT_EQ(info.type, "direct-tcpip");
  EXPECT_EQ(info.destination, absl::StrCat("web01:", sshd_->port()));
  EXPECT_EQ(info.login, login_);
  bool started = false, ended = false;
  for (const auto& e : recorder_.events()) {
    EXPECT_NE(e.kind, "data") << "passthrough content was recorded";
    started |= e.kind == "request" && e.bytes == "proxyjump-passthrough";
    ended |= e.kind == "request" && e.bytes == "passthrough-end" &&
             absl::StrContains(e.summary, "bytes_in=") &&
             !absl::StrContains(e.summary, "bytes_in=0 ");
  }
  EXPECT_TRUE(started);
  EXPECT_TRUE(ended);
}

TEST_F(ForwardTest, LocalForwardBytesGoThroughTheTap) {
  testing::EchoServer echo;
  ASSERT_NE(echo.port(), 0);
  std::vector<std::string> args = testing::SshClientArgs(
      server_->local_endpoint().port(), known_hosts_, key_path_, cert_path_);
  args.insert(args.end(), {"-W", absl::StrCat("127.0.0.1:", echo.port()), "-l",
                           login_ + "+web01", "127.0.0.1"});
  testing::RunOptions o;
  o.stdin_data = "forwarded bytes\n";
  auto r = RunCommand(args, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0) << r->Describe();
  EXPECT_EQ(r->out, o.stdin_data);
  EXPECT_EQ(recorder_.DataFor("web01", Direction::kInput), o.stdin_data);
  EXPECT_EQ(recorder_.DataFor("web01", Direction::kOutput), o.stdin_data);
  ASSERT_EQ(recorder_.channels().size(), 1u);
  EXPECT_EQ(recorder_.channels()[0].info.destination,
            absl::StrCat("127.0.0.1:", echo.port()));
}

// The host could not connect (nothing listens there): the user is told it
// was the host, to which destination, in the host's words.
TEST_F(ForwardTest, AForwardTheHostCannotConnectNamesHostAndDestination) {
  absl::StatusOr<uint16_t> closed = testing::FreeLoopbackPort();
  ASSERT_TRUE(closed.ok()) << closed.status();
  std::vector<std::string> args = testing::SshClientArgs(
      server_->local_endpoint().port(), known_hosts_, key_path_, cert_path_);
  const std::string destination = absl::StrCat("127.0.0.1:", *closed);
  args.insert(args.end(),
              {"-W", destination, "-l", login_ + "+web01", "127.0.0.1"});
  auto r = RunCommand(args);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->exit_code, 0) << r->Describe();
  EXPECT_TRUE(absl::StrContains(
      r->err, absl::StrCat("web01 could not connect to ", destination, ": ")))
      << r->Describe();
}

TEST_F(ForwardTest, RemoteForwardChannelsComeBackThroughTheTap) {
  testing::EchoServer echo;
  ASSERT_NE(echo.port(), 0);
  auto rport = testing::FreeLoopbackPort();
  ASSERT_TRUE(rport.ok());
  std::vector<std::string> args = testing::SshClientArgs(
      server_->local_endpoint().port(), known_hosts_, key_path_, cert_path_);
  args.insert(args.end(),
              {"-N", "-R", absl::StrCat(*rport, ":127.0.0.1:", echo.port()),
               "-l", login_ + "+web01", "127.0.0.1"});
  testing::BackgroundProcess::Options o;
  o.log_path = dir_->File("ssh_r.log");
  auto ssh = testing::BackgroundProcess::Start(args, o);
  ASSERT_TRUE(ssh.ok()) << ssh.status();
  // A connection to the port on the host comes back to the user's side.
  EXPECT_TRUE(testing::EchoesThrough(*rport, "back\n"))
      << testing::ReadFileOrEmpty(o.log_path) << GatewayLog();
  bool forwarded = false;
  for (const auto& c : recorder_.channels()) {
    forwarded |= c.info.type == "forwarded-tcpip" &&
                 c.info.destination == absl::StrCat("localhost:", *rport);
  }
  EXPECT_TRUE(forwarded);
  EXPECT_TRUE(absl::StrContains(recorder_.DataFor("web01", Direction::kInput),
                                "back\n"));
}

// issue 12 "revoked while connected": the CA knows of a revocation before
// the gateway does (another CA instance revoked the certificate: this
// CA's revocation stream finds it only at its next poll of the store, an
// hour here). The next channel the CA decides on the connection is
// refused, saying the certificate is revoked, and the connection ends
// then and there: allows the gateway cached for it open nothing more.
class RevokedAtTheCaTest : public ForwardTest {
 protected:
  void SetUp() override {
    ca_options_.revocation_poll = absl::Hours(1);
    ForwardTest::SetUp();
  }
};

TEST_F(RevokedAtTheCaTest, TheNextChannelIsRefusedAndTheConnectionEnds) {
  testing::EchoServer echo;
  ASSERT_NE(echo.port(), 0);
  auto before = testing::FreeLoopbackPort();
  auto after = testing::FreeLoopbackPort();
  ASSERT_TRUE(before.ok() && after.ok());
  ASSERT_NE(*before, *after);
  // Two local forwards to the echo server under two destinations, so
  // that the second is not answered from the first one's cached allow.
  std::vector<std::string> args = testing::SshClientArgs(
      server_->local_endpoint().port(), known_hosts_, key_path_, cert_path_);
  args.insert(args.end(),
              {"-o", "LogLevel=INFO", "-N", "-L",
               absl::StrCat(*before, ":127.0.0.1:", echo.port()), "-L",
               absl::StrCat(*after, ":localhost:", echo.port()), "-l",
               login_ + "+web01", "127.0.0.1"});
  testing::BackgroundProcess::Options o;
  o.log_path = dir_->File("ssh_l.log");
  auto ssh = testing::BackgroundProcess::Start(args, o);
  ASSERT_TRUE(ssh.ok()) << ssh.status();
  ASSERT_TRUE(testing::EchoesThrough(*before, "before\n"))
      << testing::ReadFileOrEmpty(o.log_path) << GatewayLog();

  auto line = base::ReadTextFile(cert_path_);
  ASSERT_TRUE(line.ok()) << line.status();
  auto cert = ssh::cert::Certificate::FromLine(*line);
  ASSERT_TRUE(cert.ok()) << cert.status();
  storage::Revocation r;
  r.serial = cert->serial;
  r.reason = "revoked by another CA instance";
  r.revoked_by = "admin";
  ASSERT_TRUE(env_->store().Revoke(r).ok());
  // The gateway has not heard of it.
  ASSERT_TRUE(
      server_->ca().CheckNotRevoked(cert->serial, cert->KeyFingerprint()).ok());

  // The new destination is decided by the CA: refused, saying why.
  EXPECT_EQ(testing::RoundTrip(*after, "after\n"), "");
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  while ((*ssh)->Running() && absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  const std::string log = testing::ReadFileOrEmpty(o.log_path);
  EXPECT_TRUE(absl::StrContains(log, "open failed")) << log;
  EXPECT_TRUE(absl::StrContains(log, "is revoked")) << log;
  // And the connection ended, saying so; the gateway still has not
  // heard of the revocation from its stream.
  EXPECT_FALSE((*ssh)->Running()) << log << GatewayLog();
  EXPECT_TRUE(absl::StrContains(log, kCertificateRevoked)) << log;
  EXPECT_TRUE(
      server_->ca().CheckNotRevoked(cert->serial, cert->KeyFingerprint()).ok());
  // Nothing is forwarded any more, not even to the cached destination.
  EXPECT_EQ(testing::RoundTrip(*before, "again\n"), "");
}

}  // namespace
}  // namespace sallyport::gateway
