// A revocation ends the connections that use the certificate and only
// those (Proxy::EndRevoked finds them by serial and key fingerprint; it
// used to post to every connection for every revocation, 10 million
// closures for a catch-up of 10,000 with 1,000 connections open): jump-only
// connections, LOGIN+HOST sessions, a recorded ProxyJump's inner
// connection, and a connection still waiting for the CA to decide its
// login. See gateway_test_fixture.h; session_end_test.cc has the
// revocation that comes from the CA's stream.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gateway/gateway_test_fixture.h"
#include "gateway/proxy.h"
#include "gtest/gtest.h"
#include "ssh/cert/certificate_file.h"
#include "tests/harness/subprocess.h"

namespace sallyport::gateway {
namespace {

using testing::BackgroundProcess;

class RevocationTest : public GatewayTest {
 protected:
  // Whether `done` became true within 30 s (asked every 50 ms).
  static bool WaitUntil(const std::function<bool()>& done) {
    const absl::Time limit = absl::Now() + absl::Seconds(30);
    for (;;) {
      if (done()) return true;
      if (absl::Now() >= limit) return false;
      absl::SleepFor(absl::Milliseconds(50));
    }
  }

  // Waits for `n` authentications in the gateway's log.
  bool WaitForLogins(size_t n) {
    return WaitUntil([&] {
      const std::string log = GatewayLog();
      size_t seen = 0;
      for (size_t at = log.find("event=auth.ok"); at != std::string::npos;
           at = log.find("event=auth.ok", at + 1)) {
        ++seen;
      }
      return seen >= n;
    });
  }

  // `ssh -N` through the gateway as `user` with this key and certificate,
  // logging to `log`.
  std::unique_ptr<BackgroundProcess> HoldConnection(const std::string& user,
                                                    const std::string& key,
                                                    const std::string& cert,
                                                    const std::string& log) {
    std::vector<std::string> args = testing::SshClientArgs(
        server_->local_endpoint().port(), known_hosts_, key, cert);
    args.insert(args.end(),
                {"-o", "LogLevel=INFO", "-N", "-l", user, "127.0.0.1"});
    BackgroundProcess::Options o;
    o.log_path = log;
    auto p = BackgroundProcess::Start(args, o);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? std::move(*p) : nullptr;
  }

  static bool Exits(BackgroundProcess& p) {
    return WaitUntil([&] { return !p.Running(); });
  }

