// CaClient against a real in-process CA (ca/gateway_test_util): the pinned
// mTLS channel, the cached CA keys, asynchronous calls completing on the
// caller's executor, and the session certificate's deadline. The
// revocation set is in ca_client_revocation_test.cc.
#include "gateway/ca_client.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/files.h"
#include "gateway/ca_client_test_fixture.h"
#include "gtest/gtest.h"
#include "ssh/crypto/keys.h"
#include "tests/harness/net_util.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/wall_clock_step.h"

namespace sallyport::gateway {
namespace {

namespace gw = gateway::v1;

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

// The CA keys are fetched again every keys_refresh whatever the wall clock
// does: after a step (this process's clock an hour ahead; to a wait timed
// on the wall clock, the same as the real clock an hour back) the next
// refresh comes on time, not an hour late (a user CA key added at the CA
// meanwhile would be unknown to the gateway that long).
TEST_F(CaClientTest, KeysAreRefreshedOnTimeAfterAWallClockStep) {
  if (!testing::InChildUnderFakeWallClock()) return;
  std::atomic<int> fetches{0};
  std::unique_ptr<CaClient> client =
      MakeClient(nullptr, absl::Seconds(60), [&](CaClient::Options* o) {
        o->keys_refresh = absl::Milliseconds(300);
        o->on_rpc = [&](std::string_view rpc, absl::Duration) {
          if (rpc == "GetCaPublicKeys") ++fetches;
        };
      });
  ASSERT_NE(client, nullptr);
  ASSERT_NO_FATAL_FAILURE(testing::SetWallClockInChild(absl::Hours(1)));
  const int before = fetches.load();
  EXPECT_TRUE(
      WaitFor([&] { return fetches.load() >= before + 2; }, absl::Seconds(10)))
      << "refreshes after the step: " << fetches.load() - before;
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
    const ca::UserauthProof proof = ca::SignedLogin(alice_, "root+web01");
    request.set_userauth_signed_data(proof.signed_data);
    request.set_userauth_signature(proof.signature);
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

// A call's deadline is kept after a wall-clock step (this process an hour
// ahead: to gRPC's timer thread, which sleeps until a wall-clock time, the
// same as the real clock an hour back): a CA that accepts the connection
// and never answers fails the call at rpc_deadline, not an hour later
// (CaClient holds base::KeepGrpcTimersOnTime()).
TEST_F(CaClientTest, ACallEndsAtItsDeadlineAfterAWallClockStep) {
  if (!testing::InChildUnderFakeWallClock()) return;
  const testing::LoopbackListener silent = testing::ListenOnLoopback(16);
  ASSERT_GE(silent.fd, 0);
  CaClient::Options o;
  o.channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", silent.port),
                                  grpc::InsecureChannelCredentials());
  o.rpc_deadline = absl::Seconds(1);
  auto client = CaClient::Create(std::move(o));
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_NO_FATAL_FAILURE(testing::SetWallClockInChild(absl::Hours(1)));
  const auto t0 = std::chrono::steady_clock::now();
  auto result = RunOnPrivateIo(
      [&](auto executor, auto done) {
        (*client)->AuthorizeChannel(gw::AuthorizeChannelRequest(), executor,
                                    std::move(done));
      },
      absl::StatusOr<gw::AuthorizeChannelResponse>(
          absl::UnknownError("not called")));
  const double seconds = testing::SecondsSince(t0);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded)
      << result.status();
  EXPECT_LT(seconds, 4) << result.status();
  close(silent.fd);
}

}  // namespace
}  // namespace sallyport::gateway
