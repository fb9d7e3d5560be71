// CaClient against a real in-process CA (ca/gateway_test_util): the pinned
// mTLS channel, the cached CA keys, asynchronous calls completing on the
// caller's executor, the revocation set fed by the stream, and failing
// closed once the CA has been gone longer than revocation_grace.
#include "gateway/ca_client.h"

#include <asio.hpp>
#include <atomic>
#include <functional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "base/clock.h"
#include "base/files.h"
#include "ca/gateway_test_util.h"
#include "ca/source_relay.h"
#include "gtest/gtest.h"
#include "ssh/cert/certificate.h"
#include "ssh/crypto/keys.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::gateway {
namespace {

namespace gw = gateway::v1;

// Polls `pred` for up to `limit`.
template <typename Pred>
bool WaitFor(Pred pred, absl::Duration limit = absl::Seconds(20)) {
  const absl::Time end = absl::Now() + limit;
  while (absl::Now() < end) {
    if (pred()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return pred();
}

class CaClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = ca::StartCa(ca::Backend::kSqlite, &pg_);
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = std::move(*env);
    storage::Role ops;
    ops.name = "ops";
    ops.logins = {"root"};
    ops.hosts = {storage::HostSelector{.labels = {}, .name_globs = {"web*"}}};
    ops.channels = {storage::ChannelKind::kShell};
    ASSERT_TRUE(env_->store().CreateRole(ops).ok());
    ASSERT_TRUE(env_->AddUser("alice", "alice-pw", {"ops"}).ok());
    alice_ = env_->Login("alice", "alice-pw");
    ASSERT_TRUE(alice_.status.ok()) << alice_.status.error_message();
    gateway_ = ca::EnrollOrDie(*env_, "gw1");
    auto dir = testing::TempDir::Create("gwca");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<testing::TempDir>(std::move(*dir));
    channel_options_.address = env_->server().address();
    channel_options_.tls_key_path = dir_->File("gateway_tls.key");
    channel_options_.tls_certificate_path = dir_->File("gateway_tls.crt");
    ASSERT_TRUE(
        testing::WriteFile(channel_options_.tls_key_path, gateway_.tls_key_pem)
            .ok());
    ASSERT_TRUE(
        testing::WriteFile(channel_options_.tls_certificate_path,
                           gateway_.response.tls_client_certificate_pem())
            .ok());
    auto pem = base::ReadTextFile(env_->dir() + "/state/tls.crt");
    ASSERT_TRUE(pem.ok()) << pem.status();
    auto fp = CertificatePemFingerprint(*pem);
    ASSERT_TRUE(fp.ok()) << fp.status();
    channel_options_.fingerprint = *fp;
    channel_options_.ca_certificate_path = env_->dir() + "/state/tls.crt";
  }

  std::unique_ptr<CaClient> MakeClient(
      const base::Clock* clock = nullptr,
      absl::Duration grace = absl::Seconds(60),
      const std::function<void(CaClient::Options*)>& edit = nullptr) {
    auto channel = MakeCaChannel(channel_options_);
    EXPECT_TRUE(channel.ok()) << channel.status();
    if (!channel.ok()) return nullptr;
    CaClient::Options o;
    o.channel = *channel;
    o.clock = clock;
    o.revocation_grace = grace;
    o.reconnect_initial = absl::Milliseconds(50);
    o.reconnect_max = absl::Milliseconds(200);
    if (edit) edit(&o);
    auto c = CaClient::Create(std::move(o));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  static int PortOf(const std::string& address) {
    int port = 0;
    return absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port)
               ? port
               : 0;
  }

  // A relay in front of the CA, on `listen_port` (0: a free port); the
  // clients MakeClient makes from now on connect through it.
  absl::StatusOr<std::unique_ptr<ca::SourceRelay>> RelayToCa(
      int listen_port = 0) {
    auto relay = ca::SourceRelay::Start(
        "127.0.0.1", PortOf(env_->server().address()), listen_port);
    if (relay.ok()) channel_options_.address = (*relay)->address();
    return relay;
  }

  // The inventory host "web01" (127.0.0.1:22), selected by role "ops".
  absl::Status CreateWeb01() {
    storage::Host h;
    h.name = "web01";
    h.address = "127.0.0.1";
    h.port = 22;
    return env_->store().CreateHost(h).status();
  }

  // Starts an asynchronous CaClient call, start(executor, done), on a
  // private io_context and runs that until `done` ran (at most 30 s).
  // Returns what `done` got (`result` when it did not run); *on_executor:
  // whether it ran on that io_context's thread.
  template <typename Result, typename Start>
  static Result RunOnPrivateIo(Start start, Result result,
                               bool* on_executor = nullptr) {
    asio::io_context io;
    auto guard = asio::make_work_guard(io);
    start(io.get_executor(), [&](Result r) {
      if (on_executor != nullptr) {
        *on_executor = io.get_executor().running_in_this_thread();
      }
      result = std::move(r);
      guard.reset();
    });
    io.run_for(std::chrono::seconds(30));
    return result;
  }

  // RefreshUserCaKeysSoon, run until it answers.
  static void RefreshKeysSoon(CaClient& client) {
    RunOnPrivateIo(
        [&](auto executor, auto done) {
          client.RefreshUserCaKeysSoon(executor, std::move(done));
        },
        std::vector<ssh::crypto::PublicKey>());
  }

  // Runs an AuthorizeChannel call to completion on a private io_context;
  // checks that the completion ran on that io_context's thread.
  absl::StatusOr<gw::AuthorizeChannelResponse> Authorize(
      CaClient& client, const std::string& login, const std::string& host,
      const std::string& kind) {
    gw::AuthorizeChannelRequest request;
    request.set_user_certificate(alice_.response.ssh_certificate());
    request.set_login(login);
    request.set_host(host);
    request.set_kind(kind);
    bool on_executor = false;
    absl::StatusOr<gw::AuthorizeChannelResponse> result = RunOnPrivateIo(
        [&](auto executor, auto done) {
          client.AuthorizeChannel(request, executor, std::move(done));
        },
        absl::StatusOr<gw::AuthorizeChannelResponse>(
            absl::UnknownError("not called")),
        &on_executor);
    EXPECT_TRUE(on_executor);
    return result;
  }

  std::unique_ptr<testing::PostgresFixture> pg_;
  std::unique_ptr<ca::CaTestEnv> env_;
  ca::CaTestEnv::LoginResult alice_;
  ca::EnrolledGateway gateway_;
  std::unique_ptr<testing::TempDir> dir_;
  CaChannelOptions channel_options_;
};

TEST_F(CaClientTest, FetchesKeysAndAuthorizesOnTheCallersExecutor) {
  ASSERT_TRUE(CreateWeb01().ok());
  std::unique_ptr<CaClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  auto user_cas = client->user_ca_keys();
  ASSERT_EQ(user_cas.size(), 1u);
  EXPECT_EQ(user_cas[0].ToAuthorizedKeysLine(),
            ssh::crypto::PublicKey::FromAuthorizedKeysLine(
                env_->init().user_ca_public_key)
                ->ToAuthorizedKeysLine());
  EXPECT_FALSE(client->host_ca_keys().empty());

  auto r = Authorize(*client, "root", "web01", "shell");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->allowed()) << r->reason();
  EXPECT_EQ(r->host().name(), "web01");
  EXPECT_EQ(r->user(), "alice");
  r = Authorize(*client, "root", "nowhere", "shell");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->allowed());
}