  // What a revocation names of the certificate at `path`.
  struct Revocable {
    uint64_t serial = 0;
    std::string key_fingerprint;
  };
  static Revocable RevocableOf(const std::string& path) {
    auto cert = ssh::cert::LoadCertificate(path);
    EXPECT_TRUE(cert.ok()) << cert.status();
    if (!cert.ok()) return {};
    return {cert->serial, cert->KeyFingerprint()};
  }
};

// Three connections with alice's other certificates (fresh keys from
// Login) and one LOGIN+HOST session with hers: revoking hers notifies and
// ends that one alone; a revocation nobody uses notifies none.
TEST_F(RevocationTest, OnlyTheConnectionsUsingTheCertificateAreNotified) {
  constexpr int kOthers = 3;
  std::vector<std::unique_ptr<BackgroundProcess>> others;
  std::vector<std::string> other_fingerprints;
  for (int i = 0; i < kOthers; ++i) {
    auto login = env_->Login("alice", "alice-pw");
    ASSERT_TRUE(login.status.ok()) << login.status.error_message();
    const std::string key = dir_->File(absl::StrCat("other", i));
    const std::string cert = key + "-cert.pub";
    ASSERT_TRUE(testing::WriteFile(key, login.ssh_private_key, 0600).ok());
    ASSERT_TRUE(
        testing::WriteFile(cert, login.response.ssh_certificate() + "\n").ok());
    other_fingerprints.push_back(RevocableOf(cert).key_fingerprint);
    // Jump-only connections (a login without +HOST).
    others.push_back(
        HoldConnection(login_, key, cert, dir_->File(absl::StrCat("o", i))));
    ASSERT_NE(others.back(), nullptr);
  }
  const std::string alice_log = dir_->File("alice.log");
  std::unique_ptr<BackgroundProcess> alice =
      HoldConnection(login_ + "+web01", key_path_, cert_path_, alice_log);
  ASSERT_NE(alice, nullptr);
  ASSERT_TRUE(WaitForLogins(kOthers + 1)) << GatewayLog();
  ASSERT_EQ(server_->proxy().active_connections(), size_t{kOthers + 1});

  EXPECT_EQ(server_->proxy().EndRevoked(987654321, "SHA256:nobody-uses-it"),
            0u);
  const Revocable cert = RevocableOf(cert_path_);
  EXPECT_EQ(server_->proxy().EndRevoked(cert.serial, ""), 1u);
  ASSERT_TRUE(Exits(*alice)) << GatewayLog();
  EXPECT_TRUE(absl::StrContains(testing::ReadFileOrEmpty(alice_log),
                                kCertificateRevoked))
      << testing::ReadFileOrEmpty(alice_log);
  // An ended connection is no longer found (once the gateway let it go,
  // which may be after ssh exited).
  WaitUntil(
      [&] { return server_->proxy().active_connections() == size_t{kOthers}; });
  EXPECT_EQ(server_->proxy().EndRevoked(0, cert.key_fingerprint), 0u);
  for (auto& p : others) EXPECT_TRUE(p->Running());

  // By key fingerprint: the one connection of that key.
  EXPECT_EQ(server_->proxy().EndRevoked(0, other_fingerprints[1]), 1u);
  EXPECT_TRUE(Exits(*others[1]));
  EXPECT_TRUE(others[0]->Running());
  EXPECT_TRUE(others[2]->Running());
}

class RevocationJumpTest : public RevocationTest {};

// A recorded ProxyJump authenticates twice with the certificate: on the
// jump connection and on the inner connection inside it. Both are found,
// and the session ends as revoked.
TEST_F(RevocationJumpTest, TheJumpAndItsInnerConnectionAreBothEnded) {
  std::vector<std::string> hop = testing::SshClientArgs(
      server_->local_endpoint().port(), known_hosts_, key_path_, cert_path_);
  hop.insert(hop.end(), {"-W", "%h:%p", "-l", login_, "127.0.0.1"});
  std::vector<std::string> args = testing::SshClientArgs(
      sshd_->port(), known_hosts_, key_path_, cert_path_);
  args.insert(args.end(),
              {"-o", "ProxyCommand=" + absl::StrJoin(hop, " "), "-l", login_,
               "web01", "echo started; sleep 40; echo late"});
  testing::RunResult r;
  std::thread client([&] {
    auto run = testing::RunCommand(args);
    ASSERT_TRUE(run.ok()) << run.status();
    r = *run;
  });
  EXPECT_TRUE(WaitUntil([&] {
    return absl::StrContains(recorder_.DataFor("web01", Direction::kOutput),
                             "started");
  })) << GatewayLog();
  const Revocable cert = RevocableOf(cert_path_);
  EXPECT_EQ(server_->proxy().EndRevoked(cert.serial, ""), 2u) << GatewayLog();
  client.join();
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "late")) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "revoked")) << r.Describe();
  // The gateway's line may come after ssh exited.
  EXPECT_TRUE(WaitUntil([&] {
    return absl::StrContains(GatewayLog(), "result=\"revoked\"");
  })) << GatewayLog();
}

class RevocationWhileLoggingInTest : public RevocationTest {
 protected:
  void SetUp() override {
    relay_ca_ = true;
    RevocationTest::SetUp();
  }
};

// A certificate is the connection's from its signed request on, while the
// CA is still deciding the login: a revocation then ends it too.
TEST_F(RevocationWhileLoggingInTest, AConnectionWaitingForTheCaIsEnded) {
  const std::string log = dir_->File("alice.log");
  ca_relay_->Freeze();
  std::unique_ptr<BackgroundProcess> alice =
      HoldConnection(login_ + "+web01", key_path_, cert_path_, log);
  ASSERT_NE(alice, nullptr);
  const Revocable cert = RevocableOf(cert_path_);
  size_t notified = 0;
  WaitUntil([&] {
    notified = server_->proxy().EndRevoked(0, cert.key_fingerprint);
    return notified != 0;
  });
  EXPECT_EQ(notified, 1u) << GatewayLog();
  EXPECT_TRUE(Exits(*alice)) << GatewayLog();
  ca_relay_->Thaw();
  EXPECT_TRUE(
      absl::StrContains(testing::ReadFileOrEmpty(log), kCertificateRevoked))
      << testing::ReadFileOrEmpty(log);
  EXPECT_FALSE(absl::StrContains(GatewayLog(), "event=auth.ok"))
      << GatewayLog();
}

}  // namespace
}  // namespace sallyport::gateway
