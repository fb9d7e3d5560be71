// GatewayServer's operations in one process, against a real CA (SQLite),
// with serve_test_fixture.h: Reload applies limits and the log format and
// level, refuses an unreadable host certificate or a private key others may
// access, and names what needs a restart; log_level drops the lines below
// it; the renewal thread renews the mTLS and SSH host certificates once
// they are due (renew_fraction 0: at once) and the CA accepts the new ones;
// a reload waits for a renewal under way. Listeners: serve_listen_test.cc;
// /healthz: serve_health_test.cc.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "base/files.h"
#include "ca/source_relay.h"
#include "gateway/enroll.h"
#include "gateway/renew_host.h"
#include "gateway/serve.h"
#include "gateway/serve_test_fixture.h"
#include "gtest/gtest.h"
#include "tests/harness/net_util.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/wall_clock_step.h"

namespace sallyport::gateway {
namespace {

TEST_F(ServeOpsTest, ReloadAppliesLimitsAndLogFormatAndNamesRestarts) {
  StartServer("limits:\n  max_sessions_per_user: 5\n", 2.0 / 3.0);
  EXPECT_EQ(server_->proxy().limits().max_sessions_per_user, 5);
  ASSERT_TRUE(
      testing::WriteFile(gw_dir_ + "/gateway.yaml",
                         absl::StrCat(base_yaml_,
                                      "log_format: json\nlimits:\n"
                                      "  max_sessions_per_user: 2\n"
                                      "  max_auth_tries: 3\n"
                                      "  max_channels_per_connection: 4\n"
                                      "  idle_timeout: 90s\n"
                                      "  max_startups: \"5:50:20\"\n"
                                      "  login_grace: 7s\n"
                                      "revocation_grace: 10s\n"
                                      "spool_fsync_interval: 3s\n"
                                      "spool_max_bytes: 1048576\n"
                                      "record_exec_output_limit: 1024\n"))
          .ok());
  auto fresh = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  const uint16_t port = server_->local_endpoint().port();
  ASSERT_TRUE(server_->Reload(*fresh).ok());
  const ProxyLimits l = server_->proxy().limits();
  EXPECT_EQ(l.max_sessions_per_user, 2);
  EXPECT_EQ(l.max_auth_tries, 3);
  EXPECT_EQ(l.max_channels_per_connection, 4u);
  EXPECT_EQ(l.idle_timeout, absl::Seconds(90));
  EXPECT_EQ(server_->settings().limits.max_startups.full, 20);
  EXPECT_EQ(server_->settings().limits.login_grace, absl::Seconds(7));
  EXPECT_EQ(server_->ops().log_format(), base::LogFormat::kJson);
  // The listeners were replaced on the same port.
  EXPECT_EQ(server_->local_endpoint().port(), port);
  EXPECT_TRUE(
      testing::WaitForTcpListener("127.0.0.1", port, absl::Seconds(10)).ok());
  // Named, not silently kept as they were (the recorder is made at start).
  EXPECT_TRUE(absl::StrContains(
      Log(),
      "needs a restart to take effect: revocation_grace, "
      "spool_fsync_interval, spool_max_bytes, record_exec_output_limit"))
      << Log();
  EXPECT_NE(server_->settings().revocation_grace, absl::Seconds(10));

  // An unreadable host certificate: the reload is refused, nothing changes.
  ASSERT_TRUE(testing::WriteFile(gw_dir_ + "/ssh_host_ed25519_key-cert.pub",
                                 "garbage\n")
                  .ok());
  fresh->limits.max_sessions_per_user = 9;
  EXPECT_FALSE(server_->Reload(*fresh).ok());
  EXPECT_EQ(server_->proxy().limits().max_sessions_per_user, 2);
}

// The two private keys in the state dir, as `enroll` wrote them.
constexpr const char* kPrivateKeys[] = {"ssh_host_ed25519_key",
                                        "gateway_tls.key"};

// A private key that group or others may read or write, or that another
// user owns, is not the gateway's alone: `serve` does not start, and says
// which file and how to fix it.
TEST_F(ServeOpsTest, ServeRefusesPrivateKeysOthersCanAccess) {
  for (const char* name : kPrivateKeys) {
    const std::string key = gw_dir_ + "/" + name;
    for (mode_t mode : {0640, 0604, 0620, 0602, 0644}) {
      ASSERT_EQ(chmod(key.c_str(), mode), 0);
      auto server = TryStart("", 2.0 / 3.0);
      ASSERT_FALSE(server.ok()) << name << " " << mode;
      EXPECT_EQ(server.status().code(), absl::StatusCode::kPermissionDenied);
      EXPECT_TRUE(absl::StrContains(server.status().message(),
                                    absl::StrCat("chmod 600 ", key)))
          << server.status();
    }
    ASSERT_EQ(chmod(key.c_str(), 0600), 0);
    // Owned by another user (tests run as root, who may give it away).
    if (geteuid() == 0) {
      ASSERT_EQ(chown(key.c_str(), 65534, 65534), 0);
      auto server = TryStart("", 2.0 / 3.0);
      ASSERT_FALSE(server.ok()) << name;
      EXPECT_EQ(server.status().code(), absl::StatusCode::kPermissionDenied);
      EXPECT_TRUE(absl::StrContains(server.status().message(),
                                    absl::StrCat(key,
                                                 " is a private key "
                                                 "owned by uid 65534")))
          << server.status();
      ASSERT_EQ(chown(key.c_str(), 0, 0), 0);
    }
  }
  // 0600 (or 0400) and ours: it starts.
  ASSERT_EQ(chmod((gw_dir_ + "/" + kPrivateKeys[0]).c_str(), 0400), 0);
  StartServer("", 2.0 / 3.0);
  EXPECT_TRUE(server_->Health().ok()) << server_->Health();
}

// SIGHUP with a key others may access: the reload is refused with the file
// and the fix, and nothing of the new settings is applied.
TEST_F(ServeOpsTest, ReloadRefusesPrivateKeysOthersCanAccess) {
  StartServer("limits:\n  max_sessions_per_user: 5\n", 2.0 / 3.0);
  auto fresh = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  fresh->limits.max_sessions_per_user = 2;
  fresh->log_format = base::LogFormat::kJson;
  for (const char* name : kPrivateKeys) {
    const std::string key = gw_dir_ + "/" + name;
    ASSERT_EQ(chmod(key.c_str(), 0644), 0);
    ClearLog();
    const absl::Status st = server_->Reload(*fresh);
    EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied) << st;
    EXPECT_TRUE(
        absl::StrContains(st.message(), absl::StrCat("chmod 600 ", key)))
        << st;
    EXPECT_TRUE(absl::StrContains(Log(), "reload refused")) << Log();
    EXPECT_TRUE(absl::StrContains(Log(), "outcome=failure")) << Log();
    EXPECT_EQ(server_->proxy().limits().max_sessions_per_user, 5);
    EXPECT_EQ(server_->settings().limits.max_sessions_per_user, 5);
    EXPECT_EQ(server_->ops().log_format(), base::LogFormat::kText);
    ASSERT_EQ(chmod(key.c_str(), 0600), 0);
    if (geteuid() == 0) {
      ASSERT_EQ(chown(key.c_str(), 65534, 65534), 0);
      EXPECT_EQ(server_->Reload(*fresh).code(),
                absl::StatusCode::kPermissionDenied);
      EXPECT_EQ(server_->proxy().limits().max_sessions_per_user, 5);
      ASSERT_EQ(chown(key.c_str(), 0, 0), 0);
    }
  }
  // Fixed: the same reload is applied.
  ASSERT_TRUE(server_->Reload(*fresh).ok()) << Log();
  EXPECT_EQ(server_->proxy().limits().max_sessions_per_user, 2);
  EXPECT_EQ(server_->ops().log_format(), base::LogFormat::kJson);
}

// Each private key in the state dir with the certificate that must certify
// it, as `enroll` wrote them.
struct KeyPair {
  const char* key;
  const char* certificate;
};
constexpr KeyPair kKeyPairs[] = {
    {"ssh_host_ed25519_key", "ssh_host_ed25519_key-cert.pub"},
    {"gateway_tls.key", "gateway_tls.crt"}};

// The one line `serve` and a reload refuse a key and certificate that do
// not match with: both files and what to do.
void ExpectMismatchRefusal(const absl::Status& st, const std::string& gw_dir,
                           const KeyPair& pair) {
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  for (const std::string& path :
       {absl::StrCat(gw_dir, "/", pair.key),
        absl::StrCat(gw_dir, "/", pair.certificate),
        std::string("run `sallyport-gateway enroll --force` again")}) {
    EXPECT_TRUE(absl::StrContains(st.message(), path)) << st;
  }
  EXPECT_FALSE(absl::StrContains(st.message(), "\n")) << st;
}

// A key that is not the one its certificate certifies (SSH host key vs
// host certificate, TLS key vs mTLS certificate): `serve` does not start,
// before it listens, and names both files and the way out. Put back, it
// starts.
TEST_F(ServeOpsTest, ServeRefusesAKeyItsCertificateIsNotFor) {
  for (const KeyPair& pair : kKeyPairs) {
    const std::string key = gw_dir_ + "/" + pair.key;
    const std::string original = ReplaceWithStrayKey(pair.key);
    ClearLog();
    auto server = TryStart("", 2.0 / 3.0);
    ASSERT_FALSE(server.ok()) << pair.key;
    ExpectMismatchRefusal(server.status(), gw_dir_, pair);
    EXPECT_FALSE(absl::StrContains(Log(), "listening on")) << Log();
    ASSERT_TRUE(testing::WriteFile(key, original, 0600).ok());
  }
  StartServer("", 2.0 / 3.0);
  EXPECT_TRUE(server_->Health().ok()) << server_->Health();
}

// The host public key `ssh-keyscan` (real OpenSSH) sees on `port`.
std::string ScannedHostKey(uint16_t port) {
  auto r = testing::RunCommand({"ssh-keyscan", "-T", "20", "-t", "ed25519",
                                "-p", std::to_string(port), "127.0.0.1"});
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return "";
  const size_t at = r->out.find("ssh-ed25519 ");
  if (at == std::string::npos) return r->out;
  const size_t end = r->out.find('\n', at);
  return r->out.substr(at, end == std::string::npos ? end : end - at);
}

// SIGHUP over such a pair: the reload is refused with the same line,
// nothing of the new settings is applied, and the gateway goes on with
// the key and certificates it runs with (the same host key for `ssh`, a
// CA channel that still works).
TEST_F(ServeOpsTest, ReloadRefusesAKeyItsCertificateIsNotForAndKeepsTheOld) {
  StartServer("limits:\n  max_sessions_per_user: 5\n", 100.0);
  const uint16_t port = server_->local_endpoint().port();
  const std::string host_key = ScannedHostKey(port);
  ASSERT_TRUE(absl::StartsWith(host_key, "ssh-ed25519 ")) << host_key;
  auto fresh = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  fresh->limits.max_sessions_per_user = 2;
  for (const KeyPair& pair : kKeyPairs) {
    const std::string key = gw_dir_ + "/" + pair.key;
    const std::string original = ReplaceWithStrayKey(pair.key);
    ClearLog();
    const absl::Status st = server_->Reload(*fresh);
    ExpectMismatchRefusal(st, gw_dir_, pair);
    EXPECT_EQ(LogLines("reload refused: ").size(), 1u) << Log();
    EXPECT_TRUE(absl::StrContains(Log(), "outcome=failure")) << Log();
    EXPECT_EQ(server_->proxy().limits().max_sessions_per_user, 5);
    EXPECT_EQ(ScannedHostKey(port), host_key);
    if (absl::StartsWith(pair.key, "ssh_")) {
      // Nor is the mismatched pair renewed.
      auto cert = base::ReadTextFile(gw_dir_ + "/" + pair.certificate);
      EXPECT_FALSE(server_->RenewHostCertificateNow().ok()) << Log();
      EXPECT_EQ(base::ReadTextFile(gw_dir_ + "/" + pair.certificate).value(),
                cert.value());
    } else {
      // The CA channel still presents the enrolled identity.
      EXPECT_TRUE(server_->RenewHostCertificateNow().ok()) << Log();
    }
    ASSERT_TRUE(testing::WriteFile(key, original, 0600).ok());
  }
  ASSERT_TRUE(server_->Reload(*fresh).ok()) << Log();
  EXPECT_EQ(server_->proxy().limits().max_sessions_per_user, 2);
  EXPECT_EQ(ScannedHostKey(port), host_key);
}

// A client that sends a line that is not an SSH version: the gateway
// closes the connection (a failure of that connection).
void SendGarbage(uint16_t port) {
  auto r = testing::RunCommand(
      {"timeout", "10", "bash", "-c",
       absl::StrCat("exec 3<>/dev/tcp/127.0.0.1/", port,
                    "; printf 'garbage\\r\\n' >&3; cat <&3 >/dev/null")});
  EXPECT_TRUE(r.ok());
}

TEST_F(ServeOpsTest, TheLogLevelDropsLinesBelowItAndIsReloaded) {
  StartServer("log_level: warn\n", 2.0 / 3.0);
  const uint16_t port = server_->local_endpoint().port();
  SendGarbage(port);
  ASSERT_TRUE(WaitForLog("event=connection.close outcome=failure")) << Log();
  // warn: the refused connection and the gateway's own notices, but not
  // the connection's open (a success) and no per-session trace.
  EXPECT_FALSE(absl::StrContains(Log(), "event=connection.open")) << Log();
  EXPECT_FALSE(absl::StrContains(Log(), "event=detail")) << Log();
  EXPECT_TRUE(absl::StrContains(Log(), "event=gateway")) << Log();

  // SIGHUP to debug: applied at once, not "needs a restart".
  ASSERT_TRUE(testing::WriteFile(gw_dir_ + "/gateway.yaml",
                                 base_yaml_ + "log_level: debug\n")
                  .ok());
  auto fresh = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  ASSERT_TRUE(server_->Reload(*fresh).ok());
  EXPECT_TRUE(absl::StrContains(Log(), "log_level=debug")) << Log();
  EXPECT_FALSE(absl::StrContains(Log(), "needs a restart")) << Log();
  SendGarbage(port);
  ASSERT_TRUE(WaitForLog("event=connection.open outcome=success")) << Log();
  EXPECT_TRUE(WaitForLog("event=detail")) << Log();

  // Back to info: the trace stops, the events stay.
  ASSERT_TRUE(testing::WriteFile(gw_dir_ + "/gateway.yaml",
                                 base_yaml_ + "log_level: info\n")
                  .ok());
  fresh = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  ASSERT_TRUE(server_->Reload(*fresh).ok());
  ClearLog();
  SendGarbage(port);
  ASSERT_TRUE(WaitForLog("event=connection.close outcome=failure")) << Log();
  EXPECT_TRUE(absl::StrContains(Log(), "event=connection.open")) << Log();
  EXPECT_FALSE(absl::StrContains(Log(), "event=detail")) << Log();

  // error: a reload refused for a broken host certificate is still logged,
  // as a failure (it was logged as a success, and dropped at `error`).
  ASSERT_TRUE(testing::WriteFile(gw_dir_ + "/gateway.yaml",
                                 base_yaml_ + "log_level: error\n")
                  .ok());
  fresh = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  ASSERT_TRUE(server_->Reload(*fresh).ok());
  ClearLog();
  ASSERT_TRUE(testing::WriteFile(gw_dir_ + "/ssh_host_ed25519_key-cert.pub",
                                 "garbage\n")
                  .ok());
  EXPECT_FALSE(server_->Reload(*fresh).ok());
  EXPECT_TRUE(absl::StrContains(Log(), "reload refused")) << Log();
  EXPECT_TRUE(absl::StrContains(Log(), "outcome=failure")) << Log();
}

TEST_F(ServeOpsTest, TheMtlsCertificateIsRenewedWhenDue) {
  auto before = ReadTlsCertificateLifetime(gw_dir_ + "/gateway_tls.crt");
  ASSERT_TRUE(before.ok()) << before.status();
  auto pem_before = base::ReadTextFile(gw_dir_ + "/gateway_tls.crt");
  ASSERT_TRUE(pem_before.ok());
  // Due at once: the renewal thread renews at start.
  StartServer("", 0.0);
  const absl::Time limit = absl::Now() + absl::Seconds(60);
  while (server_->renewals() == 0 && absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_GE(server_->renewals(), 1) << Log();
  auto pem_after = base::ReadTextFile(gw_dir_ + "/gateway_tls.crt");
  ASSERT_TRUE(pem_after.ok());
  EXPECT_NE(*pem_after, *pem_before);
  auto after = ReadTlsCertificateLifetime(gw_dir_ + "/gateway_tls.crt");
  ASSERT_TRUE(after.ok());
  EXPECT_GE(after->not_after, before->not_after);
  EXPECT_TRUE(absl::StrContains(Log(), "mTLS certificate renewed")) << Log();
  // The renewed identity works: a renewal over it is accepted.
  EXPECT_TRUE(server_->RenewIdentityNow().ok()) << Log();
  EXPECT_TRUE(server_->Health().ok()) << server_->Health();
}

// gwrest: an expiring host certificate (600 of its 720 hours gone, past
// renew_fraction 2/3) is renewed once by the renewal thread
// (Gateway.RenewGatewayHostCertificate), written into the state dir, and
// the next stock `ssh` with only `@cert-authority` for our host CA sees the
// new certificate without a prompt.
TEST_F(ServeOpsTest, AnExpiringHostCertificateIsRenewedAndPresented) {
  ASSERT_TRUE(testing::WriteFile(gw_dir_ + "/gateway.yaml", base_yaml_).ok());
  auto config = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  auto enrolled = ReadHostCertificate(*config);
  ASSERT_TRUE(enrolled.ok()) << enrolled.status();
  ResignHostCertificate(*config, "77", "-600h:+120h");

  StartServer("", 2.0 / 3.0);
  const absl::Time limit = absl::Now() + absl::Seconds(60);
  while (server_->host_renewals() == 0 && absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(server_->host_renewals(), 1) << Log();
  auto renewed = ReadHostCertificate(*config);
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_NE(renewed->serial, 77u);
  EXPECT_EQ(renewed->key, enrolled->key);
  EXPECT_EQ(renewed->principals, enrolled->principals);
  EXPECT_GT(renewed->valid_before, static_cast<uint64_t>(absl::ToUnixSeconds(
                                       absl::Now() + absl::Hours(700))));
  EXPECT_TRUE(absl::StrContains(Log(), "host certificate renewed")) << Log();
  // Not due any more: a second second of checks renews nothing.
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(server_->host_renewals(), 1) << Log();

  // Stock ssh trusting only our host CA: the new certificate, no prompt.
  const std::string known_hosts = dir_->File("known_hosts");
  ASSERT_TRUE(
      testing::WriteFile(known_hosts,
                         absl::StrCat("@cert-authority * ",
                                      env_->init().host_ca_public_key, "\n"))
          .ok());
  auto r =
      testing::RunCommand({"ssh",
                           "-F",
                           "/dev/null",
                           "-v",
                           "-o",
                           "BatchMode=yes",
                           "-o",
                           "StrictHostKeyChecking=yes",
                           "-o",
                           "UserKnownHostsFile=" + known_hosts,
                           "-o",
                           "GlobalKnownHostsFile=/dev/null",
                           "-o",
                           "IdentitiesOnly=yes",
                           "-o",
                           "IdentityFile=/dev/null",
                           "-o",
                           "ConnectTimeout=30",
                           "-p",
                           std::to_string(server_->local_endpoint().port()),
                           "nobody@127.0.0.1",
                           "true"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(absl::StrContains(
      r->err, absl::StrCat("serial ", renewed->serial, " ID \"gw1\"")))
      << r->Describe();
  EXPECT_FALSE(absl::StrContains(r->err, "serial 77 ")) << r->Describe();
  EXPECT_FALSE(absl::StrContains(r->err, "Host key verification failed"))
      << r->Describe();
  // Past the host key check: refused only for want of a user certificate.
  EXPECT_TRUE(absl::StrContains(r->err, "Permission denied")) << r->Describe();
}

// The renewal thread checks every renew_check_interval whatever the wall
// clock does: after a step (this process's clock an hour ahead; to a wait
// timed on the wall clock, the same as the real clock an hour back) a host
// certificate that has become due is renewed at the next check, not an
// hour later.
TEST_F(ServeOpsTest, TheRenewalChecksGoOnAfterAWallClockStep) {
  if (!testing::InChildUnderFakeWallClock()) return;
  ASSERT_TRUE(testing::WriteFile(gw_dir_ + "/gateway.yaml", base_yaml_).ok());
  auto config = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  StartServer("", 2.0 / 3.0);
  ASSERT_NO_FATAL_FAILURE(testing::SetWallClockInChild(absl::Hours(1)));
  EXPECT_EQ(server_->host_renewals(), 0) << Log();
  ResignHostCertificate(*config, "77", "-600h:+120h");
  const absl::Time limit = absl::Now() + absl::Seconds(10);
  while (server_->host_renewals() == 0 && absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(server_->host_renewals(), 1) << Log();
}

// A SIGHUP while a renewal is under way waits for it (Reload holds the
// renewals' lock): it never reads a key and certificate the renewal is
// replacing, nor presents the old certificate over the renewed one. The CA
// is reached through a relay that holds the renewal's call back.

TEST_F(ServeOpsTest, AReloadWaitsForTheRenewalUnderWay) {
  auto relay = RelayTheCa();
  ASSERT_NE(relay, nullptr);
  // renew_fraction 100: only the calls below renew.
  StartServer("", 100.0);
  auto fresh = LoadServeConfig(gw_dir_ + "/gateway.yaml");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  fresh->limits.max_sessions_per_user = 3;

  relay->Freeze();
  std::atomic<bool> renewing{false};
  absl::StatusOr<absl::Time> renewed = absl::UnknownError("not yet");
  std::thread renewal([&] {
    renewing = true;
    renewed = server_->RenewHostCertificateNow();
  });
  while (!renewing) absl::SleepFor(absl::Milliseconds(1));
  // Into its call to the CA (held by the relay), holding the lock.
  absl::SleepFor(absl::Milliseconds(500));
  absl::Notification reloaded;
  absl::Status reload = absl::UnknownError("not yet");
  std::thread reloader([&] {
    reload = server_->Reload(*fresh);
    reloaded.Notify();
  });
  EXPECT_FALSE(reloaded.WaitForNotificationWithTimeout(absl::Seconds(1)))
      << "the reload ran while the renewal was under way";
  relay->Thaw();
  renewal.join();
  reloader.join();
  ASSERT_TRUE(renewed.ok()) << renewed.status() << Log();
  ASSERT_TRUE(reload.ok()) << reload << Log();
  EXPECT_EQ(server_->proxy().limits().max_sessions_per_user, 3);
  const std::string log = Log();
  const size_t renewed_at = log.find("host certificate renewed");
  const size_t reloaded_at = log.find("reloaded: ");
  ASSERT_NE(renewed_at, std::string::npos) << log;
  ASSERT_NE(reloaded_at, std::string::npos) << log;
  EXPECT_LT(renewed_at, reloaded_at) << log;
}

// A key replaced while its certificate is being renewed (`enroll --force`
// meanwhile): the renewed certificate, for the key it replaced, is not
// written over the new one (that would leave the new key beside a
// certificate for the old). The CA is reached through a relay that holds
// the renewal's call back while the key is replaced.
TEST_F(ServeOpsTest, ARenewalDoesNotWriteOverAKeyReplacedDuringIt) {
  auto relay = RelayTheCa();
  ASSERT_NE(relay, nullptr);
  StartServer("", 100.0);
  for (const KeyPair& pair : kKeyPairs) {
    const std::string certificate = gw_dir_ + "/" + pair.certificate;
    auto before = base::ReadTextFile(certificate);
    ASSERT_TRUE(before.ok());
    relay->Freeze();
    absl::Status renewed = absl::UnknownError("not yet");
    std::thread renewal([&] {
      renewed = absl::StartsWith(pair.key, "ssh_")
                    ? server_->RenewHostCertificateNow().status()
                    : server_->RenewIdentityNow().status();
    });
    // Into its call to the CA (held by the relay).
    absl::SleepFor(absl::Milliseconds(500));
    const std::string original = ReplaceWithStrayKey(pair.key);
    relay->Thaw();
    renewal.join();
    EXPECT_EQ(renewed.code(), absl::StatusCode::kAborted) << renewed << Log();
    EXPECT_TRUE(absl::StrContains(renewed.message(), "was replaced"))
        << renewed;
    EXPECT_EQ(base::ReadTextFile(certificate).value(), *before) << pair.key;
    ASSERT_TRUE(
        testing::WriteFile(gw_dir_ + "/" + pair.key, original, 0600).ok());
  }
}

}  // namespace
}  // namespace sallyport::gateway