TEST_F(CaClientTest, APinnedCertificateWithAnotherFingerprintIsRefused) {
  // The certificate on disk is the CA's, but the configured pin is not its
  // fingerprint: no channel at all.
  channel_options_.fingerprint =
      "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  auto channel = MakeCaChannel(channel_options_);
  EXPECT_EQ(channel.status().code(), absl::StatusCode::kFailedPrecondition)
      << channel.status();
  EXPECT_TRUE(absl::StrContains(channel.status().message(), "pinned"))
      << channel.status();
  // A malformed pin is refused before any connection.
  channel_options_.fingerprint = "SHA256:short";
  EXPECT_EQ(MakeCaChannel(channel_options_).status().code(),
            absl::StatusCode::kInvalidArgument);
  // So is a missing pinned certificate.
  channel_options_.ca_certificate_path = "";
  EXPECT_EQ(MakeCaChannel(channel_options_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The TLS key beside a certificate for another key (an `enroll --force`
// cut short between the two renames, a key copied from another identity),
// or a certificate cut short: no channel, whose every handshake would
// fail, and a refusal that names both files.
TEST_F(CaClientTest, AKeyItsCertificateIsNotForIsRefused) {
  const std::string stray = dir_->File("stray.key");
  auto made =
      testing::RunCommand({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                           "ec_paramgen_curve:P-256", "-out", stray});
  ASSERT_TRUE(made.ok() && made->exit_code == 0)
      << (made.ok() ? made->Describe() : made.status().ToString());
  auto key = base::ReadTextFile(stray);
  ASSERT_TRUE(key.ok()) << key.status();
  const std::string certificate =
      gateway_.response.tls_client_certificate_pem();
  const struct {
    std::string key, certificate;
  } pairs[] = {
      {*key, certificate},
      {gateway_.tls_key_pem, certificate.substr(0, certificate.size() / 2)}};
  for (const auto& pair : pairs) {
    ASSERT_TRUE(
        testing::WriteFile(channel_options_.tls_key_path, pair.key).ok());
    ASSERT_TRUE(testing::WriteFile(channel_options_.tls_certificate_path,
                                   pair.certificate)
                    .ok());
    auto channel = MakeCaChannel(channel_options_);
    EXPECT_EQ(channel.status().code(), absl::StatusCode::kFailedPrecondition)
        << channel.status();
    for (const std::string& path : {channel_options_.tls_key_path,
                                    channel_options_.tls_certificate_path}) {
      EXPECT_TRUE(absl::StrContains(channel.status().message(), path))
          << channel.status();
    }
  }
}

TEST_F(CaClientTest, ACaPresentingAnotherCertificateIsRefused) {
  // An impostor certificate like the CA's (same names, its own key) is
  // pinned: the real CA's certificate does not chain to it, so the TLS
  // handshake fails and nothing is fetched or authorized.
  const std::string impostor = dir_->File("impostor.pem");
  auto made = testing::RunCommand(
      {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
       dir_->File("impostor.key"), "-out", impostor, "-days", "1", "-subj",
       "/CN=sallyport-ca", "-addext",
       "subjectAltName=DNS:sallyport-ca,DNS:localhost,IP:127.0.0.1"});
  ASSERT_TRUE(made.ok() && made->exit_code == 0)
      << (made.ok() ? made->Describe() : made.status().ToString());
  auto pem = base::ReadTextFile(impostor);
  ASSERT_TRUE(pem.ok()) << pem.status();
  auto fp = CertificatePemFingerprint(*pem);
  ASSERT_TRUE(fp.ok()) << fp.status();
  channel_options_.ca_certificate_path = impostor;
  channel_options_.fingerprint = *fp;
  std::unique_ptr<CaClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->user_ca_keys().empty());
  auto r = Authorize(*client, "root", "web01", "shell");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_EQ(client->stream_connects(), 0);
  EXPECT_FALSE(client->revocations_current());
}

TEST_F(CaClientTest, RevocationsArriveOnTheStream) {
  std::unique_ptr<CaClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(WaitFor([&] { return client->stream_connects() > 0; }));
  const uint64_t serial = alice_.response.serial();
  auto cert =
      ssh::cert::Certificate::FromLine(alice_.response.ssh_certificate());
  ASSERT_TRUE(cert.ok());
  EXPECT_TRUE(client->CheckNotRevoked(serial, cert->KeyFingerprint()).ok());

  storage::Revocation r;
  r.serial = serial;
  r.reason = "lost laptop";
  r.revoked_by = "admin";
  ASSERT_TRUE(env_->store().Revoke(r).ok());
  EXPECT_TRUE(WaitFor([&] {
    return client->CheckNotRevoked(serial, "SHA256:x").code() ==
           absl::StatusCode::kPermissionDenied;
  }));
  storage::Revocation k;
  k.key_fingerprint = "SHA256:revokedkeyrevokedkeyrevokedkeyrevokedkeyre";
  k.reason = "key leaked";
  k.revoked_by = "admin";
  ASSERT_TRUE(env_->store().Revoke(k).ok());
  EXPECT_TRUE(WaitFor([&] {
    return client->CheckNotRevoked(1, *k.key_fingerprint).code() ==
           absl::StatusCode::kPermissionDenied;
  }));
  EXPECT_TRUE(client->CheckNotRevoked(2, "SHA256:other").ok());
}

// A revocation list larger than one gRPC message (600 revocations whose
// reasons take the 8 KiB an admin may give, ~4.9 MB) is loaded in pages:
// the catch-up asked for 10000 at a time, failed with RESOURCE_EXHAUSTED
// ("Received message larger than max") at every try, so the stream never
// started, and past revocation_grace every session was refused.
TEST_F(CaClientTest, ARevocationListLargerThanOneMessageIsLoaded) {
  const uint64_t serial = alice_.response.serial();
  for (int i = 0; i < 600; ++i) {
    storage::Revocation r;
    r.serial = i == 599 ? serial : uint64_t{1000000} + i;
    r.reason = std::string(storage::kMaxTextBytes, 'r');
    r.revoked_by = "admin";
    ASSERT_TRUE(env_->store().Revoke(r).ok()) << i;
  }
  std::unique_ptr<CaClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(WaitFor([&] { return client->stream_connects() > 0; }));
  EXPECT_EQ(client->CheckNotRevoked(serial, "SHA256:x").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(client->CheckNotRevoked(1000000, "SHA256:x").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(client->CheckNotRevoked(2, "SHA256:other").ok());
}

TEST_F(CaClientTest, FailsClosedOnceTheStreamIsDownLongerThanTheGrace) {
  base::FakeClock clock(absl::Now());
  // on_stale (revocation_fail_mode end_sessions ends the sessions there).
  std::atomic<int> stale{0};
  std::unique_ptr<CaClient> client =
      MakeClient(&clock, absl::Seconds(60), [&](CaClient::Options* o) {
        o->on_stale = [&](const std::string& why) {
          EXPECT_EQ(why,
                    "the CA has been unreachable longer than revocation_grace");
          stale.fetch_add(1);
        };
      });
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(WaitFor([&] { return client->stream_connects() > 0; }));
  EXPECT_TRUE(client->revocations_current());
  env_.reset();  // the CA goes away
  // Within the grace the list still counts as current...
  clock.Advance(absl::Seconds(59));
  EXPECT_TRUE(client->CheckNotRevoked(7, "SHA256:x").ok());
  absl::SleepFor(absl::Milliseconds(500));  // a few reconnect attempts
  EXPECT_EQ(stale.load(), 0);
  // ...beyond it, every check fails closed (once the client noticed).
  clock.Advance(absl::Seconds(2));
  EXPECT_TRUE(WaitFor([&] {
    clock.Advance(absl::Seconds(61));
    return !client->revocations_current();
  }));
  EXPECT_EQ(client->CheckNotRevoked(7, "SHA256:x").code(),
            absl::StatusCode::kUnavailable);
  // on_stale came once, and not again while the CA stays away.
  EXPECT_TRUE(WaitFor([&] { return stale.load() == 1; }));
  absl::SleepFor(absl::Milliseconds(500));
  clock.Advance(absl::Minutes(10));
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(stale.load(), 1);
}

// The grace is measured on the monotonic clock: the wall clock set a day
// forward (an NTP step after a suspend, an operator's `date`) while the
// CA is away does not end it early, and set a day back does not stretch it
// past revocation_grace of time really passing.
TEST_F(CaClientTest, AWallClockJumpNeitherEndsNorStretchesTheGrace) {
  base::FakeClock clock(absl::Now());
  absl::Mutex mu;
  std::string log;
  std::unique_ptr<CaClient> client =
      MakeClient(&clock, absl::Seconds(60), [&](CaClient::Options* o) {
        o->log = [&](std::string_view line) {
          absl::MutexLock lock(&mu);
          log.append(line.data(), line.size());
        };
      });
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(WaitFor([&] { return client->stream_connects() > 0; }));
  env_.reset();  // the CA goes away
  // The client has noticed: the grace runs.
  ASSERT_TRUE(WaitFor([&] {
    absl::MutexLock lock(&mu);
    return absl::StrContains(log, "revocation stream down");
  }));
  const absl::Time wall = clock.Now();
  clock.Set(wall + absl::Hours(24));
  EXPECT_TRUE(client->revocations_current());
  EXPECT_TRUE(client->CheckNotRevoked(7, "SHA256:x").ok());
  clock.Set(wall - absl::Hours(24));
  clock.Advance(absl::Seconds(59));
  EXPECT_TRUE(client->revocations_current());
  clock.Advance(absl::Seconds(2));
  EXPECT_FALSE(client->revocations_current());
  EXPECT_EQ(client->CheckNotRevoked(7, "SHA256:x").code(),
            absl::StatusCode::kUnavailable);
}

// After an outage the revocation stream comes back as soon as the channel
// connects to the CA again, not after the stream loop's own backoff as
// well: with both, a gateway whose CA was away for minutes refused logins
// for up to ~20 s after the CA returned (17 s by hand in the quickstart).
// Here the loop's backoff is 30 s and the CA (behind a relay) is away for
// 1 s: the stream must be back well before the 30 s.
TEST_F(CaClientTest, TheStreamIsBackSoonAfterTheCaReturns) {
  auto relay = RelayToCa();
  ASSERT_TRUE(relay.ok()) << relay.status();
  const int relay_port = PortOf((*relay)->address());
  absl::Mutex mu;
  std::vector<std::string> lines;
  std::unique_ptr<CaClient> client =
      MakeClient(nullptr, absl::Seconds(60), [&](CaClient::Options* o) {
        o->reconnect_initial = absl::Seconds(30);
        o->reconnect_max = absl::Seconds(30);
        o->log = [&](std::string_view line) {
          absl::MutexLock lock(&mu);
          lines.emplace_back(line);
        };
      });
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(WaitFor([&] { return client->stream_connects() == 1; }));
  relay->reset();  // the CA goes away...
  ASSERT_TRUE(WaitFor([&] {
    absl::MutexLock lock(&mu);
    for (const std::string& l : lines) {
      if (absl::StrContains(l, "revocation stream down") &&
          absl::StrContains(l, "retrying in 30s")) {
        return true;
      }
    }
    return false;
  }));
  absl::SleepFor(absl::Seconds(1));
  // ...and comes back on the same address.
  relay = RelayToCa(relay_port);
  ASSERT_TRUE(relay.ok()) << relay.status();
  const absl::Time back = absl::Now();
  ASSERT_TRUE(WaitFor([&] { return client->stream_connects() == 2; },
                      absl::Seconds(25)));
  const absl::Duration took = absl::Now() - back;
  EXPECT_LT(took, absl::Seconds(12)) << took;
  EXPECT_TRUE(client->revocations_current());
}

// A CA that hangs (SIGSTOP, a deadlock) or a connection dropped on the way
// without a reset leaves the revocation stream open and silent: the
// keepalive pings notice it, the stream ends, and once revocation_grace
// has passed too every check fails closed. Without the pings the stream
// stayed "up" and the list counted as current for as long as the TCP
// connection lived (found by hand: a SIGSTOPped CA for 70 s, grace 60 s).
TEST_F(CaClientTest, AHungCaEndsTheStreamAndTheListGoesStale) {
  auto relay = RelayToCa();
  ASSERT_TRUE(relay.ok()) << relay.status();
  channel_options_.keepalive_time = absl::Seconds(1);
  channel_options_.keepalive_timeout = absl::Seconds(1);
  absl::Mutex mu;
  std::vector<std::string> lines;
  std::unique_ptr<CaClient> client =
      MakeClient(nullptr, absl::Seconds(3), [&](CaClient::Options* o) {
        o->log = [&](std::string_view line) {
          absl::MutexLock lock(&mu);
          lines.emplace_back(line);
        };
      });
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(WaitFor([&] { return client->stream_connects() == 1; }));
  // Idle for several keepalive periods: the CA answers the pings.
  absl::SleepFor(absl::Seconds(3));
  EXPECT_EQ(client->stream_connects(), 1);
  EXPECT_TRUE(client->revocations_current());
  (*relay)->Freeze();
  EXPECT_TRUE(WaitFor([&] {
    absl::MutexLock lock(&mu);
    for (const std::string& l : lines) {
      if (absl::StrContains(l, "revocation stream down")) return true;
    }
    return false;
  }));
  EXPECT_TRUE(WaitFor([&] { return !client->revocations_current(); }));
  EXPECT_EQ(client->CheckNotRevoked(7, "SHA256:x").code(),
            absl::StatusCode::kUnavailable);
}

// gwrest: a certificate of an unknown CA key fetches the keys early, at
// most once per unknown_key_refresh_interval, however often it is asked;
// the answers come on the caller's executor with the keys.
TEST_F(CaClientTest, EarlyKeyFetchesAreRateLimited) {
  std::atomic<int> fetches{0};
  std::unique_ptr<CaClient> client =
      MakeClient(nullptr, absl::Seconds(60), [&](CaClient::Options* o) {
        o->unknown_key_refresh_interval = absl::Hours(1);
        o->on_rpc = [&](std::string_view rpc, absl::Duration) {
          if (rpc == "GetCaPublicKeys") ++fetches;
        };
      });
  ASSERT_NE(client, nullptr);
  const int at_start = fetches.load();  // Create's own fetch
  // One after the other, each waiting for its answer: 50 asks, 1 fetch.
  for (int i = 0; i < 50; ++i) {
    bool on_executor = false;
    const std::vector<ssh::crypto::PublicKey> keys = RunOnPrivateIo(
        [&](auto executor, auto done) {
          client->RefreshUserCaKeysSoon(executor, std::move(done));
        },
        std::vector<ssh::crypto::PublicKey>(), &on_executor);
    ASSERT_TRUE(on_executor) << i;
    EXPECT_EQ(keys.size(), 1u) << i;
  }
  EXPECT_EQ(client->early_key_fetches(), 1);
  EXPECT_EQ(fetches.load() - at_start, 1);
}

TEST_F(CaClientTest, EarlyKeyFetchAgainOnceTheIntervalPassed) {
  std::unique_ptr<CaClient> client =
      MakeClient(nullptr, absl::Seconds(60), [](CaClient::Options* o) {
        o->unknown_key_refresh_interval = absl::Milliseconds(300);
      });
  ASSERT_NE(client, nullptr);
  auto ask = [&] { RefreshKeysSoon(*client); };
  ask();
  ask();
  EXPECT_EQ(client->early_key_fetches(), 1);
  absl::SleepFor(absl::Milliseconds(400));
  ask();
  EXPECT_EQ(client->early_key_fetches(), 2);
}

// The early fetch's rate limit is timed on the monotonic clock: the wall
// clock set an hour back right after a fetch (an NTP step, an operator's
// `date`) does not stop the next one once unknown_key_refresh_interval has
// really passed, and set an hour forward does not let one through early.
TEST_F(CaClientTest, AWallClockJumpDoesNotMoveTheEarlyKeyFetchRateLimit) {
  base::FakeClock clock(absl::Now());
  std::unique_ptr<CaClient> client =
      MakeClient(&clock, absl::Seconds(60), [](CaClient::Options* o) {
        o->unknown_key_refresh_interval = absl::Seconds(10);
      });
  ASSERT_NE(client, nullptr);
  auto ask = [&] { RefreshKeysSoon(*client); };
  ask();
  EXPECT_EQ(client->early_key_fetches(), 1);
  clock.Set(clock.Now() - absl::Hours(1));
  clock.Advance(absl::Seconds(9));
  ask();
  EXPECT_EQ(client->early_key_fetches(), 1);
  clock.Advance(absl::Seconds(2));
  ask();
  EXPECT_EQ(client->early_key_fetches(), 2);
  clock.Set(clock.Now() + absl::Hours(1));
  ask();
  EXPECT_EQ(client->early_key_fetches(), 2);
  clock.Advance(absl::Seconds(11));
  ask();
  EXPECT_EQ(client->early_key_fetches(), 3);
}

// The login path passes its own deadline (the connection's login grace):
// IssueSessionCertificate then waits for a CA slower than rpc_deadline
// instead of failing the login (under load the CA answers late, not never).
// Here rpc_deadline is a nanosecond, so only the caller's deadline can let
// the call succeed; without one it fails with kDeadlineExceeded.
TEST_F(CaClientTest, IssueSessionCertificateWaitsUntilTheCallersDeadline) {
  ASSERT_TRUE(CreateWeb01().ok());
  // IssueSessionCertificate calls that went out to the CA.
  auto sent = std::make_shared<std::atomic<int>>(0);
  std::unique_ptr<CaClient> client =
      MakeClient(nullptr, absl::Seconds(60), [sent](CaClient::Options* o) {
        o->rpc_deadline = absl::Nanoseconds(1);
        o->on_rpc = [sent](std::string_view rpc, absl::Duration) {
          if (rpc == "IssueSessionCertificate") ++*sent;
        };
      });
  ASSERT_NE(client, nullptr);
  auto key = ssh::crypto::PrivateKey::GenerateEd25519();
  ASSERT_TRUE(key.ok()) << key.status();
  auto issue = [&](absl::Time deadline) {
    gw::IssueSessionCertificateRequest request;
    request.set_user_certificate(alice_.response.ssh_certificate());
    request.set_session_id("s-deadline");
    request.set_login("root");
    request.set_host("web01");
    request.set_ephemeral_public_key(key->public_key().ToAuthorizedKeysLine());
    return RunOnPrivateIo(
        [&](auto executor, auto done) {
          client->IssueSessionCertificate(request, executor, std::move(done),
                                          deadline);
        },
        absl::StatusOr<gw::IssueSessionCertificateResponse>(
            absl::UnknownError("not called")));
  };
  auto fails = issue(absl::InfiniteFuture());
  EXPECT_EQ(fails.status().code(), absl::StatusCode::kDeadlineExceeded)
      << fails.status();
  // A call whose deadline passed before it could start is not sent (gRPC
  // 1.51 has aborted on such calls).
  EXPECT_EQ(sent->load(), 0);
  auto waits = issue(absl::Now() + absl::Seconds(20));
  ASSERT_TRUE(waits.ok()) << waits.status();
  EXPECT_FALSE(waits->certificate().ssh_certificate().empty());
  EXPECT_EQ(sent->load(), 1);
}

}  // namespace
}  // namespace sallyport::gateway
